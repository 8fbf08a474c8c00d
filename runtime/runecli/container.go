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
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/specconv"
	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli"
	"golang.org/x/sys/unix"
)

var errEmptyID = errors.New("container id cannot be empty")

// getContainer loads the container named by the first argument from --root.
func getContainer(c *cli.Context) (*libcontainer.Container, error) {
	id := c.Args().First()
	if id == "" {
		return nil, errEmptyID
	}
	ct, err := libcontainer.Load(c.GlobalString("root"), id)
	if err != nil {
		return nil, fmt.Errorf("loading container %q from %s: %w", id, c.GlobalString("root"), err)
	}
	return ct, nil
}

// loadSpec reads and checks the OCI configuration at path.
func loadSpec(path string) (*specs.Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("JSON specification file %s not found: run rune in a bundle directory or give --bundle", path)
		}
		return nil, fmt.Errorf("reading the bundle's configuration: %w", err)
	}
	var spec *specs.Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	if spec == nil {
		return nil, fmt.Errorf("%s: config cannot be null", path)
	}
	return spec, validateProcessSpec(spec.Process)
}

// validateProcessSpec checks what libcontainer needs of a process.
func validateProcessSpec(p *specs.Process) error {
	switch {
	case p == nil:
		return errors.New("process property must not be empty")
	case p.Cwd == "":
		return errors.New("Cwd property must not be empty")
	case !filepath.IsAbs(p.Cwd):
		return errors.New("Cwd must be an absolute path")
	case len(p.Args) == 0:
		return errors.New("args must not be empty")
	}
	return nil
}

var rlimits = map[string]int{
	"RLIMIT_CPU":        unix.RLIMIT_CPU,
	"RLIMIT_FSIZE":      unix.RLIMIT_FSIZE,
	"RLIMIT_DATA":       unix.RLIMIT_DATA,
	"RLIMIT_STACK":      unix.RLIMIT_STACK,
	"RLIMIT_CORE":       unix.RLIMIT_CORE,
	"RLIMIT_RSS":        unix.RLIMIT_RSS,
	"RLIMIT_NPROC":      unix.RLIMIT_NPROC,
	"RLIMIT_NOFILE":     unix.RLIMIT_NOFILE,
	"RLIMIT_MEMLOCK":    unix.RLIMIT_MEMLOCK,
	"RLIMIT_AS":         unix.RLIMIT_AS,
	"RLIMIT_LOCKS":      unix.RLIMIT_LOCKS,
	"RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_MSGQUEUE":   unix.RLIMIT_MSGQUEUE,
	"RLIMIT_NICE":       unix.RLIMIT_NICE,
	"RLIMIT_RTPRIO":     unix.RLIMIT_RTPRIO,
	"RLIMIT_RTTIME":     unix.RLIMIT_RTTIME,
}

// newProcess converts an OCI process to a libcontainer one.
func newProcess(p *specs.Process) (*libcontainer.Process, error) {
	nnp := p.NoNewPrivileges
	lp := &libcontainer.Process{
		Args:            p.Args,
		Env:             p.Env,
		UID:             int(p.User.UID),
		GID:             int(p.User.GID),
		Cwd:             p.Cwd,
		Label:           p.SelinuxLabel,
		NoNewPrivileges: &nnp,
		AppArmorProfile: p.ApparmorProfile,
		Scheduler:       p.Scheduler,
		IOPriority:      p.IOPriority,
	}
	if p.ConsoleSize != nil {
		lp.ConsoleWidth = uint16(p.ConsoleSize.Width)
		lp.ConsoleHeight = uint16(p.ConsoleSize.Height)
	}
	if caps := p.Capabilities; caps != nil {
		lp.Capabilities = &configs.Capabilities{
			Bounding:    caps.Bounding,
			Effective:   caps.Effective,
			Inheritable: caps.Inheritable,
			Permitted:   caps.Permitted,
			Ambient:     caps.Ambient,
		}
	}
	for _, g := range p.User.AdditionalGids {
		lp.AdditionalGroups = append(lp.AdditionalGroups, int(g))
	}
	for _, rl := range p.Rlimits {
		t, ok := rlimits[rl.Type]
		if !ok {
			return nil, fmt.Errorf("unknown rlimit %q in the process configuration", rl.Type)
		}
		lp.Rlimits = append(lp.Rlimits, configs.Rlimit{Type: t, Hard: rl.Hard, Soft: rl.Soft})
	}
	aff, err := configs.ConvertCPUAffinity(p.ExecCPUAffinity)
	if err != nil {
		return nil, fmt.Errorf("converting execCPUAffinity: %w", err)
	}
	lp.CPUAffinity = aff
	return lp, nil
}

// createContainer converts spec and creates the container's state in --root.
func createContainer(c *cli.Context, id string, spec *specs.Spec) (*libcontainer.Container, error) {
	rootlessCg := os.Geteuid() != 0
	switch v := strings.ToLower(c.GlobalString("rootless")); v {
	case "", "auto":
	default:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return nil, fmt.Errorf("invalid --rootless %q: use true, false or auto", v)
		}
		rootlessCg = b
	}
	config, err := specconv.CreateLibcontainerConfig(&specconv.CreateOpts{
		CgroupName:      id,
		NoPivotRoot:     c.Bool("no-pivot"),
		NoNewKeyring:    c.Bool("no-new-keyring"),
		Spec:            spec,
		RootlessEUID:    os.Geteuid() != 0,
		RootlessCgroups: rootlessCg,
	})
	if err != nil {
		return nil, fmt.Errorf("converting the OCI configuration: %w", err)
	}
	ct, err := libcontainer.Create(c.GlobalString("root"), id, config)
	if err != nil {
		return nil, fmt.Errorf("creating container %q: %w", id, err)
	}
	return ct, nil
}
