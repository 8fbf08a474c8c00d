// Package config is inclavared's configuration: its own flags (addresses,
// timeouts, limits), and the TOML configuration file that may give any
// flag a value.
//
// A key of the file is a long flag name with underscores for dashes
// ("allow_simulated" for --allow-simulated); its TOML type is that of the
// flag: a boolean for a switch, an integer for a number, a string for
// everything else (durations as "10s"). The command line wins over the
// file, which wins over the defaults. An unknown key, a key of the wrong
// type or a bad value is an error naming the file and the key: a typo in
// a security setting must not be silently ignored.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/inclavare/inclavare/inclavared/address"
)

// Defaults.
const (
	// DefaultUpstreamTimeout bounds connecting to the workload and the
	// attested handshake with it.
	DefaultUpstreamTimeout = 10 * time.Second
	// DefaultHandshakeTimeout bounds shelter's handshake.
	DefaultHandshakeTimeout = 10 * time.Second
	// DefaultGracePeriod is how long sessions may go on after SIGTERM.
	DefaultGracePeriod = 10 * time.Second
	// DefaultRequestWait is how long inclavared waits for shelter's first
	// bytes before it forwards what the workload sends.
	DefaultRequestWait = time.Second
	// DefaultMaxSessions caps concurrent sessions.
	DefaultMaxSessions = 1024
	// MaxFileSize caps the configuration file.
	MaxFileSize = 1 << 20
)

// Settings are inclavared's own flags; the Rats-TLS ones are in
// internal/cli's Options.
type Settings struct {
	// File is the configuration file (--config), empty for none.
	File string
	// Listen is where shelter connects (--listen).
	Listen string
	// Xfer is the workload's Rats-TLS endpoint (--xfer).
	Xfer string
	// Admin, if not empty, serves /healthz and /metrics (--admin).
	Admin string
	// UpstreamTimeout bounds connecting to the workload and the attested
	// handshake with it (--upstream-timeout).
	UpstreamTimeout time.Duration
	// HandshakeTimeout bounds shelter's handshake (--handshake-timeout).
	HandshakeTimeout time.Duration
	// GracePeriod is how long open sessions may go on after SIGTERM
	// before they are closed (--grace-period).
	GracePeriod time.Duration
	// RequestWait is how long inclavared waits for shelter's first bytes
	// (to see whether they are a GETENCLAVEINFO request) before it
	// forwards what the workload sends first (--request-wait).
	RequestWait time.Duration
	// MaxSessions caps concurrent sessions; connections beyond it are
	// closed at once (--max-sessions).
	MaxSessions int
}

// Register defines inclavared's own flags on fs.
func Register(fs *flag.FlagSet) *Settings {
	s := &Settings{}
	fs.StringVar(&s.File, "config", "", "TOML configuration `file` whose keys are the long flag names with _ for - (the command line wins)")
	fs.StringVar(&s.Listen, "listen", "", "where shelter connects: tcp://HOST:PORT or unix://PATH (required)")
	fs.StringVar(&s.Xfer, "xfer", "", "the workload's Rats-TLS endpoint: tcp://HOST:PORT or unix://PATH (required)")
	fs.StringVar(&s.Admin, "admin", "", "serve /healthz and /metrics on this `address` (tcp://HOST:PORT or unix://PATH; default: none)")
	fs.DurationVar(&s.UpstreamTimeout, "upstream-timeout", DefaultUpstreamTimeout, "bound on connecting to the workload and attesting it")
	fs.DurationVar(&s.HandshakeTimeout, "handshake-timeout", DefaultHandshakeTimeout, "bound on shelter's handshake")
	fs.DurationVar(&s.GracePeriod, "grace-period", DefaultGracePeriod, "how long open sessions may go on after SIGTERM")
	fs.DurationVar(&s.RequestWait, "request-wait", DefaultRequestWait, "how long to wait for shelter's first bytes before forwarding the workload's")
	fs.IntVar(&s.MaxSessions, "max-sessions", DefaultMaxSessions, "most concurrent sessions")
	return s
}

// Addresses are the parsed addresses of Settings.
type Addresses struct {
	// Listen, Xfer are always set; Admin only if configured.
	Listen, Xfer address.Address
	// Admin is nil without an admin address.
	Admin *address.Address
}

// Check validates the settings and parses the addresses.
func (s *Settings) Check() (Addresses, error) {
	var a Addresses
	var err error
	if s.Listen == "" {
		return a, errors.New("--listen is required (tcp://HOST:PORT or unix://PATH), on the command line or as listen in the configuration file")
	}
	if s.Xfer == "" {
		return a, errors.New("--xfer is required (the workload's tcp://HOST:PORT or unix://PATH), on the command line or as xfer in the configuration file")
	}
	if a.Listen, err = address.Parse(s.Listen); err != nil {
		return a, fmt.Errorf("--listen: %w", err)
	}
	if a.Xfer, err = address.Parse(s.Xfer); err != nil {
		return a, fmt.Errorf("--xfer: %w", err)
	}
	if a.Xfer.Network == address.TCP && strings.HasSuffix(a.Xfer.Addr, ":0") {
		return a, fmt.Errorf("--xfer %s: port 0 cannot be connected to", s.Xfer)
	}
	if s.Admin != "" {
		ad, err := address.Parse(s.Admin)
		if err != nil {
			return a, fmt.Errorf("--admin: %w", err)
		}
		a.Admin = &ad
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"upstream-timeout", s.UpstreamTimeout},
		{"handshake-timeout", s.HandshakeTimeout},
		{"request-wait", s.RequestWait},
	} {
		if d.v <= 0 {
			return a, fmt.Errorf("--%s %s: want a positive duration", d.name, d.v)
		}
	}
	if s.GracePeriod < 0 {
		return a, fmt.Errorf("--grace-period %s: want zero or a positive duration", s.GracePeriod)
	}
	if s.MaxSessions < 1 {
		return a, fmt.Errorf("--max-sessions %d: want at least 1", s.MaxSessions)
	}
	return a, nil
}

// notInFile are flags a configuration file may not set: the file itself,
// and one-shot actions.
var notInFile = map[string]bool{"config": true, "list-instances": true, "json": true}

// Keys returns the keys a configuration file may use with fs's flags.
func Keys(fs *flag.FlagSet) []string {
	var keys []string
	fs.VisitAll(func(f *flag.Flag) {
		if len(f.Name) > 1 && !notInFile[f.Name] {
			keys = append(keys, strings.ReplaceAll(f.Name, "-", "_"))
		}
	})
	slices.Sort(keys)
	return keys
}

// ApplyFile reads the TOML file at path and gives its values to the flags
// of fs that the command line did not set. Call it after fs.Parse.
func ApplyFile(fs *flag.FlagSet, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("configuration file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return fmt.Errorf("configuration file %s: %w", path, err)
	}
	if len(b) > MaxFileSize {
		return fmt.Errorf("configuration file %s: larger than %d bytes", path, MaxFileSize)
	}
	return Apply(fs, path, b)
}

// Apply is ApplyFile on the contents data of the file name.
func Apply(fs *flag.FlagSet, name string, data []byte) error {
	var values map[string]any
	if _, err := toml.Decode(string(data), &values); err != nil {
		return fmt.Errorf("configuration file %s: %w", name, err)
	}
	// A flag counts as set when it, or an alias for the same variable
	// (-l for --log-level), was given on the command line.
	set := map[any]bool{}
	fs.Visit(func(f *flag.Flag) { set[valueKey(f)] = true })
	allowed := Keys(fs)
	for _, key := range slices.Sorted(maps.Keys(values)) {
		flagName := strings.ReplaceAll(key, "_", "-")
		f := fs.Lookup(flagName)
		if f == nil || !slices.Contains(allowed, key) || strings.Contains(key, "-") {
			return fmt.Errorf("configuration file %s: unknown key %q (known keys: %s)", name, key, strings.Join(allowed, ", "))
		}
		s, err := flagString(f, values[key])
		if err != nil {
			return fmt.Errorf("configuration file %s: key %s: %w", name, key, err)
		}
		if set[valueKey(f)] {
			continue // the command line wins
		}
		if err := fs.Set(flagName, s); err != nil {
			return fmt.Errorf("configuration file %s: key %s: bad value %q: %w", name, key, s, err)
		}
	}
	return nil
}

// valueKey identifies the variable behind a flag: aliases registered on
// the same variable share it.
func valueKey(f *flag.Flag) any {
	if v := reflect.ValueOf(f.Value); v.Kind() == reflect.Pointer {
		return v.Pointer()
	}
	return f.Name
}

// flagString checks that v has the TOML type of flag f, and gives it as
// f's command-line text.
func flagString(f *flag.Flag, v any) (string, error) {
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		x, ok := v.(bool)
		if !ok {
			return "", fmt.Errorf("want true or false, got %s", tomlType(v))
		}
		return strconv.FormatBool(x), nil
	}
	var cur any
	if g, ok := f.Value.(flag.Getter); ok {
		cur = g.Get()
	}
	switch cur.(type) {
	case int, int64, uint, uint64:
		x, ok := v.(int64)
		if !ok {
			return "", fmt.Errorf("want an integer, got %s", tomlType(v))
		}
		return strconv.FormatInt(x, 10), nil
	default:
		x, ok := v.(string)
		if !ok {
			return "", fmt.Errorf("want a string, got %s", tomlType(v))
		}
		return x, nil
	}
}

// tomlType names the TOML type of a decoded value.
func tomlType(v any) string {
	switch v.(type) {
	case bool:
		return "a boolean"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case string:
		return "a string"
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	default:
		return fmt.Sprintf("a %T", v)
	}
}
