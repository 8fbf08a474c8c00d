package plugin

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/registry"
)

// binDir holds the plugin binaries, built once by TestMain.
var binDir string

// envTestHost, set to a plugin directory, makes the test binary a helper
// host: it starts the nullattester plugin from there, prints "ready" and
// waits to be killed.
const envTestHost = "RATS_TLS_PLUGIN_TEST_HOST"

func TestMain(m *testing.M) {
	if dir := os.Getenv(envTestHost); dir != "" {
		os.Exit(runTestHost(dir))
	}
	flag.Parse()
	code, err := runTests(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(code)
}

func runTests(m *testing.M) (int, error) {
	dir, err := os.MkdirTemp("", "rats-tls-plugins-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	start := time.Now()
	build := exec.Command("go", "build", "-o", dir+string(os.PathSeparator),
		"github.com/inclavare/inclavare/cmd/plugins/...",
		"github.com/inclavare/inclavare/framework/plugin/internal/testplugin")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return 0, fmt.Errorf("building the plugins: %w", err)
	}
	if err := os.Rename(filepath.Join(dir, "testplugin"), filepath.Join(dir, "rats-tls-attester-testplugin")); err != nil {
		return 0, err
	}
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "built the plugins in %s\n", time.Since(start).Round(time.Millisecond))
	}
	binDir = dir
	defer CleanupClients()
	return m.Run(), nil
}

func runTestHost(dir string) int {
	ctx := context.Background()
	regs, err := Discover(ctx, dir, slog.New(slog.DiscardHandler))
	if err != nil {
		fmt.Println(err)
		return 1
	}
	for _, r := range regs {
		if r.Descriptor.Kind == instance.KindAttester && r.Descriptor.Name == "nullattester" {
			if _, err := r.New(ctx, instance.Options{}); err != nil {
				fmt.Println(err)
				return 1
			}
			fmt.Println("ready")
			time.Sleep(time.Minute)
			return 1
		}
	}
	fmt.Println("no nullattester plugin in", dir)
	return 1
}

// Plugin binary names.
const (
	nullAttester = "rats-tls-attester-nullattester"
	nullVerifier = "rats-tls-verifier-nullverifier"
	goTLS        = "rats-tls-tls-gotls"
	nullTLS      = "rats-tls-tls-nulltls"
	goCrypto     = "rats-tls-crypto-gocrypto"
	nullCrypto   = "rats-tls-crypto-nullcrypto"
	testPlugin   = "rats-tls-attester-testplugin"
)

var allPlugins = []string{nullAttester, nullVerifier, goTLS, nullTLS, goCrypto, nullCrypto}

// pluginDir makes a plugin directory holding the named binaries (as
// new names, when given as "binary=name") and its manifest.
func pluginDir(t testing.TB, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, n := range names {
		src, dst, ok := strings.Cut(n, "=")
		if !ok {
			dst = src
		}
		if err := os.Link(filepath.Join(binDir, src), filepath.Join(dir, dst)); err != nil {
			copyFile(t, filepath.Join(binDir, src), filepath.Join(dir, dst))
		}
	}
	if err := WriteManifest(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// testConfig runs plugins with short bounds and logs to the test.
func testConfig(t testing.TB) Config {
	return Config{
		CallTimeout:  2 * time.Second,
		StartTimeout: 5 * time.Second,
		Logger:       slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

func load(t testing.TB, cfg Config, dir, name string) *registry.Registration {
	t.Helper()
	r, err := cfg.Load(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// newInstance creates the plugin instance and closes it when the test ends.
func newInstance[T instance.Instance](t testing.TB, cfg Config, dir, name string) T {
	t.Helper()
	inst, err := load(t, cfg, dir, name).New(context.Background(), instance.Options{})
	if err != nil {
		t.Fatalf("creating %s: %v", name, err)
	}
	t.Cleanup(func() { inst.Close() })
	typed, ok := inst.(T)
	if !ok {
		t.Fatalf("%s is a %T", name, inst)
	}
	return typed
}

// processesOf lists the live processes running the binary at path.
func processesOf(path string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err != nil || (exe != path && exe != path+" (deleted)") {
			continue
		}
		if state, _ := procStat(pid); state == "Z" {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

// procStat returns a process's state and parent PID from /proc/PID/stat.
func procStat(pid int) (state string, ppid int) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", 0
	}
	// pid (comm) state ppid ...; comm may hold spaces and parentheses.
	rest := string(b[strings.LastIndexByte(string(b), ')')+1:])
	f := strings.Fields(rest)
	if len(f) < 2 {
		return "", 0
	}
	ppid, _ = strconv.Atoi(f[1])
	return f[0], ppid
}

// waitNoProcess fails the test if a process still runs path after d.
func waitNoProcess(t testing.TB, path string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		pids := processesOf(path)
		if len(pids) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("processes %v still run %s after %s", pids, path, d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func wantErr(t testing.TB, err error, sentinel error, substrings ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", substrings)
	}
	if sentinel != nil && !errors.Is(err, sentinel) {
		t.Errorf("error %q does not wrap %v", err, sentinel)
	}
	for _, s := range substrings {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not contain %q", err, s)
		}
	}
}

func TestDir(t *testing.T) {
	t.Setenv(EnvDir, "")
	if got := Dir(""); got != DefaultDir {
		t.Errorf("Dir(\"\") = %q, want %q", got, DefaultDir)
	}
	t.Setenv(EnvDir, "/from/env")
	if got := Dir(""); got != "/from/env" {
		t.Errorf("Dir(\"\") with %s set = %q, want /from/env", EnvDir, got)
	}
	if got := Dir("/from/flag"); got != "/from/flag" {
		t.Errorf("Dir(flag) = %q, want /from/flag", got)
	}
}

func TestDiscover(t *testing.T) {
	dir := pluginDir(t, allPlugins...)
	// Files that are not plugins.
	for name, mode := range map[string]os.FileMode{
		"README":                      0o644,
		"rats-tls-bogus-x":            0o755,
		"rats-tls-attester":           0o755,
		"rats-tls-attester-notexec":   0o644,
		"other-attester-nullattester": 0o755,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "rats-tls-verifier-adir"), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	regs, err := Discover(ctx, dir, testConfig(t).Logger)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range regs {
		got = append(got, fmt.Sprintf("%s/%s", r.Descriptor.Kind, r.Descriptor.Name))
		if want := filepath.Join(dir, FilePrefix+string(r.Descriptor.Kind)+"-"+r.Descriptor.Name); r.Source != want {
			t.Errorf("Source = %q, want %q", r.Source, want)
		}
	}
	want := []string{"attester/nullattester", "crypto/gocrypto", "crypto/nullcrypto", "tls/gotls", "tls/nulltls", "verifier/nullverifier"}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("discovered %v, want %v", got, want)
	}
	builtin := map[string]instance.Descriptor{}
	for _, b := range registry.Builtins() {
		builtin[string(b.Descriptor.Kind)+"/"+b.Descriptor.Name] = b.Descriptor
	}
	for _, r := range regs {
		d, err := r.Resolve(ctx)
		if err != nil {
			t.Fatalf("describing %s: %v", r.Source, err)
		}
		key := string(d.Kind) + "/" + d.Name
		if b, ok := builtin[key]; ok && b != d {
			t.Errorf("plugin %s describes itself as %+v, the built-in is %+v", r.Source, d, b)
		}
		if err := r.Probe(ctx); err != nil {
			t.Errorf("probing %s: %v", r.Source, err)
		}
		waitNoProcess(t, r.Source, 10*time.Second)
	}
}

func TestDiscoverMissingDir(t *testing.T) {
	regs, err := Discover(context.Background(), filepath.Join(t.TempDir(), "none"), nil)
	if err != nil || len(regs) != 0 {
		t.Fatalf("Discover(missing dir) = %v, %v; want nothing and no error", regs, err)
	}
}

func TestAttesterPlugin(t *testing.T) {
	dir := pluginDir(t, nullAttester)
	a := newInstance[instance.Attester](t, testConfig(t), dir, nullAttester)
	if d := a.Descriptor(); d.Kind != instance.KindAttester || d.Name != "nullattester" || d.Type != instance.EvidenceTypeNull {
		t.Errorf("Descriptor() = %+v", d)
	}
	ctx := context.Background()
	ev, err := a.Collect(ctx, make([]byte, instance.ReportDataSize))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type != instance.EvidenceTypeNull || len(ev.Data) != 0 {
		t.Errorf("Collect() = %+v, want empty null evidence", ev)
	}
	end, err := a.Endorsements(ctx, ev)
	if err != nil || end != nil {
		t.Errorf("Endorsements() = %q, %v; want nil, nil", end, err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	waitNoProcess(t, filepath.Join(dir, nullAttester), 10*time.Second)
	if _, err := a.Collect(ctx, nil); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Collect after Close = %v, want an error saying the instance is closed", err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestHostKilledTakesPluginWithIt(t *testing.T) {
	dir := pluginDir(t, nullAttester)
	path := filepath.Join(dir, nullAttester)
	host := exec.Command(os.Args[0], "-test.run=^$")
	// The helper host inherits a stale host PID, as a host that is itself a
	// plugin would: its plugin must watch the helper host, not that one.
	host.Env = append(os.Environ(), envTestHost+"="+dir, envHostPID+"=1")
	out, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	host.Stderr = t.Output()
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	defer host.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		host.Process.Kill()
		host.Wait()
		t.Fatalf("helper host said %q, %v; want ready", line, err)
	}
	pids := processesOf(path)
	if len(pids) != 1 {
		t.Fatalf("plugin processes %v, want one", pids)
	}
	if _, ppid := procStat(pids[0]); ppid != host.Process.Pid {
		t.Fatalf("plugin %d has parent %d, want the helper host %d", pids[0], ppid, host.Process.Pid)
	}
	if err := host.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	host.Wait()
	waitNoProcess(t, path, 10*time.Second)
}
