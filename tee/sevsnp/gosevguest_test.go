package sevsnp

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"crypto/x509"

	"github.com/google/go-sev-guest/abi"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
	sevverify "github.com/google/go-sev-guest/verify"
	"github.com/google/go-sev-guest/verify/trust"
)

// goSevGuestVerify runs go-sev-guest's own verifier with ark and ask as the
// only trusted root.
func goSevGuestVerify(report []byte, certs Certificates, ark, ask *x509.Certificate, now time.Time) error {
	p, err := abi.ReportToProto(report)
	if err != nil {
		return err
	}
	root := trust.AMDRootCertsProduct("Milan")
	root.ProductCerts = &trust.ProductCerts{Ark: ark, Ask: ask}
	return sevverify.SnpAttestation(&spb.Attestation{
		Report:           p,
		CertificateChain: &spb.CertificateChain{VcekCert: certs.VCEK, AskCert: certs.ASK, ArkCert: certs.ARK},
	}, &sevverify.Options{
		DisableCertFetching: true,
		Now:                 now,
		TrustedRoots:        map[string][]*trust.AMDRootCerts{"Milan": {root}},
	})
}

func hexs(b []byte) string { return hex.EncodeToString(b) }

func writeFile(t *testing.T, dir, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}
