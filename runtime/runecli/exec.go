package runecli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/utils"
	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli"

	"github.com/inclavare/inclavare/runtime/enclave"
)

var execCommand = cli.Command{
	Name:  "exec",
	Usage: "execute new process inside the container",
	ArgsUsage: `<container-id> <command> [command options]  || -p process.json <container-id>

Where "<container-id>" is the name for the instance of the container and
"<command>" is the command to be executed in the container. In an enclave
container the command runs inside the same enclave runtime instance as the
workload.`,
	Flags: []cli.Flag{
		cli.StringFlag{Name: "console-socket", Usage: "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal"},
		cli.StringFlag{Name: "pidfd-socket", Usage: "path to an AF_UNIX socket which will receive a file descriptor referencing the exec process"},
		cli.StringFlag{Name: "cwd", Usage: "current working directory in the container"},
		cli.StringSliceFlag{Name: "env, e", Usage: "set environment variables"},
		cli.BoolFlag{Name: "tty, t", Usage: "allocate a pseudo-TTY"},
		cli.StringFlag{Name: "user, u", Usage: "UID (format: <uid>[:<gid>])"},
		cli.Int64SliceFlag{Name: "additional-gids, g", Usage: "additional gids"},
		cli.StringFlag{Name: "process, p", Usage: "path to the process.json"},
		cli.BoolFlag{Name: "detach,d", Usage: "detach from the container's process"},
		cli.StringFlag{Name: "pid-file", Usage: "specify the file to write the process id to"},
		cli.StringFlag{Name: "process-label", Usage: "set the asm process label for the process commonly used with selinux"},
		cli.StringFlag{Name: "apparmor", Usage: "set the apparmor profile for the process"},
		cli.BoolFlag{Name: "no-new-privs", Usage: "set the no new privileges value for the process"},
		cli.StringSliceFlag{Name: "cap, c", Value: &cli.StringSlice{}, Usage: "add a capability to the bounding set for the process"},
		cli.IntFlag{Name: "preserve-fds", Usage: "Pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)"},
		cli.StringSliceFlag{Name: "cgroup", Usage: "run the process in an (existing) sub-cgroup(s). Format is [<controller>:]<cgroup>."},
		cli.BoolFlag{Name: "ignore-paused", Usage: "allow exec in a paused container"},
	},
	SkipArgReorder: true,
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, minArgs); err != nil {
			return err
		}
		if p := c.String("pid-file"); p != "" {
			abs, err := filepath.Abs(p)
			if err != nil {
				return &codedError{255, fmt.Errorf("exec failed: resolving --pid-file: %w", err)}
			}
			if err := c.Set("pid-file", abs); err != nil {
				return &codedError{255, fmt.Errorf("exec failed: %w", err)}
			}
		}
		status, err := execProcess(c)
		if err != nil {
			return &codedError{255, fmt.Errorf("exec failed: %w", err)}
		}
		return exitStatus(status)
	},
}

func execProcess(c *cli.Context) (int, error) {
	ct, err := getContainer(c)
	if err != nil {
		return -1, err
	}
	status, err := ct.Status()
	if err != nil {
		return -1, fmt.Errorf("reading the status of %s: %w", ct.ID(), err)
	}
	if status == libcontainer.Stopped {
		return -1, errors.New("cannot exec in a stopped container")
	}
	if status == libcontainer.Paused && !c.Bool("ignore-paused") {
		return -1, errors.New("cannot exec in a paused container (use --ignore-paused to override)")
	}
	p, err := getProcess(c, ct)
	if err != nil {
		return -1, err
	}
	est, err := enclave.ReadState(filepath.Join(c.GlobalString("root"), ct.ID()))
	if err != nil {
		return -1, err
	}
	if est != nil {
		return execEnclave(c, est, p)
	}
	cgPaths, err := subCgroupPaths(c.StringSlice("cgroup"))
	if err != nil {
		return -1, err
	}
	r := &runner{
		container:     ct,
		action:        actRun,
		consoleSocket: c.String("console-socket"),
		pidfdSocket:   c.String("pidfd-socket"),
		detach:        c.Bool("detach"),
		pidFile:       c.String("pid-file"),
		preserveFDs:   c.Int("preserve-fds"),
		cgroupPaths:   cgPaths,
	}
	return r.run(p)
}

func subCgroupPaths(args []string) (map[string]string, error) {
	if len(args) == 0 {
		return nil, nil
	}
	paths := make(map[string]string, len(args))
	for _, a := range args {
		ctrs, path, ok := strings.Cut(a, ":")
		if !ok {
			if len(args) != 1 {
				return nil, fmt.Errorf("invalid --cgroup argument: %s (missing <controller>: prefix)", a)
			}
			paths[""] = a
			continue
		}
		for _, ctr := range strings.Split(ctrs, ",") {
			if ctr == "" {
				return nil, fmt.Errorf("invalid --cgroup argument: %s (empty <controller> prefix)", a)
			}
			if _, dup := paths[ctr]; dup {
				return nil, fmt.Errorf("invalid --cgroup argument(s): controller %s specified multiple times", ctr)
			}
			paths[ctr] = path
		}
	}
	return paths, nil
}

// getProcess builds the exec'd process from --process or from the bundle's
// process with the command line's changes.
func getProcess(c *cli.Context, ct *libcontainer.Container) (*specs.Process, error) {
	if path := c.String("process"); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("reading --process: %w", err)
		}
		var p specs.Process
		if err := json.Unmarshal(data, &p); err != nil {
			return nil, fmt.Errorf("parsing --process %s: %w", path, err)
		}
		return &p, validateProcessSpec(&p)
	}
	bundle, ok := utils.SearchLabels(ct.Config().Labels, "bundle")
	if !ok {
		return nil, errors.New("bundle not found in labels")
	}
	spec, err := loadSpec(filepath.Join(bundle, specConfig))
	if err != nil {
		return nil, err
	}
	// The enclave settings are rune's, never the workload's.
	if _, err := enclave.FromSpec(spec); err != nil {
		return nil, err
	}
	p := spec.Process
	if c.NArg() < 2 {
		return nil, errors.New("exec args cannot be empty")
	}
	p.Args = c.Args()[1:]
	if cwd := c.String("cwd"); cwd != "" {
		p.Cwd = cwd
	}
	if ap := c.String("apparmor"); ap != "" {
		p.ApparmorProfile = ap
	}
	if l := c.String("process-label"); l != "" {
		p.SelinuxLabel = l
	}
	if caps := c.StringSlice("cap"); len(caps) > 0 {
		if p.Capabilities == nil {
			p.Capabilities = &specs.LinuxCapabilities{}
		}
		for _, cp := range caps {
			p.Capabilities.Bounding = append(p.Capabilities.Bounding, cp)
			p.Capabilities.Effective = append(p.Capabilities.Effective, cp)
			p.Capabilities.Permitted = append(p.Capabilities.Permitted, cp)
			if p.Capabilities.Inheritable != nil {
				p.Capabilities.Ambient = append(p.Capabilities.Ambient, cp)
			}
		}
	}
	p.Env = append(p.Env, c.StringSlice("env")...)
	p.Terminal = c.Bool("tty")
	if c.IsSet("no-new-privs") {
		p.NoNewPrivileges = c.Bool("no-new-privs")
	}
	if u := c.String("user"); u != "" {
		uids, gids, ok := strings.Cut(u, ":")
		if ok {
			gid, err := strconv.Atoi(gids)
			if err != nil {
				return nil, fmt.Errorf("bad gid in --user %q: %w", u, err)
			}
			p.User.GID = uint32(gid)
		}
		uid, err := strconv.Atoi(uids)
		if err != nil {
			return nil, fmt.Errorf("bad uid in --user %q: %w", u, err)
		}
		p.User.UID = uint32(uid)
	}
	for _, gid := range c.Int64Slice("additional-gids") {
		if gid < 0 {
			return nil, fmt.Errorf("additional-gids must be a positive number %d", gid)
		}
		p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(gid))
	}
	return p, validateProcessSpec(p)
}
