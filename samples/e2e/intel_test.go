package e2e

import (
	"strings"
	"testing"
)

// TestSimulatedIntel runs the simulated SGX and TDX TEEs on both sides,
// mutually attested in exporter mode, built in and through plugins.
func TestSimulatedIntel(t *testing.T) {
	none := noPlugins(t)
	for _, tee := range []struct{ attester, evidence, measurement string }{
		{"sgx_ecdsa_sim", "sgx_ecdsa", "mrenclave"},
		{"tdx_ecdsa_sim", "tdx_ecdsa", "mrtd"},
	} {
		for _, src := range []struct {
			name string
			args []string
		}{
			{"builtin", []string{"--plugin-dir", none}},
			{"plugins", []string{"--no-builtin", "--plugin-dir", pluginDir}},
		} {
			t.Run(tee.attester+"/"+src.name, func(t *testing.T) {
				common := append([]string{"-a", tee.attester, "-m", "--allow-simulated", "--freshness", "exporter"}, src.args...)
				s := startServer(t, common...)
				r := mustClientJSON(t, s.port, common...)
				if !r.Attested || r.EvidenceType != tee.evidence || r.Verifier != tee.evidence || r.Freshness != "exporter" {
					t.Errorf("client result %+v", r)
				}
				if r.Claims["simulated"] != true || r.Claims[tee.measurement] == "" || r.Claims["tcb_status"] != "UpToDate" {
					t.Errorf("claims %v: want simulated=true, %s and tcb_status UpToDate", r.Claims, tee.measurement)
				}
				if !strings.Contains(s.logs(), "evidence="+tee.evidence) {
					t.Errorf("server did not verify the client's %s evidence:\n%s", tee.evidence, s.logs())
				}
			})
		}
	}
}

// TestSimulatedIntelRefusedWithoutAllowSimulated: a client without
// --allow-simulated refuses the simulated SGX server and says why.
func TestSimulatedIntelRefusedWithoutAllowSimulated(t *testing.T) {
	none := noPlugins(t)
	s := startServer(t, "-a", "sgx_ecdsa_sim", "--plugin-dir", none)
	_, errOut, code := client(t, s.port, "--plugin-dir", none)
	if code == 0 || !strings.Contains(errOut, "--allow-simulated") {
		t.Fatalf("simulated SGX accepted without --allow-simulated (exit %d):\n%s", code, errOut)
	}
}
