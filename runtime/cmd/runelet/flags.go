package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// runOptions are the flags of the init and of the PAL host.
type runOptions struct {
	pal, palArgs, logLevel, runDir string
	command                        []string
}

// logLevels are the accepted --loglevel values (enclave.runtime.loglevel).
var logLevels = []string{"trace", "debug", "info", "warning", "error", "fatal", "panic", "off"}

// parseRun parses `[flags] -- ARGS...`.
func parseRun(name string, args []string) (runOptions, error) {
	var o runOptions
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&o.pal, "pal", "", "`path` of the PAL shared object")
	fs.StringVar(&o.palArgs, "pal-args", "", "pal_init's argument `string`")
	fs.StringVar(&o.logLevel, "loglevel", "info", "log `level` of the enclave runtime and the runelet: "+strings.Join(logLevels, ", "))
	fs.StringVar(&o.runDir, "run-dir", "", "`directory` of the exec socket (none without it)")
	if err := fs.Parse(args); err != nil {
		return o, fmt.Errorf("%w\nusage: runelet --pal PATH [--pal-args S] [--loglevel L] [--run-dir DIR] -- ARGS...", err)
	}
	o.command = fs.Args()
	if o.pal == "" {
		return o, errors.New("--pal is required: the path of the enclave runtime's PAL")
	}
	if !slices.Contains(logLevels, o.logLevel) {
		return o, fmt.Errorf("--loglevel %q is not one of %s", o.logLevel, strings.Join(logLevels, ", "))
	}
	if len(o.command) == 0 {
		return o, errors.New("no workload: give its arguments after --")
	}
	if o.runDir != "" {
		fi, err := os.Stat(o.runDir)
		if err != nil {
			return o, fmt.Errorf("--run-dir: %w", err)
		}
		if !fi.IsDir() {
			return o, fmt.Errorf("--run-dir %s is not a directory", o.runDir)
		}
	}
	return o, nil
}
