// Command shelter is the tenant's side of Inclavare: it checks attestation
// evidence and attests confidential workloads from outside the cloud.
//
//	shelter verify --evidence FILE [--type sgx_ecdsa|tdx_ecdsa|sev_snp|auto]
//	               [--collateral FILE] [--policy FILE] [--at RFC3339]
//	               [--allow-simulated] [--json] [--report-data HEX]
//	shelter reference add NAME (--evidence-type T --measurement CLAIM=HEX ... |
//	                            --from-evidence FILE) [--force] [--db FILE]
//	shelter reference list [--json] [--db FILE]
//	shelter reference remove NAME [--db FILE]
//	shelter remoteattestation --addr tcp://HOST:PORT|unix://PATH [--workload NAME]
//	               [--policy FILE] [--message TEXT] [--json] [Rats-TLS flags]
//	shelter serve [--listen ADDR] [--policy FILE] [--collateral FILE]
//	               [--allow-simulated] [--key FILE | --key-out FILE]
//	               [--tls-cert FILE --tls-key FILE] [--max-body BYTES] [--history N]
//
// See shelter/README.md. Exit codes: 0 accepted (affirming, or warning),
// 1 usage or I/O error, 2 verification failed (parse, signature, chain,
// collateral), 3 refused (contraindicated by validation, policy or
// reference values). Errors go to stderr.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
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

// command is one subcommand of shelter.
type command struct {
	// summary is the one-line description printed in the usage.
	summary string
	// run runs the subcommand with its own arguments.
	run func(args []string, stdout, stderr io.Writer) error
}

// commands maps each subcommand's name to its implementation. Each
// subcommand lives in its own file and adds itself in an init function.
var commands = map[string]command{}

// register adds a subcommand; it panics on a duplicate name.
func register(name string, c command) {
	if _, dup := commands[name]; dup {
		panic("shelter: command registered twice: " + name)
	}
	commands[name] = c
}

func init() {
	register("verify", command{
		summary: "verify a quote, report or evidence-carrying certificate",
		run:     verifyCommand,
	})
}

// usage is the top-level help text.
func usage() string {
	var b strings.Builder
	b.WriteString("usage: shelter COMMAND [flags]\n\nCommands:\n")
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(&b, "  %-18s %s\n", name, commands[name].summary)
	}
	b.WriteString("\nRun \"shelter COMMAND -h\" for a command's flags.\n")
	return b.String()
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the command line args and returns the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
		return exitUsage
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage())
		return exitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "shelter: unknown command %q\n%s", args[0], usage())
		return exitUsage
	}
	err := c.run(args[1:], stdout, stderr)
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
