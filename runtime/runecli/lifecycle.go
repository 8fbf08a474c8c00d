package runecli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/urfave/cli"
	"golang.org/x/sys/unix"
)

var startCommand = cli.Command{
	Name:  "start",
	Usage: "executes the user defined process in a created container",
	ArgsUsage: `<container-id>

Where "<container-id>" is your name for the instance of the container that you
are starting.`,
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, exactArgs); err != nil {
			return err
		}
		ct, err := getContainer(c)
		if err != nil {
			return err
		}
		status, err := ct.Status()
		if err != nil {
			return fmt.Errorf("reading the status of %s: %w", ct.ID(), err)
		}
		switch status {
		case libcontainer.Created:
			if err := ct.Exec(); err != nil {
				return fmt.Errorf("starting container %s: %w", ct.ID(), err)
			}
			return nil
		case libcontainer.Stopped:
			return errors.New("cannot start a container that has stopped")
		case libcontainer.Running:
			return errors.New("cannot start an already running container")
		default:
			return fmt.Errorf("cannot start a container in the %s state", status)
		}
	},
}

// killContainer kills the container's processes and destroys it.
func killContainer(ct *libcontainer.Container) error {
	_ = ct.Signal(unix.SIGKILL)
	for range 100 {
		time.Sleep(100 * time.Millisecond)
		if err := ct.Signal(unix.Signal(0)); err != nil {
			return destroy(ct)
		}
	}
	return fmt.Errorf("container %s: init still running 10s after SIGKILL", ct.ID())
}

func destroy(ct *libcontainer.Container) error {
	if err := ct.Destroy(); err != nil {
		return fmt.Errorf("deleting container %s: %w", ct.ID(), err)
	}
	return nil
}

var deleteCommand = cli.Command{
	Name:  "delete",
	Usage: "delete any resources held by the container often used with detached container",
	ArgsUsage: `<container-id>

Where "<container-id>" is the name for the instance of the container.`,
	Flags: []cli.Flag{
		cli.BoolFlag{Name: "force, f", Usage: "Forcibly deletes the container if it is still running (uses SIGKILL)"},
	},
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, exactArgs); err != nil {
			return err
		}
		id := c.Args().First()
		force := c.Bool("force")
		ct, err := getContainer(c)
		if err != nil {
			if errors.Is(err, libcontainer.ErrNotExist) {
				// An aborted create may leave a state directory without
				// state.json, which libcontainer does not see.
				path := filepath.Join(c.GlobalString("root"), id)
				if e := os.RemoveAll(path); e != nil {
					fmt.Fprintf(os.Stderr, "remove %s: %v\n", path, e)
				}
				if force {
					return nil
				}
			}
			return err
		}
		if force {
			return killContainer(ct)
		}
		s, err := ct.Status()
		if err != nil {
			return fmt.Errorf("reading the status of %s: %w", id, err)
		}
		switch s {
		case libcontainer.Stopped:
			return destroy(ct)
		case libcontainer.Created:
			return killContainer(ct)
		default:
			return fmt.Errorf("cannot delete container %s that is not stopped: %s", id, s)
		}
	},
}

var killCommand = cli.Command{
	Name:  "kill",
	Usage: "kill sends the specified signal (default: SIGTERM) to the container's init process",
	ArgsUsage: `<container-id> [signal]

Where "<container-id>" is the name for the instance of the container and
"[signal]" is the signal to be sent to the init process. In an enclave
container the init is the enclave launcher, which passes the signal on to the
enclave runtime (pal_kill).`,
	Flags: []cli.Flag{
		cli.BoolFlag{Name: "all, a", Usage: "(obsoleted, do not use)", Hidden: true},
	},
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, minArgs); err != nil {
			return err
		}
		if err := checkArgs(c, 2, maxArgs); err != nil {
			return err
		}
		ct, err := getContainer(c)
		if err != nil {
			return err
		}
		sigstr := c.Args().Get(1)
		if sigstr == "" {
			sigstr = "SIGTERM"
		}
		sig, err := parseSignal(sigstr)
		if err != nil {
			return err
		}
		err = ct.Signal(sig)
		if errors.Is(err, libcontainer.ErrNotRunning) && c.Bool("all") {
			err = nil
		}
		if err != nil {
			return fmt.Errorf("signalling container %s: %w", ct.ID(), err)
		}
		return nil
	},
}

// parseSignal reads a signal as a number, a name, or a name without "SIG".
func parseSignal(raw string) (unix.Signal, error) {
	if n, err := strconv.Atoi(raw); err == nil {
		return unix.Signal(n), nil
	}
	name := strings.ToUpper(raw)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	sig := unix.SignalNum(name)
	if sig == 0 {
		return -1, fmt.Errorf("unknown signal %q: give a name such as TERM or KILL, or a number", raw)
	}
	return sig, nil
}

var pauseCommand = cli.Command{
	Name:      "pause",
	Usage:     "pause suspends all processes inside the container",
	ArgsUsage: `<container-id>`,
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, exactArgs); err != nil {
			return err
		}
		ct, err := getContainer(c)
		if err != nil {
			return err
		}
		if err := ct.Pause(); err != nil {
			return fmt.Errorf("pausing container %s: %w", ct.ID(), err)
		}
		return nil
	},
}

var resumeCommand = cli.Command{
	Name:      "resume",
	Usage:     "resumes all processes that have been previously paused",
	ArgsUsage: `<container-id>`,
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, exactArgs); err != nil {
			return err
		}
		ct, err := getContainer(c)
		if err != nil {
			return err
		}
		if err := ct.Resume(); err != nil {
			return fmt.Errorf("resuming container %s: %w", ct.ID(), err)
		}
		return nil
	},
}
