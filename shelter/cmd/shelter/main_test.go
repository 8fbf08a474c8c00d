package main

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inclavare/inclavare/appraisal/ear"
	"github.com/inclavare/inclavare/internal/testvectors"
	snp "github.com/inclavare/inclavare/tee/sevsnp"
)

// TestBinary builds shelter and runs it on the shared vectors at their
// pinned times (../shared/vectors/README.md), checking the exit codes.
func TestBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "shelter")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	vec := testvectors.Dir(t)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sgxQuote := filepath.Join(vec, "sgx/quote_v3_ecdsa_p256_pck_chain.bin")
	sgxColl := filepath.Join(vec, "sgx/quote_v3_ecdsa_p256_pck_chain_collateral.json")
	tdxQuote := filepath.Join(vec, "tdx/quote_v4_tdx_ecdsa_p256.bin")
	tdxColl := filepath.Join(vec, "tdx/quote_v4_tdx_ecdsa_p256_collateral.json")
	tampered := testvectors.Read(t, "tdx/quote_v4_tdx_ecdsa_p256.bin")
	tampered[200] ^= 1
	sim, err := snp.NewSimulator(snp.SimulatorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	report, err := sim.Report(make([]byte, 64))
	if err != nil {
		t.Fatal(err)
	}
	snpFile := write("snp.bin", report)
	vcek := write("vcek.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: sim.Certificates().VCEK}))
	refuse := write("refuse.yaml", []byte("id: refuse\nevidence:\n  tdx_ecdsa:\n    mrtd: ["+strings.Repeat("00", 48)+"]\n"))

	for name, tc := range map[string]struct {
		args       []string
		code       int
		stdout     string // substring
		stderr     string // substring
		wantStatus ear.Status
	}{
		"sgx warning": {args: []string{"--evidence", sgxQuote, "--collateral", sgxColl, "--at", "2022-12-20T00:50:04Z"},
			stdout: "SWHardeningNeeded"},
		"sgx dcap-qvl": {args: []string{"--evidence", filepath.Join(vec, "sgx/dcapqvl_sgx_quote.bin"), "--collateral", filepath.Join(vec, "sgx/dcapqvl_sgx_quote_collateral.json"), "--at", "2025-06-20T00:00:00Z", "--json"},
			stdout: "ConfigurationAndSWHardeningNeeded", wantStatus: ear.Warning},
		// The quote's report data, known to the caller: affirming.
		"tdx affirming": {args: []string{"--evidence", tdxQuote, "--collateral", tdxColl, "--at", "1725263032", "--json",
			"--report-data", "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"},
			wantStatus: ear.Affirming, stdout: `"tcb_status":"UpToDate"`},
		// Without it nothing binds the quote: at best a warning.
		"tdx unbound": {args: []string{"--evidence", tdxQuote, "--collateral", tdxColl, "--at", "1725263032", "--json"},
			wantStatus: ear.Warning, stdout: `"tcb_status":"UpToDate"`},
		"tdx tampered": {args: []string{"--evidence", write("tampered.bin", tampered), "--collateral", tdxColl, "--at", "1725263032"},
			code: 2, stderr: "verification failed"},
		"tdx refused by policy": {args: []string{"--evidence", tdxQuote, "--collateral", tdxColl, "--at", "1725263032", "--policy", refuse},
			code: 3, stdout: "contraindicated", stderr: "mrtd"},
		"snp simulated": {args: []string{"--evidence", snpFile, "--allow-simulated", "--report-data", strings.Repeat("00", 64)},
			stdout: "warning"},
		"snp with its vcek": {args: []string{"--evidence", snpFile, "--collateral", vcek, "--allow-simulated", "--report-data", strings.Repeat("00", 64), "--json"},
			wantStatus: ear.Warning},
		"snp bad collateral": {args: []string{"--evidence", snpFile, "--collateral", snpFile, "--allow-simulated"}, code: 1, stderr: "neither Intel collateral JSON nor AMD SEV certificates"},
		"snp not allowed":    {args: []string{"--evidence", snpFile}, code: 2, stderr: "--allow-simulated"},
		"wrong type":         {args: []string{"--evidence", snpFile, "--type", "tdx_ecdsa"}, code: 2, stderr: "not tdx_ecdsa"},
		"no evidence flag":   {args: nil, code: 1, stderr: "--evidence"},
		"missing file":       {args: []string{"--evidence", filepath.Join(dir, "nope")}, code: 1, stderr: "no such file"},
		"bad time":           {args: []string{"--evidence", sgxQuote, "--at", "yesterday"}, code: 1, stderr: "--at"},
	} {
		t.Run(name, func(t *testing.T) {
			cmd := exec.Command(bin, append([]string{"verify"}, tc.args...)...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tc.code || !strings.Contains(stdout.String(), tc.stdout) || !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("exit %d, want %d (stdout has %q, stderr has %q)\nstdout: %s\nstderr: %s", code, tc.code, tc.stdout, tc.stderr, stdout.String(), stderr.String())
			}
			if tc.wantStatus != "" {
				var r ear.Result
				if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
					t.Fatalf("%v: %s", err, stdout.String())
				}
				if r.Status != tc.wantStatus {
					t.Errorf("status %s, want %s", r.Status, tc.wantStatus)
				}
			}
		})
	}
}
