package wasm

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// ExitTrap is the exit code Run returns with a *TrapError: 128+SIGABRT, the
// status of a native program that aborts.
const ExitTrap = 134

// MaxExitCode is the largest exit code Run returns. A module's exit code
// above it (proc_exit takes 32 bits; the kernel keeps 8) becomes
// MaxExitCode, so that a failure is never reported as success.
const MaxExitCode = 255

// Process is what a running module sees of the world through WASI.
type Process struct {
	// Args are the module's arguments; Args[0] is its program name.
	Args []string
	// Env is the module's environment, KEY=VALUE entries.
	Env []string
	// Stdin, Stdout and Stderr are the module's standard streams; nil
	// reads as empty and discards what is written.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Root is the host directory that the module sees as "/" (its only
	// preopened directory); empty gives the module no filesystem. ".."
	// does not leave it, but the host follows symbolic links, so Root must
	// be a tree whose every link the module may see through (runelet-wasm
	// gives the container's own root).
	Root string
	// ReadOnlyRoot makes Root read-only to the module, whatever the host
	// permissions allow.
	ReadOnlyRoot bool
}

// TrapError says that a module stopped on a trap. It matches ErrTrap.
type TrapError struct {
	// Measurement identifies the module.
	Measurement Measurement
	// Err is wazero's error: the trap and the wasm stack trace.
	Err error
	// MemorySize is the module's linear memory when it trapped, and
	// MemoryLimit the Runtime's limit, both in bytes.
	MemorySize, MemoryLimit uint64
}

// AtMemoryLimit reports whether the module's memory could not grow by
// another page when it trapped: memory.grow was failing, and the trap is
// most likely the module aborting because an allocation failed.
func (e *TrapError) AtMemoryLimit() bool { return e.MemorySize+PageSize > e.MemoryLimit }

// Error says what trapped, and whether the memory limit is the likely
// cause, before wazero's message and stack trace.
func (e *TrapError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "wasm module %s trapped", e.Measurement)
	if e.AtMemoryLimit() {
		fmt.Fprintf(&b, " with its linear memory at the memory limit (%d of %d bytes, so memory.grow fails): raise the limit if the module needs more", e.MemorySize, e.MemoryLimit)
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	return b.String()
}

// Is makes a *TrapError match ErrTrap.
func (e *TrapError) Is(target error) bool { return target == ErrTrap }

// Unwrap returns wazero's error.
func (e *TrapError) Unwrap() error { return e.Err }

// Run instantiates m with p and runs its _start function until the module
// returns, calls proc_exit, traps or ctx is done. Compiled code checks ctx
// as it runs, so a module in a loop stops too; a module blocked in a host
// call (reading stdin, sleeping) stops when that call returns.
//
// It returns the module's exit code (0 when _start returns; at most
// MaxExitCode) and a nil error, or else: ExitTrap and a *TrapError; -1 and
// an error wrapping context.Cause(ctx) when ctx ended the module; -1 and an
// error matching ErrNotCommand when the module cannot be instantiated (an
// import that WASI preview 1 does not provide, a data segment out of
// bounds); -1 and an error naming the bad entry for a malformed p.Env or a
// NUL byte in p.Args or p.Env.
func (r *Runtime) Run(ctx context.Context, m *Module, p Process) (int, error) {
	cfg, err := moduleConfig(p)
	if err != nil {
		return -1, err
	}
	mod, err := m.rt.InstantiateModule(ctx, m.compiled, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return -1, fmt.Errorf("wasm: module %s stopped while instantiating: %w", m.measurement, context.Cause(ctx))
		}
		return -1, fmt.Errorf("%w: instantiating module %s: %w (it may import something other than wasi_snapshot_preview1)", ErrNotCommand, m.measurement, err)
	}
	defer mod.Close(context.WithoutCancel(ctx))
	_, err = mod.ExportedFunction("_start").Call(ctx)
	if err == nil {
		return 0, nil
	}
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		code := exit.ExitCode()
		if ctx.Err() != nil && (code == sys.ExitCodeContextCanceled || code == sys.ExitCodeDeadlineExceeded) {
			return -1, fmt.Errorf("wasm: module %s stopped: %w", m.measurement, context.Cause(ctx))
		}
		if code > MaxExitCode {
			r.log.Debug("wasm module exit code above 255", "measurement", m.measurement, "code", code)
			return MaxExitCode, nil
		}
		return int(code), nil
	}
	if ctx.Err() != nil {
		return -1, fmt.Errorf("wasm: module %s stopped: %w", m.measurement, context.Cause(ctx))
	}
	return ExitTrap, &TrapError{Measurement: m.measurement, Err: err, MemorySize: memorySize(mod), MemoryLimit: r.MemoryLimit()}
}

// memorySize is the size of mod's linear memory in bytes (0 without one).
func memorySize(mod api.Module) uint64 {
	mem := mod.Memory()
	if mem == nil {
		return 0
	}
	pages, _ := mem.Grow(0) // Grow(0) only reads the size, even past 4 GiB - 1.
	return uint64(pages) * PageSize
}

// moduleConfig is the wazero configuration for p: real clocks and
// crypto/rand randomness (wazero's defaults are deterministic fakes), and
// no start function, so that Run calls _start itself and can tell a trap
// from a failed instantiation.
func moduleConfig(p Process) (wazero.ModuleConfig, error) {
	cfg := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions().
		WithArgs(p.Args...).
		WithSysWalltime().
		WithSysNanotime().
		WithSysNanosleep().
		WithRandSource(rand.Reader)
	for i, a := range p.Args {
		if strings.IndexByte(a, 0) >= 0 {
			return nil, fmt.Errorf("wasm: argument %d %q contains a NUL byte, which WASI strings cannot carry", i, a)
		}
	}
	for _, kv := range p.Env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("wasm: environment entry %q is not KEY=VALUE", kv)
		}
		if strings.IndexByte(kv, 0) >= 0 {
			return nil, fmt.Errorf("wasm: environment entry %q contains a NUL byte, which WASI strings cannot carry", kv)
		}
		cfg = cfg.WithEnv(k, v)
	}
	if p.Stdin != nil {
		cfg = cfg.WithStdin(p.Stdin)
	}
	if p.Stdout != nil {
		cfg = cfg.WithStdout(p.Stdout)
	}
	if p.Stderr != nil {
		cfg = cfg.WithStderr(p.Stderr)
	}
	if p.Root != "" {
		fs := wazero.NewFSConfig()
		if p.ReadOnlyRoot {
			fs = fs.WithReadOnlyDirMount(p.Root, "/")
		} else {
			fs = fs.WithDirMount(p.Root, "/")
		}
		cfg = cfg.WithFSConfig(fs)
	}
	return cfg, nil
}
