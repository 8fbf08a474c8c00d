// Package cli holds what every Rats-TLS command shares (the samples,
// inclavared, shelter): the C samples' flags, logging, the instance
// catalogue (built-ins and subprocess plugins), the ratstls.Config they
// make, and the --list-instances listing.
package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/inclavare/inclavare/appraisal/policy"
	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/plugin"
	"github.com/inclavare/inclavare/framework/ratstls"
	"github.com/inclavare/inclavare/framework/registry"
)

// Options are the flags both samples take.
type Options struct {
	Attester, Verifier, TLS, Crypto string
	Mutual, Endorsements            bool
	LogLevel                        string
	IP                              string
	Port                            int
	DebugEnclave                    bool
	AllowSimulated                  bool
	Freshness, RequireFreshness     string
	Policy                          string
	PluginDir                       string
	NoBuiltin                       bool
	ListInstances                   bool
	JSON                            bool
	KeyAlgorithm                    string
}

// Register defines the flags on fs, each under its C short name and its
// long name (Go's flag package accepts one or two dashes for either).
func Register(fs *flag.FlagSet) *Options {
	o := RegisterRatsTLS(fs)
	fs.StringVar(&o.IP, "i", "127.0.0.1", "IP `address`")
	fs.StringVar(&o.IP, "ip", "127.0.0.1", "IP `address`")
	fs.IntVar(&o.Port, "p", 1234, "TCP `port`")
	fs.IntVar(&o.Port, "port", 1234, "TCP `port`")
	return o
}

// RegisterRatsTLS defines the flags of Register but the address ones (-i,
// -p), for commands that take their addresses in another form, such as
// inclavared.
func RegisterRatsTLS(fs *flag.FlagSet) *Options {
	o := &Options{}
	str := func(p *string, short, long, def, usage string) {
		fs.StringVar(p, short, def, usage)
		fs.StringVar(p, long, def, usage)
	}
	boolean := func(p *bool, short, long, usage string) {
		fs.BoolVar(p, short, false, usage)
		fs.BoolVar(p, long, false, usage)
	}
	str(&o.Attester, "a", "attester", "", "attester `name` (default: the best one usable here)")
	str(&o.Verifier, "v", "verifier", "", "verifier `name` (default: chosen by the peer's evidence type; name nullverifier to accept unattested peers)")
	str(&o.TLS, "t", "tls", "", "TLS wrapper `name` (default: gotls)")
	str(&o.Crypto, "c", "crypto", "", "crypto wrapper `name` (default: gocrypto)")
	boolean(&o.Mutual, "m", "mutual", "mutual attestation")
	boolean(&o.Endorsements, "e", "endorsements", "embed endorsements in the certificate")
	str(&o.LogLevel, "l", "log-level", "info", "log `level`: debug, info, warn, error, fatal or off")
	boolean(&o.DebugEnclave, "D", "debug-enclave", "run a debug enclave, and accept a debug TEE")
	fs.StringVar(&o.Freshness, "freshness", "auto", "freshness `mode`: auto (the strongest both peers allow), none, nonce or exporter")
	fs.StringVar(&o.RequireFreshness, "require-freshness", "none", "the weakest `mode` auto accepts: none (C Rats-TLS peers), nonce or exporter")
	fs.StringVar(&o.Policy, "policy", "", "appraisal policy `file` (YAML, see docs/policy.md): the peer is accepted only if the verdict is affirming or warning")
	fs.BoolVar(&o.AllowSimulated, "allow-simulated", false, "trust simulated TEEs (no hardware; never in production)")
	fs.StringVar(&o.PluginDir, "plugin-dir", "", "subprocess plugin `directory` (default: $RATS_TLS_PLUGIN_DIR, else /usr/local/lib/rats-tls/plugins)")
	fs.BoolVar(&o.NoBuiltin, "no-builtin", false, "use only subprocess plugins")
	fs.BoolVar(&o.ListInstances, "list-instances", false, "list every instance, usable here or why not, and exit")
	fs.BoolVar(&o.JSON, "json", false, "print machine-readable JSON")
	fs.StringVar(&o.KeyAlgorithm, "key-algorithm", "", "certificate key: ecdsa-p256 (default), ecdsa-p384, rsa-3072 or ed25519")
	return o
}

// Logger returns a logger on stderr at the configured level.
func (o *Options) Logger() (*slog.Logger, error) {
	var level slog.Level
	switch strings.ToLower(o.LogLevel) {
	case "debug":
		level = slog.LevelDebug
	case "info", "":
		level = slog.LevelInfo
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	case "fatal":
		level = slog.LevelError + 4
	case "off":
		return slog.New(slog.DiscardHandler), nil
	default:
		return nil, fmt.Errorf("log level %q: want debug, info, warn, error, fatal or off", o.LogLevel)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})), nil
}

// Catalog joins the built-ins (unless --no-builtin) and the plugins found
// in the plugin directory.
func (o *Options) Catalog(ctx context.Context, log *slog.Logger) (*registry.Catalog, error) {
	plugins, err := plugin.Discover(ctx, plugin.Dir(o.PluginDir), log)
	if err != nil {
		return nil, fmt.Errorf("discovering plugins: %w", err)
	}
	if o.NoBuiltin && len(plugins) == 0 {
		return nil, fmt.Errorf("--no-builtin, but no plugin found in %s", plugin.Dir(o.PluginDir))
	}
	return registry.NewCatalog(o.NoBuiltin, plugins, log), nil
}

// Config builds the Rats-TLS configuration.
func (o *Options) Config(cat *registry.Catalog, log *slog.Logger) (*ratstls.Config, error) {
	alg, err := instance.ParseKeyAlgorithm(o.KeyAlgorithm)
	if err != nil {
		return nil, err
	}
	fresh, err := ratstls.ParseFreshness(o.Freshness)
	if err != nil {
		return nil, err
	}
	require, err := ratstls.ParseFreshness(o.RequireFreshness)
	if o.RequireFreshness == "" {
		require = ratstls.FreshnessNone
	}
	if err != nil || require == ratstls.FreshnessAuto {
		return nil, fmt.Errorf("--require-freshness %q: want none, nonce or exporter", o.RequireFreshness)
	}
	var appraise func(context.Context, *ratstls.Peer) error
	if o.Policy != "" {
		pol, err := policy.Load(o.Policy)
		if err != nil {
			return nil, err
		}
		appraise = pol.VerifyPeer(log)
	}
	return &ratstls.Config{
		VerifyPeer:       appraise,
		Attester:         o.Attester,
		Verifier:         o.Verifier,
		TLS:              o.TLS,
		Crypto:           o.Crypto,
		KeyAlgorithm:     alg,
		Mutual:           o.Mutual,
		Endorsements:     o.Endorsements,
		DebugEnclave:     o.DebugEnclave,
		AllowSimulated:   o.AllowSimulated,
		Freshness:        fresh,
		RequireFreshness: require,
		Catalog:          cat,
		Logger:           log,
	}, nil
}

// Start makes the logger and the instance catalogue the flags ask for.
// With --list-instances it writes the listing to w and returns listed
// true: the command has nothing more to do.
func (o *Options) Start(ctx context.Context, w io.Writer) (log *slog.Logger, cat *registry.Catalog, listed bool, err error) {
	if log, err = o.Logger(); err != nil {
		return nil, nil, false, err
	}
	if cat, err = o.Catalog(ctx, log); err != nil {
		return nil, nil, false, err
	}
	if o.ListInstances {
		return log, cat, true, PrintInstances(ctx, w, cat, o.JSON)
	}
	return log, cat, false, nil
}

// PrintInstances writes the catalogue listing, as a table or JSON.
func PrintInstances(ctx context.Context, w io.Writer, cat *registry.Catalog, asJSON bool) error {
	rows := cat.List(ctx)
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tNAME\tTYPE\tPRIORITY\tSOURCE\tUSABLE")
	for _, r := range rows {
		usable := "yes"
		if !r.Usable {
			usable = "no: " + r.Reason
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", r.Kind, r.Name, r.Type, r.Priority, r.Source, usable)
	}
	return tw.Flush()
}

// Main is the whole main of a sample: it parses the flags, sets up logging
// and the instance catalogue, answers --list-instances, builds the
// configuration and calls run with it, stopping on SIGINT or SIGTERM. Any
// error is printed on stderr and exits 1; plugin processes are stopped
// either way.
func Main(prog string, run func(ctx context.Context, opts *Options, log *slog.Logger, cfg *ratstls.Config) error) {
	fs := flag.NewFlagSet(prog, flag.ExitOnError)
	opts := Register(fs)
	fs.Parse(os.Args[1:])
	err := func() error {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		defer plugin.CleanupClients()
		log, cat, listed, err := opts.Start(ctx, os.Stdout)
		if err != nil || listed {
			return err
		}
		cfg, err := opts.Config(cat, log)
		if err != nil {
			return err
		}
		defer cfg.Close()
		return run(ctx, opts, log, cfg)
	}()
	if err != nil {
		Fatal(prog, err)
	}
}

// Fatal prints err on stderr, prefixed by the program name, and exits 1.
func Fatal(prog string, err error) {
	fmt.Fprintf(os.Stderr, "%s: %v\n", prog, err)
	plugin.CleanupClients()
	os.Exit(1)
}
