// Command runelet is the in-container init of a PAL enclave: rune makes
// it the container's process, in front of the workload's arguments:
//
//	/dev/.rune/lib/<ld.so> --library-path /dev/.rune/lib /dev/.rune/runelet \
//	    --pal /dev/.rune/pal/<name>.so [--pal-args S] [--loglevel L] \
//	    --run-dir /dev/.rune/run -- ARGS...
//
// The dynamic loader is called explicitly because the container's root
// filesystem may have no libc. As PID 1 the runelet re-executes itself
// (through the same loader) as the PAL host, PID 2, which loads the PAL,
// runs ARGS in it and serves <run-dir>/exec.sock; PID 1 forwards signals
// to it, reaps orphans and exits with its exit code.
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

// hostCommand is the hidden first argument of the PAL host re-exec.
const hostCommand = "pal-host"

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	if len(args) > 0 {
		switch args[0] {
		case "probe":
			return probe(args[1:], os.Stdout, os.Stderr)
		case hostCommand:
			return palHost(args[1:])
		}
	}
	return initProcess(args)
}

// initProcess is PID 1: it checks the flags, then supervises the PAL
// host, started as this same program with hostCommand first.
func initProcess(args []string) int {
	opts, err := parseRun("runelet", args)
	if err != nil {
		return fail(err, palhost.ExitFailed)
	}
	log := newLogger(opts.logLevel)
	path, prefix, err := selfCommand()
	if err != nil {
		return fail(err, palhost.ExitFailed)
	}
	argv := append(append(prefix, hostCommand), args...)
	code, err := supervise.Run(context.Background(), supervise.Config{
		Path: path,
		Args: argv,
		Env:  os.Environ(),
		Log:  log,
	})
	if err != nil {
		return fail(err, palhost.ExitFailed)
	}
	return code
}

// palHost is PID 2: it runs the workload in the PAL.
func palHost(args []string) int {
	opts, err := parseRun("runelet "+hostCommand, args)
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
