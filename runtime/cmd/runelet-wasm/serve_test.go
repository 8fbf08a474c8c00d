package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/inclavare/inclavare/framework/builtins"
	"github.com/inclavare/inclavare/framework/ratstls"
)

// greeter is the sample that serve mode serves.
var greeter = filepath.Join("..", "..", "..", "samples", "wasm-greeter", "greeter.wasm")

// server is a runelet-wasm in serve mode.
type server struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{}

	mu  sync.Mutex
	log strings.Builder
}

func (s *server) logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

var addrRE = regexp.MustCompile(`msg="serving the wasm module over Rats-TLS" .*\baddr=(\S+)`)

// startServer starts runelet-wasm --loglevel info --serve on a free
// loopback port with args before "--" and module after it, and waits for
// its listening address. The cleanup kills it.
func startServer(t testing.TB, module string, args ...string) *server {
	t.Helper()
	all := append([]string{"--loglevel", "info", "--serve", "tcp://127.0.0.1:0"}, args...)
	cmd := exec.Command(bin, append(all, "--", module)...)
	cmd.Env = []string{}
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, done: make(chan struct{})}
	found := make(chan string, 1)
	go func() {
		r := bufio.NewReader(pipe)
		for {
			line, err := r.ReadString('\n')
			s.mu.Lock()
			s.log.WriteString(line)
			s.mu.Unlock()
			if m := addrRE.FindStringSubmatch(line); m != nil {
				found <- m[1]
			}
			if err != nil {
				break
			}
		}
		cmd.Wait()
		close(s.done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-s.done
	})
	select {
	case s.addr = <-found:
		return s
	case <-s.done:
		t.Fatalf("runelet-wasm --serve exited before listening:\n%s", s.logs())
	case <-time.After(30 * time.Second):
		t.Fatalf("runelet-wasm --serve did not listen in 30s:\n%s", s.logs())
	}
	return nil
}

// greet dials s with Rats-TLS (trusting the simulated TEE), sends name
// and returns the reply line and the server's claims.
func greet(t *testing.T, addr, name string) (string, map[string]any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := &ratstls.Config{AllowSimulated: true}
	defer cfg.Close()
	c, err := ratstls.Dial(ctx, "tcp", addr, cfg)
	if err != nil {
		t.Fatalf("dialing runelet-wasm: %v", err)
	}
	defer c.Close()
	if _, err := fmt.Fprintf(c, "%s\n", name); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the greeting: %v (got %q)", err, line)
	}
	claims := map[string]any{}
	for k, v := range c.Peer().Claims {
		claims[k] = v
	}
	return line, claims
}

func moduleHash(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func TestServeGreetsAsTheModule(t *testing.T) {
	s := startServer(t, greeter)
	line, claims := greet(t, s.addr, "tenant")
	if want := "Hello, tenant! Greetings from a WebAssembly module in an Inclavare confidential container.\n"; line != want {
		t.Errorf("reply %q, want %q", line, want)
	}
	if got, want := claims["mrenclave"], moduleHash(t, greeter); got != want {
		t.Errorf("claims mrenclave %v, want the module's SHA-256 %s (claims %v)", got, want, claims)
	}
	if claims["simulated"] != true {
		t.Errorf("claims %v: not marked simulated", claims)
	}
	// A second connection runs a fresh instance.
	if line, _ := greet(t, s.addr, "again"); !strings.HasPrefix(line, "Hello, again!") {
		t.Errorf("second reply %q", line)
	}
	if code := stopServer(t, s, syscall.SIGTERM); code != 128+int(syscall.SIGTERM) {
		t.Errorf("exit code %d after SIGTERM, want %d", code, 128+int(syscall.SIGTERM))
	}
}

// stopServer signals s and returns its exit code.
func stopServer(t *testing.T, s *server, sig syscall.Signal) int {
	t.Helper()
	s.cmd.Process.Signal(sig)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("runelet-wasm --serve still runs 10s after %v:\n%s", sig, s.logs())
	}
	return s.cmd.ProcessState.ExitCode()
}

func TestServeChangedModuleChangesMeasurement(t *testing.T) {
	b, err := os.ReadFile(greeter)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(b), "Hello, ")
	if i < 0 {
		t.Fatal("no greeting in greeter.wasm")
	}
	b[i] = 'J' // "Jello, ": a data byte, so the module still runs
	changed := filepath.Join(t.TempDir(), "greeter.wasm")
	if err := os.WriteFile(changed, b, 0o644); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, changed)
	line, claims := greet(t, s.addr, "tenant")
	if !strings.HasPrefix(line, "Jello, tenant!") {
		t.Errorf("reply %q from the changed module", line)
	}
	want := moduleHash(t, changed)
	if claims["mrenclave"] != want || want == moduleHash(t, greeter) {
		t.Errorf("mrenclave %v, want the changed module's %s", claims["mrenclave"], want)
	}
}

func TestServeBoundsInstances(t *testing.T) {
	// One instance at a time: a client that holds its instance (sends no
	// line) makes the next one wait until it leaves.
	s := startServer(t, greeter, "--max-instances", "1")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg := &ratstls.Config{AllowSimulated: true}
	defer cfg.Close()
	holder, err := ratstls.Dial(ctx, "tcp", s.addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The second client connects (backlog) but is not served yet: its
	// handshake waits.
	raw, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	waiting := ratstls.Client(raw, cfg)
	hctx, hcancel := context.WithTimeout(ctx, 700*time.Millisecond)
	err = waiting.HandshakeContext(hctx)
	hcancel()
	waiting.Close()
	if err == nil {
		t.Fatal("a second instance was served while --max-instances 1 was in use")
	}
	// The holder still gets its greeting, and once it is gone the next
	// client is served.
	fmt.Fprintf(holder, "first\n")
	line, err := bufio.NewReader(holder).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "Hello, first!") {
		t.Fatalf("holder: %q, %v", line, err)
	}
	holder.Close()
	if line, _ := greet(t, s.addr, "next"); !strings.HasPrefix(line, "Hello, next!") {
		t.Errorf("after the holder left: %q", line)
	}
}

func TestServeMeasurementFlag(t *testing.T) {
	good := moduleHash(t, greeter)
	s := startServer(t, greeter, "--measurement", good)
	if line, _ := greet(t, s.addr, "x"); !strings.HasPrefix(line, "Hello, x!") {
		t.Errorf("reply %q", line)
	}
	out := runelet(t, nil, "--measurement", strings.Repeat("00", 32), "--serve", "tcp://127.0.0.1:0", "--", greeter)
	if out.code != exitCannotRun || !strings.Contains(out.stderr, "changed since") || !strings.Contains(out.stderr, good) {
		t.Errorf("a module that is not the measured one: exit %d, stderr %q", out.code, out.stderr)
	}
}

func TestServeBadFlags(t *testing.T) {
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"not tcp":           {[]string{"--serve", "unix:///x.sock"}, "want tcp://HOST:PORT"},
		"no port":           {[]string{"--serve", "tcp://127.0.0.1"}, "want tcp://HOST:PORT"},
		"unknown attester":  {[]string{"--serve", "tcp://127.0.0.1:0", "--attester", "sev_snp"}, "cannot carry a wasm module's measurement"},
		"no instances":      {[]string{"--serve", "tcp://127.0.0.1:0", "--max-instances", "0"}, "at least 1"},
		"attester no serve": {[]string{"--attester", "sgx_ecdsa_sim"}, "serve mode"},
		"bad measurement":   {[]string{"--measurement", "abcd"}, "64 hex digits"},
		"port in use":       {[]string{"--serve", "tcp://" + busyPort(t)}, "listening on"},
	} {
		out := runelet(t, nil, append(tc.args, "--", greeter)...)
		if out.code != exitUsage || !strings.Contains(out.stderr, tc.want) {
			t.Errorf("%s: exit %d, stderr %q; want %d and %q", name, out.code, out.stderr, exitUsage, tc.want)
		}
	}
}

// busyPort returns a loopback address in use until the test ends.
func busyPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l.Addr().String()
}

// BenchmarkServeGreeting: one attested connection to serve mode and one
// greeting from a fresh module instance (the client verifies the simulated
// SGX quote each time: a new connection, nonce freshness by default).
func BenchmarkServeGreeting(b *testing.B) {
	s := startServer(b, greeter)
	cfg := &ratstls.Config{AllowSimulated: true}
	defer cfg.Close()
	ctx := context.Background()
	for b.Loop() {
		c, err := ratstls.Dial(ctx, "tcp", s.addr, cfg)
		if err != nil {
			b.Fatal(err)
		}
		fmt.Fprintf(c, "bench\n")
		if line, err := bufio.NewReader(c).ReadString('\n'); err != nil || !strings.HasPrefix(line, "Hello, bench!") {
			b.Fatalf("reply %q, %v", line, err)
		}
		c.Close()
	}
}

// TestServeSurvivesBadClients: a client that is not Rats-TLS, or leaves
// mid-handshake, runs no instance and does not stop the server or hold
// its only instance slot.
func TestServeSurvivesBadClients(t *testing.T) {
	s := startServer(t, greeter, "--max-instances", "1")
	for _, send := range []string{"GET / HTTP/1.0\r\n\r\n", "", "\x16\x03\x01\x00\x05hello"} {
		c, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte(send))
		c.Close()
	}
	if line, _ := greet(t, s.addr, "after"); !strings.HasPrefix(line, "Hello, after!") {
		t.Errorf("reply after bad clients %q", line)
	}
	if logs := s.logs(); strings.Contains(logs, "module instance exited") && strings.Count(logs, "module instance exited") != 1 {
		t.Errorf("bad clients ran module instances:\n%s", logs)
	}
	if !strings.Contains(s.logs(), "Rats-TLS handshake failed") {
		t.Errorf("the failed handshakes were not logged:\n%s", s.logs())
	}
}
