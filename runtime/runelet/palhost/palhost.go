// Package palhost is the runelet's PAL host: the process (PID 2 in the
// container) that loads the enclave runtime's PAL, initialises it, runs
// the workload in it and exits with the workload's exit code. Signals it
// receives go to the workload through pal_kill; its exec socket runs
// further processes in the same instance (runtime/runelet/execproto).
package palhost

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/inclavare/inclavare/runtime/pal"
	"github.com/inclavare/inclavare/runtime/runelet/execproto"
)

// Exit codes of the PAL host for its own failures, as shells and
// container engines use them.
const (
	// ExitFailed: the PAL could not be loaded or initialised, or the
	// runelet was misused.
	ExitFailed = 125
	// ExitCannotRun: the workload could not be created.
	ExitCannotRun = 126
	// ExitNotFound: the workload's executable does not exist.
	ExitNotFound = 127
)

// Error is a failure of the PAL host with the exit code it calls for.
type Error struct {
	// Code is the exit code.
	Code int
	// Err is the failure.
	Err error
}

// Error returns the failure's message.
func (e *Error) Error() string { return e.Err.Error() }

// Unwrap returns the failure.
func (e *Error) Unwrap() error { return e.Err }

// Config says which PAL to load and what to run in it.
type Config struct {
	// PAL is the path of the PAL shared object.
	PAL string
	// Args is pal_init's argument string.
	Args string
	// LogLevel is pal_init's log level.
	LogLevel string
	// RunDir, when set, is where the exec socket is created.
	RunDir string
	// Command is the workload: Command[0] is the executable.
	Command []string
	// Env is the workload's environment.
	Env []string
	// Log receives the PAL host's messages; nil discards them.
	Log *slog.Logger
}

// Run loads and initialises the PAL, runs the workload with this
// process's stdio, serves the exec socket while it runs, and returns its
// exit code once it has ended, the exec'd processes have been killed and
// the instance destroyed. Every signal from signals is delivered to the
// workload with pal_kill; a PAL of version 1, which has none, is destroyed
// by a signal whose default action ends a process, and Run returns
// 128+N. Errors are *Error with the exit code to use.
func Run(ctx context.Context, cfg Config, signals <-chan os.Signal) (int, error) {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if len(cfg.Command) == 0 {
		return 0, &Error{ExitFailed, errors.New("no workload to run: give its arguments after --")}
	}
	lib, err := pal.Open(cfg.PAL)
	if err != nil {
		return 0, &Error{ExitFailed, err}
	}
	log.Debug("PAL loaded", "path", cfg.PAL, "version", lib.Version())
	if err := lib.Init(ctx, pal.Attr{Args: cfg.Args, LogLevel: cfg.LogLevel}); err != nil {
		return 0, &Error{ExitFailed, fmt.Errorf("initialising the enclave runtime %s: %w", cfg.PAL, err)}
	}
	h := &host{lib: lib, log: log}
	code, err := h.run(ctx, cfg, signals)
	if !h.destroyed {
		if derr := lib.Destroy(); derr != nil {
			log.Warn("destroying the enclave runtime", "err", derr)
		}
	}
	return code, err
}

// host is one running instance.
type host struct {
	lib       *pal.Library
	log       *slog.Logger
	destroyed bool
}

type result struct {
	code int
	err  error
}

func (h *host) run(ctx context.Context, cfg Config, signals <-chan os.Signal) (int, error) {
	p := pal.Process{Args: cfg.Command, Env: cfg.Env, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}
	done := make(chan result, 1)
	pid := 0
	if h.lib.Version() >= 2 {
		var err error
		if pid, err = h.lib.CreateProcess(ctx, p); err != nil {
			return 0, createError(cfg.Command[0], err)
		}
		h.log.Debug("workload created", "pid", pid, "executable", cfg.Command[0])
		go func() {
			code, err := h.lib.Exec(ctx, pid)
			done <- result{code, err}
		}()
	} else {
		go func() {
			code, err := h.lib.Run(ctx, p)
			done <- result{code, err}
		}()
	}

	// The exec socket opens once the workload exists, so that it is the
	// first process of the instance (the one the skeleton measures).
	stopServer := func() {}
	if cfg.RunDir != "" {
		l, err := execproto.Listen(filepath.Join(cfg.RunDir, execproto.SocketName))
		if err != nil {
			h.log.Error("the exec socket is unavailable", "err", err)
		} else {
			sctx, cancel := context.WithCancel(ctx)
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := execproto.Serve(sctx, l, socketHandler{h}, h.log); err != nil {
					h.log.Error("the exec socket failed", "err", err)
				}
			}()
			stopServer = func() { cancel(); wg.Wait() }
		}
	}
	defer func() { stopServer() }()

	for {
		select {
		case r := <-done:
			// Processes exec'd into the instance end with its workload.
			h.endExecs(stopServer)
			stopServer = func() {}
			if r.err != nil {
				return 0, createError(cfg.Command[0], r.err)
			}
			h.log.Debug("workload exited", "code", r.code)
			return r.code, nil
		case s := <-signals:
			sig := s.(syscall.Signal)
			if h.lib.Version() >= 2 {
				if err := h.lib.Kill(pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
					h.log.Warn("delivering a signal to the workload", "signal", sig, "err", err)
				}
				continue
			}
			if !terminates(sig) {
				h.log.Debug("PAL API version 1 has no pal_kill: signal ignored", "signal", sig)
				continue
			}
			h.log.Debug("PAL API version 1 has no pal_kill: destroying the instance", "signal", sig)
			h.endExecs(stopServer)
			stopServer = func() {}
			<-done
			return 128 + int(sig), nil
		}
	}
}

// endExecs stops the exec socket and ends the processes exec'd into the
// instance: through pal_kill from each request's handler, or, for a
// version 1 PAL, which cannot signal one process, by destroying the
// instance first.
func (h *host) endExecs(stopServer func()) {
	if h.lib.Version() == 1 && !h.destroyed {
		if err := h.lib.Destroy(); err != nil {
			h.log.Warn("destroying the enclave runtime", "err", err)
		}
		h.destroyed = true
	}
	stopServer()
}

// createError classifies a failure to create the workload.
func createError(exe string, err error) error {
	if errors.Is(err, syscall.ENOENT) {
		return &Error{ExitNotFound, fmt.Errorf("running %s in the enclave runtime: %w: check the executable's path and the PATH variable", exe, err)}
	}
	return &Error{ExitCannotRun, fmt.Errorf("running %s in the enclave runtime: %w", exe, err)}
}

// terminates reports whether sig's default action ends a process.
func terminates(sig syscall.Signal) bool {
	switch sig {
	case unix.SIGCHLD, unix.SIGCONT, unix.SIGURG, unix.SIGWINCH, unix.SIGSTOP, unix.SIGTSTP, unix.SIGTTIN, unix.SIGTTOU:
		return false
	}
	return true
}

// exec runs one process requested on the exec socket. When ctx ends (the
// client left, or the workload ended) the process is killed and its exit
// code returned.
func (h *host) exec(ctx context.Context, req execproto.Request, stdio [3]*os.File) (int, error) {
	p := pal.Process{Args: req.Args, Env: req.Env, Stdin: stdio[0], Stdout: stdio[1], Stderr: stdio[2]}
	var code int
	var err error
	if h.lib.Version() >= 2 {
		var pid int
		err = inDir(req.Cwd, func() error {
			var cerr error
			pid, cerr = h.lib.CreateProcess(ctx, p)
			return cerr
		})
		if err == nil {
			code, err = h.lib.Exec(ctx, pid)
		}
	} else {
		err = inDir(req.Cwd, func() error {
			var rerr error
			code, rerr = h.lib.Run(ctx, p)
			return rerr
		})
	}
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return code, nil
	}
	if err != nil {
		return 0, fmt.Errorf("running %s in the enclave runtime: %w", req.Args[0], err)
	}
	return code, nil
}

// inDir calls fn on a thread whose working directory is dir, leaving the
// process's own unchanged: the thread gets a filesystem context of its
// own (unshare CLONE_FS) and ends with fn. A PAL that forks, as the
// skeleton does, starts its process there.
func inDir(dir string, fn func() error) error {
	if dir == "" {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		// Never unlocked: the Go runtime ends the thread with the goroutine.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			errc <- fmt.Errorf("giving the exec thread its own working directory: %w", err)
			return
		}
		if err := unix.Chdir(dir); err != nil {
			errc <- fmt.Errorf("changing to the working directory %s: %w", dir, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// socketHandler serves the exec socket: exec requests, and attest requests
// with pal_get_local_report.
type socketHandler struct{ h *host }

// Exec runs a requested process (host.exec).
func (s socketHandler) Exec(ctx context.Context, req execproto.Request, stdio [3]*os.File) (int, error) {
	return s.h.exec(ctx, req, stdio)
}

// LocalReport calls pal_get_local_report with the report data as its
// target info (what the skeleton PAL takes; an SGX PAL takes a TARGETINFO).
// A PAL below API version 3 has none, and the error says so.
func (s socketHandler) LocalReport(ctx context.Context, reportData []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if v := s.h.lib.Version(); v < 3 {
		return nil, fmt.Errorf("the PAL speaks API version %d, which has no pal_get_local_report (version 3 does): %w", v, execproto.ErrNoReport)
	}
	report, err := s.h.lib.GetLocalReport(reportData)
	if err != nil {
		return nil, fmt.Errorf("pal_get_local_report: %w", err)
	}
	return report, nil
}
