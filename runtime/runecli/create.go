package runecli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli"
	"golang.org/x/sys/unix"

	"github.com/inclavare/inclavare/runtime/enclave"
)

var bundleFlag = cli.StringFlag{Name: "bundle, b", Usage: "path to the root of the bundle directory, defaults to the current directory"}

var createFlags = []cli.Flag{
	bundleFlag,
	cli.StringFlag{Name: "console-socket", Usage: "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal"},
	cli.StringFlag{Name: "pidfd-socket", Usage: "path to an AF_UNIX socket which will receive a file descriptor referencing the init process"},
	cli.StringFlag{Name: "pid-file", Usage: "specify the file to write the process id to"},
	cli.BoolFlag{Name: "no-pivot", Usage: "do not use pivot root to jail process inside rootfs.  This should be used whenever the rootfs is on top of a ramdisk"},
	cli.BoolFlag{Name: "no-new-keyring", Usage: "do not create a new session keyring for the container.  This will cause the container to inherit the calling processes session key"},
	cli.IntFlag{Name: "preserve-fds", Usage: "Pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)"},
}

var createCommand = cli.Command{
	Name:  "create",
	Usage: "create a container",
	ArgsUsage: `<container-id>

Where "<container-id>" is your name for the instance of the container that you
are starting. The name you provide for the container instance must be unique on
your host.`,
	Description: `The create command creates an instance of a container for a bundle. The bundle
is a directory with a specification file named "config.json" and a root
filesystem. When the configuration asks for an enclave (annotation
enclave.type, or ENCLAVE_TYPE in the process environment), the enclave
configuration is checked first and the workload is started inside the
enclave runtime.`,
	Flags: createFlags,
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, exactArgs); err != nil {
			return err
		}
		if _, err := startContainer(c, actCreate); err != nil {
			return fmt.Errorf("rune create failed: %w", err)
		}
		return nil
	},
}

var runCommand = cli.Command{
	Name:  "run",
	Usage: "create and run a container",
	ArgsUsage: `<container-id>

Where "<container-id>" is your name for the instance of the container that you
are starting. The name you provide for the container instance must be unique on
your host.`,
	Description: `The run command creates an instance of a container for a bundle and runs it;
rune exits with the container process's exit status.`,
	Flags: append(append([]cli.Flag(nil), createFlags...),
		cli.BoolFlag{Name: "detach, d", Usage: "detach from the container's process"},
		cli.BoolFlag{Name: "keep", Usage: "do not delete the container after it exits"},
		cli.BoolFlag{Name: "no-subreaper", Usage: "disable the use of the subreaper used to reap reparented processes"},
	),
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, exactArgs); err != nil {
			return err
		}
		status, err := startContainer(c, actRun)
		if err != nil {
			return fmt.Errorf("rune run failed: %w", err)
		}
		return exitStatus(status)
	},
}

// tools finds the enclave launchers: next to the rune binary, unless
// RUNE_RUNELET / RUNE_RUNELET_WASM name them.
func tools() (runelet, runeletWasm string) {
	dir := ""
	if exe, err := os.Executable(); err == nil {
		dir = filepath.Dir(exe)
	}
	find := func(env, name string) string {
		if p := os.Getenv(env); p != "" {
			return p
		}
		if dir == "" {
			return ""
		}
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err != nil {
			return ""
		}
		return p
	}
	return find("RUNE_RUNELET", "runelet"), find("RUNE_RUNELET_WASM", "runelet-wasm")
}

// startContainer loads the bundle, applies the enclave configuration if
// any, creates the container and starts its init (to wait for `start`, or
// to run).
func startContainer(c *cli.Context, act action) (int, error) {
	if p := c.String("pid-file"); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			return -1, fmt.Errorf("resolving --pid-file: %w", err)
		}
		if err := c.Set("pid-file", abs); err != nil {
			return -1, fmt.Errorf("setting --pid-file: %w", err)
		}
	}
	if bundle := c.String("bundle"); bundle != "" {
		if err := os.Chdir(bundle); err != nil {
			return -1, fmt.Errorf("entering the bundle: %w", err)
		}
	}
	spec, err := loadSpec(specConfig)
	if err != nil {
		return -1, err
	}
	id := c.Args().First()
	if id == "" {
		return -1, errEmptyID
	}
	if strings.HasPrefix(id, ".") {
		// rune keeps its own files in --root under names starting with a dot.
		return -1, fmt.Errorf("creating container %q: a container id may not start with a dot", id)
	}
	root := c.GlobalString("root")
	if _, err := libcontainer.Load(root, id); err == nil {
		return -1, fmt.Errorf("creating container %q: %w", id, libcontainer.ErrExist)
	}

	ecfg, err := enclave.FromSpec(spec)
	if err != nil {
		return -1, err
	}
	var runDir string
	if ecfg != nil {
		runDir = filepath.Join(root, id, enclave.RunDirName)
		// The wasm cache comes after the preserved descriptors.
		cacheFD := 3 + c.Int("preserve-fds")
		if err := prepareEnclave(context.Background(), ecfg, spec, runDir, cacheFD); err != nil {
			return -1, err
		}
	}
	ct, err := createContainer(c, id, spec)
	if err != nil {
		return -1, err
	}
	var extra []*os.File
	if ecfg != nil {
		if err := makeRunDir(ct, runDir, ecfg.CacheDir(), spec.Process.User); err != nil {
			_ = ct.Destroy()
			return -1, err
		}
		if dir := ecfg.CacheDir(); dir != "" {
			f, err := os.OpenFile(dir, os.O_RDONLY|unix.O_DIRECTORY, 0)
			if err != nil {
				_ = ct.Destroy()
				return -1, fmt.Errorf("opening the wasm cache directory: %w", err)
			}
			defer f.Close() // the init has its own copy once started
			extra = append(extra, f)
		}
		if err := enclave.WriteState(filepath.Join(root, id), &enclave.State{Type: ecfg.Type, RunDir: runDir}); err != nil {
			_ = ct.Destroy()
			return -1, err
		}
	}
	r := &runner{
		container:     ct,
		action:        act,
		init:          true,
		subreaper:     !c.Bool("no-subreaper"),
		destroyOnExit: !c.Bool("keep"),
		detach:        c.Bool("detach"),
		pidFile:       c.String("pid-file"),
		consoleSocket: c.String("console-socket"),
		pidfdSocket:   c.String("pidfd-socket"),
		preserveFDs:   c.Int("preserve-fds"),
		extraFiles:    extra,
	}
	return r.run(spec.Process)
}

// prepareEnclave validates the enclave configuration and rewrites spec.
func prepareEnclave(ctx context.Context, cfg *enclave.Config, spec *specs.Spec, runDir string, cacheFD int) error {
	runelet, wasm := tools()
	host := enclave.Host{Runelet: runelet, RuneletWasm: wasm, CacheDir: os.Getenv("RUNE_WASM_CACHE"), CacheFD: cacheFD,
		// runDir is <root>/<id>/enclave-run: the cache is <root>/.probe-cache.
		ProbeCacheDir: enclave.ProbeCacheDir(filepath.Dir(filepath.Dir(runDir)))}
	for _, d := range filepath.SplitList(os.Getenv("RUNE_PAL_DIRS")) {
		if d != "" {
			host.PALDirs = append(host.PALDirs, d)
		}
	}
	slog.Debug("enclave configuration", "type", cfg.Type, "pal", cfg.RuntimePath, "loglevel", cfg.LogLevel, "libs", cfg.Libs, "runelet", runelet, "runelet-wasm", wasm)
	if err := cfg.Validate(ctx, host); err != nil {
		return fmt.Errorf("enclave configuration: %w", err)
	}
	if spec.Root == nil {
		return errors.New("the configuration has no root filesystem")
	}
	rootfs := spec.Root.Path
	if !filepath.IsAbs(rootfs) {
		wd, err := os.Getwd()
		if err != nil {
			return fmt.Errorf("finding the bundle directory: %w", err)
		}
		rootfs = filepath.Join(wd, rootfs)
	}
	if err := cfg.Rewrite(spec, host, runDir, rootfs); err != nil {
		return fmt.Errorf("enclave configuration: %w", err)
	}
	// Not the arguments: enclave.runtime.args may hold secrets.
	slog.Debug("enclave launch", "launcher", spec.Process.Args[0], "mounts", len(spec.Mounts))
	return nil
}

// makeRunDir creates the enclave run directory, owned by the container
// process's user as the host sees it, for the runelet to serve its socket;
// the wasm cache directory, if any, is given to that user too.
func makeRunDir(ct *libcontainer.Container, dir, cache string, user specs.User) error {
	config := ct.Config()
	uid, err := config.HostUID(int(user.UID))
	if err != nil {
		return fmt.Errorf("mapping the container user %d to the host: %w", user.UID, err)
	}
	gid, err := config.HostGID(int(user.GID))
	if err != nil {
		return fmt.Errorf("mapping the container group %d to the host: %w", user.GID, err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		return fmt.Errorf("creating the enclave run directory: %w", err)
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		return fmt.Errorf("giving the enclave run directory to the container user: %w", err)
	}
	if cache != "" {
		if err := os.Chown(cache, uid, gid); err != nil {
			return fmt.Errorf("giving the wasm cache directory to the container user: %w", err)
		}
	}
	return nil
}
