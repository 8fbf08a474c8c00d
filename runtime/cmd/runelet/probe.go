package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/inclavare/inclavare/runtime/pal"
)

// probeReport is what `runelet probe` prints.
type probeReport struct {
	// Version is pal_get_version's answer (1 without the symbol).
	Version int `json:"version"`
	// Symbols are the PAL API symbols the PAL exports.
	Symbols []string `json:"symbols"`
	// Missing are the symbols its version requires and it lacks.
	Missing []string `json:"missing"`
	// Error says why the PAL is unusable, when it is.
	Error string `json:"error,omitempty"`
}

// probe loads the PAL named by --pal and reports on it.
func probe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("runelet probe", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	path := fs.String("pal", "", "`path` of the PAL shared object")
	if err := fs.Parse(args); err != nil || *path == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "runelet probe: usage: runelet probe --pal PATH")
		return 2
	}
	lib, err := pal.Load(*path)
	if err != nil {
		fmt.Fprintf(stderr, "runelet probe: %v\n", err)
		return 1
	}
	r := probeReport{Version: lib.Version(), Symbols: lib.Symbols(), Missing: lib.Missing()}
	if err := lib.Check(); err != nil {
		r.Error = err.Error()
	}
	b, err := json.Marshal(r)
	if err != nil {
		fmt.Fprintf(stderr, "runelet probe: encoding the report: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s\n", b)
	return 0
}
