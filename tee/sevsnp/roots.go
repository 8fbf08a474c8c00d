package sevsnp

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"sync"

	"github.com/google/go-sev-guest/verify/trust"

	"github.com/inclavare/inclavare/tee/sevsnp/simulated"
)

// Root is a trust anchor: an ARK, and the intermediates it issued that a
// verifier uses when the endorsements carry none.
type Root struct {
	// ProductLine is the AMD product line of the ARK ("Milan", "Genoa",
	// "Turin").
	ProductLine string
	// ARK is the root certificate. It is trusted as it is: its
	// self-signature is not what makes it trusted.
	ARK *x509.Certificate
	// ASK issues VCEKs; ASVK issues VLEKs. Either may be nil.
	ASK, ASVK *x509.Certificate
	// Simulated marks the test-only root of the simulated TEE (package
	// simulated). A verifier trusts it only when its options allow
	// simulated evidence.
	Simulated bool
	// Endorsers are VCEK or VLEK certificates issued under this root that
	// a verifier may use for a report whose endorsements carry none (the
	// simulated root holds the simulated VCEK, so that simulated evidence
	// verifies without endorsements, as real evidence does with
	// Options.CertDir). They are checked like any other.
	Endorsers []*x509.Certificate

	id [sha256.Size]byte
}

// NewRoot makes a root of ark (and its intermediates, which may be nil).
func NewRoot(productLine string, ark, ask, asvk *x509.Certificate, simulated bool) *Root {
	return &Root{ProductLine: productLine, ARK: ark, ASK: ask, ASVK: asvk, Simulated: simulated, id: sha256.Sum256(ark.Raw)}
}

// Name names the root for messages: "AMD ARK-Milan" or "simulated
// ARK-Milan (sev_snp_sim, test only)".
func (r *Root) Name() string {
	if r.Simulated {
		return fmt.Sprintf("simulated %s (sev_snp_sim, test only)", r.ARK.Subject.CommonName)
	}
	return "AMD " + r.ARK.Subject.CommonName
}

// AMDRoots returns the AMD roots embedded in go-sev-guest's trust package,
// one per product line (Milan, Genoa, Turin), each with its VCEK and VLEK
// intermediates.
var AMDRoots = sync.OnceValues(func() ([]*Root, error) {
	var out []*Root
	for _, b := range []struct {
		line       string
		vcek, vlek []byte
	}{
		{"Milan", trust.AskArkMilanVcekBytes, trust.AskArkMilanVlekBytes},
		{"Genoa", trust.AskArkGenoaVcekBytes, trust.AskArkGenoaVlekBytes},
		{"Turin", trust.AskArkTurinVcekBytes, trust.AskArkTurinVlekBytes},
	} {
		vcek, err := pemCerts(b.vcek)
		if err != nil {
			return nil, fmt.Errorf("embedded AMD %s VCEK chain: %w", b.line, err)
		}
		vlek, err := pemCerts(b.vlek)
		if err != nil {
			return nil, fmt.Errorf("embedded AMD %s VLEK chain: %w", b.line, err)
		}
		// KDS cert_chain bodies are the intermediate, then the ARK.
		if len(vcek) != 2 || len(vlek) != 2 || !vcek[1].Equal(vlek[1]) ||
			vcek[1].Subject.CommonName != "ARK-"+b.line || vcek[0].Subject.CommonName != "SEV-"+b.line || vlek[0].Subject.CommonName != "SEV-VLEK-"+b.line {
			return nil, fmt.Errorf("embedded AMD %s chains are not [SEV-%[1]s, ARK-%[1]s] and [SEV-VLEK-%[1]s, ARK-%[1]s]", b.line)
		}
		out = append(out, NewRoot(b.line, vcek[1], vcek[0], vlek[0], false))
	}
	return out, nil
})

// SimulatedRoot returns the test-only root of the simulated TEE.
var SimulatedRoot = sync.OnceValues(func() (*Root, error) {
	m, err := simulated.Load()
	if err != nil {
		return nil, err
	}
	r := NewRoot(simulated.ProductLine, m.ARK, m.ASK, nil, true)
	r.Endorsers = []*x509.Certificate{m.VCEK}
	return r, nil
})

// DefaultRoots returns the AMD roots and the simulated root (which is
// recognised, so that refusing it can say why, and trusted only when
// allowed).
func DefaultRoots() ([]*Root, error) {
	amd, err := AMDRoots()
	if err != nil {
		return nil, err
	}
	sim, err := SimulatedRoot()
	if err != nil {
		return nil, err
	}
	return append(append([]*Root(nil), amd...), sim), nil
}

// pemCerts parses every CERTIFICATE block of p, ignoring text around them.
func pemCerts(p []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var b *pem.Block
		if b, p = pem.Decode(p); b == nil {
			return out, nil
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
}
