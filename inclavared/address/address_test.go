package address

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]Address{
		"tcp://127.0.0.1:7788":   {TCP, "127.0.0.1:7788"},
		"tcp://:0":               {TCP, ":0"},
		"tcp://[::1]:443":        {TCP, "[::1]:443"},
		"tcp://localhost:65535":  {TCP, "localhost:65535"},
		"unix:///run/inclavared": {Unix, "/run/inclavared"},
		"unix://relative.sock":   {Unix, "relative.sock"},
	} {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", in, got, err, want)
		}
		if err == nil && got.String() != in {
			t.Errorf("%+v.String() = %q, want %q", got, got.String(), in)
		}
	}
	for in, msg := range map[string]string{
		"":                                   "want tcp://HOST:PORT or unix://PATH",
		"127.0.0.1:80":                       "want tcp://HOST:PORT or unix://PATH",
		"http://127.0.0.1:80":                `unknown scheme "http"`,
		"tcp://127.0.0.1":                    "missing port",
		"tcp://127.0.0.1:http":               `port "http"`,
		"tcp://127.0.0.1:+80":                `port "+80"`,
		"tcp://127.0.0.1:0080":               `port "0080"`,
		"tcp://127.0.0.1:1e5":                `port "1e5"`,
		"tcp://1.2.3.4:65536":                `port "65536"`,
		"tcp://a/b:80":                       `host "a/b"`,
		"unix://":                            "socket path is empty",
		"unix://" + strings.Repeat("x", 108): "Linux allows 107",
		"unix://a\x00b":                      "NUL",
	} {
		_, err := Parse(in)
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("Parse(%q) error %v, want one saying %q", in, err, msg)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"tcp://127.0.0.1:1", "unix:///x", "tcp://[::1]:0", "udp://x", "tcp://:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := Parse(s)
		if err != nil {
			return
		}
		b, err := Parse(a.String())
		if err != nil || a != b {
			t.Fatalf("Parse(%q) = %+v, which parses back as %+v, %v", s, a, b, err)
		}
		if a.Network == TCP {
			if _, _, err := net.SplitHostPort(a.Addr); err != nil {
				t.Fatalf("Parse(%q) gave %q: %v", s, a.Addr, err)
			}
		}
	})
}

func TestListenUnix(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a := Address{Unix, filepath.Join(dir, "s.sock")}

	l, err := Listen(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	// A live socket is not taken over.
	if _, err := Listen(ctx, a); err == nil || !strings.Contains(err.Error(), "another process is listening") {
		t.Errorf("listening twice: %v", err)
	}
	c, err := Dial(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	l.Close()
	if _, err := os.Lstat(a.Addr); !os.IsNotExist(err) {
		t.Errorf("socket file left after Close: %v", err)
	}

	// A stale socket (its listener gone without removing it) is replaced.
	ul, err := net.ListenUnix("unix", &net.UnixAddr{Name: a.Addr, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ul.SetUnlinkOnClose(false)
	ul.Close()
	if fi, err := os.Lstat(a.Addr); err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("no stale socket to test with: %v", err)
	}
	l, err = Listen(ctx, a)
	if err != nil {
		t.Fatalf("over a stale socket: %v", err)
	}
	l.Close()

	// Anything else is left alone.
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("keep me"), 0o600)
	if _, err := Listen(ctx, Address{Unix, file}); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("over a regular file: %v", err)
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != "keep me" {
		t.Errorf("the regular file was touched: %q, %v", b, err)
	}
	if _, err := Listen(ctx, Address{Unix, dir}); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("over a directory: %v", err)
	}
	if _, err := Listen(ctx, Address{Unix, filepath.Join(dir, "missing", "s.sock")}); err == nil || !strings.Contains(err.Error(), "listening on unix://") {
		t.Errorf("in a missing directory: %v", err)
	}
}

func TestListenAndDialTCP(t *testing.T) {
	ctx := context.Background()
	l, err := Listen(ctx, Address{TCP, "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	a := Address{TCP, l.Addr().String()}
	if _, err := Listen(ctx, a); err == nil || !strings.Contains(err.Error(), "listening on tcp://"+a.Addr) {
		t.Errorf("port in use: %v", err)
	}
	l.Close()
	if _, err := Dial(ctx, a); err == nil || !strings.Contains(err.Error(), "connecting to tcp://"+a.Addr) {
		t.Errorf("dialling a closed port: %v", err)
	}
}
