// Command runelet-wasm is rune's built-in wasm enclave runtime: the first
// process of a container whose enclave type is wasm. It runs a WebAssembly
// WASI command (wasi_snapshot_preview1) with runtime/wasm, and is statically
// linked (CGO_ENABLED=0) so that it runs on a root filesystem without libc.
//
//	runelet-wasm [--cache-dir DIR | --cache-fd N] [--memory-limit BYTES]
//	             [--fs-root DIR] [--fs-read-only] [--loglevel LEVEL]
//	             [--measurement HEX]
//	             [--serve tcp://HOST:PORT [--attester NAME] [--max-instances N]
//	              [--debug-enclave]]
//	             -- MODULE.wasm [ARGS...]
//	runelet-wasm measure MODULE.wasm
//
// The module gets ARGS (after MODULE.wasm, its program name), runelet-wasm's
// environment, its standard streams, real clocks, randomness from the
// kernel, and --fs-root (default "/", the container's root; "" for none) as
// its "/", read-only with --fs-read-only (a read-only container root is
// read-only anyway). --memory-limit bounds its linear memory (rounded down
// to 64 KiB pages, at least one; 0, the default, or more than 4 GiB means
// 4 GiB, the most a 32-bit module can have).
// --cache-dir keeps compiled native code so that the next start of the same
// module does not compile it again. runelet-wasm executes what it finds
// there, so the module must not be able to write to it: a cache inside
// --fs-root is writable by the module (runelet-wasm warns), a compromised
// instance could leave native code for the next start to run in place of the
// measured module. --cache-fd N instead takes the cache directory as the
// inherited descriptor N, used to compile and then closed (made /dev/null)
// before the module starts, so that no path leads the module to it.
// --loglevel is debug, info, warn (the default), error or off, or a value
// of the enclave.runtime.loglevel annotation (trace, warning, fatal,
// panic); logs go to stderr.
//
// --measurement makes runelet-wasm refuse (exit 126) a module whose
// measurement is not HEX: rune passes what it measured at create, so that
// what runs is what `rune attest` reports even if the file changed since.
//
// Serve mode (--serve) is for a module that serves a client: a module
// cannot do TLS, so runelet-wasm does it for it. It listens with Rats-TLS,
// attesting as a simulated TEE whose measurement is the module's
// (--attester, default sgx_ecdsa_sim: MRENCLAVE = the module's SHA-256; see
// runtime/wasm/attest), and for every attested connection runs a fresh
// instance of the module, compiled once, with the connection as its stdin
// and stdout (inetd style), closing the connection when the instance exits.
// At most --max-instances (default 16) instances run at once; further
// connections wait in the listen backlog. A stop signal closes the listener
// and the connections; runelet-wasm then exits with 128+N. The listening
// address is logged at level info ("addr=HOST:PORT").
//
// "measure" prints the module's measurement, the SHA-256 of its bytes in
// hex: the identity of what runs.
//
// As PID 1 it reaps orphans. SIGTERM, SIGINT, SIGHUP and SIGQUIT stop the
// module, even in a busy loop; a module blocked in a host call (reading
// stdin, sleeping) is not interrupted, and runelet-wasm exits 2 seconds
// after the signal regardless.
//
// Exit codes: the module's own (0 when _start returns; a code above 255
// becomes 255), 128+N after signal N stopped it, 134 when it trapped (as a
// native program that aborts), 125 for runelet-wasm's own errors (usage,
// flags, setup), 126 for a module that cannot run (not valid WebAssembly,
// not a WASI command, more memory declared than the limit, unknown
// imports), 127 for a module file that cannot be read.
package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/inclavare/inclavare/runtime/wasm"
	"github.com/inclavare/inclavare/runtime/wasm/attest"
)

// Exit codes of runelet-wasm's own failures.
const (
	exitUsage      = 125
	exitCannotRun  = 126
	exitNotFound   = 127
	exitSignalBase = 128
)

// stopGrace is how long runelet-wasm waits for the module to stop after a
// signal before it exits anyway.
const stopGrace = 2 * time.Second

// exitError carries an exit code with its error (nil: no message).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the command line args and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	var err error
	if len(args) > 0 && args[0] == "measure" {
		err = measureCommand(args[1:], stdout, stderr)
	} else {
		err = runCommand(args, stderr)
	}
	if err == nil {
		return 0
	}
	var e *exitError
	if !errors.As(err, &e) {
		e = &exitError{code: exitUsage, err: err}
	}
	if e.err != nil {
		fmt.Fprintf(stderr, "runelet-wasm: %v\n", e.err)
	}
	return e.code
}

// measureCommand is "runelet-wasm measure MODULE".
func measureCommand(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("runelet-wasm measure", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, "usage: runelet-wasm measure MODULE.wasm") }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &exitError{code: exitUsage}
	}
	if fs.NArg() != 1 {
		return errors.New("measure: want one argument, the module's path (usage: runelet-wasm measure MODULE.wasm)")
	}
	m, err := wasm.MeasureFile(fs.Arg(0))
	if err != nil {
		return &exitError{code: exitNotFound, err: fmt.Errorf("measure: %w", err)}
	}
	fmt.Fprintln(stdout, m)
	return nil
}

// runCommand is "runelet-wasm [flags] -- MODULE ARGS...": it runs the
// module and returns an *exitError carrying the exit code (nil for 0).
func runCommand(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("runelet-wasm", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cacheDir := fs.String("cache-dir", "", "`DIR` of compiled modules (none: compile at every start); keep it out of --fs-root")
	cacheFD := fs.Int("cache-fd", -1, "inherited descriptor `N` of the directory of compiled modules, closed before the module runs")
	memLimit := fs.String("memory-limit", "0", "the module's most linear memory in `BYTES`, rounded down to 64 KiB pages (0: 4 GiB)")
	fsRoot := fs.String("fs-root", "/", "host `DIR` the module sees as \"/\" (\"\": no filesystem)")
	fsReadOnly := fs.Bool("fs-read-only", false, "make --fs-root read-only to the module")
	logLevel := fs.String("loglevel", "warn", "`LEVEL` of logs on stderr: debug, info, warn, error or off")
	expect := fs.String("measurement", "", "refuse to run a module whose measurement (SHA-256, `HEX`) is not this one (rune passes what it measured at create)")
	serveAddr := fs.String("serve", "", "serve mode: listen with Rats-TLS on `tcp://HOST:PORT` and run one module instance per attested connection, the connection as its stdin and stdout")
	attester := fs.String("attester", attest.DefaultAttester, "serve mode: the simulated TEE's `NAME`, whose measurement is the module's ("+strings.Join(attest.Attesters, ", ")+")")
	maxInstances := fs.Int("max-instances", DefaultMaxInstances, "serve mode: the most module instances running at once (`N`); further connections wait")
	debugEnclave := fs.Bool("debug-enclave", false, "serve mode: the simulated enclave is a debug enclave")
	fs.Usage = func() {
		fmt.Fprint(stderr, "usage: runelet-wasm [flags] -- MODULE.wasm [ARGS...]\n       runelet-wasm measure MODULE.wasm\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &exitError{code: exitUsage}
	}
	if fs.NArg() == 0 {
		return errors.New("no module to run (usage: runelet-wasm [flags] -- MODULE.wasm [ARGS...])")
	}
	limit, err := strconv.ParseUint(*memLimit, 10, 64)
	if err != nil {
		return fmt.Errorf("--memory-limit %q: want a number of bytes: %w", *memLimit, err)
	}
	log, err := newLogger(*logLevel, stderr)
	if err != nil {
		return err
	}
	var want wasm.Measurement
	if *expect != "" {
		b, err := hex.DecodeString(*expect)
		if err != nil || len(b) != len(want) {
			return fmt.Errorf("--measurement %q: want the module's SHA-256 as %d hex digits", *expect, 2*len(want))
		}
		copy(want[:], b)
	}
	var so serveOptions
	if *serveAddr != "" {
		if so.addr, err = parseServeAddr(*serveAddr); err != nil {
			return err
		}
		if err := attest.CheckName(*attester); err != nil {
			return fmt.Errorf("--attester: %w", err)
		}
		if *maxInstances < 1 {
			return fmt.Errorf("--max-instances %d: want at least 1", *maxInstances)
		}
		so.attester, so.maxInstances, so.debug = *attester, *maxInstances, *debugEnclave
	} else if setFlags(fs, "attester", "max-instances", "debug-enclave") {
		return errors.New("--attester, --max-instances and --debug-enclave are for serve mode: give --serve tcp://HOST:PORT too")
	}
	log.Info("runelet-wasm starting", "pid", os.Getpid(), "module", fs.Arg(0))
	cache, closeCache, err := cacheDirectory(*cacheDir, *cacheFD)
	if err != nil {
		return err
	}
	defer closeCache()
	if *cacheDir != "" && *fsRoot != "" && within(*cacheDir, *fsRoot) {
		log.Warn("the module can write to the compilation cache through --fs-root, and runelet-wasm runs what it finds there: pass the cache with --cache-fd, or keep it out of --fs-root", "cache-dir", *cacheDir, "fs-root", *fsRoot)
	}

	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	stopSignals := handleSignals(cancel, log)
	defer stopSignals()

	path := fs.Arg(0)
	bin, err := os.ReadFile(path)
	if err != nil {
		return &exitError{code: exitNotFound, err: fmt.Errorf("reading the module: %w", err)}
	}
	if got := wasm.Measure(bin); *expect != "" && !got.Equal(want) {
		return &exitError{code: exitCannotRun, err: fmt.Errorf("module %s has measurement %s, not the %s given by --measurement (measured by rune at create): the module changed since; recreate the container", path, got, want)}
	}
	r, err := wasm.New(ctx, wasm.Options{CacheDir: cache, MemoryLimit: limit, Logger: log})
	if err != nil {
		return fmt.Errorf("setting up the wasm runtime: %w", err)
	}
	abandoned := false // the module is still running: leave it to exit
	defer func() {
		if !abandoned {
			r.Close(context.WithoutCancel(ctx))
		}
	}()

	p := wasm.Process{
		Args:         fs.Args(),
		Env:          os.Environ(),
		Stdin:        os.Stdin,
		Stdout:       os.Stdout,
		Stderr:       os.Stderr,
		Root:         *fsRoot,
		ReadOnlyRoot: *fsReadOnly,
	}
	if so.addr != "" {
		m, err := r.Compile(ctx, bin)
		closeCache()
		if err != nil {
			return exitFor(result{-1, err}, log)
		}
		defer m.Close(context.WithoutCancel(ctx))
		if err := serve(ctx, r, m, p, so, log); err != nil {
			return err
		}
		if sig, ok := context.Cause(ctx).(signalError); ok {
			return &exitError{code: exitSignalBase + int(sig.sig)}
		}
		return nil
	}

	done := make(chan result, 1)
	go func() {
		code, err := compileAndRun(ctx, r, bin, p, closeCache, log)
		done <- result{code, err}
	}()
	var res result
	select {
	case res = <-done:
	case <-ctx.Done():
		select {
		case res = <-done:
		case <-time.After(stopGrace):
			log.Warn("the module did not stop in time (blocked in a host call); exiting", "grace", stopGrace)
			res, abandoned = result{-1, context.Cause(ctx)}, true
		}
	}
	return exitFor(res, log)
}

// result is how a run ended.
type result struct {
	code int
	err  error
}

// compileAndRun compiles bin in r, calls beforeRun, and runs it with p.
func compileAndRun(ctx context.Context, r *wasm.Runtime, bin []byte, p wasm.Process, beforeRun func(), log *slog.Logger) (int, error) {
	m, err := r.Compile(ctx, bin)
	beforeRun()
	if err != nil {
		return -1, err
	}
	defer m.Close(context.WithoutCancel(ctx))
	log.Info("running wasm module", "measurement", m.Measurement(), "compile", m.CompileTime())
	return r.Run(ctx, m, p)
}

// exitFor maps how the module ended to runelet-wasm's exit.
func exitFor(res result, log *slog.Logger) error {
	var sig signalError
	switch {
	case res.err == nil:
		log.Info("wasm module exited", "code", res.code)
		if res.code == 0 {
			return nil
		}
		return &exitError{code: res.code}
	case errors.As(res.err, &sig):
		log.Info("wasm module stopped by a signal", "signal", sig.sig)
		return &exitError{code: exitSignalBase + int(sig.sig)}
	case errors.Is(res.err, wasm.ErrTrap):
		return &exitError{code: wasm.ExitTrap, err: res.err}
	case errors.Is(res.err, wasm.ErrInvalidModule), errors.Is(res.err, wasm.ErrNotCommand):
		return &exitError{code: exitCannotRun, err: res.err}
	default:
		return &exitError{code: exitUsage, err: res.err}
	}
}

// cacheDirectory returns the compilation cache directory: dir, or with
// fd >= 0 the inherited directory descriptor fd (through /proc/self/fd),
// and a function that, once, points fd at /dev/null (closing it, the
// number could be reused for the module's root, which /proc/self/fd/N
// would then name), or closes it if /dev/null cannot be opened. Without
// fd it does nothing.
func cacheDirectory(dir string, fd int) (string, func(), error) {
	if fd < 0 {
		return dir, func() {}, nil
	}
	if dir != "" {
		return "", nil, errors.New("--cache-dir and --cache-fd both given: give one")
	}
	var st syscall.Stat_t
	if fd <= 2 || syscall.Fstat(fd, &st) != nil || st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		return "", nil, fmt.Errorf("--cache-fd %d: not an open directory descriptor above 2: pass the cache directory open on that descriptor", fd)
	}
	var once sync.Once
	retire := func() {
		null, err := syscall.Open("/dev/null", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
		if err != nil {
			syscall.Close(fd)
			return
		}
		if err := syscall.Dup3(null, fd, syscall.O_CLOEXEC); err != nil {
			syscall.Close(fd)
		}
		syscall.Close(null)
	}
	return fmt.Sprintf("/proc/self/fd/%d", fd), func() { once.Do(retire) }, nil
}

// setFlags reports whether any of the named flags was given.
func setFlags(fs *flag.FlagSet, names ...string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) {
		if slices.Contains(names, f.Name) {
			set = true
		}
	})
	return set
}

// within reports whether dir is root or inside it, symbolic links resolved
// (unresolvable paths are compared as given).
func within(dir, root string) bool {
	resolve := func(p string) string {
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		return p
	}
	rel, err := filepath.Rel(resolve(root), resolve(dir))
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// signalError is the cause of the module's context when a signal stops it.
type signalError struct{ sig syscall.Signal }

func (e signalError) Error() string { return "stopped by signal " + e.sig.String() }

// newLogger returns a text logger on w at level: slog's levels, or the
// values of the enclave.runtime.loglevel annotation (trace is debug, fatal
// and panic are error).
func newLogger(level string, w io.Writer) (*slog.Logger, error) {
	var l slog.Level
	switch level {
	case "off":
		return slog.New(slog.DiscardHandler), nil
	case "trace", "debug":
		l = slog.LevelDebug
	case "info":
		l = slog.LevelInfo
	case "warn", "warning":
		l = slog.LevelWarn
	case "error", "fatal", "panic":
		l = slog.LevelError
	default:
		return nil, fmt.Errorf("--loglevel %q: want debug, info, warn, error or off (or an enclave.runtime.loglevel: trace, warning, fatal, panic)", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})).With("component", "runelet-wasm"), nil
}
