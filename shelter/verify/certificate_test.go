package verify

import (
	"context"
	"encoding/pem"
	"errors"
	"testing"

	"github.com/inclavare/inclavare/appraisal/ear"
	"github.com/inclavare/inclavare/internal/testvectors"
	"github.com/inclavare/inclavare/shelter/verify/verifytest"
	snp "github.com/inclavare/inclavare/tee/sevsnp"
)

// A certificate carrying evidence verifies, and its report data is checked
// against the certificate's key without --report-data.
func TestCertificateCarryingEvidence(t *testing.T) {
	for _, c := range []struct{ attester, evType string }{
		{"sev_snp_sim", TypeSNP},
		{"sgx_ecdsa_sim", TypeSGX},
		{"tdx_ecdsa_sim", TypeTDX},
	} {
		t.Run(c.attester, func(t *testing.T) {
			cert := verifytest.PeerCertificate(t, c.attester)
			if _, err := Evidence(context.Background(), cert, Options{}); err == nil {
				t.Fatal("simulated evidence accepted without AllowSimulated")
			}
			res, err := Evidence(context.Background(), cert, Options{AllowSimulated: true})
			if err != nil {
				t.Fatal(err)
			}
			if !res.FromCertificate || res.Type != c.evType || !res.ReportDataChecked || res.ReportDataSource != "certificate" {
				t.Fatalf("certificate %v, type %s, report data checked %v from %q", res.FromCertificate, res.Type, res.ReportDataChecked, res.ReportDataSource)
			}
			// Simulated: a warning, never affirming.
			if res.Appraisal.Status != ear.Warning {
				t.Fatalf("status %s, reasons %v", res.Appraisal.Status, res.Appraisal.Reasons)
			}
			// Evidence of the certificate against another expected value.
			res, err = Evidence(context.Background(), cert, Options{AllowSimulated: true, ReportData: []byte("other")})
			if err != nil || res.Appraisal.Status != ear.Contraindicated {
				t.Fatalf("other report data: %v, %+v", err, res)
			}
			// The type asked for must be the certificate's.
			other := TypeSNP
			if c.evType == TypeSNP {
				other = TypeSGX
			}
			if _, err := Evidence(context.Background(), cert, Options{AllowSimulated: true, Type: other}); !errors.Is(err, ErrVerification) {
				t.Fatalf("type %s: %v", other, err)
			}
		})
	}
}

// A certificate whose signature or evidence was changed is refused.
func TestCertificateTampered(t *testing.T) {
	blk, _ := pem.Decode(verifytest.PeerCertificate(t, "sev_snp_sim"))
	der := blk.Bytes
	for name, i := range map[string]int{
		"signature":       len(der) - 2,
		"evidence (body)": len(der) / 2,
	} {
		bad := append([]byte(nil), der...)
		bad[i] ^= 0x01
		in := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: bad})
		res, err := Evidence(context.Background(), in, Options{AllowSimulated: true})
		if err == nil && res.Appraisal.Status != ear.Contraindicated {
			t.Errorf("%s changed: accepted (%s)", name, res.Appraisal.Status)
		} else if err != nil && !errors.Is(err, ErrVerification) {
			t.Errorf("%s changed: %v, want ErrVerification", name, err)
		}
	}
}

func TestSetCollateral(t *testing.T) {
	var o Options
	if err := o.SetCollateral(testvectors.Read(t, "sgx/quote_v3_ecdsa_p256_pck_chain_collateral.json")); err != nil || o.Collateral == nil {
		t.Fatalf("Intel collateral: %v", err)
	}
	sim, err := snp.NewSimulator(snp.SimulatorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c := sim.Certificates()
	if err := o.SetCollateral(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.VCEK})); err != nil || o.SNPCertificates == nil {
		t.Fatalf("SEV-SNP certificates: %v", err)
	}
	rd := make([]byte, 64)
	raw, err := sim.Report(rd)
	if err != nil {
		t.Fatal(err)
	}
	o.AllowSimulated, o.ReportData = true, rd
	if res, err := Evidence(context.Background(), raw, o); err != nil || res.Appraisal.Status != ear.Warning {
		t.Fatalf("report with its VCEK: %v %+v", err, res)
	}
	// The ARK in the VCEK's place: the report's key is not that one.
	o.SNPCertificates = &snp.Certificates{VCEK: c.ARK}
	if _, err := Evidence(context.Background(), raw, o); !errors.Is(err, ErrVerification) {
		t.Fatalf("wrong VCEK: %v", err)
	}
	for name, b := range map[string]string{"garbage": "garbage", "bad json": "{", "empty": ""} {
		if err := (&Options{}).SetCollateral([]byte(b)); !errors.Is(err, ErrUsage) {
			t.Errorf("%s: %v, want ErrUsage", name, err)
		}
	}
}
