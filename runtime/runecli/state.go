package runecli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/utils"
	"github.com/urfave/cli"
)

// containerState is the JSON of `rune state` and `rune list`, field for
// field what runc prints.
type containerState struct {
	// Version is the OCI version of the container's configuration.
	Version string `json:"ociVersion"`
	// ID is the container ID.
	ID string `json:"id"`
	// InitProcessPid is the init's pid in the host's PID namespace (0 once stopped).
	InitProcessPid int `json:"pid"`
	// Status is created, running, paused or stopped.
	Status string `json:"status"`
	// Bundle is the bundle directory.
	Bundle string `json:"bundle"`
	// Rootfs is the root filesystem directory.
	Rootfs string `json:"rootfs"`
	// Created is when the container was created, in UTC.
	Created time.Time `json:"created"`
	// Annotations are the configuration's annotations.
	Annotations map[string]string `json:"annotations,omitempty"`
	// Owner is the owner of the state directory (only in `list`).
	Owner string `json:"owner"`
}

func loadState(ct *libcontainer.Container) (*containerState, error) {
	status, err := ct.Status()
	if err != nil {
		return nil, fmt.Errorf("reading the status of %s: %w", ct.ID(), err)
	}
	st, err := ct.State()
	if err != nil {
		return nil, fmt.Errorf("reading the state of %s: %w", ct.ID(), err)
	}
	pid := st.BaseState.InitProcessPid
	if status == libcontainer.Stopped {
		pid = 0
	}
	bundle, annotations := utils.Annotations(st.Config.Labels)
	return &containerState{
		Version:        st.BaseState.Config.Version,
		ID:             st.BaseState.ID,
		InitProcessPid: pid,
		Status:         status.String(),
		Bundle:         bundle,
		Rootfs:         st.BaseState.Config.Rootfs,
		Created:        st.BaseState.Created,
		Annotations:    annotations,
	}, nil
}

var stateCommand = cli.Command{
	Name:      "state",
	Usage:     "output the state of a container",
	ArgsUsage: `<container-id>`,
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, exactArgs); err != nil {
			return err
		}
		ct, err := getContainer(c)
		if err != nil {
			return err
		}
		cs, err := loadState(ct)
		if err != nil {
			return err
		}
		// Owner stays empty, as in runc's state.
		data, err := json.MarshalIndent(cs, "", "  ")
		if err != nil {
			return fmt.Errorf("encoding the state: %w", err)
		}
		_, err = os.Stdout.Write(data)
		return err
	},
}

var listCommand = cli.Command{
	Name:  "list",
	Usage: "lists containers started by rune with the given root",
	Flags: []cli.Flag{
		cli.StringFlag{Name: "format, f", Value: "table", Usage: "select one of: table or json"},
		cli.BoolFlag{Name: "quiet, q", Usage: "display only container IDs"},
	},
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 0, exactArgs); err != nil {
			return err
		}
		list, err := listContainers(c)
		if err != nil {
			return err
		}
		if c.Bool("quiet") {
			for _, s := range list {
				fmt.Println(s.ID)
			}
			return nil
		}
		switch c.String("format") {
		case "table":
			w := tabwriter.NewWriter(os.Stdout, 12, 1, 3, ' ', 0)
			fmt.Fprint(w, "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n")
			for _, s := range list {
				fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\n", s.ID, s.InitProcessPid, s.Status, s.Bundle, s.Created.Format(time.RFC3339Nano), s.Owner)
			}
			return w.Flush()
		case "json":
			return json.NewEncoder(os.Stdout).Encode(list)
		default:
			return errors.New("invalid format option: use table or json")
		}
	},
}

func listContainers(c *cli.Context) ([]containerState, error) {
	root := c.GlobalString("root")
	entries, err := os.ReadDir(root)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && !c.GlobalIsSet("root") {
			return nil, nil
		}
		return nil, fmt.Errorf("listing %s: %w", root, err)
	}
	var list []containerState
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") { // rune's own files
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // deleted meanwhile
		}
		owner := "#" + strconv.Itoa(int(info.Sys().(*syscall.Stat_t).Uid))
		if u, err := user.LookupId(owner[1:]); err == nil {
			owner = u.Username
		}
		ct, err := libcontainer.Load(root, e.Name())
		if err != nil {
			fmt.Fprintf(os.Stderr, "load container %s: %v\n", e.Name(), err)
			continue
		}
		cs, err := loadState(ct)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			continue
		}
		cs.Owner = owner
		list = append(list, *cs)
	}
	return list, nil
}

var psCommand = cli.Command{
	Name:      "ps",
	Usage:     "ps displays the processes running inside a container",
	ArgsUsage: `<container-id> [ps options]`,
	Flags: []cli.Flag{
		cli.StringFlag{Name: "format, f", Value: "table", Usage: "select one of: table or json"},
	},
	SkipArgReorder: true,
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, minArgs); err != nil {
			return err
		}
		ct, err := getContainer(c)
		if err != nil {
			return err
		}
		pids, err := ct.Processes()
		if err != nil {
			return fmt.Errorf("listing the processes of %s: %w", ct.ID(), err)
		}
		switch c.String("format") {
		case "table":
		case "json":
			return json.NewEncoder(os.Stdout).Encode(pids)
		default:
			return errors.New("invalid format option: use table or json")
		}
		psArgs := c.Args()[1:]
		if len(psArgs) == 0 {
			psArgs = []string{"-ef"}
		}
		out, err := exec.Command("ps", psArgs...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("running ps %s: %w: %s", joinArgs(psArgs), err, out)
		}
		lines := strings.Split(string(out), "\n")
		pidIndex := slices.Index(strings.Fields(lines[0]), "PID")
		if pidIndex < 0 {
			return errors.New("couldn't find PID field in ps output: give ps options that print it")
		}
		fmt.Println(lines[0])
		for _, line := range lines[1:] {
			fields := strings.Fields(line)
			if len(fields) <= pidIndex {
				continue
			}
			p, err := strconv.Atoi(fields[pidIndex])
			if err != nil {
				return fmt.Errorf("unable to parse pid %q in ps output: %w", fields[pidIndex], err)
			}
			if slices.Contains(pids, p) {
				fmt.Println(line)
			}
		}
		return nil
	},
}
