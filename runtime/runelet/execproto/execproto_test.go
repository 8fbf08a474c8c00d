package execproto

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// startServer serves h on a socket in a temporary directory and returns
// its path; the cleanup stops the server and checks that it removed the
// socket.
func startServer(t *testing.T, h Handler) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), SocketName)
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, l, h, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("socket %s left behind after Serve returned (%v)", path, err)
		}
	})
	return path
}

// checkGoroutines fails t if more goroutines run at cleanup than now.
func checkGoroutines(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(2 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<16)
			t.Errorf("%d goroutines left behind:\n%s", n-before, buf[:runtime.Stack(buf, true)])
		}
	})
}

// pipeFiles returns a pipe whose ends are closed at cleanup.
func pipeFiles(t *testing.T) (r, w *os.File) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	return r, w
}

func TestExecRoundTrip(t *testing.T) {
	checkGoroutines(t)
	var got Request
	path := startServer(t, HandlerFunc(func(ctx context.Context, req Request, stdio [3]*os.File) (int, error) {
		got = req
		line, err := io.ReadAll(stdio[0])
		if err != nil {
			return 0, err
		}
		fmt.Fprintf(stdio[1], "out:%s", line)
		fmt.Fprintf(stdio[2], "err:%s", req.Args[1])
		return 42, nil
	}))
	inR, inW := pipeFiles(t)
	outR, outW := pipeFiles(t)
	errR, errW := pipeFiles(t)
	if _, err := inW.WriteString("hello"); err != nil {
		t.Fatal(err)
	}
	inW.Close()
	req := Request{Args: []string{"/bin/echo", "x y"}, Env: []string{"A=1", "B="}, Cwd: "/tmp"}
	code, err := Exec(context.Background(), path, req, inR, outW, errW)
	if err != nil {
		t.Fatal(err)
	}
	if code != 42 {
		t.Errorf("exit code %d, want 42", code)
	}
	outW.Close()
	errW.Close()
	out, _ := io.ReadAll(outR)
	errOut, _ := io.ReadAll(errR)
	if string(out) != "out:hello" || string(errOut) != "err:x y" {
		t.Errorf("stdout %q stderr %q", out, errOut)
	}
	if strings.Join(got.Args, "|") != "/bin/echo|x y" || strings.Join(got.Env, "|") != "A=1|B=" || got.Cwd != "/tmp" {
		t.Errorf("server got %+v", got)
	}
}

func TestExecRemoteError(t *testing.T) {
	checkGoroutines(t)
	path := startServer(t, HandlerFunc(func(ctx context.Context, req Request, stdio [3]*os.File) (int, error) {
		return 0, errors.New("pal_create_process: no such file or directory")
	}))
	_, w := pipeFiles(t)
	_, err := Exec(context.Background(), path, Request{Args: []string{"missing"}}, w, w, w)
	if !errors.Is(err, ErrRemote) || !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("err = %v, want ErrRemote naming the cause", err)
	}
}

func TestExecCancelKillsProcess(t *testing.T) {
	checkGoroutines(t)
	started := make(chan struct{})
	cancelled := make(chan struct{})
	path := startServer(t, HandlerFunc(func(ctx context.Context, req Request, stdio [3]*os.File) (int, error) {
		close(started)
		<-ctx.Done()
		close(cancelled)
		return 137, nil
	}))
	_, w := pipeFiles(t)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-started; cancel() }()
	_, err := Exec(ctx, path, Request{Args: []string{"sleep"}}, w, w, w)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the handler's context was not cancelled when the client went away")
	}
}

func TestServeStopCancelsRequests(t *testing.T) {
	checkGoroutines(t)
	path := filepath.Join(t.TempDir(), SocketName)
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, l, HandlerFunc(func(ctx context.Context, req Request, stdio [3]*os.File) (int, error) {
			close(started)
			<-ctx.Done()
			return 137, nil
		}), nil)
	}()
	_, w := pipeFiles(t)
	execErr := make(chan error, 1)
	go func() {
		code, err := Exec(context.Background(), path, Request{Args: []string{"sleep"}}, w, w, w)
		if err == nil && code != 137 {
			err = fmt.Errorf("exit code %d, want 137", code)
		}
		execErr <- err
	}()
	<-started
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	if err := <-execErr; err != nil {
		t.Fatalf("Exec: %v, want the killed process's exit code", err)
	}
}

func TestExecNoSocket(t *testing.T) {
	checkGoroutines(t)
	_, w := pipeFiles(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Exec(ctx, filepath.Join(t.TempDir(), "none.sock"), Request{Args: []string{"x"}}, w, w, w)
	if err == nil || !strings.Contains(err.Error(), "none.sock") {
		t.Fatalf("err = %v, want a connection error naming the socket", err)
	}
	if time.Since(start) > DialWait+time.Second {
		t.Errorf("Exec took %v", time.Since(start))
	}
}

func TestExecRefusesBadRequest(t *testing.T) {
	_, w := pipeFiles(t)
	for _, req := range []Request{
		{},
		{Args: []string{""}},
		{Args: []string{"a\x00b"}},
		{Args: []string{"a"}, Env: []string{"NOEQUALS"}},
		{Args: []string{"a"}, Env: []string{"=x"}},
		{Args: []string{"a"}, Cwd: "relative"},
		{Args: []string{"a", strings.Repeat("x", MaxRequestSize)}},
	} {
		if _, err := Exec(context.Background(), "/nonexistent", req, w, w, w); !errors.Is(err, ErrProtocol) {
			t.Errorf("%.60v: err = %v, want ErrProtocol", req, err)
		}
	}
	if _, err := Exec(context.Background(), "/nonexistent", Request{Args: []string{"a"}}, nil, w, w); err == nil {
		t.Error("nil stdin accepted")
	}
}

// rawExchange sends data with fds on a fresh connection and returns the
// decoded response.
func rawExchange(t *testing.T, path string, data []byte, fds ...int) Response {
	t.Helper()
	c, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	if _, _, err := c.WriteMsgUnix(data, oob, nil); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<16)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	r, err := DecodeResponse(buf[:n])
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestServerRefusesMalformed(t *testing.T) {
	checkGoroutines(t)
	var mu sync.Mutex
	calls := 0
	path := startServer(t, HandlerFunc(func(ctx context.Context, req Request, stdio [3]*os.File) (int, error) {
		mu.Lock()
		calls++
		mu.Unlock()
		return 0, nil
	}))
	r, w := pipeFiles(t)
	fd := int(w.Fd())
	good := []byte(`{"args":["/bin/true"]}`)
	for name, tc := range map[string]struct {
		data []byte
		fds  []int
		want string
	}{
		"no descriptors":   {good, nil, "0 descriptors"},
		"two descriptors":  {good, []int{fd, fd}, "2 descriptors"},
		"four descriptors": {good, []int{fd, fd, fd, fd}, "descriptors"},
		"not JSON":         {[]byte("args"), []int{fd, fd, fd}, "decoding"},
		"unknown member":   {[]byte(`{"args":["a"],"tty":true}`), []int{fd, fd, fd}, "unknown member"},
		"member case":      {[]byte(`{"Args":["a"]}`), []int{fd, fd, fd}, "unknown member"},
		"trailing data":    {[]byte(`{"args":["a"]}{}`), []int{fd, fd, fd}, "decoding"},
		"no args":          {[]byte(`{"env":["A=1"]}`), []int{fd, fd, fd}, "no args"},
		"too long":         {[]byte(`{"args":["` + strings.Repeat("a", MaxRequestSize) + `"]}`), []int{fd, fd, fd}, "longer than"},
	} {
		resp := rawExchange(t, path, tc.data, tc.fds...)
		if resp.Error == "" || !strings.Contains(resp.Error, tc.want) {
			t.Errorf("%s: response %+v, want an error containing %q", name, resp, tc.want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 0 {
		t.Errorf("the handler ran %d times for malformed requests", calls)
	}
	// Every descriptor the server received was closed: closing our write
	// end gives EOF on the read end.
	w.Close()
	done := make(chan error, 1)
	go func() { _, err := io.ReadAll(r); done <- err }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		r.Close()
		t.Fatal("the server kept a descriptor of a refused request open")
	}
}

func TestListenReplacesStaleSocketOnly(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, SocketName)
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()
	l, err = Listen(path)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode %v, want 0600", fi.Mode().Perm())
	}
	l.Close()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen(file); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("Listen over a regular file: %v", err)
	}
}

func TestDecodeResponse(t *testing.T) {
	for in, ok := range map[string]bool{
		`{"exit_code":0}`:              true,
		`{"exit_code":255}`:            true,
		`{"error":"x"}`:                true,
		`{}`:                           false,
		`{"exit_code":1,"error":"x"}`:  false,
		`{"exit_code":256}`:            false,
		`{"exit_code":-1}`:             false,
		`{"Exit_Code":1}`:              false,
		`null`:                         false,
		`{"exit_code":1} x`:            false,
		`{"exit_code":1,"other":true}`: false,
	} {
		_, err := DecodeResponse([]byte(in))
		if (err == nil) != ok {
			t.Errorf("DecodeResponse(%s): err = %v, want ok=%v", in, err, ok)
		}
		if err != nil && !errors.Is(err, ErrProtocol) {
			t.Errorf("DecodeResponse(%s): %v is not ErrProtocol", in, err)
		}
	}
}

func TestExecServerVanishes(t *testing.T) {
	checkGoroutines(t)
	path := filepath.Join(t.TempDir(), SocketName)
	l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.AcceptUnix()
		if err == nil {
			buf := make([]byte, MaxRequestSize)
			oob := make([]byte, 128)
			_, oobn, _, _, _ := c.ReadMsgUnix(buf, oob)
			if fds, _ := parseRights(oob[:oobn]); fds != nil {
				for _, fd := range fds {
					unix.Close(fd)
				}
			}
			c.Close()
		}
	}()
	_, w := pipeFiles(t)
	_, err = Exec(context.Background(), path, Request{Args: []string{"x"}}, w, w, w)
	if err == nil || !strings.Contains(err.Error(), "without an answer") {
		t.Fatalf("err = %v, want the runelet closing without an answer", err)
	}
}

func TestServeSurvivesDescriptorExhaustion(t *testing.T) {
	checkGoroutines(t)
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), SocketName)
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	var logged lockedLog
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Serve(ctx, l, HandlerFunc(func(ctx context.Context, req Request, stdio [3]*os.File) (int, error) {
			return 3, nil
		}), slog.New(slog.NewTextHandler(&logged, nil)))
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()

	// Use up every descriptor under a low limit, so that accept fails
	// with EMFILE; once they are freed the request is served.
	small := lim
	small.Cur = 256
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &small); err != nil {
		t.Fatal(err)
	}
	var hog []int
	for {
		fd, err := unix.Open(os.DevNull, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			break
		}
		hog = append(hog, fd)
	}
	// One descriptor for the client's socket.
	unix.Close(hog[len(hog)-1])
	hog = hog[:len(hog)-1]
	c, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: path, Net: "unixpacket"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	time.Sleep(150 * time.Millisecond)
	for _, fd := range hog {
		unix.Close(fd)
	}
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	_, w := pipeFiles(t)
	fd := int(w.Fd())
	if _, _, err := c.WriteMsgUnix([]byte(`{"args":["x"]}`), unix.UnixRights(fd, fd, fd), nil); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1024)
	n, err := c.Read(buf)
	if err != nil {
		t.Fatalf("no answer after descriptors were freed: %v", err)
	}
	if resp, err := DecodeResponse(buf[:n]); err != nil || resp.ExitCode == nil || *resp.ExitCode != 3 {
		t.Fatalf("answer %q: %v", buf[:n], err)
	}
	if !strings.Contains(logged.String(), "too many open files") {
		t.Errorf("accept never failed for lack of descriptors; log %q", logged.String())
	}
}

// lockedLog collects log output written from several goroutines.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
