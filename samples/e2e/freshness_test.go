package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSimulatedSNPEveryMode runs the simulated SEV-SNP TEE on both sides,
// mutually attested, in every freshness mode, built in and through plugins.
func TestSimulatedSNPEveryMode(t *testing.T) {
	none := noPlugins(t)
	for _, src := range []struct {
		name string
		args []string
	}{
		{"builtin", []string{"--plugin-dir", none}},
		{"plugins", []string{"--no-builtin", "--plugin-dir", pluginDir}},
	} {
		for _, mode := range []string{"none", "nonce", "exporter"} {
			t.Run(src.name+"/"+mode, func(t *testing.T) {
				common := append([]string{"-a", "sev_snp_sim", "-m", "--allow-simulated", "--freshness", mode}, src.args...)
				s := startServer(t, common...)
				r := mustClientJSON(t, s.port, common...)
				if !r.Attested || r.EvidenceType != "sev_snp" || r.Verifier != "sev_snp" || r.Freshness != mode {
					t.Errorf("client result %+v", r)
				}
				if r.Claims["simulated"] != true || r.Claims["measurement"] == "" {
					t.Errorf("claims %v: want simulated=true and a measurement", r.Claims)
				}
				if !strings.Contains(s.logs(), "evidence=sev_snp") || !strings.Contains(s.logs(), "freshness="+mode) {
					t.Errorf("server did not verify the client's SNP evidence in %s mode:\n%s", mode, s.logs())
				}
			})
		}
	}
}

func TestSimulatedSNPRefusedWithoutAllowSimulated(t *testing.T) {
	none := noPlugins(t)
	s := startServer(t, "-a", "sev_snp_sim", "--plugin-dir", none)
	_, errOut, code := client(t, s.port, "--plugin-dir", none)
	if code == 0 || !strings.Contains(errOut, "--allow-simulated") {
		t.Fatalf("simulated SNP accepted without --allow-simulated (exit %d):\n%s", code, errOut)
	}
	r := mustClientJSON(t, s.port, "--allow-simulated", "--plugin-dir", none)
	if r.Freshness != "exporter" {
		t.Errorf("auto between two Inclavare peers negotiated %q, want exporter", r.Freshness)
	}
}

func TestFreshnessDowngradeRefused(t *testing.T) {
	none := noPlugins(t)
	s := startServer(t, "-a", "sev_snp_sim", "--freshness", "none", "--plugin-dir", none)
	_, errOut, code := client(t, s.port, "--allow-simulated", "--freshness", "exporter", "--plugin-dir", none)
	if code == 0 || !strings.Contains(errOut, "freshness refused") {
		t.Fatalf("client requiring exporter accepted a none-only server (exit %d):\n%s", code, errOut)
	}
	_, errOut, code = client(t, s.port, "--allow-simulated", "--require-freshness", "nonce", "--plugin-dir", none)
	if code == 0 || !strings.Contains(errOut, "freshness refused") {
		t.Fatalf("client requiring at least nonce accepted a none-only server (exit %d):\n%s", code, errOut)
	}
}

// TestPolicy appraises the simulated SNP server against a policy file: the
// simulator's measurement is accepted, another measurement is refused with
// the reason, and the EAR result is in the client's JSON.
func TestPolicy(t *testing.T) {
	none := noPlugins(t)
	s := startServer(t, "-a", "sev_snp_sim", "--plugin-dir", none)
	write := func(measurement string) string {
		p := filepath.Join(t.TempDir(), "policy.yaml")
		body := "id: e2e\nversion: 1\nevidence:\n  sev_snp:\n    allow_simulated: true\n    freshness: exporter\n    measurement:\n      - " + measurement + "\n"
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	r := mustClientJSON(t, s.port, "--allow-simulated", "--plugin-dir", none)
	m, _ := r.Claims["measurement"].(string)
	out, errOut, code := client(t, s.port, "--allow-simulated", "--plugin-dir", none, "--json", "--policy", write(m))
	if code != 0 || !strings.Contains(out, `"ear.status": "warning"`) {
		t.Errorf("the simulator's own measurement: exit %d, want a warning verdict (simulated):\n%s\n%s", code, out, errOut)
	}
	other := strings.Repeat("ab", 48)
	_, errOut, code = client(t, s.port, "--allow-simulated", "--plugin-dir", none, "--policy", write(other))
	if code == 0 || !strings.Contains(errOut, "contraindicated") || !strings.Contains(errOut, other) {
		t.Errorf("another measurement: exit %d, want a refusal naming it:\n%s", code, errOut)
	}
	_, errOut, code = client(t, s.port, "--plugin-dir", none, "--policy", filepath.Join(t.TempDir(), "missing.yaml"))
	if code == 0 || !strings.Contains(errOut, "missing.yaml") {
		t.Errorf("a missing policy file: exit %d:\n%s", code, errOut)
	}
}
