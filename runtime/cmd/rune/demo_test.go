package main_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/inclavare/inclavare/internal/testbuild"
	"github.com/inclavare/inclavare/runtime/enclave"
)

var logAddrRE = regexp.MustCompile(`\baddr=(127\.0\.0\.1:[0-9]+)`)

// waitLogAddr waits until the log file at path names a loopback address
// (addr=HOST:PORT) and returns it.
func waitLogAddr(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if m := logAddrRE.FindSubmatch(b); m != nil {
			return string(m[1])
		}
		if time.Now().After(deadline) {
			t.Fatalf("no address in %s after 30s:\n%s", path, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestDemoContainer is `make demo-container` with the real binaries: rune
// serves the greeter in a wasm enclave on the host's loopback; shelter
// records its measurement, attests it through inclavared and is greeted;
// the module changed by one byte and restarted is refused (exit 3) with
// the reason; nothing is left behind (checked by env, and inclavared is
// stopped).
func TestDemoContainer(t *testing.T) {
	e := newEnv(t)
	t.Parallel()
	tools := t.TempDir()
	if err := testbuild.Go(tools, testbuild.Module+"/shelter/cmd/shelter", testbuild.Module+"/inclavared/cmd/inclavared"); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	e.extra = []string{"RUNE_WASM_CACHE=" + filepath.Join(work, "cache")}
	toolEnv := append(os.Environ(), "SHELTER_DB="+filepath.Join(work, "shelter.db"), "RATS_TLS_PLUGIN_DIR="+filepath.Join(work, "no-plugins"))

	module := greeterModule(t)
	sum := sha256.Sum256(module)
	good := hex.EncodeToString(sum[:])
	const id = "demo"
	b := e.bundle(id, []string{"/greeter.wasm"}, func(s *specs.Spec) {
		s.Root.Readonly = true
		s.Annotations = map[string]string{
			enclave.AnnotationType:                "wasm",
			enclave.AnnotationAttestationListen:   "tcp://127.0.0.1:0",
			enclave.AnnotationAttestationAttester: "sgx_ecdsa_sim",
			enclave.AnnotationLogLevel:            "info",
		}
		// The host's network: the enclave listens on the host's loopback.
		s.Linux.Namespaces = slices.DeleteFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.NetworkNamespace })
	})
	modulePath := filepath.Join(b, "rootfs", "greeter.wasm")
	if err := os.WriteFile(modulePath, module, 0o644); err != nil {
		t.Fatal(err)
	}
	runs := 0
	// start runs the container detached, listening on listen, and returns
	// the address runelet-wasm logged.
	start := func(listen string) string {
		t.Helper()
		setAnnotation(t, filepath.Join(b, "config.json"), enclave.AnnotationAttestationListen, listen)
		runs++
		logPath := filepath.Join(work, "container-"+string(rune('0'+runs))+".log")
		logf, err := os.Create(logPath)
		if err != nil {
			t.Fatal(err)
		}
		defer logf.Close()
		cmd := exec.Command(runeBin, "--root", e.root, "run", "--detach", "--bundle", b, id)
		cmd.Env = append(os.Environ(), e.extra...)
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Run(); err != nil {
			out, _ := os.ReadFile(logPath)
			t.Fatalf("rune run --detach: %v\n%s", err, out)
		}
		return waitLogAddr(t, logPath)
	}
	workload := start("tcp://127.0.0.1:0")

	incLog := filepath.Join(work, "inclavared.log")
	logf, err := os.Create(incLog)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	inc := exec.Command(filepath.Join(tools, "inclavared"), "--listen", "tcp://127.0.0.1:0", "--xfer", "tcp://"+workload,
		"-a", "sgx_ecdsa_sim", "--allow-simulated", "--freshness", "nonce")
	inc.Env, inc.Stdout, inc.Stderr = toolEnv, logf, logf
	if err := inc.Start(); err != nil {
		t.Fatal(err)
	}
	incDone := make(chan struct{})
	go func() { inc.Wait(); close(incDone) }()
	t.Cleanup(func() {
		inc.Process.Kill()
		<-incDone
	})
	inclavared := waitLogAddr(t, incLog)

	shelter := func(args ...string) result {
		t.Helper()
		cmd := exec.Command(filepath.Join(tools, "shelter"), args...)
		cmd.Env = toolEnv
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		done := make(chan error, 1)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Fatalf("shelter %q did not finish in 60s", args)
		}
		return result{stdout.String(), stderr.String(), cmd.ProcessState.ExitCode()}
	}
	if r := shelter("reference", "add", "greeter", "--evidence-type", "sgx_ecdsa", "--measurement", "mrenclave="+good); r.code != 0 {
		t.Fatalf("shelter reference add: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	attest := []string{"remoteattestation", "--addr", "tcp://" + inclavared, "--workload", "greeter", "--allow-simulated", "--message", "tenant"}
	r := shelter(attest...)
	if r.code != 0 || !strings.Contains(r.stdout, "reference:   greeter: match") || !strings.Contains(r.stdout, `Hello, tenant! Greetings from a WebAssembly module`) {
		t.Fatalf("remoteattestation of the recorded module: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}

	// One byte of the greeting changes: the module still runs, but it is
	// not the one recorded.
	i := strings.Index(string(module), "Hello, ")
	changed := slices.Clone(module)
	changed[i] = 'J'
	if err := os.WriteFile(modulePath, changed, 0o644); err != nil {
		t.Fatal(err)
	}
	e.must("delete", "--force", id)
	if again := start("tcp://" + workload); again != workload {
		t.Fatalf("restarted on %s, want %s", again, workload)
	}
	newSum := sha256.Sum256(changed)
	r = shelter(attest...)
	if r.code != 3 || !strings.Contains(r.stdout, "MISMATCH") || !strings.Contains(r.stdout, hex.EncodeToString(newSum[:])) || strings.Contains(r.stdout, "reply:") {
		t.Errorf("remoteattestation of the changed module: exit %d (want 3)\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	e.must("delete", "--force", id)
	inc.Process.Signal(os.Interrupt)
	select {
	case <-incDone:
	case <-time.After(15 * time.Second):
		t.Error("inclavared still runs 15s after SIGINT")
	}
}

// setAnnotation sets one annotation in the bundle's config.json.
func setAnnotation(t *testing.T, path, key, value string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	spec.Annotations[key] = value
	if raw, err = json.Marshal(&spec); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
}
