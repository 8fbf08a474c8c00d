// Package wasm is rune's built-in wasm enclave runtime: it runs a
// WebAssembly module that is a WASI command (wasi_snapshot_preview1, the
// module exports _start) with wazero, a WebAssembly runtime in pure Go, so
// that the runtime is one static binary (runtime/cmd/runelet-wasm) that
// works on a container root filesystem without libc.
//
// A Runtime compiles modules to native code; with Options.CacheDir the
// compiled code is kept in that directory, keyed by the module's bytes, the
// wazero version and the CPU, so that the next process that runs the same
// module loads it instead of compiling it again (a warm start). The cache
// holds native code that is executed as it is read: only the runtime may
// write to it, never a workload it runs, and never mutually distrusting
// parties sharing one directory.
//
// A Module's measurement is the SHA-256 of its bytes (see Measure), the
// identity of what ran, as the measurement of an enclave's initial contents
// is for a hardware enclave. The sandbox is WebAssembly's: the module sees
// only its linear memory, bounded by Options.MemoryLimit, and what WASI
// gives it (Process): its arguments, environment, standard streams, a
// clock, randomness and at most one preopened directory.
//
// Decoding and validation are wazero's. Fuzzing wazero v1.12.0 found that
// its decoder sizes tables from counts a module claims before it reads the
// entries, so a module of a few dozen bytes can make Compile allocate
// gigabytes: compile untrusted modules only where memory is bounded for
// their owner (runelet-wasm compiles inside the container, under its
// memory limit).
package wasm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// PageSize is the size of a WebAssembly page: linear memory grows by whole
// pages.
const PageSize = 65536

// MaxMemoryLimit is the largest linear memory of a 32-bit WebAssembly
// module (65536 pages, 4 GiB), the limit when Options.MemoryLimit is 0.
const MaxMemoryLimit = 65536 * PageSize

// Errors, to be tested with errors.Is.
var (
	// ErrInvalidModule: the bytes are not a valid WebAssembly module, or
	// the module cannot run within this runtime's limits.
	ErrInvalidModule = errors.New("invalid wasm module")
	// ErrNotCommand: the module is valid but cannot be run as a WASI
	// command (no _start export, or an import nothing provides).
	ErrNotCommand = errors.New("wasm module is not a runnable WASI command")
	// ErrTrap: the module stopped on a trap (unreachable, an out-of-bounds
	// access, a division by zero, a stack overflow...). The error is a
	// *TrapError.
	ErrTrap = errors.New("wasm module trapped")
)

// Options configure a Runtime.
type Options struct {
	// CacheDir is the directory of the compiled-module cache, created if
	// missing. Empty: compiled code is kept in memory only, for the
	// Runtime's life. A cache that cannot be written or read is not fatal:
	// the Runtime logs a warning and compiles without it.
	CacheDir string
	// MemoryLimit is the most linear memory, in bytes, that a module may
	// have; it is rounded down to whole 64 KiB pages. 0, or more than
	// MaxMemoryLimit (a container's memory limit, say), means
	// MaxMemoryLimit. A module that declares more memory than this fails
	// to compile with ErrInvalidModule; memory.grow beyond it returns -1 to
	// the module (which usually aborts: see TrapError).
	MemoryLimit uint64
	// Logger receives the Runtime's logs; nil discards them.
	Logger *slog.Logger
}

// Runtime compiles and runs WASI modules. It is safe for concurrent use.
// Close releases it.
type Runtime struct {
	opts       Options
	limitPages uint32
	log        *slog.Logger

	cache wazero.CompilationCache // nil without a usable cache directory

	mu sync.Mutex
	rt wazero.Runtime
	// cacheFailed: rt is a runtime without the cache, which failed.
	cacheFailed bool
	// retired holds the runtime replaced after a cache failure; the
	// modules compiled in it stay valid until Close.
	retired []wazero.Runtime
}

// New returns a Runtime with opts. It fails on a memory limit below one
// page.
func New(ctx context.Context, opts Options) (*Runtime, error) {
	limit := opts.MemoryLimit
	if limit == 0 || limit > MaxMemoryLimit {
		limit = MaxMemoryLimit
	}
	if limit < PageSize {
		return nil, fmt.Errorf("wasm: memory limit of %d bytes is below one 64 KiB page, the least memory a module can have: give at least %d", opts.MemoryLimit, PageSize)
	}
	r := &Runtime{opts: opts, limitPages: uint32(limit / PageSize), log: opts.Logger}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if opts.CacheDir != "" {
		cache, err := openCache(opts.CacheDir)
		if err != nil {
			r.log.Warn("compilation cache unusable, compiling without it", "dir", opts.CacheDir, "err", err)
		} else {
			r.cache = cache
		}
	}
	rt, err := r.newWazero(ctx, r.cache)
	if err != nil {
		r.closeCache(ctx)
		return nil, err
	}
	r.rt = rt
	return r, nil
}

// openCache opens the compilation cache in dir after checking that a file
// can be created there: wazero fails the compilation itself when it cannot
// store its result.
func openCache(dir string) (wazero.CompilationCache, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the cache directory: %w", err)
	}
	probe, err := os.CreateTemp(dir, ".probe-*")
	if err != nil {
		return nil, fmt.Errorf("the cache directory is not writable: %w", err)
	}
	probe.Close()
	if err := os.Remove(probe.Name()); err != nil {
		return nil, fmt.Errorf("cleaning up in the cache directory: %w", err)
	}
	cache, err := wazero.NewCompilationCacheWithDir(dir)
	if err != nil {
		return nil, fmt.Errorf("opening the cache: %w", err)
	}
	return cache, nil
}

// newWazero returns a wazero runtime with WASI preview 1, the memory limit,
// compiled code that stops when its context is done, and cache (or none).
func (r *Runtime) newWazero(ctx context.Context, cache wazero.CompilationCache) (wazero.Runtime, error) {
	cfg := wazero.NewRuntimeConfig().
		WithMemoryLimitPages(r.limitPages).
		WithCloseOnContextDone(true)
	if cache != nil {
		cfg = cfg.WithCompilationCache(cache)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("wasm: instantiating WASI preview 1: %w", err)
	}
	return rt, nil
}

// MemoryLimit is the Runtime's memory limit in bytes (whole pages).
func (r *Runtime) MemoryLimit() uint64 { return uint64(r.limitPages) * PageSize }

// Module is a compiled module, ready to run any number of times.
type Module struct {
	compiled    wazero.CompiledModule
	rt          wazero.Runtime
	measurement Measurement
	compileTime time.Duration
}

// Measurement is the SHA-256 of the module's bytes.
func (m *Module) Measurement() Measurement { return m.measurement }

// CompileTime is how long Compile took: translating to native code on a
// cold start, reading the compiled code from the cache on a warm one.
func (m *Module) CompileTime() time.Duration { return m.compileTime }

// Compile measures and compiles the module in bin (the measurement is over
// exactly the bytes compiled). A module that is not valid WebAssembly, or
// that declares more memory than the limit, fails with ErrInvalidModule.
func (r *Runtime) Compile(ctx context.Context, bin []byte) (*Module, error) {
	m := &Module{measurement: Measure(bin)}
	start := time.Now()
	r.mu.Lock()
	rt, cached := r.rt, r.cache != nil && !r.cacheFailed
	r.mu.Unlock()
	compiled, err := rt.CompileModule(ctx, bin)
	if err != nil && cached && ctx.Err() == nil {
		// The cache may be the cause (a full disk, a corrupt entry): retry
		// without it, and stop using it if that works.
		cacheErr := err
		if rt, err = r.withoutCache(ctx); err != nil {
			return nil, err
		}
		if compiled, err = rt.CompileModule(ctx, bin); err == nil {
			r.log.Warn("compilation cache failed, compiled without it", "dir", r.opts.CacheDir, "err", cacheErr)
		}
	}
	m.rt = rt
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("wasm: compiling module %s: %w", m.measurement, context.Cause(ctx))
		}
		hint := ""
		if strings.Contains(err.Error(), "over limit") {
			hint = fmt.Sprintf(" (the memory limit is %d bytes: raise it, or build the module with less memory)", r.MemoryLimit())
		}
		return nil, fmt.Errorf("%w: module %s: %w%s", ErrInvalidModule, m.measurement, err, hint)
	}
	m.compiled = compiled
	m.compileTime = time.Since(start)
	if _, ok := compiled.ExportedFunctions()["_start"]; !ok {
		compiled.Close(ctx)
		return nil, fmt.Errorf("%w: module %s exports no _start function (a WASI reactor or a library, not a command)", ErrNotCommand, m.measurement)
	}
	r.log.Debug("compiled wasm module", "measurement", m.measurement, "took", m.compileTime)
	return m, nil
}

// withoutCache switches the Runtime to a wazero runtime without the
// compilation cache (once) and returns it.
func (r *Runtime) withoutCache(ctx context.Context) (wazero.Runtime, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cacheFailed {
		return r.rt, nil
	}
	rt, err := r.newWazero(ctx, nil)
	if err != nil {
		return nil, err
	}
	r.retired = append(r.retired, r.rt)
	r.rt, r.cacheFailed = rt, true
	return rt, nil
}

// Close releases the module's compiled code.
func (m *Module) Close(ctx context.Context) error {
	return m.compiled.Close(ctx)
}

// Close releases the Runtime and every module compiled in it; the cache
// directory stays.
func (r *Runtime) Close(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	err := r.rt.Close(ctx)
	for _, rt := range r.retired {
		err = errors.Join(err, rt.Close(ctx))
	}
	r.retired = nil
	r.closeCache(ctx)
	return err
}

// closeCache closes the compilation cache if there is one.
func (r *Runtime) closeCache(ctx context.Context) {
	if r.cache != nil {
		r.cache.Close(ctx)
		r.cache = nil
	}
}
