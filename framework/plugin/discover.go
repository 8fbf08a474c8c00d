package plugin

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/registry"
)

// DefaultDir is where plugins are looked for when neither a flag nor
// EnvDir says otherwise.
const DefaultDir = "/usr/local/lib/rats-tls/plugins"

// EnvDir is the environment variable that names the plugin directory.
const EnvDir = "RATS_TLS_PLUGIN_DIR"

// FilePrefix starts every plugin file name: rats-tls-<kind>-<name>, where
// kind is attester, verifier, tls or crypto.
const FilePrefix = "rats-tls-"

// DefaultCallTimeout bounds a plugin call whose context has no deadline,
// unless Config.CallTimeout says otherwise.
var DefaultCallTimeout = 10 * time.Second

// DefaultStartTimeout bounds starting a plugin process up to its go-plugin
// handshake, unless Config.StartTimeout says otherwise.
var DefaultStartTimeout = 10 * time.Second

// Dir returns the plugin directory: flagValue if set, else the value of
// EnvDir, else DefaultDir.
func Dir(flagValue string) string {
	if flagValue != "" {
		return flagValue
	}
	if d := os.Getenv(EnvDir); d != "" {
		return d
	}
	return DefaultDir
}

// Config says how plugins are run. The zero value uses the defaults.
type Config struct {
	// CallTimeout bounds each call whose context has no deadline
	// (DefaultCallTimeout when zero). A call that runs out of time kills the
	// plugin process; the next call starts a fresh one.
	CallTimeout time.Duration
	// StartTimeout bounds starting a plugin process up to its handshake
	// (DefaultStartTimeout when zero).
	StartTimeout time.Duration
	// Logger receives the framework's messages about plugins and the lines
	// plugins log (slog.Default() when nil).
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.CallTimeout <= 0 {
		c.CallTimeout = DefaultCallTimeout
	}
	if c.StartTimeout <= 0 {
		c.StartTimeout = DefaultStartTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

// Discover returns a registration for every plugin binary in dir, with the
// default Config and log as logger. See Config.Discover.
func Discover(ctx context.Context, dir string, log *slog.Logger) ([]*registry.Registration, error) {
	return Config{Logger: log}.Discover(ctx, dir)
}

// Discover returns a registration for every plugin binary in dir: regular
// files named rats-tls-<kind>-<name>, sorted by name. A missing dir has no
// plugins; other files, and names whose kind is unknown, are skipped.
// Nothing is started: each registration starts its plugin when it is first
// described, probed or created (see Config.Load).
func (c Config) Discover(ctx context.Context, dir string) ([]*registry.Registration, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c = c.withDefaults()
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("plugin directory %s: %w", dir, err)
	}
	entries, err := os.ReadDir(abs)
	if errors.Is(err, fs.ErrNotExist) {
		c.Logger.Debug("no plugin directory", "dir", abs)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading plugin directory: %w", err)
	}
	var regs []*registry.Registration
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, FilePrefix) || name == ManifestName {
			continue
		}
		if _, _, ok := parseFileName(name); !ok {
			c.Logger.Debug("ignoring file with an unknown plugin kind", "dir", abs, "file", name)
			continue
		}
		path := filepath.Join(abs, name)
		fi, err := os.Stat(path)
		if err != nil || !fi.Mode().IsRegular() {
			c.Logger.Debug("ignoring plugin name that is not a regular file", "path", path)
			continue
		}
		if fi.Mode().Perm()&0o111 == 0 {
			c.Logger.Warn("ignoring plugin file that is not executable", "path", path)
			continue
		}
		r, err := c.Load(path)
		if err != nil {
			return nil, err
		}
		regs = append(regs, r)
	}
	return regs, nil
}

// Load returns the registration of the plugin binary at path, whose file
// name says its kind and name (rats-tls-<kind>-<name>). Source is the
// absolute path. Describe starts the plugin, asks its Describe and Probe,
// caches both answers and stops it; Probe returns the cached answer (wrapping
// instance.ErrUnavailable when the plugin is unusable here); New starts a
// process that serves one instance and returns a proxy for it that
// implements the kind's interface from framework/instance.
func (c Config) Load(path string) (*registry.Registration, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w", path, err)
	}
	kind, name, ok := parseFileName(filepath.Base(abs))
	if !ok {
		return nil, fmt.Errorf("plugin %s: the file name is not %s<attester|verifier|tls|crypto>-<name>", abs, FilePrefix)
	}
	f := &file{path: abs, kind: kind, name: name, cfg: c.withDefaults()}
	f.log = f.cfg.Logger.With("plugin", abs)
	return &registry.Registration{
		Descriptor: instance.Descriptor{Kind: kind, Name: name},
		Source:     abs,
		Describe:   f.describe,
		Probe:      f.probe,
		New:        f.new,
	}, nil
}

// parseFileName splits rats-tls-<kind>-<name>.
func parseFileName(base string) (instance.Kind, string, bool) {
	rest, ok := strings.CutPrefix(base, FilePrefix)
	if !ok {
		return "", "", false
	}
	k, name, ok := strings.Cut(rest, "-")
	if !ok || name == "" {
		return "", "", false
	}
	kind, err := instance.ParseKind(k)
	if err != nil {
		return "", "", false
	}
	return kind, name, true
}

// file is one plugin binary: what its registration knows about it.
type file struct {
	path string
	kind instance.Kind
	name string
	cfg  Config
	log  *slog.Logger

	mu        sync.Mutex
	described bool
	desc      instance.Descriptor
	probeErr  error
}

// describe starts the plugin to ask Describe and Probe, and caches both
// answers. A failure is not cached: the next use tries again (a registry
// caches its own first answer).
func (f *file) describe(ctx context.Context) (instance.Descriptor, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.described {
		return f.desc, nil
	}
	d, probeErr, err := f.ask(ctx)
	if err != nil {
		return d, err
	}
	f.described = true
	f.desc, f.probeErr = d, probeErr
	return d, nil
}

func (f *file) probe(ctx context.Context) error {
	if _, err := f.describe(ctx); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.probeErr
}
