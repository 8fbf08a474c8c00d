package ratstls

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/inclavare/inclavare/framework/dice"
	"github.com/inclavare/inclavare/framework/instance"
)

// Peer is what a handshake proved about the other side.
type Peer struct {
	// Attested is true when the peer presented evidence and a verifier
	// accepted it; false for a peer accepted by the null verifier.
	Attested bool `json:"attested"`
	// Format is the carrier of the evidence (dice, cmw, legacy or none).
	Format dice.Format `json:"format"`
	// EvidenceType is the type of the evidence ("null" when none).
	EvidenceType string `json:"evidence_type"`
	// Verifier names the verifier that accepted the evidence.
	Verifier string `json:"verifier"`
	// Claims are what the verifier vouches for.
	Claims instance.Claims `json:"claims"`
	// CustomClaims are the peer's own claims, bound by its evidence.
	CustomClaims map[string][]byte `json:"custom_claims,omitempty"`
	// Evidence and Endorsements are as received.
	Evidence     []byte `json:"-"`
	Endorsements []byte `json:"-"`
	// Certificate is the peer's leaf certificate (nil without TLS).
	Certificate *x509.Certificate `json:"-"`
}

// Sentinel errors for refused peers; the wrapping error says more.
var (
	// ErrNoEvidence: the peer presented no evidence and the verifier is
	// not explicitly the null verifier.
	ErrNoEvidence = errors.New("peer presented no attestation evidence")
	// ErrBadCertificate: the peer's certificate is expired, not yet valid,
	// badly signed or carries an unknown critical extension.
	ErrBadCertificate = errors.New("peer certificate refused")
	// ErrRefused: the evidence did not verify or the callback refused it.
	ErrRefused = errors.New("peer attestation refused")
)

// verifyPeer checks the peer's chain and returns what it proved.
func (c *Config) verifyPeer(ctx context.Context, st *endpoint, raw [][]byte) (*Peer, error) {
	p := &Peer{Format: dice.FormatNone, EvidenceType: instance.EvidenceTypeNull}
	found := &dice.Found{Format: dice.FormatNone, Evidence: instance.Evidence{Type: instance.EvidenceTypeNull}}
	if len(raw) > 0 {
		cert, err := x509.ParseCertificate(raw[0])
		if err != nil {
			return nil, fmt.Errorf("%w: parsing: %w", ErrBadCertificate, err)
		}
		if err := c.checkCertificate(cert); err != nil {
			return nil, err
		}
		if found, err = dice.Find(cert, c.MaxEvidenceSize); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrRefused, err)
		}
		p.Format, p.Certificate = found.Format, cert
		p.CustomClaims, p.Endorsements = found.Claims.Custom, found.Endorsements
	}
	if found.Format == dice.FormatNone {
		// Fail closed: only an explicitly named null verifier accepts a
		// peer without evidence.
		if c.Verifier != instance.NullVerifierName {
			what := "no certificate"
			if len(raw) > 0 {
				what = "the certificate has no evidence extension"
			}
			return nil, fmt.Errorf("%w: %s (name the verifier %q to accept unattested peers)", ErrNoEvidence, what, instance.NullVerifierName)
		}
	} else {
		p.EvidenceType, p.Evidence = found.Evidence.Type, found.Evidence.Data
	}
	v, err := st.verifier(ctx, c.Verifier, found.Evidence.Type)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRefused, err)
	}
	claims, err := v.Verify(ctx, found.Evidence, found.ReportData, found.Endorsements)
	if err != nil {
		return nil, fmt.Errorf("%w: verifier %q: %w", ErrRefused, v.Descriptor().Name, err)
	}
	p.Attested = found.Format != dice.FormatNone
	p.Verifier, p.Claims = v.Descriptor().Name, claims
	return c.checkCallback(ctx, p)
}

func (c *Config) checkCallback(ctx context.Context, p *Peer) (*Peer, error) {
	if c.VerifyPeer != nil {
		if err := c.VerifyPeer(ctx, p); err != nil {
			return nil, fmt.Errorf("%w by the verification callback: %w", ErrRefused, err)
		}
	}
	return p, nil
}

// checkCertificate checks what TLS does not for a self-signed leaf: dates,
// its own signature, and critical extensions nobody here understands.
func (c *Config) checkCertificate(cert *x509.Certificate) error {
	now := c.now()
	if now.Before(cert.NotBefore) {
		return fmt.Errorf("%w: not valid before %s (now %s)", ErrBadCertificate, cert.NotBefore.UTC().Format("2006-01-02T15:04:05Z"), now.UTC().Format("2006-01-02T15:04:05Z"))
	}
	if now.After(cert.NotAfter) {
		return fmt.Errorf("%w: expired at %s (now %s)", ErrBadCertificate, cert.NotAfter.UTC().Format("2006-01-02T15:04:05Z"), now.UTC().Format("2006-01-02T15:04:05Z"))
	}
	for _, oid := range cert.UnhandledCriticalExtensions {
		if oid.Equal(dice.OIDTaggedEvidence) || oid.Equal(dice.OIDEndorsementManifest) || oid.Equal(dice.OIDCMW) {
			continue
		}
		return fmt.Errorf("%w: unknown critical extension %s", ErrBadCertificate, oid)
	}
	if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
		return fmt.Errorf("%w: self-signature: %w", ErrBadCertificate, err)
	}
	return nil
}
