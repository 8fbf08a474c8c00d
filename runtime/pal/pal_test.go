package pal

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/inclavare/inclavare/runtime/pal/paltest"
)

const busybox = "/bin/busybox"

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// built returns a PAL built once for the package: the skeleton of a
// version, or a test PAL from testdata.
func built(t *testing.T, name string) string {
	t.Helper()
	paltest.Require(t)
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "pal-test-")
		if buildErr != nil {
			return
		}
		ctx := context.Background()
		errs := make([]error, 5)
		var wg sync.WaitGroup
		for v := 1; v <= 3; v++ {
			wg.Go(func() { _, errs[v-1] = paltest.BuildSkeleton(ctx, buildDir, v) })
		}
		for i, src := range []string{"version4", "nokill"} {
			out := filepath.Join(buildDir, src+".so")
			wg.Go(func() { errs[3+i] = paltest.Build(ctx, out, nil, filepath.Join("testdata", src+".c")) })
		}
		wg.Wait()
		buildErr = errors.Join(errs...)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(buildDir, name)
}

// skeleton returns a fresh skeleton PAL of a version, loaded: a private
// copy, so that its state (one instance per loaded object) is this test's
// alone. The cleanup destroys the instance and checks that no process of
// it is left.
func skeleton(t *testing.T, v int) *Library {
	t.Helper()
	if _, err := os.Stat(busybox); err != nil {
		paltest.Missing(t, "busybox is not installed (apt-get install busybox-static)")
	}
	data, err := os.ReadFile(built(t, paltest.SkeletonName(v)))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), paltest.SkeletonName(v))
	if err := os.WriteFile(path, data, 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = l.Destroy()
		if kids := children(); len(kids) > 0 {
			t.Errorf("processes left behind: %v", kids)
		}
	})
	return l
}

// children lists this process's child processes.
func children() []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		rest := stat[bytes.LastIndexByte(stat, ')')+2:]
		f := strings.Fields(string(rest))
		if len(f) > 1 && f[1] == strconv.Itoa(os.Getpid()) {
			out = append(out, pid)
		}
	}
	return out
}

// stdio gives a process pipes for stdout and stderr and /dev/null as
// stdin; read collects what was written once the process is done.
type stdio struct {
	in, outR, outW, errR, errW *os.File
}

func newStdio(t *testing.T) *stdio {
	t.Helper()
	in, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	s := &stdio{in: in}
	if s.outR, s.outW, err = os.Pipe(); err != nil {
		t.Fatal(err)
	}
	if s.errR, s.errW, err = os.Pipe(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, f := range []*os.File{s.in, s.outR, s.outW, s.errR, s.errW} {
			f.Close()
		}
	})
	return s
}

func (s *stdio) process(env []string, args ...string) Process {
	return Process{Args: args, Env: env, Stdin: s.in, Stdout: s.outW, Stderr: s.errW}
}

// read closes the write ends and returns stdout and stderr.
func (s *stdio) read() (string, string) {
	s.outW.Close()
	s.errW.Close()
	out, _ := io.ReadAll(s.outR)
	errOut, _ := io.ReadAll(s.errR)
	return string(out), string(errOut)
}

func TestSkeletonSymbols(t *testing.T) {
	want := map[int][]string{
		1: {SymInit, SymExec, SymDestroy},
		2: {SymGetVersion, SymInit, SymCreateProcess, SymExec, SymKill, SymDestroy},
		3: {SymGetVersion, SymInit, SymCreateProcess, SymExec, SymKill, SymGetLocalReport, SymDestroy},
	}
	for v := 1; v <= 3; v++ {
		l := skeleton(t, v)
		if l.Version() != v {
			t.Errorf("v%d: Version() = %d", v, l.Version())
		}
		if !slices.Equal(l.Symbols(), want[v]) {
			t.Errorf("v%d: Symbols() = %v, want %v", v, l.Symbols(), want[v])
		}
		if len(l.Missing()) != 0 || l.Check() != nil {
			t.Errorf("v%d: Missing() = %v, Check() = %v", v, l.Missing(), l.Check())
		}
	}
}

func TestRun(t *testing.T) {
	for v := 1; v <= 3; v++ {
		t.Run("v"+strconv.Itoa(v), func(t *testing.T) {
			l := skeleton(t, v)
			ctx := context.Background()
			if err := l.Init(ctx, Attr{LogLevel: "off"}); err != nil {
				t.Fatal(err)
			}
			s := newStdio(t)
			code, err := l.Run(ctx, s.process([]string{"WHO=enclave"}, busybox, "sh", "-c", `echo "out $WHO"; echo err >&2; exit 7`))
			if err != nil {
				t.Fatal(err)
			}
			out, errOut := s.read()
			wantOut := "out enclave\n"
			if v == 1 {
				wantOut = "out \n" // version 1 has no environment parameter
			}
			if code != 7 || out != wantOut || errOut != "err\n" {
				t.Errorf("exit %d, stdout %q, stderr %q; want 7, %q, \"err\\n\"", code, out, errOut, wantOut)
			}
			s = newStdio(t)
			_, err = l.Run(ctx, s.process(nil, "/nonexistent/program"))
			if !errors.Is(err, syscall.ENOENT) {
				t.Errorf("running a missing executable: %v, want ENOENT", err)
			}
			if err := l.Destroy(); err != nil {
				t.Fatal(err)
			}
			if _, err := l.Run(ctx, s.process(nil, busybox, "true")); !errors.Is(err, syscall.EINVAL) {
				t.Errorf("running after pal_destroy: %v, want EINVAL", err)
			}
		})
	}
}

func TestCreateProcessSearchesPath(t *testing.T) {
	l := skeleton(t, 2)
	ctx := context.Background()
	if err := l.Init(ctx, Attr{}); err != nil {
		t.Fatal(err)
	}
	s := newStdio(t)
	code, err := l.Run(ctx, s.process([]string{"PATH=/nonexistent:" + filepath.Dir(busybox)}, "busybox", "echo", "found"))
	if err != nil || code != 0 {
		t.Fatalf("exit %d, %v", code, err)
	}
	if out, _ := s.read(); out != "found\n" {
		t.Errorf("stdout %q", out)
	}
	s = newStdio(t)
	if _, err := l.Run(ctx, s.process([]string{"PATH=/nonexistent"}, "busybox")); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("executable not in PATH: %v, want ENOENT", err)
	}
}

func TestKill(t *testing.T) {
	for v := 2; v <= 3; v++ {
		l := skeleton(t, v)
		ctx := context.Background()
		if err := l.Init(ctx, Attr{}); err != nil {
			t.Fatal(err)
		}
		s := newStdio(t)
		pid, err := l.CreateProcess(ctx, s.process(nil, busybox, "sleep", "30"))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan int, 1)
		go func() {
			code, err := l.Exec(ctx, pid)
			if err != nil {
				t.Error(err)
			}
			done <- code
		}()
		time.Sleep(50 * time.Millisecond)
		if err := l.Kill(pid, syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if code := <-done; code != 143 {
			t.Errorf("v%d: exit code %d after SIGTERM, want 143", v, code)
		}
		if err := l.Kill(pid, syscall.SIGTERM); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("v%d: signalling an ended process: %v, want ESRCH", v, err)
		}
		if _, err := l.Exec(ctx, pid); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("v%d: running an ended process again: %v, want ESRCH", v, err)
		}
	}
	l := skeleton(t, 1)
	if err := l.Kill(1, syscall.SIGTERM); !errors.Is(err, ErrNotSupported) {
		t.Errorf("pal_kill on version 1: %v, want ErrNotSupported", err)
	}
}

func TestExecContextKills(t *testing.T) {
	l := skeleton(t, 3)
	if err := l.Init(context.Background(), Attr{}); err != nil {
		t.Fatal(err)
	}
	s := newStdio(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	code, err := l.Run(ctx, s.process(nil, busybox, "sleep", "30"))
	if !errors.Is(err, context.DeadlineExceeded) || code != 137 {
		t.Fatalf("exit %d, %v; want 137 and DeadlineExceeded", code, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Run took %v after its context ended", d)
	}
}

func TestDestroyEndsEveryProcess(t *testing.T) {
	l := skeleton(t, 2)
	ctx := context.Background()
	if err := l.Init(ctx, Attr{}); err != nil {
		t.Fatal(err)
	}
	s := newStdio(t)
	running, err := l.CreateProcess(ctx, s.process(nil, busybox, "sleep", "30"))
	if err != nil {
		t.Fatal(err)
	}
	idle, err := l.CreateProcess(ctx, s.process(nil, busybox, "sleep", "30"))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 1)
	go func() {
		code, _ := l.Exec(ctx, running)
		done <- code
	}()
	time.Sleep(50 * time.Millisecond)
	if err := l.Destroy(); err != nil {
		t.Fatal(err)
	}
	if code := <-done; code != 137 {
		t.Errorf("running process: exit %d after pal_destroy, want 137", code)
	}
	for _, pid := range []int{running, idle} {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("process %d still exists after pal_destroy (%v)", pid, err)
		}
	}
	if err := l.Destroy(); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("second pal_destroy: %v, want EINVAL", err)
	}
	if err := l.Init(ctx, Attr{}); err != nil {
		t.Errorf("pal_init after pal_destroy: %v", err)
	}
}

func TestInitErrors(t *testing.T) {
	ctx := context.Background()
	l := skeleton(t, 2)
	for _, a := range []Attr{{LogLevel: "verbose"}, {Args: "fast=1"}} {
		var ce *CallError
		err := l.Init(ctx, a)
		if !errors.Is(err, syscall.EINVAL) || !errors.As(err, &ce) || ce.Func != SymInit {
			t.Errorf("Init(%+v): %v, want a pal_init EINVAL", a, err)
		}
	}
	if err := l.Init(ctx, Attr{Enclave: &Region{FD: 0, Addr: 4096}}); !errors.Is(err, ErrNotSupported) {
		t.Errorf("pre-created enclave on version 2: %v, want ErrNotSupported", err)
	}
	if err := l.Init(ctx, Attr{LogLevel: "debug"}); err != nil {
		t.Fatal(err)
	}
	if err := l.Init(ctx, Attr{}); !errors.Is(err, syscall.EBUSY) {
		t.Errorf("second pal_init: %v, want EBUSY", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := l.Init(cancelled, Attr{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Init with a cancelled context: %v", err)
	}
}

// region maps a memfd and returns it as a pre-created enclave.
func region(t *testing.T) *Region {
	t.Helper()
	fd, err := unix.MemfdCreate("enclave", unix.MFD_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Ftruncate(fd, 4096); err != nil {
		t.Fatal(err)
	}
	mem, err := unix.Mmap(fd, 0, 4096, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Munmap(mem) })
	return &Region{FD: fd, Addr: uint64(uintptr(unsafe.Pointer(&mem[0])))}
}

func TestInitPrecreatedEnclave(t *testing.T) {
	ctx := context.Background()
	l := skeleton(t, 3)
	r := region(t)
	for name, tc := range map[string]struct {
		r    Region
		want syscall.Errno
	}{
		"fd without address": {Region{FD: r.FD}, syscall.EINVAL},
		"address without fd": {Region{FD: -1, Addr: r.Addr}, syscall.EINVAL},
		"closed fd":          {Region{FD: 1 << 20, Addr: r.Addr}, syscall.EBADF},
		"unaligned address":  {Region{FD: r.FD, Addr: r.Addr + 1}, syscall.EFAULT},
		"unmapped address":   {Region{FD: r.FD, Addr: 4096}, syscall.EFAULT},
	} {
		if err := l.Init(ctx, Attr{Enclave: &tc.r}); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
	if err := l.Init(ctx, Attr{Enclave: r}); err != nil {
		t.Fatal(err)
	}
	s := newStdio(t)
	if _, err := l.Run(ctx, s.process(nil, busybox, "true")); err != nil {
		t.Fatal(err)
	}
	rep, err := l.GetLocalReport(nil)
	if err != nil {
		t.Fatal(err)
	}
	if flags := binary.LittleEndian.Uint32(rep[24:]); flags != 1 {
		t.Errorf("report flags %#x, want the pre-created enclave flag", flags)
	}
	if err := l.Destroy(); err != nil {
		t.Fatal(err)
	}
	// pal_destroy closed the enclave's fd, which the PAL owned.
	if _, err := unix.FcntlInt(uintptr(r.FD), unix.F_GETFD, 0); !errors.Is(err, syscall.EBADF) {
		t.Errorf("the pre-created enclave's fd is still open after pal_destroy (%v)", err)
	}
}

// skeletonReport is the skeleton's report, decoded as README.md says.
type skeletonReport struct {
	magic       string
	format      uint32
	palVersion  uint32
	flags       uint32
	measurement [32]byte
	reportData  [64]byte
	digest      [32]byte
}

func decodeSkeletonReport(t *testing.T, b []byte) skeletonReport {
	t.Helper()
	if len(b) != 160 {
		t.Fatalf("report of %d bytes, want 160", len(b))
	}
	var r skeletonReport
	r.magic = string(b[:16])
	r.format = binary.LittleEndian.Uint32(b[16:])
	r.palVersion = binary.LittleEndian.Uint32(b[20:])
	r.flags = binary.LittleEndian.Uint32(b[24:])
	copy(r.measurement[:], b[32:64])
	copy(r.reportData[:], b[64:128])
	copy(r.digest[:], b[128:160])
	if sum := sha256.Sum256(b[:128]); sum != r.digest {
		t.Errorf("report digest %x, want SHA-256 of the first 128 bytes %x", r.digest, sum)
	}
	return r
}

func TestGetLocalReport(t *testing.T) {
	ctx := context.Background()
	l := skeleton(t, 3)
	if err := l.Init(ctx, Attr{LogLevel: "off"}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.GetLocalReport(nil); !errors.Is(err, syscall.EAGAIN) {
		t.Errorf("report before any process: %v, want EAGAIN (nothing measured)", err)
	}
	s := newStdio(t)
	if _, err := l.Run(ctx, s.process(nil, busybox, "true")); err != nil {
		t.Fatal(err)
	}
	data := []byte("nonce: the caller's report data")
	b, err := l.GetLocalReport(data)
	if err != nil {
		t.Fatal(err)
	}
	r := decodeSkeletonReport(t, b)
	exe, err := os.ReadFile(busybox)
	if err != nil {
		t.Fatal(err)
	}
	var wantData [64]byte
	copy(wantData[:], data)
	if r.magic != "SKELETON-NOT-HW\x00" || r.format != 1 || r.palVersion != 3 || r.flags != 0 {
		t.Errorf("report header %q format %d version %d flags %d", r.magic, r.format, r.palVersion, r.flags)
	}
	if r.measurement != sha256.Sum256(exe) {
		t.Errorf("measurement %x, want SHA-256 of %s", r.measurement, busybox)
	}
	if r.reportData != wantData {
		t.Errorf("report data %q, want %q", r.reportData, wantData)
	}
	if _, err := l.GetLocalReport(make([]byte, 65)); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("65 bytes of report data: %v, want EINVAL", err)
	}
	if _, err := skeleton(t, 2).GetLocalReport(nil); !errors.Is(err, ErrNotSupported) {
		t.Errorf("pal_get_local_report on version 2: %v, want ErrNotSupported", err)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.so")
	if err := os.WriteFile(garbage, []byte("\x7fELF this is not a shared object"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{garbage, filepath.Join(dir, "missing.so")} {
		if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "loading the PAL "+path) {
			t.Errorf("Load(%s): %v, want an error naming it", path, err)
		}
	}

	l, err := Load(built(t, "version4.so"))
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Check(); !errors.Is(err, ErrUnsupportedVersion) || !strings.Contains(err.Error(), "returned 4") {
		t.Errorf("version 4: Check() = %v, want ErrUnsupportedVersion naming 4", err)
	}
	if _, err := Open(built(t, "version4.so")); !errors.Is(err, ErrUnsupportedVersion) {
		t.Errorf("Open of version 4: %v", err)
	}

	l, err = Load(built(t, "nokill.so"))
	if err != nil {
		t.Fatal(err)
	}
	if m := l.Missing(); !slices.Equal(m, []string{SymCreateProcess, SymKill}) {
		t.Errorf("Missing() = %v", m)
	}
	err = l.Check()
	if !errors.Is(err, ErrMissingSymbol) || !strings.Contains(err.Error(), "pal_create_process, pal_kill") {
		t.Errorf("Check() = %v, want ErrMissingSymbol naming both symbols", err)
	}
	if err := l.Kill(1, syscall.SIGTERM); !errors.Is(err, ErrMissingSymbol) || !strings.Contains(err.Error(), "pal_kill") {
		t.Errorf("Kill on a PAL without pal_kill: %v", err)
	}
}

func TestCallError(t *testing.T) {
	for _, tc := range []struct {
		code int
		want string
		is   error
	}{
		{-2, "pal_init failed: -2 (no such file or directory)", syscall.ENOENT},
		{-5000, "pal_init failed: -5000", nil},
		{1, "pal_init failed: 1", nil},
	} {
		err := error(&CallError{Func: "pal_init", Code: tc.code})
		if err.Error() != tc.want {
			t.Errorf("%d: %q, want %q", tc.code, err, tc.want)
		}
		if tc.is != nil && !errors.Is(err, tc.is) {
			t.Errorf("%d: not %v", tc.code, tc.is)
		}
		if tc.is == nil && errors.Unwrap(err) != nil {
			t.Errorf("%d: unwraps to %v", tc.code, errors.Unwrap(err))
		}
	}
}
