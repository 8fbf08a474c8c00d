package e2e

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// cSamples returns the directory of the C Rats-TLS 0.6 samples
// (rats-tls-server, rats-tls-client, built in host mode), named by
// RATS_TLS_C_SAMPLES. The C library is not built by this repository, so the
// interoperability tests run only where someone installed it.
func cSamples(t *testing.T) string {
	d := os.Getenv("RATS_TLS_C_SAMPLES")
	if d == "" {
		t.Skip("RATS_TLS_C_SAMPLES is not set: no C Rats-TLS samples to interoperate with")
	}
	return d
}

// cArgs are the C samples' instance flags for an unattested TLS 1.3 session.
var cArgs = []string{"-a", "nullattester", "-v", "nullverifier", "-t", "openssl", "-c", "openssl"}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
}

func waitListening(t *testing.T, port string) {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		// The C server exits after a failed handshake, so probe without
		// connecting: wait until the port is taken.
		if l, err := net.Listen("tcp", "127.0.0.1:"+port); err != nil {
			return
		} else {
			l.Close()
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("nothing listens on %s", port)
}

func TestInteropGoClientCServer(t *testing.T) {
	dir := cSamples(t)
	for _, mutual := range []bool{false, true} {
		port := freePort(t)
		args := append([]string{"-p", port}, cArgs...)
		if mutual {
			args = append(args, "-m")
		}
		srv := exec.Command(filepath.Join(dir, "rats-tls-server"), args...)
		if err := srv.Start(); err != nil {
			t.Fatal(err)
		}
		waitListening(t, port)
		cargs := []string{"-v", "nullverifier", "--plugin-dir", noPlugins(t)}
		if mutual {
			cargs = append(cargs, "-m")
		}
		r := mustClientJSON(t, port, cargs...)
		if r.Verifier != "nullverifier" {
			t.Errorf("mutual=%v: %+v", mutual, r)
		}
		srv.Process.Kill()
		srv.Wait()
	}
}

func TestInteropCClientGoServer(t *testing.T) {
	dir := cSamples(t)
	for _, mutual := range []bool{false, true} {
		sargs := []string{"-v", "nullverifier", "--plugin-dir", noPlugins(t)}
		cargs := cArgs
		if mutual {
			sargs = append(sargs, "-m")
			cargs = append(cargs, "-m")
		}
		s := startServer(t, sargs...)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := exec.CommandContext(ctx, filepath.Join(dir, "rats-tls-client"), append([]string{"-p", s.port}, cargs...)...).CombinedOutput()
		cancel()
		if err != nil || !strings.Contains(string(out), "Hello and welcome to RATS-TLS!") {
			t.Errorf("C client (mutual=%v) against the Go server: %v\n%s\nserver:\n%s", mutual, err, out, s.logs())
		}
		if mutual && !strings.Contains(s.logs(), "client attested") {
			t.Errorf("Go server did not verify the C client:\n%s", s.logs())
		}
	}
}
