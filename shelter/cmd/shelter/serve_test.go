package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/inclavare/inclavare/appraisal/ear"
	"github.com/inclavare/inclavare/internal/testbuild"
	"github.com/inclavare/inclavare/internal/testvectors"
	"github.com/inclavare/inclavare/shelter/serve"
	snp "github.com/inclavare/inclavare/tee/sevsnp"
)

// buildServeBinary builds the shelter binary into a temporary directory.
func buildServeBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	if err := testbuild.Go(dir, testbuild.Module+"/shelter/cmd/shelter"); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "shelter")
}

// serveProc is a running "shelter serve".
type serveProc struct {
	cmd    *exec.Cmd
	addr   string // from the "listening" log line
	mu     sync.Mutex
	log    bytes.Buffer
	done   chan struct{}
	client *http.Client
	base   string
}

var serveListeningRE = regexp.MustCompile(`msg="shelter serve: listening" addr=(\S+) network=(\S+)`)

// startServe runs "shelter serve args..." and waits until it listens.
// It is stopped with SIGTERM at the end of the test if still running.
func startServe(t *testing.T, bin string, args ...string) *serveProc {
	t.Helper()
	s := &serveProc{done: make(chan struct{})}
	s.cmd = exec.Command(bin, append([]string{"serve"}, args...)...)
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan [2]string, 1)
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			s.mu.Lock()
			s.log.WriteString(sc.Text() + "\n")
			s.mu.Unlock()
			if m := serveListeningRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case ready <- [2]string{m[1], m[2]}:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() { s.stop(t) })
	select {
	case a := <-ready:
		s.addr = a[0]
		tr := &http.Transport{}
		s.base = "http://" + a[0]
		if a[1] == "unix" {
			tr.DialContext = func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", a[0])
			}
			s.base = "http://shelter"
		}
		s.client = &http.Client{Transport: tr, Timeout: 30 * time.Second}
	case <-s.done:
		s.cmd.Wait()
		t.Fatalf("shelter serve %q exited before listening:\n%s", args, s.logs())
	case <-time.After(30 * time.Second):
		t.Fatalf("shelter serve %q did not listen within 30s:\n%s", args, s.logs())
	}
	return s
}

func (s *serveProc) logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// stop sends SIGTERM and waits for a clean exit.
func (s *serveProc) stop(t *testing.T) {
	t.Helper()
	if s.cmd.ProcessState != nil {
		return
	}
	if s.client != nil {
		s.client.CloseIdleConnections()
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(15 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
		t.Errorf("shelter serve did not stop within 15s of SIGTERM:\n%s", s.logs())
	}
	if err := s.cmd.Wait(); err != nil {
		t.Errorf("shelter serve after SIGTERM: %v\n%s", err, s.logs())
	}
	if !strings.Contains(s.logs(), "shelter serve: stopped") {
		t.Errorf("no clean stop in the log:\n%s", s.logs())
	}
}

// post sends evidence to /v1/verify.
func (s *serveProc) post(t *testing.T, query, accept string, body []byte) (int, string, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.base+"/v1/verify"+query, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	return s.do(t, req)
}

func (s *serveProc) get(t *testing.T, path string) (int, string, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s.do(t, req)
}

func (s *serveProc) do(t *testing.T, req *http.Request) (int, string, []byte) {
	t.Helper()
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", req.Method, req.URL, err, s.logs())
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), b
}

// TestServeBinary builds shelter once and runs "shelter serve" for real.
func TestServeBinary(t *testing.T) {
	bin := buildServeBinary(t)
	t.Run("simulated", func(t *testing.T) { serveSimulated(t, bin) })
	t.Run("vector", func(t *testing.T) { serveVector(t, bin) })
	t.Run("refuses", func(t *testing.T) { serveRefuses(t, bin) })
	t.Run("tls", func(t *testing.T) { serveTLS(t, bin) })
}

// serveTLS: with --tls-cert and --tls-key the service speaks HTTPS, TLS
// 1.3 only.
func serveTLS(t *testing.T, bin string) {
	dir := t.TempDir()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServe(t, bin, "--listen", "127.0.0.1:0", "--tls-cert", certFile, "--tls-key", keyFile)
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	for _, max := range []uint16{tls.VersionTLS13, tls.VersionTLS12} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: max}}
		resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://" + s.addr + "/healthz")
		if max == tls.VersionTLS13 {
			if err != nil {
				t.Errorf("TLS 1.3: %v", err)
			} else if resp.StatusCode != 200 || resp.TLS.Version != tls.VersionTLS13 {
				t.Errorf("TLS 1.3: %d, version %#x", resp.StatusCode, resp.TLS.Version)
			}
		} else if err == nil {
			t.Error("a TLS 1.2 client was served")
		}
		if err == nil {
			resp.Body.Close()
		}
		tr.CloseIdleConnections()
	}
	if !strings.Contains(s.logs(), "scheme=https") {
		t.Errorf("the log does not say https:\n%s", s.logs())
	}
}

// serveSimulated runs "shelter serve" on loopback TCP, then on a Unix
// socket with the key the first run kept, and POSTs simulated SEV-SNP
// evidence to it.
func serveSimulated(t *testing.T, bin string) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "results.key")
	sim, err := snp.NewSimulator(snp.SimulatorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rd := bytes.Repeat([]byte{0x42}, 64)
	report, err := sim.Report(rd)
	if err != nil {
		t.Fatal(err)
	}
	rdHex := strings.Repeat("42", 64)

	s := startServe(t, bin, "--listen", "127.0.0.1:0", "--allow-simulated", "--key-out", keyFile, "--history", "5")
	code, ct, body := s.post(t, "?report_data="+rdHex, "", report)
	var res ear.Result
	if err := json.Unmarshal(body, &res); code != 200 || ct != serve.MediaTypeJSON || err != nil {
		t.Fatalf("POST: %d %q %v: %s", code, ct, err, body)
	}
	if res.Status != ear.Warning || res.EvidenceType != "sev_snp" || res.Claims["simulated"] != true {
		t.Errorf("result: status %s, type %s, claims %v", res.Status, res.EvidenceType, res.Claims)
	}

	code, ct, signed := s.post(t, "?report_data=00", serve.MediaTypeCOSE, report)
	if code != 200 || ct != serve.MediaTypeCOSE {
		t.Fatalf("POST for COSE: %d %q: %s", code, ct, signed)
	}
	code, _, pubPEM := s.get(t, "/v1/key")
	if code != 200 {
		t.Fatalf("GET /v1/key: %d", code)
	}
	pub, err := serve.ParsePublicKeyPEM(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	if res, err = ear.Verify(signed, pub); err != nil || res.Status != ear.Contraindicated {
		t.Fatalf("signed result: %v, status %s", err, res.Status)
	}
	// The kept key is the one that signs, in a 0600 file.
	kb, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	key, err := serve.ParsePrivateKey(kb)
	if err != nil || !key.Public().(*ecdsa.PublicKey).Equal(pub) {
		t.Fatalf("--key-out file: %v, or not the serving key", err)
	}
	if st, err := os.Stat(keyFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("--key-out file mode: %v, %v", st.Mode().Perm(), err)
	}
	code, _, garbage := s.post(t, "", "", []byte("not evidence"))
	if code != http.StatusUnprocessableEntity || !strings.Contains(string(garbage), `"error"`) {
		t.Errorf("garbage: %d %s", code, garbage)
	}
	code, ct, page := s.get(t, "/")
	if code != 200 || !strings.HasPrefix(ct, "text/html") || strings.Count(string(page), `<tr class="entry"`) != 3 ||
		!strings.Contains(string(page), `data-outcome="contraindicated"`) || !strings.Contains(string(page), `data-outcome="warning"`) {
		t.Errorf("status page: %d %q:\n%s", code, ct, page)
	}
	if code, _, b := s.get(t, "/healthz"); code != 200 || string(b) != "ok\n" {
		t.Errorf("healthz: %d %q", code, b)
	}
	s.stop(t)
	if strings.Contains(s.logs(), "42424242") {
		t.Error("the log carries the evidence's report data")
	}

	// Restarted with --key on a Unix socket: the same key signs.
	// A short directory: a Unix socket path has at most 107 bytes.
	sockDir, err := os.MkdirTemp("", "svc")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(sockDir)
	sock := filepath.Join(sockDir, "shelter.sock")
	s = startServe(t, bin, "--listen", "unix://"+sock, "--key", keyFile, "--allow-simulated")
	if s.addr != sock {
		t.Errorf("listening on %q, want %q", s.addr, sock)
	}
	if code, _, b := s.get(t, "/v1/key"); code != 200 || !bytes.Equal(b, pubPEM) {
		t.Errorf("GET /v1/key after restart with --key: %d, same key %v", code, bytes.Equal(b, pubPEM))
	}
	if code, _, body := s.post(t, "?report_data="+rdHex, "", report); code != 200 {
		t.Errorf("POST over the Unix socket: %d %s", code, body)
	}
	s.stop(t)
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the Unix socket is left behind: %v", err)
	}
}

// serveVector: the production TDX quote of the shared vectors, with its
// collateral at its pinned time (--at), affirming when its report data is
// given.
func serveVector(t *testing.T, bin string) {
	vec := testvectors.Dir(t)
	s := startServe(t, bin, "--listen", "tcp://127.0.0.1:0", "--at", "1725263032",
		"--collateral", filepath.Join(vec, "tdx/quote_v4_tdx_ecdsa_p256_collateral.json"))
	quote := testvectors.Read(t, "tdx/quote_v4_tdx_ecdsa_p256.bin")
	for query, want := range map[string]ear.Status{
		"?type=tdx_ecdsa&report_data=cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e": ear.Affirming,
		"": ear.Warning,
	} {
		code, _, body := s.post(t, query, "", quote)
		var res ear.Result
		if err := json.Unmarshal(body, &res); code != 200 || err != nil || res.Status != want || res.TCBStatus != "UpToDate" {
			t.Errorf("POST %q: %d %v: status %s, TCB %s, want %s", query, code, err, res.Status, res.TCBStatus, want)
		}
	}
	tampered := bytes.Clone(quote)
	tampered[200] ^= 1
	if code, _, body := s.post(t, "", "", tampered); code != http.StatusUnprocessableEntity || !strings.Contains(string(body), "verification failed") {
		t.Errorf("tampered quote: %d %s", code, body)
	}
}

// serveRefuses: bad flags and failed starts exit 1 with a message that says what to do,
// and leave no file behind.
func serveRefuses(t *testing.T, bin string) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "existing.key")
	if err := os.WriteFile(existing, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	notKey := filepath.Join(dir, "not.key")
	if err := os.WriteFile(notKey, []byte("-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	newKey := filepath.Join(dir, "new.key")

	for name, tc := range map[string]struct {
		args   []string
		stderr string
	}{
		"bad listen":        {[]string{"--listen", "http://127.0.0.1:80"}, "unix://PATH"},
		"no port":           {[]string{"--listen", "localhost"}, "HOST:PORT"},
		"port in use":       {[]string{"--listen", busy.Addr().String(), "--key-out", newKey}, "address already in use"},
		"missing key":       {[]string{"--key", filepath.Join(dir, "nope.key")}, "no such file"},
		"not a key":         {[]string{"--key", notKey}, `"PRIVATE KEY"`},
		"key and key-out":   {[]string{"--key", existing, "--key-out", newKey}, "give one of them"},
		"key-out exists":    {[]string{"--listen", "127.0.0.1:0", "--key-out", existing}, "load it with --key"},
		"history 0":         {[]string{"--history", "0"}, "1 to 10000"},
		"max-body 0":        {[]string{"--max-body", "0"}, "positive"},
		"max-pending 0":     {[]string{"--max-pending", "0"}, "at least 1"},
		"missing policy":    {[]string{"--policy", filepath.Join(dir, "nope.yaml")}, "--policy"},
		"missing collat":    {[]string{"--collateral", filepath.Join(dir, "nope.json")}, "--collateral"},
		"tls half":          {[]string{"--tls-cert", notKey}, "go together"},
		"bad time":          {[]string{"--at", "yesterday"}, "RFC 3339"},
		"bad log level":     {[]string{"--log-level", "loud"}, "--log-level"},
		"unexpected arg":    {[]string{"extra"}, "unexpected arguments"},
		"unknown flag":      {[]string{"--port", "1"}, "flag provided but not defined"},
		"unix without path": {[]string{"--listen", "unix://"}, "with a path"},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, append([]string{"serve"}, tc.args...)...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != exitUsage || !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("%v (want exit %d); stderr lacks %q:\n%s", err, exitUsage, tc.stderr, stderr.String())
			}
			if _, err := os.Stat(newKey); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s was left behind", newKey)
				os.Remove(newKey)
			}
			if b, _ := os.ReadFile(existing); string(b) != "keep me" {
				t.Errorf("%s was changed", existing)
			}
		})
	}
}
