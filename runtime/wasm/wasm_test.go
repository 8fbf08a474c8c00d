package wasm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// testdata returns the bytes of testdata/name.wasm (see testdata/README.md).
func testdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name+".wasm"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var probe struct {
	once sync.Once
	dir  string
	bin  []byte
	err  error
}

// probeRuntime returns a Runtime whose compilation cache is shared by the
// tests that run wasiprobe, so that it is compiled once.
func probeRuntime(t testing.TB) *Runtime {
	t.Helper()
	probeModule(t)
	return newRuntime(t, Options{CacheDir: filepath.Join(probe.dir, "cache")})
}

// probeModule returns testdata/wasiprobe built with GOOS=wasip1
// GOARCH=wasm (once per test binary; TestMain removes it).
func probeModule(t testing.TB) []byte {
	t.Helper()
	probe.once.Do(func() {
		probe.dir, probe.err = os.MkdirTemp("", "inclavare-wasiprobe-")
		if probe.err != nil {
			return
		}
		out := filepath.Join(probe.dir, "wasiprobe.wasm")
		cmd := exec.Command("go", "build", "-trimpath", "-o", out, ".")
		cmd.Dir = filepath.Join("testdata", "wasiprobe")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			probe.err = fmt.Errorf("building testdata/wasiprobe for wasip1: %w\n%s", err, b)
			return
		}
		probe.bin, probe.err = os.ReadFile(out)
	})
	if probe.err != nil {
		t.Fatal(probe.err)
	}
	return probe.bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if probe.dir != "" {
		os.RemoveAll(probe.dir)
	}
	os.Exit(code)
}

// newRuntime returns a Runtime with opts, closed at the end of the test.
func newRuntime(t testing.TB, opts Options) *Runtime {
	t.Helper()
	r, err := New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := r.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return r
}

// result is what one run of a module gave.
type result struct {
	code           int
	err            error
	stdout, stderr string
}

// run compiles bin in r and runs it with p (its stdout and stderr
// captured), failing the test if it does not compile.
func run(t testing.TB, r *Runtime, bin []byte, p Process) result {
	t.Helper()
	ctx := context.Background()
	m, err := r.Compile(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	var stdout, stderr bytes.Buffer
	p.Stdout, p.Stderr = &stdout, &stderr
	if len(p.Args) == 0 {
		p.Args = []string{"module.wasm"}
	}
	code, err := r.Run(ctx, m, p)
	return result{code, err, stdout.String(), stderr.String()}
}

// checkGoroutines fails the test if, by its end, more goroutines run than
// at its start: a run must leave nothing behind.
func checkGoroutines(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<16)
			t.Errorf("%d goroutines at the end, %d at the start:\n%s", n, before, buf[:runtime.Stack(buf, true)])
		}
	})
}

func TestArgsEnvStdio(t *testing.T) {
	r := probeRuntime(t)
	bin := probeModule(t)
	tests := []struct {
		name       string
		p          Process
		wantStdout string
	}{
		{"args", Process{Args: []string{"wasiprobe", "echo", "a", "b c", ""}}, "a b c \n"},
		{"env", Process{Args: []string{"wasiprobe", "env", "GREETING"}, Env: []string{"GREETING=hello=world", "OTHER=1"}}, "hello=world\n"},
		{"env of the process only", Process{Args: []string{"wasiprobe", "env", "PATH"}, Env: []string{"OTHER=1"}}, "unset\n"},
		{"stdin", Process{Args: []string{"wasiprobe", "stdin"}, Stdin: strings.NewReader("from stdin\n")}, "from stdin\n"},
		{"no stdin", Process{Args: []string{"wasiprobe", "stdin"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, r, bin, tt.p)
			if res.err != nil || res.code != 0 {
				t.Fatalf("Run = %d, %v; stderr %q", res.code, res.err, res.stderr)
			}
			if res.stdout != tt.wantStdout {
				t.Errorf("stdout = %q, want %q", res.stdout, tt.wantStdout)
			}
		})
	}
}

func TestExitCodes(t *testing.T) {
	r := probeRuntime(t)
	bin := probeModule(t)
	for _, tt := range []struct{ exit, want int }{{0, 0}, {3, 3}, {255, 255}, {256, MaxExitCode}, {70000, MaxExitCode}} {
		t.Run(strconv.Itoa(tt.exit), func(t *testing.T) {
			res := run(t, r, bin, Process{Args: []string{"wasiprobe", "exit", strconv.Itoa(tt.exit)}})
			if res.err != nil || res.code != tt.want {
				t.Errorf("Run = %d, %v; want %d, nil", res.code, res.err, tt.want)
			}
		})
	}
	// A module whose _start returns exits with 0.
	if res := run(t, newRuntime(t, Options{MemoryLimit: 32 << 20}), testdata(t, "bigmem"), Process{}); res.err != nil || res.code != 0 {
		t.Errorf("bigmem: Run = %d, %v; want 0, nil", res.code, res.err)
	}
}

func TestFilesystem(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "in.txt"), []byte("file content\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := probeRuntime(t)
	bin := probeModule(t)

	res := run(t, r, bin, Process{Args: []string{"wasiprobe", "cat", "/in.txt"}, Root: root})
	if res.err != nil || res.code != 0 || res.stdout != "file content\n" {
		t.Errorf("cat /in.txt = %d, %v, %q; stderr %q", res.code, res.err, res.stdout, res.stderr)
	}
	res = run(t, r, bin, Process{Args: []string{"wasiprobe", "cat", "/../../../../etc/hostname"}, Root: root})
	if res.code != 1 {
		t.Errorf("cat outside the root = %d, %v, %q; want exit 1", res.code, res.err, res.stdout)
	}
	res = run(t, r, bin, Process{Args: []string{"wasiprobe", "write", "/out.txt", "written"}, Root: root})
	if res.err != nil || res.code != 0 {
		t.Errorf("write /out.txt = %d, %v; stderr %q", res.code, res.err, res.stderr)
	}
	if b, err := os.ReadFile(filepath.Join(root, "out.txt")); err != nil || string(b) != "written" {
		t.Errorf("out.txt = %q, %v; want written", b, err)
	}

	res = run(t, r, bin, Process{Args: []string{"wasiprobe", "write", "/ro.txt", "x"}, Root: root, ReadOnlyRoot: true})
	if res.code != 1 || !strings.Contains(res.stderr, "open /ro.txt") {
		t.Errorf("write to a read-only root = %d, %v, stderr %q; want exit 1 and an error", res.code, res.err, res.stderr)
	}
	if _, err := os.Stat(filepath.Join(root, "ro.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ro.txt exists after a write to a read-only root: %v", err)
	}
	res = run(t, r, bin, Process{Args: []string{"wasiprobe", "cat", "/in.txt"}})
	if res.code != 1 || res.stdout != "" {
		t.Errorf("cat without a root = %d, %v, %q; want exit 1", res.code, res.err, res.stdout)
	}
}

func TestClockAndRandomness(t *testing.T) {
	r := probeRuntime(t)
	bin := probeModule(t)
	a := run(t, r, bin, Process{Args: []string{"wasiprobe", "rand"}})
	b := run(t, r, bin, Process{Args: []string{"wasiprobe", "rand"}})
	if a.code != 0 || b.code != 0 || len(a.stdout) != 33 || a.stdout == b.stdout {
		t.Errorf("two runs of rand gave %q (%d) and %q (%d); want different random bytes", a.stdout, a.code, b.stdout, b.code)
	}
	res := run(t, r, bin, Process{Args: []string{"wasiprobe", "time"}})
	sec, err := strconv.ParseInt(strings.TrimSpace(res.stdout), 10, 64)
	if err != nil {
		t.Fatalf("time printed %q: %v", res.stdout, err)
	}
	if d := time.Since(time.Unix(sec, 0)); d < -time.Minute || d > time.Minute {
		t.Errorf("the module's clock is %v off the host's", d)
	}
}

func TestTrap(t *testing.T) {
	checkGoroutines(t)
	r := newRuntime(t, Options{})
	res := run(t, r, testdata(t, "trap"), Process{})
	var trap *TrapError
	if res.code != ExitTrap || !errors.Is(res.err, ErrTrap) || !errors.As(res.err, &trap) {
		t.Fatalf("Run = %d, %v; want %d and a *TrapError", res.code, res.err, ExitTrap)
	}
	if !strings.Contains(res.err.Error(), "unreachable") || trap.AtMemoryLimit() || strings.Contains(res.err.Error(), "memory limit") {
		t.Errorf("error %q: want the trap named, and no memory limit blamed", res.err)
	}
	if trap.Measurement != Measure(testdata(t, "trap")) {
		t.Errorf("TrapError.Measurement = %s", trap.Measurement)
	}
}

func TestMemoryLimit(t *testing.T) {
	checkGoroutines(t)
	const limit = 1 << 20
	r := newRuntime(t, Options{MemoryLimit: limit + 100}) // rounded down to pages
	if r.MemoryLimit() != limit {
		t.Errorf("MemoryLimit() = %d, want %d", r.MemoryLimit(), limit)
	}

	t.Run("grow beyond", func(t *testing.T) {
		res := run(t, r, testdata(t, "grow"), Process{})
		var trap *TrapError
		if res.code != ExitTrap || !errors.As(res.err, &trap) {
			t.Fatalf("Run = %d, %v; want a trap", res.code, res.err)
		}
		if !trap.AtMemoryLimit() || trap.MemorySize != limit || !strings.Contains(res.err.Error(), "at the memory limit (1048576 of 1048576 bytes") {
			t.Errorf("error %q (memory %d): want the memory limit named", res.err, trap.MemorySize)
		}
		if res.stderr != "grow: memory.grow failed\n" {
			t.Errorf("stderr = %q: the module did not see memory.grow fail", res.stderr)
		}
	})
	t.Run("declared beyond", func(t *testing.T) {
		_, err := r.Compile(context.Background(), testdata(t, "bigmem"))
		if !errors.Is(err, ErrInvalidModule) || !strings.Contains(err.Error(), "the memory limit is 1048576 bytes") {
			t.Errorf("Compile(bigmem) = %v; want ErrInvalidModule naming the limit", err)
		}
	})
	t.Run("below a page", func(t *testing.T) {
		for _, limit := range []uint64{1, PageSize - 1} {
			if _, err := New(context.Background(), Options{MemoryLimit: limit}); err == nil || !strings.Contains(err.Error(), "memory limit") {
				t.Errorf("New(MemoryLimit %d) = %v; want an error", limit, err)
			}
		}
	})
	t.Run("above 4 GiB", func(t *testing.T) {
		for _, limit := range []uint64{0, MaxMemoryLimit + PageSize, 8 << 30} {
			if r := newRuntime(t, Options{MemoryLimit: limit}); r.MemoryLimit() != MaxMemoryLimit {
				t.Errorf("New(MemoryLimit %d).MemoryLimit() = %d, want %d", limit, r.MemoryLimit(), uint64(MaxMemoryLimit))
			}
		}
	})
}

func TestBadModules(t *testing.T) {
	checkGoroutines(t)
	r := newRuntime(t, Options{})
	hello := testdata(t, "trap")
	for _, tt := range []struct {
		name string
		bin  []byte
		want error
	}{
		{"empty", nil, ErrInvalidModule},
		{"not wasm", []byte("#!/bin/sh\necho hello\n"), ErrInvalidModule},
		{"truncated", hello[:len(hello)-3], ErrInvalidModule},
		{"bad version", append([]byte("\x00asm\x02\x00\x00\x00"), hello[8:]...), ErrInvalidModule},
		{"reactor", testdata(t, "reactor"), ErrNotCommand},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, err := r.Compile(context.Background(), tt.bin)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Compile = %v, %v; want %v", m, err, tt.want)
			}
			if want := Measure(tt.bin).String(); !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not name the module's measurement %s", err, want)
			}
		})
	}

	t.Run("unknown import", func(t *testing.T) {
		m, err := r.Compile(context.Background(), testdata(t, "import"))
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close(context.Background())
		code, err := r.Run(context.Background(), m, Process{})
		if code != -1 || !errors.Is(err, ErrNotCommand) || !strings.Contains(err.Error(), "env") {
			t.Errorf("Run = %d, %v; want -1, ErrNotCommand naming the import's module", code, err)
		}
	})
	t.Run("bad env or args", func(t *testing.T) {
		m, err := r.Compile(context.Background(), testdata(t, "trap"))
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close(context.Background())
		for _, env := range []string{"NOVALUE", "=value", "NUL=a\x00b"} {
			code, err := r.Run(context.Background(), m, Process{Env: []string{"OK=1", env}})
			if code != -1 || err == nil || !strings.Contains(err.Error(), strconv.Quote(env)) {
				t.Errorf("Run with env %q = %d, %v; want an error naming it", env, code, err)
			}
		}
		code, err := r.Run(context.Background(), m, Process{Args: []string{"trap", "a\x00b"}})
		if code != -1 || err == nil || !strings.Contains(err.Error(), `argument 1 "a\x00b" contains a NUL byte`) {
			t.Errorf("Run with a NUL in an argument = %d, %v; want an error naming it", code, err)
		}
	})
}

func TestContextStopsBusyLoop(t *testing.T) {
	checkGoroutines(t)
	r := newRuntime(t, Options{})
	ctx := context.Background()
	m, err := r.Compile(ctx, testdata(t, "loop"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(ctx)
	cause := errors.New("test: stop the module")
	runCtx, cancel := context.WithCancelCause(ctx)
	time.AfterFunc(100*time.Millisecond, func() { cancel(cause) })
	start := time.Now()
	code, err := r.Run(runCtx, m, Process{})
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the loop stopped %v after it started; want about 100ms", took)
	}
	if code != -1 || !errors.Is(err, cause) {
		t.Errorf("Run = %d, %v; want -1 and the context's cause", code, err)
	}
	// A context that is done already does not run the module at all.
	code, err = r.Run(runCtx, m, Process{})
	if code != -1 || !errors.Is(err, cause) {
		t.Errorf("Run with a done context = %d, %v; want -1 and the cause", code, err)
	}
}

// cacheEntries lists the compilation cache's files with their sizes and
// modification times.
func cacheEntries(t *testing.T, dir string) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, de fs.DirEntry, err error) error {
		if err != nil || de.IsDir() {
			return err
		}
		fi, err := de.Info()
		if err != nil {
			return err
		}
		got[path] = fmt.Sprintf("%d bytes, %v", fi.Size(), fi.ModTime().UnixNano())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestCacheWarmStart(t *testing.T) {
	checkGoroutines(t)
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "cache")
	bin := testdata(t, "grow")
	startOnce := func() {
		t.Helper()
		r, err := New(ctx, Options{CacheDir: dir, MemoryLimit: 2 * PageSize})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close(ctx)
		if res := run(t, r, bin, Process{}); res.code != ExitTrap {
			t.Fatalf("Run = %d, %v; want the grow module's trap", res.code, res.err)
		}
	}
	startOnce()
	cold := cacheEntries(t, dir)
	if len(cold) == 0 {
		t.Fatal("the cache directory is empty after the first start")
	}
	time.Sleep(10 * time.Millisecond) // a rewrite would change the times
	startOnce()
	warm := cacheEntries(t, dir)
	if fmt.Sprint(warm) != fmt.Sprint(cold) {
		t.Errorf("the second start changed the cache (it compiled again):\nbefore %v\nafter  %v", cold, warm)
	}
}

func TestCacheFailures(t *testing.T) {
	checkGoroutines(t)
	ctx := context.Background()
	bin := testdata(t, "trap")
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	corrupt := filepath.Join(t.TempDir(), "cache")
	r := newRuntime(t, Options{CacheDir: corrupt})
	if _, err := r.Compile(ctx, bin); err != nil {
		t.Fatal(err)
	}
	r.Close(ctx)
	for path := range cacheEntries(t, corrupt) {
		if err := os.WriteFile(path, []byte("not compiled code"), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	for _, tt := range []struct{ name, dir, wantLog string }{
		{"not a directory", filepath.Join(file, "cache"), "compilation cache unusable"},
		{"corrupt entry", corrupt, "compilation cache failed"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			r := newRuntime(t, Options{CacheDir: tt.dir, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			res := run(t, r, bin, Process{})
			if res.code != ExitTrap {
				t.Errorf("Run = %d, %v; want the module to run", res.code, res.err)
			}
			if !strings.Contains(logs.String(), tt.wantLog) {
				t.Errorf("logs %q: want %q", logs.String(), tt.wantLog)
			}
			// A second module compiles without the cache too.
			if res := run(t, r, testdata(t, "bigmem"), Process{}); res.code != 0 || res.err != nil {
				t.Errorf("second module: Run = %d, %v; want 0, nil", res.code, res.err)
			}
		})
	}
}

func TestMeasure(t *testing.T) {
	bin := testdata(t, "grow")
	want := sha256.Sum256(bin)
	if got := Measure(bin); got != want || got.String() != fmt.Sprintf("%x", want) {
		t.Errorf("Measure = %s, want %x", got, want)
	}
	got, err := MeasureFile(filepath.Join("testdata", "grow.wasm"))
	if err != nil || !got.Equal(want) {
		t.Errorf("MeasureFile = %s, %v; want %x", got, err, want)
	}
	if got.Equal(Measure(bin[1:])) {
		t.Error("Equal is true for different measurements")
	}
	if _, err := MeasureFile(filepath.Join("testdata", "missing.wasm")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("MeasureFile(missing) = %v; want ErrNotExist", err)
	}
	r := newRuntime(t, Options{})
	m, err := r.Compile(context.Background(), bin)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	if m.Measurement() != want {
		t.Errorf("Module.Measurement = %s, want %x", m.Measurement(), want)
	}
}

// TestWarmStartSkipsCompilation compiles a real toolchain's module (Go's
// wasip1 port, about 3 MB) cold and then warm: loading it from the cache
// must be much faster than compiling it.
func TestWarmStartSkipsCompilation(t *testing.T) {
	if testing.Short() {
		t.Skip("compiles a 3 MB module: not in -short")
	}
	ctx := context.Background()
	bin := probeModule(t)
	dir := t.TempDir()
	compile := func() time.Duration {
		r := newRuntime(t, Options{CacheDir: dir})
		m, err := r.Compile(ctx, bin)
		if err != nil {
			t.Fatal(err)
		}
		return m.CompileTime()
	}
	cold, warm := compile(), compile()
	t.Logf("wasiprobe (%d bytes): cold compile %v, warm %v", len(bin), cold, warm)
	if warm*2 > cold {
		t.Errorf("warm start took %v, cold %v: the cache did not skip compilation", warm, cold)
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
		if got := testdata(t, strings.TrimSuffix(filepath.Base(src), ".wat")); !bytes.Equal(got, want) {
			t.Errorf("%s is not %s assembled: run wat2wasm again (testdata/README.md)", strings.TrimSuffix(src, ".wat")+".wasm", src)
		}
	}
}
