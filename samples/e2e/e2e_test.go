// Package e2e runs the real binaries and real subprocess plugins on
// loopback: what a user of rats-tls-server and rats-tls-client sees, and the
// Enclave Attestation Architecture (a workload, inclavared and shelter)
// under load and failures.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/inclavare/inclavare/internal/testbuild"
)

var (
	binDir    string // rats-tls-server, rats-tls-client, inclavared, shelter
	pluginDir string // every plugin and its manifest
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "inclavare-e2e-")
	if err != nil {
		panic(err)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		binDir, pluginDir = filepath.Join(dir, "bin"), filepath.Join(dir, "bin", "plugins")
		if err := build(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// build compiles the samples and plugins as make build does.
func build() error {
	if err := testbuild.Go(binDir, testbuild.Module+"/samples/rats-tls-server", testbuild.Module+"/samples/rats-tls-client",
		testbuild.Module+"/inclavared/cmd/inclavared", testbuild.Module+"/shelter/cmd/shelter"); err != nil {
		return err
	}
	return testbuild.Plugins(pluginDir)
}

// server is a running rats-tls-server or inclavared.
type server struct {
	name string
	cmd  *exec.Cmd
	port string
	mu   sync.Mutex
	log  bytes.Buffer
	done chan struct{}
}

var addrRE = regexp.MustCompile(`addr=127\.0\.0\.1:(\d+)`)

// startServer runs rats-tls-server on a free port with args and waits until
// it listens. It is stopped at the end of the test.
func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	return startBinary(t, "rats-tls-server", append([]string{"-p", "0"}, args...)...)
}

// startBinary runs the command name of binDir with args and waits until it
// logs its listening address (addr=127.0.0.1:PORT). It is stopped at the
// end of the test.
func startBinary(t *testing.T, name string, args ...string) *server {
	t.Helper()
	return startBinaryEnv(t, nil, name, args...)
}

// startBinaryEnv is startBinary with env added to the environment.
func startBinaryEnv(t *testing.T, env []string, name string, args ...string) *server {
	t.Helper()
	s := &server{name: name, done: make(chan struct{})}
	s.cmd = exec.Command(filepath.Join(binDir, name), args...)
	s.cmd.Env = append(os.Environ(), env...)
	stderr, err := s.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan string, 1)
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			s.mu.Lock()
			s.log.WriteString(line + "\n")
			s.mu.Unlock()
			if m := addrRE.FindStringSubmatch(line); m != nil {
				select {
				case ready <- m[1]:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() { s.stop(t) })
	select {
	case s.port = <-ready:
	case <-s.done:
		s.cmd.Wait()
		t.Fatalf("%s %v exited before listening:\n%s", name, args, s.logs())
	case <-time.After(30 * time.Second):
		t.Fatalf("%s %v did not listen within 30s:\n%s", name, args, s.logs())
	}
	return s
}

func (s *server) logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

func (s *server) stop(t *testing.T) {
	if s.cmd.ProcessState != nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		t.Errorf("%s ignored SIGTERM for 10s:\n%s", s.name, s.logs())
	}
	s.cmd.Wait()
}

// client runs rats-tls-client against port and returns stdout, stderr and
// the exit code.
func client(t *testing.T, port string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "rats-tls-client"), append([]string{"-p", port}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("running rats-tls-client: %v", err)
		}
		code = ee.ExitCode()
	}
	return out.String(), errb.String(), code
}

type clientResult struct {
	Attester     string         `json:"attester"`
	Verifier     string         `json:"verifier"`
	TLS          string         `json:"tls"`
	Crypto       string         `json:"crypto"`
	Claims       map[string]any `json:"claims"`
	Attested     bool           `json:"attested"`
	Freshness    string         `json:"freshness"`
	EvidenceType string         `json:"evidence_type"`
	Echo         string         `json:"echo"`
	Instances    map[string]struct {
		Name   string `json:"name"`
		Source string `json:"source"`
	} `json:"instances"`
}

func mustClientJSON(t *testing.T, port string, args ...string) clientResult {
	t.Helper()
	out, errOut, code := client(t, port, append(args, "--json")...)
	if code != 0 {
		t.Fatalf("rats-tls-client %v exited %d:\n%s", args, code, errOut)
	}
	var r clientResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("client output is not JSON: %v\n%s", err, out)
	}
	for _, k := range []string{"attester", "verifier", "tls", "crypto", "claims"} {
		if !strings.Contains(out, `"`+k+`"`) {
			t.Errorf("client JSON lacks key %q:\n%s", k, out)
		}
	}
	if r.Echo != "Hello and welcome to RATS-TLS!\n" {
		t.Errorf("echo = %q", r.Echo)
	}
	return r
}

func noPlugins(t *testing.T) string { return filepath.Join(t.TempDir(), "none") }

func TestBuiltinMutual(t *testing.T) {
	none := noPlugins(t)
	s := startServer(t, "-m", "-v", "nullverifier", "--plugin-dir", none)
	r := mustClientJSON(t, s.port, "-m", "-v", "nullverifier", "--plugin-dir", none)
	if r.Attester != "nullattester" || r.Verifier != "nullverifier" || r.TLS != "gotls" || r.Crypto != "gocrypto" {
		t.Errorf("instances = %+v", r)
	}
	if r.Attested || r.EvidenceType != "null" {
		t.Errorf("a null attester must not count as attested: %+v", r)
	}
	if !strings.Contains(s.logs(), "client attested") {
		t.Errorf("mutual server did not verify the client:\n%s", s.logs())
	}
}

func TestEveryInstanceAsPlugin(t *testing.T) {
	s := startServer(t, "-m", "-v", "nullverifier", "--no-builtin", "--plugin-dir", pluginDir)
	r := mustClientJSON(t, s.port, "-m", "-v", "nullverifier", "--no-builtin", "--plugin-dir", pluginDir)
	for kind, sel := range r.Instances {
		if !strings.HasPrefix(sel.Source, pluginDir) {
			t.Errorf("%s %s came from %s, want a plugin in %s", kind, sel.Name, sel.Source, pluginDir)
		}
	}
	if len(r.Instances) != 4 {
		t.Errorf("client used %d instances, want 4: %+v", len(r.Instances), r.Instances)
	}
}

func TestSampleAttesterPlugin(t *testing.T) {
	s := startServer(t, "-a", "sample", "--plugin-dir", pluginDir)
	mustClientJSON(t, s.port, "-v", "nullverifier", "--plugin-dir", pluginDir)
	if !strings.Contains(s.logs(), "attester=sample") {
		t.Errorf("server did not use the sample attester:\n%s", s.logs())
	}
}

func TestUnattestedServerRefusedAndServerKeepsServing(t *testing.T) {
	none := noPlugins(t)
	s := startServer(t, "--plugin-dir", none)
	_, errOut, code := client(t, s.port, "--plugin-dir", none)
	if code == 0 || !strings.Contains(errOut, "no attestation evidence") {
		t.Fatalf("client accepted an unattested server (exit %d):\n%s", code, errOut)
	}
	// The server logs the refusal and serves the next client.
	mustClientJSON(t, s.port, "-v", "nullverifier", "--plugin-dir", none)
}

func TestConcurrentClients(t *testing.T) {
	none := noPlugins(t)
	s := startServer(t, "--plugin-dir", none)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, e, code := client(t, s.port, "-v", "nullverifier", "--plugin-dir", none); code != 0 {
				errs <- e
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestListInstances(t *testing.T) {
	out, errOut, code := client(t, "1", "--list-instances", "--json", "--plugin-dir", pluginDir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var rows []struct {
		Kind, Name, Source string
		Usable             bool
	}
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range rows {
		seen[r.Kind+"/"+r.Name+"/"+map[bool]string{true: "builtin", false: "plugin"}[r.Source == "builtin"]] = r.Usable
	}
	for _, want := range []string{
		"attester/nullattester/builtin", "attester/nullattester/plugin", "attester/sample/plugin",
		"verifier/nullverifier/plugin", "tls/gotls/plugin", "crypto/gocrypto/plugin", "tls/nulltls/builtin",
	} {
		if usable, ok := seen[want]; !ok || !usable {
			t.Errorf("listing lacks usable %s: %v", want, seen)
		}
	}
	out, _, _ = client(t, "1", "--list-instances", "--plugin-dir", pluginDir)
	if !strings.Contains(out, "KIND") || !strings.Contains(out, "rats-tls-attester-sample") {
		t.Errorf("table listing:\n%s", out)
	}
}

func TestBadConfiguration(t *testing.T) {
	none := noPlugins(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-l", "loud"}, `log level "loud"`},
		{[]string{"-a", "nosuch", "-m", "-v", "nullverifier", "--plugin-dir", none}, `attester "nosuch": no such instance`},
		{[]string{"-t", "nosuch", "--plugin-dir", none}, `tls "nosuch": no such instance`},
		{[]string{"--key-algorithm", "dsa", "--plugin-dir", none}, `unknown key algorithm "dsa"`},
		{[]string{"--no-builtin", "--plugin-dir", none}, "no plugin found"},
		{[]string{"-p", "1", "-v", "nullverifier", "--plugin-dir", none}, "connection refused"},
	} {
		_, errOut, code := client(t, "1", tc.args...)
		if code == 0 || !strings.Contains(errOut, tc.want) {
			t.Errorf("client %v: exit %d, stderr %q; want non-zero and %q", tc.args, code, errOut, tc.want)
		}
	}
}

func TestTamperedPluginRefused(t *testing.T) {
	dir := t.TempDir()
	files, _ := os.ReadDir(pluginDir)
	for _, e := range files {
		f := e.Name()
		b, err := os.ReadFile(filepath.Join(pluginDir, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Append a byte: the checksum no longer matches the manifest.
	f, err := os.OpenFile(filepath.Join(dir, "rats-tls-attester-nullattester"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0})
	f.Close()
	_, errOut, code := client(t, "1", "-m", "-a", "nullattester", "--no-builtin", "--plugin-dir", dir)
	if code == 0 || !strings.Contains(errOut, "checksum") {
		t.Errorf("tampered plugin: exit %d, stderr:\n%s", code, errOut)
	}
}

// TestServerKilledLeavesNoPlugin kills the server with SIGKILL: its plugin
// processes must go with it.
func TestServerKilledLeavesNoPlugin(t *testing.T) {
	s := startServer(t, "--no-builtin", "--plugin-dir", pluginDir)
	mustClientJSON(t, s.port, "-v", "nullverifier", "--plugin-dir", noPlugins(t))
	if n := pluginProcesses(); n == 0 {
		t.Fatal("no plugin process found while the server runs")
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for pluginProcesses() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d plugin processes outlived their killed host", pluginProcesses())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pluginProcesses counts live processes running a binary from pluginDir.
func pluginProcesses() int {
	n := 0
	procs, _ := filepath.Glob("/proc/[0-9]*/exe")
	for _, p := range procs {
		if exe, err := os.Readlink(p); err == nil && strings.HasPrefix(exe, pluginDir+"/") {
			if b, err := os.ReadFile(filepath.Join(filepath.Dir(p), "stat")); err == nil && !bytes.Contains(b, []byte(") Z ")) {
				n++
			}
		}
	}
	return n
}
