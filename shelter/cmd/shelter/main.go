// Command shelter checks attestation evidence offline.
//
//	shelter verify --evidence FILE [--type sgx_ecdsa|tdx_ecdsa|sev_snp|auto]
//	               [--collateral FILE] [--policy FILE] [--at RFC3339]
//	               [--allow-simulated] [--json] [--report-data HEX]
//
// Exit codes: 0 accepted (affirming, or warning), 1 usage or I/O error,
// 2 verification failed (parse, signature, chain, collateral), 3 refused
// (contraindicated by validation or policy). Errors go to stderr.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// Exit codes.
const (
	exitOK              = 0
	exitUsage           = 1
	exitVerification    = 2
	exitContraindicated = 3
)

// exitError carries an exit code with its error (nil error: no message).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

const usage = `usage: shelter verify --evidence FILE [flags]

Commands:
  verify   verify a quote, report or evidence-carrying certificate

Run "shelter verify -h" for the flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the command line args and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	var err error
	switch args[0] {
	case "verify":
		err = verifyCommand(args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(stderr, "shelter: unknown command %q\n%s", args[0], usage)
		return exitUsage
	}
	if err == nil {
		return exitOK
	}
	var e *exitError
	if !errors.As(err, &e) {
		e = &exitError{code: exitUsage, err: err}
	}
	if e.err != nil {
		fmt.Fprintf(stderr, "shelter: %v\n", e.err)
	}
	return e.code
}
