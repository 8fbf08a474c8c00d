package pal

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

// The C shapes of the PAL API (samples/pal-skeleton/pal_api.h).
struct pal_attr_v1 { const char *args; const char *log_level; };
struct pal_attr_v3 { struct pal_attr_v1 attr_v1; int fd; uint64_t addr; };
struct pal_stdio_fds { int stdin_fd, stdout_fd, stderr_fd; };
struct pal_create_process_args {
	const char *path;
	const char *const *argv;
	const char *const *env;
	const struct pal_stdio_fds *stdio;
	int *pid;
};
struct pal_exec_args { int pid; int *exit_value; };

// pal_open dlopens path; on failure it returns NULL and a copy of
// dlerror's message (taken on the same thread) in *err.
static void *pal_open(const char *path, char **err) {
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		const char *e = dlerror();
		*err = strdup(e != NULL ? e : "unknown dlopen error");
	}
	return h;
}

static void *pal_sym(void *h, const char *name) { return dlsym(h, name); }

static int call_version(void *f) { return ((int (*)(void))f)(); }

static int call_init_v1(void *f, const char *args, const char *level) {
	struct pal_attr_v1 a = { args, level };
	return ((int (*)(struct pal_attr_v1 *))f)(&a);
}

static int call_init_v3(void *f, const char *args, const char *level, int fd, uint64_t addr) {
	struct pal_attr_v3 a = { { args, level }, fd, addr };
	return ((int (*)(struct pal_attr_v3 *))f)(&a);
}

static int call_exec_v1(void *f, const char *path, const char **argv,
			int in, int out, int errfd, int *exit_code) {
	struct pal_stdio_fds fds = { in, out, errfd };
	return ((int (*)(const char *, const char **, struct pal_stdio_fds *, int *))f)(path, argv, &fds, exit_code);
}

static int call_create_process(void *f, const char *path, const char **argv,
			       const char **env, int in, int out, int errfd, int *pid) {
	struct pal_stdio_fds fds = { in, out, errfd };
	struct pal_create_process_args a = { path, argv, env, &fds, pid };
	return ((int (*)(struct pal_create_process_args *))f)(&a);
}

static int call_exec_v2(void *f, int pid, int *exit_value) {
	struct pal_exec_args a = { pid, exit_value };
	return ((int (*)(struct pal_exec_args *))f)(&a);
}

static int call_kill(void *f, int pid, int sig) { return ((int (*)(int, int))f)(pid, sig); }

static int call_destroy(void *f) { return ((int (*)(void))f)(); }

static int call_get_local_report(void *f, const void *ti, int ti_len, void *report, int *report_len) {
	return ((int (*)(const void *, int, void *, int *))f)(ti, ti_len, report, report_len);
}

// cstrings returns a NULL-terminated array of n strings, to free with
// free_cstrings.
static char **cstrings_new(int n) { return calloc((size_t)n + 1, sizeof(char *)); }
static void cstrings_set(char **a, int i, char *s) { a[i] = s; }
static void cstrings_free(char **a) {
	if (a == NULL) return;
	for (char **p = a; *p != NULL; p++) free(*p);
	free(a);
}
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"unsafe"
)

// MaxVersion is the newest PAL API version this package speaks.
const MaxVersion = 3

// The PAL API's symbols, in the order the API lists them.
const (
	SymGetVersion     = "pal_get_version"
	SymInit           = "pal_init"
	SymCreateProcess  = "pal_create_process"
	SymExec           = "pal_exec"
	SymKill           = "pal_kill"
	SymGetLocalReport = "pal_get_local_report"
	SymDestroy        = "pal_destroy"
)

// APISymbols lists every PAL API symbol.
var APISymbols = []string{SymGetVersion, SymInit, SymCreateProcess, SymExec, SymKill, SymGetLocalReport, SymDestroy}

// Required returns the symbols a PAL of version v must export (nil for a
// version this package does not speak).
func Required(v int) []string {
	switch v {
	case 1:
		return []string{SymInit, SymExec, SymDestroy}
	case 2:
		return []string{SymGetVersion, SymInit, SymCreateProcess, SymExec, SymKill, SymDestroy}
	case 3:
		return []string{SymGetVersion, SymInit, SymCreateProcess, SymExec, SymKill, SymGetLocalReport, SymDestroy}
	}
	return nil
}

var (
	// ErrMissingSymbol means the PAL lacks a symbol its version requires.
	ErrMissingSymbol = errors.New("PAL lacks a required symbol")
	// ErrUnsupportedVersion means pal_get_version answered a version this
	// package does not speak.
	ErrUnsupportedVersion = errors.New("unsupported PAL API version")
	// ErrNotSupported means the call is not part of the PAL's API version.
	ErrNotSupported = errors.New("not part of this PAL's API version")
)

// CallError is a PAL function's failure: its non-zero return value.
type CallError struct {
	// Func is the PAL function, e.g. "pal_init".
	Func string
	// Code is the value it returned.
	Code int
}

// Error names the function, the code and, for a negated errno, its text.
func (e *CallError) Error() string {
	if errno := e.errno(); errno != 0 {
		return fmt.Sprintf("%s failed: %d (%v)", e.Func, e.Code, errno)
	}
	return fmt.Sprintf("%s failed: %d", e.Func, e.Code)
}

// Unwrap returns the errno the PAL returned negated, if the code is one.
func (e *CallError) Unwrap() error {
	if errno := e.errno(); errno != 0 {
		return errno
	}
	return nil
}

func (e *CallError) errno() syscall.Errno {
	if e.Code < 0 && e.Code > -4096 {
		return syscall.Errno(-e.Code)
	}
	return 0
}

// check turns a PAL return value into an error.
func check(fn string, ret C.int) error {
	if ret != 0 {
		return &CallError{Func: fn, Code: int(ret)}
	}
	return nil
}

// Library is a loaded PAL.
type Library struct {
	path    string
	version int
	syms    map[string]unsafe.Pointer
}

// Load dlopens the PAL at path, looks up the PAL API's symbols and asks
// its version (1 when it has no pal_get_version). It fails only when the
// shared object cannot be loaded; Check says whether it is usable.
func Load(path string) (*Library, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var cerr *C.char
	h := C.pal_open(cpath, &cerr)
	if h == nil {
		msg := C.GoString(cerr)
		C.free(unsafe.Pointer(cerr))
		return nil, fmt.Errorf("loading the PAL %s: %s: check that it is a shared object for this machine and that the libraries it needs are installed", path, msg)
	}
	l := &Library{path: path, version: 1, syms: map[string]unsafe.Pointer{}}
	for _, name := range APISymbols {
		cname := C.CString(name)
		if p := C.pal_sym(h, cname); p != nil {
			l.syms[name] = p
		}
		C.free(unsafe.Pointer(cname))
	}
	if f := l.syms[SymGetVersion]; f != nil {
		l.version = int(C.call_version(f))
	}
	return l, nil
}

// Open loads the PAL at path and checks that it is usable.
func Open(path string) (*Library, error) {
	l, err := Load(path)
	if err != nil {
		return nil, err
	}
	if err := l.Check(); err != nil {
		return nil, err
	}
	return l, nil
}

// Path is the PAL's path.
func (l *Library) Path() string { return l.path }

// Version is the PAL API version the PAL implements.
func (l *Library) Version() int { return l.version }

// Symbols lists the PAL API symbols the PAL exports, in API order.
func (l *Library) Symbols() []string {
	out := []string{}
	for _, name := range APISymbols {
		if l.syms[name] != nil {
			out = append(out, name)
		}
	}
	return out
}

// Missing lists the symbols the PAL's version requires and it lacks.
func (l *Library) Missing() []string {
	out := []string{}
	for _, name := range Required(l.version) {
		if l.syms[name] == nil {
			out = append(out, name)
		}
	}
	return out
}

// Check says whether the PAL is usable: a version from 1 to MaxVersion,
// every symbol that version requires.
func (l *Library) Check() error {
	if l.version < 1 || l.version > MaxVersion {
		return fmt.Errorf("PAL %s: pal_get_version returned %d: %w (this runelet speaks versions 1 to %d)", l.path, l.version, ErrUnsupportedVersion, MaxVersion)
	}
	if m := l.Missing(); len(m) > 0 {
		return fmt.Errorf("PAL %s (API version %d) does not export %s: %w: rebuild it against the PAL API, or make pal_get_version report the version it implements", l.path, l.version, strings.Join(m, ", "), ErrMissingSymbol)
	}
	return nil
}

// sym returns the symbol name, or an error naming it.
func (l *Library) sym(name string) (unsafe.Pointer, error) {
	if f := l.syms[name]; f != nil {
		return f, nil
	}
	if !slices.Contains(Required(l.version), name) {
		return nil, fmt.Errorf("%s: %w (version %d)", name, ErrNotSupported, l.version)
	}
	return nil, fmt.Errorf("PAL %s: %s: %w", l.path, name, ErrMissingSymbol)
}

// Region is an enclave created before pal_init (version 3).
type Region struct {
	// FD is the enclave's file descriptor; the PAL owns it from Init on.
	FD int
	// Addr is the enclave's base address in this process.
	Addr uint64
}

// Attr are pal_init's attributes.
type Attr struct {
	// Args is the enclave runtime's argument string.
	Args string
	// LogLevel is the enclave runtime's log level.
	LogLevel string
	// Enclave is a pre-created enclave (version 3 only); nil for none.
	Enclave *Region
}

// Init calls pal_init.
func (l *Library) Init(ctx context.Context, a Attr) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pal_init: %w", err)
	}
	f, err := l.sym(SymInit)
	if err != nil {
		return err
	}
	args, level := C.CString(a.Args), C.CString(a.LogLevel)
	defer C.free(unsafe.Pointer(args))
	defer C.free(unsafe.Pointer(level))
	if l.version < 3 {
		if a.Enclave != nil {
			return fmt.Errorf("pal_init: a pre-created enclave needs PAL API version 3, the PAL has %d: %w", l.version, ErrNotSupported)
		}
		return check(SymInit, C.call_init_v1(f, args, level))
	}
	fd, addr := -1, uint64(0)
	if a.Enclave != nil {
		fd, addr = a.Enclave.FD, a.Enclave.Addr
	}
	return check(SymInit, C.call_init_v3(f, args, level, C.int(fd), C.uint64_t(addr)))
}

// Process is a process to create in the enclave runtime.
type Process struct {
	// Path is the executable; empty means Args[0].
	Path string
	// Args are the arguments, Args[0] included.
	Args []string
	// Env is the environment (version 1 ignores it: the process gets the
	// calling process's).
	Env []string
	// Stdin, Stdout and Stderr are the process's stdio; the PAL duplicates
	// them, so they may be closed once the process is created.
	Stdin, Stdout, Stderr *os.File
}

// cstrings converts ss to a C array, to free with C.cstrings_free.
func cstrings(ss []string) (**C.char, error) {
	a := C.cstrings_new(C.int(len(ss)))
	if a == nil {
		return nil, errors.New("out of memory")
	}
	for i, s := range ss {
		if strings.IndexByte(s, 0) >= 0 {
			C.cstrings_free(a)
			return nil, fmt.Errorf("%q contains a NUL byte", s)
		}
		C.cstrings_set(a, C.int(i), C.CString(s))
	}
	return a, nil
}

// cprocess converts p; free releases what it allocated.
func cprocess(p Process) (path *C.char, argv, env **C.char, fds [3]C.int, free func(), err error) {
	if len(p.Args) == 0 {
		return nil, nil, nil, fds, nil, errors.New("the process has no arguments")
	}
	if p.Stdin == nil || p.Stdout == nil || p.Stderr == nil {
		return nil, nil, nil, fds, nil, errors.New("the process needs stdin, stdout and stderr")
	}
	exe := p.Path
	if exe == "" {
		exe = p.Args[0]
	}
	if exe == "" || strings.IndexByte(exe, 0) >= 0 {
		return nil, nil, nil, fds, nil, fmt.Errorf("invalid executable %q", exe)
	}
	if argv, err = cstrings(p.Args); err != nil {
		return nil, nil, nil, fds, nil, fmt.Errorf("argument %w", err)
	}
	if env, err = cstrings(p.Env); err != nil {
		C.cstrings_free(argv)
		return nil, nil, nil, fds, nil, fmt.Errorf("environment entry %w", err)
	}
	path = C.CString(exe)
	fds = [3]C.int{C.int(p.Stdin.Fd()), C.int(p.Stdout.Fd()), C.int(p.Stderr.Fd())}
	return path, argv, env, fds, func() {
		C.free(unsafe.Pointer(path))
		C.cstrings_free(argv)
		C.cstrings_free(env)
		runtime.KeepAlive(p.Stdin)
		runtime.KeepAlive(p.Stdout)
		runtime.KeepAlive(p.Stderr)
	}, nil
}

// CreateProcess calls pal_create_process (version 2 and later) and
// returns the process's id in the enclave runtime; Exec runs it.
func (l *Library) CreateProcess(ctx context.Context, p Process) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("pal_create_process: %w", err)
	}
	f, err := l.sym(SymCreateProcess)
	if err != nil {
		return 0, err
	}
	path, argv, env, fds, free, err := cprocess(p)
	if err != nil {
		return 0, fmt.Errorf("pal_create_process: %w", err)
	}
	defer free()
	var pid C.int
	ret := C.call_create_process(f, path, (**C.char)(unsafe.Pointer(argv)), (**C.char)(unsafe.Pointer(env)), fds[0], fds[1], fds[2], &pid)
	if err := check(SymCreateProcess, ret); err != nil {
		return 0, err
	}
	return int(pid), nil
}

// Exec calls pal_exec for a created process (version 2 and later) and
// returns its exit code (128+N when killed by signal N). When ctx ends
// first, the process is killed (pal_kill, SIGKILL) and Exec returns its
// exit code with ctx's error.
func (l *Library) Exec(ctx context.Context, pid int) (int, error) {
	f, err := l.sym(SymExec)
	if err != nil {
		return 0, err
	}
	if l.version < 2 {
		return 0, fmt.Errorf("pal_exec of a created process: %w (version %d: use Run)", ErrNotSupported, l.version)
	}
	type result struct {
		code int
		err  error
	}
	done := make(chan result, 1)
	go func() {
		var code C.int
		err := check(SymExec, C.call_exec_v2(f, C.int(pid), &code))
		done <- result{int(code), err}
	}()
	select {
	case r := <-done:
		return r.code, r.err
	case <-ctx.Done():
	}
	kerr := l.Kill(pid, syscall.SIGKILL)
	r := <-done
	if r.err != nil {
		return r.code, r.err
	}
	if kerr != nil && !errors.Is(kerr, syscall.ESRCH) {
		return r.code, fmt.Errorf("pal_exec: %w (and pal_kill failed: %w)", ctx.Err(), kerr)
	}
	return r.code, fmt.Errorf("pal_exec: %w: the process was killed", ctx.Err())
}

// Run creates and runs p and returns its exit code: pal_exec for
// version 1, pal_create_process and Exec for later versions. Version 1
// has no pal_kill, so there Run waits for the process even when ctx ends.
func (l *Library) Run(ctx context.Context, p Process) (int, error) {
	if l.version >= 2 {
		pid, err := l.CreateProcess(ctx, p)
		if err != nil {
			return 0, err
		}
		return l.Exec(ctx, pid)
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("pal_exec: %w", err)
	}
	f, err := l.sym(SymExec)
	if err != nil {
		return 0, err
	}
	// Version 1 has no environment parameter.
	path, argv, _, fds, free, err := cprocess(p)
	if err != nil {
		return 0, fmt.Errorf("pal_exec: %w", err)
	}
	defer free()
	var code C.int
	ret := C.call_exec_v1(f, path, (**C.char)(unsafe.Pointer(argv)), fds[0], fds[1], fds[2], &code)
	if err := check(SymExec, ret); err != nil {
		return 0, err
	}
	return int(code), nil
}

// Kill calls pal_kill (version 2 and later): pid -1 signals every process
// of the instance.
func (l *Library) Kill(pid int, sig syscall.Signal) error {
	f, err := l.sym(SymKill)
	if err != nil {
		return err
	}
	return check(SymKill, C.call_kill(f, C.int(pid), C.int(sig)))
}

// Destroy calls pal_destroy, ending the instance and its processes.
func (l *Library) Destroy() error {
	f, err := l.sym(SymDestroy)
	if err != nil {
		return err
	}
	return check(SymDestroy, C.call_destroy(f))
}

// maxReport bounds a local report.
const maxReport = 1 << 20

// GetLocalReport calls pal_get_local_report (version 3) with targetInfo
// and returns the report. What targetInfo and the report are depends on
// the PAL: an SGX PAL takes the quoting enclave's TARGETINFO and returns
// an SGX report; the skeleton takes up to 64 bytes of report data and
// returns its documented non-hardware report.
func (l *Library) GetLocalReport(targetInfo []byte) ([]byte, error) {
	f, err := l.sym(SymGetLocalReport)
	if err != nil {
		return nil, err
	}
	if l.version < 3 {
		return nil, fmt.Errorf("%s: %w (version %d)", SymGetLocalReport, ErrNotSupported, l.version)
	}
	ti := C.CBytes(targetInfo)
	defer C.free(ti)
	size := 4096
	for {
		buf := C.malloc(C.size_t(size))
		n := C.int(size)
		ret := C.call_get_local_report(f, ti, C.int(len(targetInfo)), buf, &n)
		if ret == -C.int(syscall.ENOSPC) && int(n) > size && int(n) <= maxReport {
			C.free(buf)
			size = int(n)
			continue
		}
		if err := check(SymGetLocalReport, ret); err != nil {
			C.free(buf)
			return nil, err
		}
		if n < 0 || int(n) > size {
			C.free(buf)
			return nil, fmt.Errorf("%s returned a report of %d bytes for a buffer of %d", SymGetLocalReport, n, size)
		}
		out := C.GoBytes(buf, n)
		C.free(buf)
		return out, nil
	}
}
