package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// bin is runelet-wasm built as `make build` does (CGO_ENABLED=0).
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "inclavare-runelet-wasm-")
	if err != nil {
		panic(err)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		bin = filepath.Join(dir, "runelet-wasm")
		cmd := exec.Command("go", "build", "-trimpath", "-o", bin, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "building runelet-wasm: %v\n%s", err, out)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// Modules the tests run.
var (
	hello   = filepath.Join("..", "..", "..", "samples", "wasm-hello", "hello.wasm")
	envfile = filepath.Join("testdata", "envfile.wasm")
)

// module is runtime/wasm's test module name.
func module(name string) string {
	return filepath.Join("..", "..", "wasm", "testdata", name+".wasm")
}

// output is what one run of runelet-wasm gave.
type output struct {
	code           int
	stdout, stderr string
}

// runelet runs runelet-wasm with args and env (nil: an empty environment)
// and returns its exit code and output.
func runelet(t *testing.T, env []string, args ...string) output {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("runelet-wasm %q: %v", args, err)
	}
	return output{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
}

func TestStaticallyLinked(t *testing.T) {
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("runelet-wasm has a %v program header: it needs a dynamic loader, which a libc-free root has not", p.Type)
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("runelet-wasm needs libraries %q (%v)", libs, err)
	}
}

func TestRunHello(t *testing.T) {
	out := runelet(t, nil, "--", hello, "a", "b c", "exit=7")
	want := "Hello from WebAssembly in an Inclavare wasm enclave!\narg: a\narg: b c\narg: exit=7\n"
	if out.code != 7 || out.stdout != want || out.stderr != "" {
		t.Errorf("hello = %d, stdout %q, stderr %q; want 7, %q and no stderr", out.code, out.stdout, out.stderr, want)
	}
	// A container's memory limit above 4 GiB leaves the wasm32 maximum.
	if out := runelet(t, nil, "--memory-limit", "8589934592", "--", hello); out.code != 0 {
		t.Errorf("--memory-limit 8 GiB: code %d, stderr %q; want 0", out.code, out.stderr)
	}
	// Without "--" too; an exit code the kernel cannot carry is 255.
	if out := runelet(t, nil, hello, "exit=256"); out.code != 255 {
		t.Errorf("exit=256: code %d, want 255; stderr %q", out.code, out.stderr)
	}
}

func TestEnvironmentAndFilesystem(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "in.txt"), []byte("in the root\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"GREETING=hello", "EMPTY="}

	out := runelet(t, env, "--fs-root", root, "--", envfile, "/in.txt")
	if want := "GREETING=hello\nEMPTY=\nin the root\n"; out.code != 0 || out.stdout != want {
		t.Errorf("envfile /in.txt = %d, %q, stderr %q; want 0, %q", out.code, out.stdout, out.stderr, want)
	}
	out = runelet(t, nil, "--fs-root", root, "--", envfile, "/out.txt", "written")
	if b, err := os.ReadFile(filepath.Join(root, "out.txt")); out.code != 0 || err != nil || string(b) != "written" {
		t.Errorf("envfile /out.txt written = %d, stderr %q; file %q, %v", out.code, out.stderr, b, err)
	}
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"read-only", []string{"--fs-root", root, "--fs-read-only", "--", envfile, "/ro.txt", "x"}},
		{"no filesystem", []string{"--fs-root", "", "--", envfile, "/in.txt"}},
		{"outside the root", []string{"--fs-root", root, "--", envfile, "/../in.txt", "x"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := runelet(t, nil, tt.args...)
			if out.code != 1 || out.stderr != "envfile: cannot open the file\n" {
				t.Errorf("code %d, stderr %q; want 1 and the module's error", out.code, out.stderr)
			}
		})
	}
	if des, err := os.ReadDir(root); err != nil || len(des) != 2 {
		t.Errorf("the root holds %v (%v); want in.txt and out.txt only", des, err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(root), "in.txt")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a file was written outside the root: %v", err)
	}
}

func TestLogLevels(t *testing.T) {
	for _, tt := range []struct {
		level   string
		wantLog bool
	}{
		{"trace", true}, {"debug", true}, {"info", true}, {"warning", false}, {"warn", false},
		{"error", false}, {"fatal", false}, {"panic", false}, {"off", false},
	} {
		out := runelet(t, nil, "--loglevel", tt.level, hello)
		if out.code != 0 || strings.Contains(out.stderr, `msg="running wasm module"`) != tt.wantLog {
			t.Errorf("--loglevel %s: code %d, stderr %q; want 0 and info logs: %v", tt.level, out.code, out.stderr, tt.wantLog)
		}
	}
}

func TestMeasure(t *testing.T) {
	b, err := os.ReadFile(hello)
	if err != nil {
		t.Fatal(err)
	}
	out := runelet(t, nil, "measure", hello)
	if want := fmt.Sprintf("%x\n", sha256.Sum256(b)); out.code != 0 || out.stdout != want {
		t.Errorf("measure = %d, %q, stderr %q; want 0, %q", out.code, out.stdout, out.stderr, want)
	}
}

func TestErrors(t *testing.T) {
	notWasm := filepath.Join(t.TempDir(), "script.wasm")
	if err := os.WriteFile(notWasm, []byte("#!/bin/sh\necho hi\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name     string
		args     []string
		code     int
		inStderr string
	}{
		{"trap", []string{module("trap")}, 134, "trapped: wasm error: unreachable"},
		{"memory limit", []string{"--memory-limit", "1048576", module("grow")}, 134, "at the memory limit (1048576 of 1048576 bytes"},
		{"declared memory over the limit", []string{"--memory-limit", "1048576", module("bigmem")}, 126, "the memory limit is 1048576 bytes"},
		{"missing module", []string{"/nonexistent/app.wasm"}, 127, "reading the module: open /nonexistent/app.wasm: no such file or directory"},
		{"not wasm", []string{notWasm}, 126, "invalid wasm module"},
		{"reactor", []string{module("reactor")}, 126, "exports no _start function"},
		{"unknown import", []string{module("import")}, 126, "not a runnable WASI command"},
		{"no module", []string{"--cache-dir", t.TempDir()}, 125, "no module to run"},
		{"unknown flag", []string{"--frobnicate", hello}, 125, "flag provided but not defined: -frobnicate"},
		{"memory limit not a number", []string{"--memory-limit", "1Mi", hello}, 125, `--memory-limit "1Mi": want a number of bytes`},
		{"memory limit too small", []string{"--memory-limit", "4096", hello}, 125, "memory limit of 4096 bytes is below one 64 KiB page"},
		{"bad log level", []string{"--loglevel", "loud", hello}, 125, `--loglevel "loud"`},
		{"measure nothing", []string{"measure"}, 125, "measure: want one argument"},
		{"measure missing", []string{"measure", "/nonexistent/app.wasm"}, 127, "no such file or directory"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cache := t.TempDir()
			args := append([]string{"--cache-dir", cache}, tt.args...)
			if tt.args[0] == "measure" {
				args = tt.args
			}
			out := runelet(t, nil, args...)
			if out.code != tt.code || !strings.Contains(out.stderr, tt.inStderr) {
				t.Errorf("code %d, stderr %q; want %d and %q", out.code, out.stderr, tt.code, tt.inStderr)
			}
			if out.stdout != "" {
				t.Errorf("stdout %q; want nothing", out.stdout)
			}
			// A module that compiles is cached even when it cannot run (it
			// is valid WebAssembly); nothing else leaves a file.
			if tt.code != 134 && tt.name != "reactor" && tt.name != "unknown import" {
				if files := regularFiles(t, cache); len(files) > 0 {
					t.Errorf("the failed start left %q in the cache", files)
				}
			}
		})
	}
}

// regularFiles lists the regular files under dir.
func regularFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(path string, de fs.DirEntry, err error) error {
		if err == nil && de.Type().IsRegular() {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestCacheDir(t *testing.T) {
	cache := filepath.Join(t.TempDir(), "cache")
	out := runelet(t, nil, "--cache-dir", cache, "--loglevel", "info", hello)
	files := regularFiles(t, cache)
	if out.code != 0 || len(files) == 0 {
		t.Fatalf("first start: code %d, stderr %q, cache %q; want 0 and a cache entry", out.code, out.stderr, files)
	}
	before, err := os.Stat(files[0])
	if err != nil {
		t.Fatal(err)
	}
	out = runelet(t, nil, "--cache-dir", cache, hello)
	after, err := os.Stat(files[0])
	if err != nil || out.code != 0 || !after.ModTime().Equal(before.ModTime()) || len(regularFiles(t, cache)) != len(files) {
		t.Errorf("second start: code %d, stderr %q; the cache entry changed (%v -> %v, %v): it compiled again", out.code, out.stderr, before.ModTime(), after.ModTime(), err)
	}
}

// started is a runelet-wasm started in the background.
type started struct {
	cmd    *exec.Cmd
	stderr *bufio.Reader
	done   chan struct{}

	mu  sync.Mutex
	log strings.Builder // its stderr
}

// logs is what it wrote to stderr so far.
func (s *started) logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// start starts runelet-wasm with --loglevel info and args (attr: extra
// process attributes; stdin: nil for none) and waits until it runs the
// module.
func start(t *testing.T, attr *syscall.SysProcAttr, stdin io.Reader, path string, args ...string) *started {
	t.Helper()
	cmd := exec.Command(path, append([]string{"--loglevel", "info"}, args...)...)
	cmd.SysProcAttr, cmd.Stdin = attr, stdin
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		if attr != nil {
			skipUnlessCI(t, fmt.Sprintf("cannot start runelet-wasm in a new PID namespace and root: %v", err))
		}
		t.Fatal(err)
	}
	s := &started{cmd: cmd, stderr: bufio.NewReader(pipe), done: make(chan struct{})}
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-s.done
	})
	lines := make(chan string)
	go func() {
		defer close(lines)
		for {
			line, err := s.stderr.ReadString('\n')
			if err != nil {
				return
			}
			lines <- line
		}
	}()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-lines:
			if !ok {
				cmd.Wait()
				close(s.done)
				t.Fatalf("runelet-wasm exited before running the module:\n%s", s.logs())
			}
			s.mu.Lock()
			s.log.WriteString(line)
			s.mu.Unlock()
			if strings.Contains(line, `msg="running wasm module"`) {
				go func() {
					for line := range lines {
						s.mu.Lock()
						s.log.WriteString(line)
						s.mu.Unlock()
					}
					cmd.Wait()
					close(s.done)
				}()
				return s
			}
		case <-timeout:
			t.Fatalf("runelet-wasm did not run the module in 30s:\n%s", s.logs())
		}
	}
}

// stop sends sig and returns the exit code, failing the test if the
// process takes more than 5 seconds to exit.
func (s *started) stop(t *testing.T, sig syscall.Signal) int {
	t.Helper()
	sent := time.Now()
	if err := s.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		t.Fatalf("runelet-wasm still runs 5s after %v", sig)
	}
	t.Logf("runelet-wasm exited %v after %v", time.Since(sent), sig)
	return s.cmd.ProcessState.ExitCode()
}

func TestSignalsStopBusyLoop(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			s := start(t, nil, nil, bin, module("loop"))
			if code := s.stop(t, sig); code != 128+int(sig) {
				t.Errorf("exit code %d after %v, want %d", code, sig, 128+int(sig))
			}
		})
	}
}

// TestSignalInHostCall stops modules that are in a host call rather than
// in wasm code, which the context does not interrupt: one reading a stdin
// that stays open and silent, one sleeping in poll_oneoff. runelet-wasm
// exits after its grace period.
func TestSignalInHostCall(t *testing.T) {
	for _, module := range []string{"cat", "sleep"} {
		t.Run(module, func(t *testing.T) {
			t.Parallel()
			r, w, err := os.Pipe()
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			s := start(t, nil, r, bin, filepath.Join("testdata", module+".wasm"))
			r.Close()
			time.Sleep(300 * time.Millisecond) // into the host call
			if code := s.stop(t, syscall.SIGTERM); code != 128+int(syscall.SIGTERM) {
				t.Errorf("exit code %d after SIGTERM, want %d", code, 128+int(syscall.SIGTERM))
			}
			if logs := s.logs(); !strings.Contains(logs, "did not stop in time") {
				t.Errorf("logs %q: want the grace period's warning", logs)
			}
		})
	}
}

// TestTestdataMatchesSource reassembles each testdata/*.wat with wabt's
// wat2wasm, when it is installed, and compares it with the committed
// .wasm.
func TestTestdataMatchesSource(t *testing.T) {
	wat2wasm, err := exec.LookPath("wat2wasm")
	if err != nil {
		t.Skip("wat2wasm (wabt) is not installed: the committed .wasm files are not checked against their sources")
	}
	sources, err := filepath.Glob(filepath.Join("testdata", "*.wat"))
	if err != nil || len(sources) == 0 {
		t.Fatalf("no testdata/*.wat: %v", err)
	}
	for _, src := range sources {
		out := filepath.Join(t.TempDir(), "out.wasm")
		if b, err := exec.Command(wat2wasm, src, "-o", out).CombinedOutput(); err != nil {
			t.Fatalf("wat2wasm %s: %v\n%s", src, err, b)
		}
		want, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		committed := strings.TrimSuffix(src, ".wat") + ".wasm"
		if got, err := os.ReadFile(committed); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is not %s assembled (%v): run wat2wasm again (testdata/README.md)", committed, src, err)
		}
	}
}

// skipUnlessCI skips the test with why, or fails it when INCLAVARE_CI=1.
func skipUnlessCI(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("INCLAVARE_CI") == "1" {
		t.Fatal(why)
	}
	t.Skip(why)
}

// TestPID1OnLibcFreeRoot runs runelet-wasm as PID 1 of a new PID namespace,
// chrooted to a root that holds nothing but runelet-wasm and the modules,
// as in a container built from a wasm module alone.
func TestPID1OnLibcFreeRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		skipUnlessCI(t, "needs root for a PID namespace and chroot")
	}
	root := t.TempDir()
	for dst, src := range map[string]string{"runelet-wasm": bin, "hello.wasm": hello, "loop.wasm": module("loop"), "envfile.wasm": envfile} {
		copyFile(t, src, filepath.Join(root, dst), 0o755)
	}
	if err := os.WriteFile(filepath.Join(root, "motd"), []byte("a root without libc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	attr := func() *syscall.SysProcAttr {
		return &syscall.SysProcAttr{Chroot: root, Cloneflags: syscall.CLONE_NEWPID}
	}

	t.Run("exit code", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command("/runelet-wasm", "--loglevel", "info", "--", "/hello.wasm", "exit=3")
		cmd.SysProcAttr, cmd.Stdout, cmd.Stderr, cmd.Env = attr(), &stdout, &stderr, []string{}
		err := cmd.Run()
		var exit *exec.ExitError
		if err != nil && !errors.As(err, &exit) {
			skipUnlessCI(t, fmt.Sprintf("cannot start runelet-wasm in a new PID namespace and root: %v", err))
		}
		if code := cmd.ProcessState.ExitCode(); code != 3 || !strings.Contains(stdout.String(), "arg: exit=3") || !strings.Contains(stderr.String(), "pid=1 ") {
			t.Errorf("code %d, stdout %q, stderr %q; want 3, the module's output, and pid=1 logged", code, stdout.String(), stderr.String())
		}
	})
	t.Run("filesystem", func(t *testing.T) {
		var stdout bytes.Buffer
		cmd := exec.Command("/runelet-wasm", "--", "/envfile.wasm", "/motd")
		cmd.SysProcAttr, cmd.Stdout, cmd.Env = attr(), &stdout, []string{"IN=chroot"}
		if err := cmd.Run(); err != nil || stdout.String() != "IN=chroot\na root without libc\n" {
			t.Errorf("envfile /motd: %v, stdout %q", err, stdout.String())
		}
	})
	t.Run("SIGTERM", func(t *testing.T) {
		s := start(t, attr(), nil, "/runelet-wasm", "/loop.wasm")
		if code := s.stop(t, syscall.SIGTERM); code != 128+int(syscall.SIGTERM) {
			t.Errorf("exit code %d after SIGTERM, want %d", code, 128+int(syscall.SIGTERM))
		}
	})
}

// copyFile copies src to dst with mode.
func copyFile(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestReap: reap collects an exited child that nobody waits for, as
// runelet-wasm does as PID 1 for processes orphaned in the container.
func TestReap(t *testing.T) {
	cmd := exec.Command(bin, "measure", hello)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	// Wait until it is a zombie.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			t.Fatal(err)
		}
		if f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:])); len(f) > 0 && f[0] == "Z" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("child %d did not exit: %s", pid, stat)
		}
	}
	// The thread group leader shows as a zombie while its other threads
	// are still exiting, and it cannot be waited for until they are gone:
	// reap, which never blocks, is called again until it collects it (as
	// runelet-wasm does at every SIGCHLD).
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	want := fmt.Sprintf("msg=\"reaped an orphan\" pid=%d status=0", pid)
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), want); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("reap did not collect %d in 10s: logs %q", pid, logs.String())
		}
		reap(log)
	}
	if _, err := syscall.Wait4(pid, nil, syscall.WNOHANG, nil); !errors.Is(err, syscall.ECHILD) {
		t.Errorf("after reap, wait4(%d) = %v; want ECHILD", pid, err)
	}
}

// TestCacheFD: with --cache-fd the cache is used for compiling and closed
// before the module runs, so the module cannot write to it even through
// /proc/self/fd; another inherited descriptor, as a control, it can.
func TestCacheFD(t *testing.T) {
	cache, other := t.TempDir(), t.TempDir()
	openDir := func(dir string) *os.File {
		f, err := os.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	// The module's root reaches /proc through a symbolic link (the host
	// follows it), as the container's root does through its /proc mount.
	root := t.TempDir()
	if err := os.Symlink("/proc", filepath.Join(root, "proc")); err != nil {
		t.Fatal(err)
	}
	// The module tries to create "evil" through fd 3 (the cache) and fd 4.
	runWith := func(fd int) output {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "--cache-fd", "3", "--fs-root", root, "--", envfile, fmt.Sprintf("/proc/self/fd/%d/evil", fd), "native code")
		cmd.ExtraFiles = []*os.File{openDir(cache), openDir(other)}
		cmd.Env = []string{}
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		cmd.Run()
		return output{cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()}
	}
	out := runWith(3)
	if out.code != 1 || out.stderr != "envfile: cannot open the file\n" {
		t.Errorf("writing through the cache descriptor: code %d, stderr %q; want 1 and the module's error", out.code, out.stderr)
	}
	files := regularFiles(t, cache)
	if len(files) == 0 {
		t.Error("the cache is empty: --cache-fd was not used to compile")
	}
	for _, f := range append(files, regularFiles(t, root)...) {
		if filepath.Base(f) == "evil" {
			t.Errorf("the module wrote %s", f)
		}
	}
	if out := runWith(4); out.code != 0 {
		t.Errorf("control, writing through an open descriptor: code %d, stderr %q", out.code, out.stderr)
	}
	if b, err := os.ReadFile(filepath.Join(other, "evil")); err != nil || string(b) != "native code" {
		t.Errorf("control: %q, %v; want the module's write through the open descriptor", b, err)
	}
}

func TestCacheFlagErrors(t *testing.T) {
	file, err := os.Open(hello)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	for _, tt := range []struct {
		name     string
		args     []string
		extra    []*os.File
		inStderr string
	}{
		{"stdout as cache", []string{"--cache-fd", "1", hello}, nil, "--cache-fd 1: not an open directory descriptor"},
		{"closed descriptor", []string{"--cache-fd", "3", hello}, nil, "--cache-fd 3: not an open directory descriptor"},
		{"regular file", []string{"--cache-fd", "3", hello}, []*os.File{file}, "--cache-fd 3: not an open directory descriptor"},
		{"both", []string{"--cache-fd", "3", "--cache-dir", t.TempDir(), hello}, nil, "--cache-dir and --cache-fd both given"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(bin, tt.args...)
			cmd.ExtraFiles = tt.extra
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			cmd.Run()
			if code := cmd.ProcessState.ExitCode(); code != exitUsage || !strings.Contains(stderr.String(), tt.inStderr) {
				t.Errorf("code %d, stderr %q; want %d and %q", code, stderr.String(), exitUsage, tt.inStderr)
			}
		})
	}
}

func TestCacheInsideRootWarns(t *testing.T) {
	root := t.TempDir()
	const warning = "the module can write to the compilation cache"
	if out := runelet(t, nil, "--cache-dir", filepath.Join(root, "dev", ".rune", "cache"), "--fs-root", root, hello); out.code != 0 || !strings.Contains(out.stderr, warning) {
		t.Errorf("cache inside the root: code %d, stderr %q; want 0 and a warning", out.code, out.stderr)
	}
	if out := runelet(t, nil, "--cache-dir", t.TempDir(), "--fs-root", root, hello); out.code != 0 || out.stderr != "" {
		t.Errorf("cache outside the root: code %d, stderr %q; want 0 and no warning", out.code, out.stderr)
	}
	if out := runelet(t, nil, "--cache-dir", filepath.Join(root, "cache"), "--fs-root", "", hello); out.code != 0 || out.stderr != "" {
		t.Errorf("no filesystem: code %d, stderr %q; want 0 and no warning", out.code, out.stderr)
	}
}
