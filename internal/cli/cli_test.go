package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	_ "github.com/inclavare/inclavare/framework/builtins"
	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/registry"
	"github.com/inclavare/inclavare/internal/cli"
)

var quiet = slog.New(slog.DiscardHandler)

func parse(t *testing.T, args ...string) *cli.Options {
	t.Helper()
	fs := flag.NewFlagSet("rats-tls-server", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o := cli.Register(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("Parse(%q): %v", args, err)
	}
	return o
}

func TestDefaults(t *testing.T) {
	o := parse(t)
	want := cli.Options{LogLevel: "info", IP: "127.0.0.1", Port: 1234, Freshness: "auto", RequireFreshness: "none"}
	if *o != want {
		t.Errorf("defaults %+v, want %+v", *o, want)
	}
}

func TestShortAndLongFlags(t *testing.T) {
	want := cli.Options{
		Attester: "sgx_ecdsa", Verifier: "nullverifier", TLS: "openssl", Crypto: "gocrypto",
		Mutual: true, Endorsements: true, LogLevel: "debug", IP: "0.0.0.0", Port: 4433,
		DebugEnclave: true, Freshness: "auto", RequireFreshness: "none",
	}
	short := []string{"-a", "sgx_ecdsa", "-v", "nullverifier", "-t", "openssl", "-c", "gocrypto",
		"-m", "-e", "-l", "debug", "-i", "0.0.0.0", "-p", "4433", "-D"}
	long := []string{"--attester", "sgx_ecdsa", "--verifier=nullverifier", "--tls", "openssl", "--crypto", "gocrypto",
		"--mutual", "--endorsements", "--log-level", "debug", "--ip", "0.0.0.0", "--port", "4433", "--debug-enclave"}
	for name, args := range map[string][]string{"short": short, "long": long} {
		if got := parse(t, args...); *got != want {
			t.Errorf("%s flags parsed to %+v, want %+v", name, *got, want)
		}
	}

	if o := parse(t, "--freshness", "exporter", "--require-freshness", "nonce"); o.Freshness != "exporter" || o.RequireFreshness != "nonce" {
		t.Errorf("freshness flags parsed to %+v", *o)
	}
	for _, bad := range []cli.Options{{Freshness: "fresh"}, {RequireFreshness: "auto"}, {RequireFreshness: "always"}} {
		if _, err := bad.Config(registry.NewCatalog(true, nil, quiet), quiet); err == nil || !strings.Contains(err.Error(), "freshness") {
			t.Errorf("Config(%+v) error %v, want one about freshness", bad, err)
		}
	}
	o := parse(t, "--allow-simulated", "--plugin-dir", "/opt/plugins", "--no-builtin",
		"--list-instances", "--json", "--key-algorithm", "ed25519")
	if !o.AllowSimulated || o.PluginDir != "/opt/plugins" || !o.NoBuiltin || !o.ListInstances || !o.JSON || o.KeyAlgorithm != "ed25519" {
		t.Errorf("long-only flags parsed to %+v", *o)
	}

	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cli.Register(fs)
	if err := fs.Parse([]string{"-p", "https"}); err == nil {
		t.Error("a non-numeric port was accepted")
	}
}

func TestLogger(t *testing.T) {
	ctx := context.Background()
	levels := []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError, slog.LevelError + 4}
	tests := []struct {
		level  string
		lowest int // index in levels of the lowest enabled level; len(levels) for none
	}{
		{"debug", 0},
		{"DEBUG", 0},
		{"info", 1},
		{"", 1},
		{"warn", 2},
		{"error", 3},
		{"fatal", 4},
		{"off", 5},
	}
	for _, tc := range tests {
		o := &cli.Options{LogLevel: tc.level}
		log, err := o.Logger()
		if err != nil {
			t.Errorf("Logger(%q): %v", tc.level, err)
			continue
		}
		for i, l := range levels {
			if got, want := log.Enabled(ctx, l), i >= tc.lowest; got != want {
				t.Errorf("Logger(%q).Enabled(%v) = %v, want %v", tc.level, l, got, want)
			}
		}
	}
	for _, bad := range []string{"trace", "verbose", "3"} {
		_, err := (&cli.Options{LogLevel: bad}).Logger()
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", bad)) {
			t.Errorf("Logger(%q) error %v, want one naming the level", bad, err)
		}
	}
}

func TestConfig(t *testing.T) {
	cat := registry.NewCatalog(true, nil, quiet)
	o := &cli.Options{Attester: "nullattester", Verifier: "nullverifier", TLS: "gotls", Crypto: "gocrypto",
		Mutual: true, Endorsements: true, DebugEnclave: true, AllowSimulated: true, KeyAlgorithm: "rsa-3072"}
	cfg, err := o.Config(cat, quiet)
	if err != nil {
		t.Fatalf("Config: %v", err)
	}
	if cfg.Attester != o.Attester || cfg.Verifier != o.Verifier || cfg.TLS != o.TLS || cfg.Crypto != o.Crypto ||
		!cfg.Mutual || !cfg.Endorsements || !cfg.DebugEnclave || !cfg.AllowSimulated ||
		cfg.KeyAlgorithm != instance.KeyRSA3072 || cfg.Catalog != cat || cfg.Logger != quiet {
		t.Errorf("Config = %+v, does not carry the options %+v", cfg, o)
	}
	cfg, err = (&cli.Options{}).Config(cat, quiet)
	if err != nil || cfg.KeyAlgorithm != instance.DefaultKeyAlgorithm {
		t.Errorf("Config without a key algorithm = %v, %v; want %s", cfg, err, instance.DefaultKeyAlgorithm)
	}
	if _, err := (&cli.Options{KeyAlgorithm: "dsa-1024"}).Config(cat, quiet); err == nil || !strings.Contains(err.Error(), "dsa-1024") {
		t.Errorf("Config with key algorithm dsa-1024: error %v, want one naming it", err)
	}
}

func TestCatalogNoBuiltinWithoutPlugins(t *testing.T) {
	dir := t.TempDir()
	_, err := (&cli.Options{NoBuiltin: true, PluginDir: dir}).Catalog(context.Background(), quiet)
	if err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("Catalog(--no-builtin, empty %s): error %v, want one naming the directory", dir, err)
	}
	cat, err := (&cli.Options{PluginDir: dir}).Catalog(context.Background(), quiet)
	if err != nil || cat == nil {
		t.Errorf("Catalog with built-ins and no plugins: %v", err)
	}
}

type fake struct{ d instance.Descriptor }

func (f fake) Descriptor() instance.Descriptor { return f.d }
func (fake) Close() error                      { return nil }

func smallCatalog() *registry.Catalog {
	mk := func(d instance.Descriptor, src string, probe error) *registry.Registration {
		r := &registry.Registration{
			Descriptor: d,
			Source:     src,
			New:        func(context.Context, instance.Options) (instance.Instance, error) { return fake{d}, nil },
		}
		if probe != nil {
			r.Probe = func(context.Context) error { return probe }
		}
		return r
	}
	return registry.NewCatalog(true, []*registry.Registration{
		mk(instance.Descriptor{Kind: instance.KindTLS, Name: "gotls", Type: "tls1.3", Priority: 50}, registry.SourceBuiltin, nil),
		mk(instance.Descriptor{Kind: instance.KindAttester, Name: "sgx_ecdsa", Type: "sgx_ecdsa", Priority: 80},
			"/plugins/rats-tls-attester-sgx_ecdsa", fmt.Errorf("no /dev/sgx_enclave: %w", instance.ErrUnavailable)),
		mk(instance.Descriptor{Kind: instance.KindAttester, Name: "nullattester", Type: "null"}, registry.SourceBuiltin, nil),
	}, quiet)
}

func TestPrintInstancesTable(t *testing.T) {
	var buf bytes.Buffer
	if err := cli.PrintInstances(context.Background(), &buf, smallCatalog(), false); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("table has %d lines, want a header and 3 rows:\n%s", len(lines), buf.String())
	}
	want := [][]string{
		{"KIND", "NAME", "TYPE", "PRIORITY", "SOURCE", "USABLE"},
		{"attester", "sgx_ecdsa", "sgx_ecdsa", "80", "/plugins/rats-tls-attester-sgx_ecdsa", "no:", "no", "/dev/sgx_enclave:", "instance", "unavailable", "on", "this", "machine"},
		{"attester", "nullattester", "null", "0", "builtin", "yes"},
		{"tls", "gotls", "tls1.3", "50", "builtin", "yes"},
	}
	for i, w := range want {
		if got := strings.Fields(lines[i]); strings.Join(got, " ") != strings.Join(w, " ") {
			t.Errorf("line %d = %q, want fields %q", i, lines[i], w)
		}
	}
	// Columns are aligned: every row's NAME starts where the header's does.
	col := strings.Index(lines[0], "NAME")
	for _, l := range lines[1:] {
		if len(l) <= col || l[col-1] != ' ' || l[col] == ' ' {
			t.Errorf("row %q is not aligned under NAME", l)
		}
	}
}

func TestPrintInstancesJSON(t *testing.T) {
	var buf bytes.Buffer
	if err := cli.PrintInstances(context.Background(), &buf, smallCatalog(), true); err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rows); err != nil {
		t.Fatalf("output is not a JSON array: %v\n%s", err, buf.String())
	}
	want := []map[string]any{
		{"kind": "attester", "name": "sgx_ecdsa", "type": "sgx_ecdsa", "priority": 80.0, "source": "/plugins/rats-tls-attester-sgx_ecdsa", "usable": false},
		{"kind": "attester", "name": "nullattester", "type": "null", "priority": 0.0, "source": "builtin", "usable": true},
		{"kind": "tls", "name": "gotls", "type": "tls1.3", "priority": 50.0, "source": "builtin", "usable": true},
	}
	if len(rows) != len(want) {
		t.Fatalf("JSON has %d rows, want %d:\n%s", len(rows), len(want), buf.String())
	}
	for i, w := range want {
		for k, v := range w {
			if rows[i][k] != v {
				t.Errorf("row %d %s = %v, want %v", i, k, rows[i][k], v)
			}
		}
	}
	if r, _ := rows[0]["reason"].(string); !strings.Contains(r, "no /dev/sgx_enclave") {
		t.Errorf("unusable row reason %q, want the probe's", r)
	}
	if _, ok := rows[1]["reason"]; ok {
		t.Errorf("usable row has a reason: %v", rows[1])
	}
}

func TestRegisterRatsTLS(t *testing.T) {
	fs := flag.NewFlagSet("inclavared", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o := cli.RegisterRatsTLS(fs)
	for _, name := range []string{"i", "ip", "p", "port"} {
		if fs.Lookup(name) != nil {
			t.Errorf("RegisterRatsTLS defines -%s", name)
		}
	}
	if err := fs.Parse([]string{"-a", "sev_snp", "--allow-simulated", "--freshness", "nonce"}); err != nil {
		t.Fatal(err)
	}
	want := cli.Options{Attester: "sev_snp", AllowSimulated: true, LogLevel: "info", Freshness: "nonce", RequireFreshness: "none"}
	if *o != want {
		t.Errorf("parsed %+v, want %+v", *o, want)
	}
}

func TestStart(t *testing.T) {
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	o := cli.Register(fs)
	if err := fs.Parse([]string{"--plugin-dir", t.TempDir(), "--list-instances", "--json"}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	log, cat, listed, err := o.Start(context.Background(), &out)
	if err != nil || !listed || log == nil || cat == nil || !strings.Contains(out.String(), `"nullattester"`) {
		t.Fatalf("--list-instances: listed %v, %v, output %q", listed, err, out.String())
	}
	o.ListInstances = false
	out.Reset()
	if _, _, listed, err := o.Start(context.Background(), &out); err != nil || listed || out.Len() != 0 {
		t.Fatalf("without --list-instances: listed %v, %v, output %q", listed, err, out.String())
	}
	o.LogLevel = "loud"
	if _, _, _, err := o.Start(context.Background(), &out); err == nil {
		t.Fatal("a bad log level accepted")
	}
}
