package serve

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseAddr(t *testing.T) {
	for addr, want := range map[string][2]string{
		"127.0.0.1:8080":       {"tcp", "127.0.0.1:8080"},
		"tcp://127.0.0.1:0":    {"tcp", "127.0.0.1:0"},
		"tcp://[::1]:443":      {"tcp", "[::1]:443"},
		":9000":                {"tcp", ":9000"},
		"unix:///run/s.sock":   {"unix", "/run/s.sock"},
		"unix://relative.sock": {"unix", "relative.sock"},
	} {
		n, a, err := ParseAddr(addr)
		if err != nil || n != want[0] || a != want[1] {
			t.Errorf("ParseAddr(%q) = %q, %q, %v; want %q, %q", addr, n, a, err, want[0], want[1])
		}
	}
	for _, addr := range []string{"", "localhost", "unix://", "http://127.0.0.1:80", "127.0.0.1:", "tcp://", "udp://1.2.3.4:5"} {
		if _, _, err := ParseAddr(addr); err == nil || !strings.Contains(err.Error(), "listen address") {
			t.Errorf("ParseAddr(%q): %v, want an error naming the listen address", addr, err)
		}
	}
}

// Serve on a Unix socket answers, and on cancel shuts down, returns nil,
// removes the socket and leaves no goroutine behind.
func TestServeUnix(t *testing.T) {
	noLeak(t)
	h, err := New(Config{Key: mustKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(shortTempDir(t), "shelter.sock")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ln, err := Listen(ctx, "unix://"+sock)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, NewServer(h, nil, nil), ln) }()

	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get("http://shelter/healthz")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "ok\n" {
		t.Fatalf("%d %q", resp.StatusCode, b)
	}
	resp, err = (&http.Client{Transport: tr}).Post("http://shelter/v1/verify", "application/octet-stream", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if e := h.Recent()[0]; e.Client != "unix socket" || e.HTTPStatus != http.StatusUnprocessableEntity {
		t.Errorf("history over the Unix socket: %+v", e)
	}
	// A second server on the same socket is refused with advice.
	if _, err := Listen(ctx, "unix://"+sock); err == nil || !strings.Contains(err.Error(), "stale") {
		t.Errorf("second listener: %v", err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(ShutdownTimeout + 5*time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	tr.CloseIdleConnections()
	if _, err := os.Stat(sock); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the socket is left behind: %v", err)
	}
}

// A request in flight when the context ends still gets its answer.
func TestServeGraceful(t *testing.T) {
	noLeak(t)
	release := make(chan struct{})
	started := make(chan struct{})
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		io.WriteString(w, "finished")
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ln, err := Listen(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, NewServer(slow, nil, nil), ln) }()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	got := make(chan string, 1)
	go func() {
		resp, err := (&http.Client{Transport: tr}).Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			got <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		got <- string(b)
	}()
	<-started
	cancel()
	time.Sleep(50 * time.Millisecond)
	if c, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		c.Close()
		t.Error("still accepting after cancel")
	}
	close(release)
	if s := <-got; s != "finished" {
		t.Errorf("the request in flight got %q", s)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

// With a TLS configuration the server speaks TLS 1.3 only.
func TestServeTLS13Only(t *testing.T) {
	noLeak(t)
	cert := selfSigned(t)
	h, err := New(Config{Key: mustKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ln, err := Listen(ctx, "tcp://127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, NewServer(h, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil), ln)
	}()
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	for _, tc := range []struct {
		max uint16
		ok  bool
	}{{tls.VersionTLS13, true}, {tls.VersionTLS12, false}} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "shelter.test", MaxVersion: tc.max}}
		resp, err := (&http.Client{Transport: tr}).Get("https://" + ln.Addr().String() + "/healthz")
		if tc.ok {
			if err != nil {
				t.Errorf("TLS 1.3: %v", err)
			} else {
				if resp.TLS.Version != tls.VersionTLS13 {
					t.Errorf("version %x", resp.TLS.Version)
				}
				resp.Body.Close()
			}
		} else if err == nil {
			resp.Body.Close()
			t.Error("a TLS 1.2 client was served")
		}
		tr.CloseIdleConnections()
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

func mustKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k.(*ecdsa.PrivateKey)
}

// selfSigned is a certificate for shelter.test.
func selfSigned(t testing.TB) tls.Certificate {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), DNSNames: []string{"shelter.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k, Leaf: leaf}
}

// shortTempDir is a temporary directory with a path short enough for a
// Unix socket (at most 107 bytes), whatever the test's name; it is removed
// at the end of the test.
func shortTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "svc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
