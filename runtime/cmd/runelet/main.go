// Command runelet is the in-container init of a PAL enclave: rune makes
// it the container's process, in front of the workload's arguments:
//
//	/dev/.rune/lib/<ld.so> --library-path /dev/.rune/lib /dev/.rune/runelet \
//	    --pal /dev/.rune/pal/<name>.so [--pal-args S] [--loglevel L] \
//	    --run-dir /dev/.rune/run -- ARGS...
//
// The dynamic loader is called explicitly because the container's root
// filesystem may have no libc. As PID 1 the runelet forks the PAL host,
// PID 2, before the Go runtime starts (a C constructor, fork.go), so that
// the two start in parallel and the host needs no execve of its own. The
// PAL host loads the PAL, runs ARGS in it and serves <run-dir>/exec.sock;
// PID 1 forwards signals to it, reaps orphans and exits with its exit code.
//
//	runelet probe --pal PATH
//
// loads a PAL on the host and prints {"version": N, "symbols": [...],
// "missing": [...]} (with "error" when the PAL is unusable), so that rune
// checks a PAL without loading it into its own process. It exits 1 with a
// message on stderr when the PAL cannot be loaded at all.
//
// Exit codes of the runelet's own failures: 125 (misuse, PAL failures),
// 126 (the workload cannot be run), 127 (its executable does not exist).
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"

	"github.com/inclavare/inclavare/runtime/runelet/palhost"
	"github.com/inclavare/inclavare/runtime/runelet/supervise"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) > 0 && args[0] == "probe" {
		return probe(args[1:], os.Stdout, os.Stderr)
	}
	r, host, err := forked()
	switch {
	case r == roleHost:
		return palHost(args)
	case r == roleInit:
		return initProcess(args, host)
	}
	// Not forked: the flags are wrong (the PAL host would have said so),
	// or the fork failed.
	if _, perr := parseRun("runelet", args); perr != nil {
		return fail(perr, palhost.ExitFailed)
	}
	if err == nil {
		err = errors.New("the init's command line was not recognised before the Go runtime started")
	}
	return fail(fmt.Errorf("starting the PAL host: %w: check the container's process limits and memory", err), palhost.ExitFailed)
}

// initProcess is PID 1: it supervises the PAL host it forked (whose pid
// is host), which checks the flags and reports their errors itself.
func initProcess(args []string, host int) int {
	level := "info"
	if opts, err := parseRun("runelet", args); err == nil {
		level = opts.logLevel
	}
	log := newLogger(level)
	log.Debug("PAL host forked", "pid", host)
	code, err := supervise.Run(context.Background(), supervise.Config{Pid: host, Log: log})
	if err != nil {
		return fail(err, palhost.ExitFailed)
	}
	return code
}

// palHost is PID 2: it runs the workload in the PAL.
func palHost(args []string) int {
	opts, err := parseRun("runelet", args)
	if err != nil {
		return fail(err, palhost.ExitFailed)
	}
	if err := restoreNofile(); err != nil {
		return fail(err, palhost.ExitFailed)
	}
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs, supervise.Forwarded...)
	code, err := palhost.Run(context.Background(), palhost.Config{
		PAL:      opts.pal,
		Args:     opts.palArgs,
		LogLevel: opts.logLevel,
		RunDir:   opts.runDir,
		Command:  opts.command,
		Env:      os.Environ(),
		Log:      newLogger(opts.logLevel),
	}, sigs)
	if err != nil {
		var he *palhost.Error
		if errors.As(err, &he) {
			return fail(err, he.Code)
		}
		return fail(err, palhost.ExitFailed)
	}
	return code
}

// fail prints err and returns code.
func fail(err error, code int) int {
	fmt.Fprintf(os.Stderr, "runelet: %v\n", err)
	return code
}

// newLogger logs the runelet's own messages to stderr (the workload's)
// at the enclave runtime's log level.
func newLogger(level string) *slog.Logger {
	l := slog.LevelInfo
	switch level {
	case "trace", "debug":
		l = slog.LevelDebug
	case "warning":
		l = slog.LevelWarn
	case "error", "fatal", "panic":
		l = slog.LevelError
	case "off":
		l = slog.LevelError + 4
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})).With("runelet", os.Getpid())
}
