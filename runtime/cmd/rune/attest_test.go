package main_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/inclavare/inclavare/runtime/enclave"
)

// greeterModule is the sample served by the attestation tests.
func greeterModule(t testing.TB) []byte {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	b, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "..", "samples", "wasm-greeter", "greeter.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// attestation is the JSON of `rune attest --json`.
type attestation struct {
	Container    string         `json:"container"`
	EnclaveType  string         `json:"enclave_type"`
	EvidenceType string         `json:"evidence_type"`
	Attester     string         `json:"attester"`
	Evidence     string         `json:"evidence"`
	ReportData   string         `json:"report_data"`
	Measurement  string         `json:"measurement"`
	Claims       map[string]any `json:"claims"`
	Verified     bool           `json:"verified"`
	Verdict      map[string]any `json:"verdict"`
}

func (e *env) attestJSON(args ...string) attestation {
	e.t.Helper()
	out := e.must(append([]string{"attest", "--json"}, args...)...)
	var a attestation
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		e.t.Fatalf("rune attest --json: %v\n%s", err, out)
	}
	return a
}

// TestAttestWasm: a wasm container's evidence is the simulated SGX quote
// whose MRENCLAVE is the module's SHA-256; --verify accepts it only with
// --allow-simulated.
func TestAttestWasm(t *testing.T) {
	e := newEnv(t)
	t.Parallel()
	module := greeterModule(t)
	sum := sha256.Sum256(module)
	digest := hex.EncodeToString(sum[:])
	e.extra = []string{"RUNE_WASM_CACHE=" + t.TempDir()}
	// Serve mode keeps the container running (in its own network
	// namespace: nothing connects here).
	b := e.bundle("aw", []string{"/greeter.wasm"}, withEnclave(map[string]string{
		enclave.AnnotationType:                "wasm",
		enclave.AnnotationAttestationListen:   "tcp://127.0.0.1:7000",
		enclave.AnnotationAttestationAttester: "sgx_ecdsa_sim",
	}, true))
	if err := os.WriteFile(filepath.Join(b, "rootfs", "greeter.wasm"), module, 0o644); err != nil {
		t.Fatal(err)
	}
	e.must("create", "--bundle", b, "aw")
	if r := e.rune("attest", "aw"); r.code != 1 || !strings.Contains(r.stderr, "only a running enclave") {
		t.Errorf("attest of a created container: code %d, stderr %q", r.code, r.stderr)
	}
	e.must("start", "aw")
	e.waitStatus("aw", "running")

	a := e.attestJSON("--report-data", "c0ffee", "aw")
	if a.EnclaveType != "wasm" || a.EvidenceType != "sgx_ecdsa" || a.Attester != "sgx_ecdsa_sim" || a.Measurement != digest || a.Verified {
		t.Errorf("attestation %+v", a)
	}
	if a.Claims["mrenclave"] != digest {
		t.Errorf("claims mrenclave %v, want the module's SHA-256 %s", a.Claims["mrenclave"], digest)
	}
	if rd, _ := a.Claims["report_data"].(string); !strings.HasPrefix(rd, "c0ffee00") || len(rd) != 128 {
		t.Errorf("claims report_data %q, want c0ffee zero-padded to 64 bytes", rd)
	}
	if ev, err := base64.StdEncoding.DecodeString(a.Evidence); err != nil || len(ev) < 432 {
		t.Errorf("evidence: %d bytes, %v", len(ev), err)
	}

	r := e.rune("attest", "--verify", "--allow-simulated", "aw")
	if r.code != 0 || !strings.Contains(r.stdout, "mrenclave:") || !strings.Contains(r.stdout, digest) || !strings.Contains(r.stdout, "claims (verified)") || !strings.Contains(r.stdout, "verdict:") {
		t.Errorf("attest --verify --allow-simulated: code %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	v := e.attestJSON("--verify", "--allow-simulated", "aw")
	if !v.Verified || v.Claims["mrenclave"] != digest || v.Claims["simulated"] != true || v.Verdict["ear.status"] == "contraindicated" {
		t.Errorf("verified attestation %+v", v)
	}
	if r := e.rune("attest", "--verify", "aw"); r.code != 2 || !strings.Contains(r.stderr, "--allow-simulated") {
		t.Errorf("attest --verify of a simulated TEE without --allow-simulated: code %d, stderr %q; want 2 and a hint", r.code, r.stderr)
	}
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"--report-data", "zz", "aw"}, "want hex"},
		{[]string{"--report-data", strings.Repeat("00", 65), "aw"}, "at most 64"},
		{[]string{"--allow-simulated", "aw"}, "give --verify"},
		{[]string{"--policy", "/nonexistent.yaml", "aw"}, "give --verify"},
		{[]string{"--verify", "--policy", "/nonexistent.yaml", "aw"}, "--policy"},
		{[]string{"no-such-container"}, "no-such-container"},
	} {
		if r := e.rune(append([]string{"attest"}, bad.args...)...); r.code != 1 || !strings.Contains(r.stderr, bad.want) {
			t.Errorf("attest %q: code %d, stderr %q; want 1 and %q", bad.args, r.code, r.stderr, bad.want)
		}
	}
	e.must("delete", "--force", "aw")
}

// TestAttestPAL: a PAL v3 container answers with the skeleton's local
// report (its measurement, the report data asked for), which --verify
// refuses as unverifiable; PAL v1 and v2 have no local report.
func TestAttestPAL(t *testing.T) {
	e := newEnv(t)
	t.Parallel()
	bb, _ := busybox()
	shell, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(shell) // the skeleton measures the first executable: /bin/sh, busybox
	for v := 1; v <= 3; v++ {
		t.Run("v"+strconv.Itoa(v), func(t *testing.T) {
			pal := skeleton(t, v)
			id := "ap" + strconv.Itoa(v)
			b := e.bundle(id, []string{"/bin/sh", "-c", "while true; do sleep 0.05; done"},
				withEnclave(map[string]string{enclave.AnnotationType: "simulated", enclave.AnnotationRuntimePath: pal}, true))
			e.must("run", "--detach", "--bundle", b, id)
			defer e.must("delete", "--force", id)
			e.waitStatus(id, "running")
			if v < 3 {
				r := e.rune("attest", id)
				if r.code != 1 || !strings.Contains(r.stderr, "API version "+strconv.Itoa(v)) || !strings.Contains(r.stderr, "no pal_get_local_report") {
					t.Errorf("attest of a PAL v%d container: code %d, stderr %q", v, r.code, r.stderr)
				}
				return
			}
			a := e.attestJSON("--report-data", "0102", id)
			if a.EvidenceType != "skeleton_local_report" || a.Measurement != hex.EncodeToString(sum[:]) || a.Claims["pal_version"] != float64(3) || a.Claims["hardware"] != false {
				t.Errorf("attestation %+v", a)
			}
			if rd, _ := a.Claims["report_data"].(string); rd != "0102"+strings.Repeat("00", 62) {
				t.Errorf("report data claim %q", rd)
			}
			if r := e.rune("attest", "--verify", "--allow-simulated", id); r.code != 2 || !strings.Contains(r.stderr, "cannot be verified by the framework") {
				t.Errorf("attest --verify of a skeleton report: code %d, stderr %q", r.code, r.stderr)
			}
		})
	}
}

// TestAttestPlainContainer: a container without an enclave has nothing to
// attest.
func TestAttestPlainContainer(t *testing.T) {
	e := newEnv(t)
	t.Parallel()
	b := e.bundle("plain", []string{"/bin/sleep", "100"}, func(s *specs.Spec) {})
	e.must("run", "--detach", "--bundle", b, "plain")
	defer e.must("delete", "--force", "plain")
	e.waitStatus("plain", "running")
	if r := e.rune("attest", "plain"); r.code != 1 || !strings.Contains(r.stderr, "runs no enclave") {
		t.Errorf("attest of a plain container: code %d, stderr %q", r.code, r.stderr)
	}
}
