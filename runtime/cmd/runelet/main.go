// Command runelet is the in-container init of a PAL enclave: rune makes
// it the container's process, in front of the workload's arguments:
//
//	/dev/.rune/lib/<ld.so> --library-path /dev/.rune/lib /dev/.rune/runelet \
//	    --pal /dev/.rune/pal/<name>.so [--pal-args S] [--loglevel L] \
//	    --run-dir /dev/.rune/run -- ARGS...
//
// The dynamic loader is called explicitly because the container's root
// filesystem may have no libc. As PID 1 the runelet forks the PAL host,
// PID 2, before the Go runtime starts (a C constructor, fork.go), and
// stays in C (initc.go): the host needs no execve of its own and only it
// starts a Go runtime. The PAL host checks the flags, loads the PAL, runs
// ARGS in it and serves <run-dir>/exec.sock; PID 1 forwards signals to
// it, reaps orphans and exits with its exit code.
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
	if isHost() {
		return palHost(args)
	}
	// The init's command line has --pal; the init never gets here.
	if _, err := parseRun("runelet", args); err != nil {
		return fail(err, palhost.ExitFailed)
	}
	return fail(errors.New("the init's command line was not recognised before the Go runtime started: give --pal before --"), palhost.ExitFailed)
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
