package config

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inclavare/inclavare/internal/cli"
)

// flags are inclavared's flags, parsed from args.
func flags(t *testing.T, args ...string) (*flag.FlagSet, *cli.Options, *Settings) {
	t.Helper()
	fs := flag.NewFlagSet("inclavared", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o := cli.RegisterRatsTLS(fs)
	s := Register(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return fs, o, s
}

func TestApply(t *testing.T) {
	fs, o, s := flags(t, "--verifier", "sev_snp", "-l", "debug")
	file := `
listen = "unix:///run/inclavared.sock"
xfer = "tcp://127.0.0.1:7788"
admin = "tcp://127.0.0.1:9100"
attester = "sev_snp"
verifier = "tdx_ecdsa"          # the command line wins
allow_simulated = true
mutual = true
freshness = "exporter"
policy = "/etc/inclavared/policy.yaml"
upstream_timeout = "3s"
grace_period = "0s"
max_sessions = 10
log_level = "warn"
`
	if err := Apply(fs, "test.toml", []byte(file)); err != nil {
		t.Fatal(err)
	}
	if s.Listen != "unix:///run/inclavared.sock" || s.Xfer != "tcp://127.0.0.1:7788" || s.Admin != "tcp://127.0.0.1:9100" {
		t.Errorf("addresses %+v", s)
	}
	if s.UpstreamTimeout != 3*time.Second || s.GracePeriod != 0 || s.MaxSessions != 10 || s.RequestWait != DefaultRequestWait {
		t.Errorf("settings %+v", s)
	}
	if o.Attester != "sev_snp" || o.Verifier != "sev_snp" || !o.AllowSimulated || !o.Mutual || o.Freshness != "exporter" ||
		o.Policy != "/etc/inclavared/policy.yaml" || o.LogLevel != "debug" {
		t.Errorf("Rats-TLS options %+v", o)
	}
	a, err := s.Check()
	if err != nil || a.Listen.Network != "unix" || a.Xfer.Addr != "127.0.0.1:7788" || a.Admin == nil {
		t.Errorf("Check = %+v, %v", a, err)
	}
}

func TestApplyErrors(t *testing.T) {
	for file, msg := range map[string]string{
		`listen = `:                 "test.toml: toml:",
		"\x00\x01garbage":           "test.toml: toml:",
		`lisen = "tcp://:1"`:        `unknown key "lisen" (known keys: `,
		`allow-simulated = true`:    `unknown key "allow-simulated"`,
		`config = "other.toml"`:     `unknown key "config"`,
		`list_instances = true`:     `unknown key "list_instances"`,
		`a = "sev_snp"`:             `unknown key "a"`,
		`allow_simulated = "yes"`:   "key allow_simulated: want true or false, got a string",
		`max_sessions = "10"`:       "key max_sessions: want an integer, got a string",
		`max_sessions = 1.5`:        "key max_sessions: want an integer, got a float",
		`xfer = 7788`:               "key xfer: want a string, got an integer",
		`xfer = ["tcp://a:1"]`:      "key xfer: want a string, got an array",
		"[xfer]\nhost = \"a\"":      "key xfer: want a string, got a table",
		`upstream_timeout = "soon"`: `key upstream_timeout: bad value "soon"`,
		`upstream_timeout = 10`:     "key upstream_timeout: want a string, got an integer",
	} {
		fs, _, _ := flags(t)
		err := Apply(fs, "test.toml", []byte(file))
		if err == nil || !strings.Contains(err.Error(), msg) || !strings.HasPrefix(err.Error(), "configuration file test.toml") {
			t.Errorf("%q: error %v, want one saying %q", file, err, msg)
		}
	}
}

func TestApplyFile(t *testing.T) {
	dir := t.TempDir()
	fs, _, s := flags(t)
	if err := ApplyFile(fs, filepath.Join(dir, "missing.toml")); err == nil || !strings.Contains(err.Error(), "missing.toml") {
		t.Errorf("missing file: %v", err)
	}
	big := filepath.Join(dir, "big.toml")
	os.WriteFile(big, []byte("# "+strings.Repeat("x", MaxFileSize)+"\n"), 0o600)
	if err := ApplyFile(fs, big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("big file: %v", err)
	}
	good := filepath.Join(dir, "good.toml")
	os.WriteFile(good, []byte(`xfer = "tcp://127.0.0.1:1"`), 0o600)
	if err := ApplyFile(fs, good); err != nil || s.Xfer != "tcp://127.0.0.1:1" {
		t.Errorf("good file: %v, xfer %q", err, s.Xfer)
	}
}

func TestExampleFile(t *testing.T) {
	fs, _, s := flags(t)
	if err := ApplyFile(fs, filepath.Join("..", "..", "examples", "inclavared", "inclavared.toml")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Check(); err != nil {
		t.Fatalf("the example configuration: %v", err)
	}
}

func TestCheck(t *testing.T) {
	for args, msg := range map[string]string{
		"":                                   "--listen is required",
		"--listen tcp://:1":                  "--xfer is required",
		"--listen tcp://:1 --xfer x":         "--xfer: address \"x\"",
		"--listen udp://:1 --xfer tcp://a:1": "--listen: address",
		"--listen tcp://:1 --xfer tcp://a:0": "port 0 cannot be connected to",
		"--listen tcp://:1 --xfer tcp://a:1 --admin http://x":      "--admin: address",
		"--listen tcp://:1 --xfer tcp://a:1 --upstream-timeout 0s": "--upstream-timeout 0s: want a positive duration",
		"--listen tcp://:1 --xfer tcp://a:1 --request-wait -1s":    "--request-wait -1s",
		"--listen tcp://:1 --xfer tcp://a:1 --grace-period -1s":    "--grace-period -1s",
		"--listen tcp://:1 --xfer tcp://a:1 --max-sessions 0":      "--max-sessions 0: want at least 1",
	} {
		_, _, s := flags(t, strings.Fields(args)...)
		if _, err := s.Check(); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: %v, want an error saying %q", args, err, msg)
		}
	}
}

func TestKeys(t *testing.T) {
	fs, _, _ := flags(t)
	keys := strings.Join(Keys(fs), " ")
	for _, k := range []string{"listen", "xfer", "admin", "attester", "verifier", "tls", "crypto", "mutual", "freshness", "policy", "allow_simulated", "plugin_dir", "upstream_timeout"} {
		if !strings.Contains(" "+keys+" ", " "+k+" ") {
			t.Errorf("key %s missing from %s", k, keys)
		}
	}
	for _, k := range []string{"config", "a", "list_instances", "json", "ip", "port"} {
		if strings.Contains(" "+keys+" ", " "+k+" ") {
			t.Errorf("key %s should not be in %s", k, keys)
		}
	}
}

// FuzzApply feeds arbitrary configuration files: never a panic, and an
// error always names the file.
func FuzzApply(f *testing.F) {
	f.Add([]byte("listen = \"tcp://:1\"\nallow_simulated = true\nmax_sessions = 3\n"))
	f.Add([]byte("[table]\nx = 1"))
	f.Add([]byte("upstream_timeout = \"1s\""))
	f.Fuzz(func(t *testing.T, data []byte) {
		fs := flag.NewFlagSet("inclavared", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		cli.RegisterRatsTLS(fs)
		Register(fs)
		if err := Apply(fs, "fuzz.toml", data); err != nil && !strings.HasPrefix(err.Error(), "configuration file fuzz.toml") {
			t.Fatalf("error without the file name: %v", err)
		}
	})
}
