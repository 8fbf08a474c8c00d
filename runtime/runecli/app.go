// Package runecli is rune's command line: the runc command set (create,
// start, run, exec, kill, delete, state, list, ps, pause, resume, spec,
// features) on libcontainer's public API, with runc's flags, state JSON and
// exit codes, plus the enclave launch of runtime/enclave for bundles that ask
// for one. The main package is one call to Main.
package runecli

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/sirupsen/logrus"
	"github.com/urfave/cli"
)

// Version is rune's version, printed by `rune --version` and `rune features`.
var Version = "0.1.0"

// DefaultRoot is where rune keeps container state unless --root says otherwise.
const DefaultRoot = "/run/rune"

// specConfig is the name of the OCI configuration file in a bundle.
const specConfig = "config.json"

// exitStatus is returned by an action that finished without error but must
// make rune exit with a given status (the container's, for run and exec).
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// codedError is a failure that makes rune exit with a status other than 1
// (exec failures exit 255, as runc's do).
type codedError struct {
	code int
	err  error
}

func (e *codedError) Error() string { return e.err.Error() }
func (e *codedError) Unwrap() error { return e.err }

// NewApp returns rune's command line application.
func NewApp() *cli.App {
	app := cli.NewApp()
	app.Name = "rune"
	app.Usage = "OCI runtime that can launch a container's workload inside an enclave runtime"
	app.Version = Version
	app.Flags = []cli.Flag{
		cli.BoolFlag{Name: "debug", Usage: "enable debug logging"},
		cli.StringFlag{Name: "log", Usage: "set the log file to write rune logs to (default is '/dev/stderr')"},
		cli.StringFlag{Name: "log-format", Value: "text", Usage: "set the log format ('text' (default), or 'json')"},
		cli.StringFlag{Name: "root", Value: DefaultRoot, Usage: "root directory for storage of container state (this should be located in tmpfs)"},
		cli.BoolFlag{Name: "systemd-cgroup", Usage: "not supported by rune: containers use the cgroupfs driver"},
		cli.StringFlag{Name: "rootless", Value: "auto", Usage: "ignore cgroup permission errors ('true', 'false', or 'auto')"},
	}
	app.Commands = []cli.Command{
		attestCommand,
		createCommand,
		deleteCommand,
		execCommand,
		featuresCommand,
		killCommand,
		listCommand,
		pauseCommand,
		psCommand,
		resumeCommand,
		runCommand,
		specCommand,
		startCommand,
		stateCommand,
	}
	app.Before = before
	// Errors come back to Main, which prints them and picks the exit status.
	app.ExitErrHandler = func(*cli.Context, error) {}
	return app
}

// logOut is where logs go; errors are also printed to stderr when it is not.
var logOut io.Writer = os.Stderr

func before(c *cli.Context) error {
	if c.GlobalBool("systemd-cgroup") {
		return errors.New("--systemd-cgroup is not supported by rune: drop the flag and use a cgroupfs cgroupsPath")
	}
	if c.GlobalIsSet("root") {
		root, err := filepath.Abs(c.GlobalString("root"))
		if err != nil {
			return fmt.Errorf("resolving --root %q: %w", c.GlobalString("root"), err)
		}
		if root == "/" {
			return errors.New("--root must not be /: give a directory for container state, e.g. /run/rune")
		}
		if err := c.GlobalSet("root", root); err != nil {
			return fmt.Errorf("setting --root: %w", err)
		}
	}
	level := slog.LevelInfo
	if c.GlobalBool("debug") {
		level = slog.LevelDebug
		logrus.SetLevel(logrus.DebugLevel)
	}
	if file := c.GlobalString("log"); file != "" {
		f, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY|os.O_APPEND|os.O_SYNC, 0o644)
		if err != nil {
			return fmt.Errorf("opening --log file: %w", err)
		}
		logOut = f
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch f := c.GlobalString("log-format"); f {
	case "", "text":
		h = slog.NewTextHandler(logOut, opts)
		logrus.SetFormatter(new(logrus.TextFormatter))
	case "json":
		h = slog.NewJSONHandler(logOut, opts)
		logrus.SetFormatter(new(logrus.JSONFormatter))
	default:
		return fmt.Errorf("invalid --log-format %q: use text or json", f)
	}
	// libcontainer logs (its own and those its init forwards) through logrus:
	// send them where rune's go.
	logrus.SetOutput(logOut)
	slog.SetDefault(slog.New(h))
	return nil
}

// Main runs rune with args (os.Args) and returns the process exit status.
func Main(args []string) int {
	err := NewApp().Run(args)
	if err == nil {
		return 0
	}
	var st exitStatus
	if errors.As(err, &st) {
		return int(st)
	}
	code := 1
	var ce *codedError
	if errors.As(err, &ce) {
		code = ce.code
	}
	// The error goes to stderr as plain text, and to the log when that is
	// elsewhere (a shim reads it from there).
	fmt.Fprintln(os.Stderr, err)
	if f, ok := logOut.(*os.File); !ok || f.Fd() != os.Stderr.Fd() {
		slog.Error(err.Error())
	}
	return code
}

const (
	exactArgs = iota
	minArgs
	maxArgs
)

// checkArgs checks the number of positional arguments as runc does.
func checkArgs(c *cli.Context, expected, checkType int) error {
	var err error
	name := c.Command.Name
	switch checkType {
	case exactArgs:
		if c.NArg() != expected {
			err = fmt.Errorf("%s: %q requires exactly %d argument(s)", os.Args[0], name, expected)
		}
	case minArgs:
		if c.NArg() < expected {
			err = fmt.Errorf("%s: %q requires a minimum of %d argument(s)", os.Args[0], name, expected)
		}
	case maxArgs:
		if c.NArg() > expected {
			err = fmt.Errorf("%s: %q requires a maximum of %d argument(s)", os.Args[0], name, expected)
		}
	}
	if err != nil {
		fmt.Printf("Incorrect Usage.\n\n")
		_ = cli.ShowCommandHelp(c, name)
		return err
	}
	return nil
}

// joinArgs quotes a command line for error messages.
func joinArgs(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = fmt.Sprintf("%q", a)
	}
	return strings.Join(q, " ")
}
