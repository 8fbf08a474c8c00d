package runecli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]unix.Signal{"9": unix.SIGKILL, "TERM": unix.SIGTERM, "sigusr1": unix.SIGUSR1, "SIGHUP": unix.SIGHUP, "kill": unix.SIGKILL} {
		if got, err := parseSignal(in); err != nil || got != want {
			t.Errorf("parseSignal(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "SIGNOPE", "TERMX"} {
		if _, err := parseSignal(bad); err == nil || !strings.Contains(err.Error(), "unknown signal") {
			t.Errorf("parseSignal(%q): error = %v", bad, err)
		}
	}
}

func TestSubCgroupPaths(t *testing.T) {
	got, err := subCgroupPaths([]string{"cpu,memory:sub", "pids:other"})
	if err != nil || got["cpu"] != "sub" || got["memory"] != "sub" || got["pids"] != "other" || len(got) != 3 {
		t.Errorf("subCgroupPaths = %v, %v", got, err)
	}
	if got, err := subCgroupPaths([]string{"only"}); err != nil || got[""] != "only" {
		t.Errorf("unified path: %v, %v", got, err)
	}
	for _, bad := range [][]string{{"a", "b"}, {":x"}, {"cpu:a", "cpu:b"}} {
		if _, err := subCgroupPaths(bad); err == nil || !strings.Contains(err.Error(), "invalid --cgroup") {
			t.Errorf("subCgroupPaths(%q): error = %v", bad, err)
		}
	}
}

func TestNewProcess(t *testing.T) {
	p, err := newProcess(&specs.Process{
		Args: []string{"/bin/sh"}, Cwd: "/", Env: []string{"A=1"},
		User:    specs.User{UID: 5, GID: 6, AdditionalGids: []uint32{7, 8}},
		Rlimits: []specs.POSIXRlimit{{Type: "RLIMIT_NOFILE", Hard: 10, Soft: 5}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.UID != 5 || p.GID != 6 || len(p.AdditionalGroups) != 2 || len(p.Rlimits) != 1 || p.Rlimits[0].Type != unix.RLIMIT_NOFILE || p.Rlimits[0].Soft != 5 {
		t.Errorf("process = %+v", p)
	}
	if _, err := newProcess(&specs.Process{Args: []string{"x"}, Cwd: "/", Rlimits: []specs.POSIXRlimit{{Type: "RLIMIT_BOGUS"}}}); err == nil || !strings.Contains(err.Error(), "RLIMIT_BOGUS") {
		t.Errorf("bad rlimit: error = %v", err)
	}
}

func TestLoadSpecErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ content, wantErr string }{
		{"", "not found"},
		{"{", "parsing"},
		{"null", "config cannot be null"},
		{`{"process": {"cwd": "/", "args": []}}`, "args must not be empty"},
		{`{"process": {"cwd": "rel", "args": ["sh"]}}`, "absolute"},
		{`{}`, "process property must not be empty"},
	} {
		path := filepath.Join(dir, "config.json")
		os.Remove(path)
		if tc.content != "" {
			os.WriteFile(path, []byte(tc.content), 0o644)
		}
		if _, err := loadSpec(path); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("loadSpec(%q): error = %v, want %q", tc.content, err, tc.wantErr)
		}
	}
}

func TestMainExitCodes(t *testing.T) {
	root := t.TempDir()
	if code := Main([]string{"rune", "--root", root, "list", "-q"}); code != 0 {
		t.Errorf("list: exit %d", code)
	}
	if code := Main([]string{"rune", "--root", root, "state", "nope"}); code != 1 {
		t.Errorf("state of a missing container: exit %d, want 1", code)
	}
	if code := Main([]string{"rune", "--root", root, "exec", "nope", "true"}); code != 255 {
		t.Errorf("exec in a missing container: exit %d, want 255", code)
	}
	if code := Main([]string{"rune", "--root", "/", "list"}); code != 1 {
		t.Errorf("--root /: exit %d, want 1", code)
	}
	if code := Main([]string{"rune", "--systemd-cgroup", "--root", root, "list"}); code != 1 {
		t.Errorf("--systemd-cgroup: exit %d, want 1", code)
	}
}

func TestFeaturesAndSpec(t *testing.T) {
	t.Chdir(t.TempDir()) // spec --bundle enters the bundle; restore the directory after
	var out strings.Builder
	app := NewApp()
	app.Writer = &out
	if err := app.Run([]string{"rune", "--root", t.TempDir(), "features"}); err != nil {
		t.Fatal(err)
	}
	var feat struct {
		OCIVersionMax string            `json:"ociVersionMax"`
		Annotations   map[string]string `json:"annotations"`
	}
	if err := json.Unmarshal([]byte(out.String()), &feat); err != nil {
		t.Fatalf("features output: %v\n%s", err, out.String())
	}
	if feat.OCIVersionMax != specs.Version || feat.Annotations[AnnotationEnclaveTypes] != "intelSgx,simulated,wasm" {
		t.Errorf("features = %+v", feat)
	}

	bundle := t.TempDir()
	if code := Main([]string{"rune", "--root", t.TempDir(), "spec", "--bundle", bundle}); code != 0 {
		t.Fatalf("spec: exit %d", code)
	}
	spec, err := loadSpec(filepath.Join(bundle, specConfig))
	if err != nil || spec.Root == nil || spec.Root.Path != "rootfs" {
		t.Fatalf("spec output: %+v, %v", spec, err)
	}
	if code := Main([]string{"rune", "--root", t.TempDir(), "spec", "--bundle", bundle}); code != 1 {
		t.Errorf("spec over an existing config.json: exit %d, want 1", code)
	}
}
