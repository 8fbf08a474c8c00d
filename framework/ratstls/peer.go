package ratstls

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"

	"github.com/inclavare/inclavare/framework/dice"
	"github.com/inclavare/inclavare/framework/instance"
)

// Peer is what a handshake proved about the other side.
type Peer struct {
	// Attested is true when the peer presented evidence and a verifier
	// accepted it; false for a peer accepted by the null verifier.
	Attested bool `json:"attested"`
	// Freshness is the mode that protected the connection.
	Freshness Freshness `json:"freshness"`
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
	// Appraisal is what the VerifyPeer callback concluded, if it records
	// it (for example an appraisal/ear Result).
	Appraisal any `json:"appraisal,omitempty"`
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

// verifyPeer checks the peer's certificate chain for a session in mode.
// In nonce mode the evidence must carry nonce; in exporter mode only the
// certificate is checked here (evidence follows the handshake: see
// verifyMessage), and the returned Peer is not complete yet.
//
// In none mode the same certificate carries the same evidence every time,
// so a verdict on it is remembered (see endpoint.recall) for EvidenceTTL:
// a peer that reconnects costs a lookup, not a verification. The callback
// still runs on every connection.
func (c *Config) verifyPeer(ctx context.Context, st *endpoint, ps instance.PeerState, mode Freshness, nonce []byte) (*Peer, error) {
	p, err := c.verifyPeerEvidence(ctx, st, ps, mode, nonce)
	if err != nil {
		return nil, err
	}
	if mode == FreshnessExporter && len(ps.Certificates) > 0 {
		return p, nil // not complete: the callback runs after verifyMessage
	}
	return c.checkCallback(ctx, p)
}

func (c *Config) verifyPeerEvidence(ctx context.Context, st *endpoint, ps instance.PeerState, mode Freshness, nonce []byte) (*Peer, error) {
	p := &Peer{Freshness: mode}
	if len(ps.Certificates) == 0 {
		return c.appraise(ctx, st, p, &dice.Found{Format: dice.FormatNone, Evidence: instance.Evidence{Type: instance.EvidenceTypeNull}}, "no certificate", nil)
	}
	raw := ps.Certificates[0]
	key := sha256.Sum256(raw)
	if mode == FreshnessNone {
		if p := st.recall(key, c.now()); p != nil {
			return p, nil
		}
	}
	cert := ps.Leaf
	if cert == nil {
		var err error
		if cert, err = x509.ParseCertificate(raw); err != nil {
			return nil, fmt.Errorf("%w: parsing: %w", ErrBadCertificate, err)
		}
	}
	if err := c.checkCertificate(cert); err != nil {
		return nil, err
	}
	p.Certificate = cert
	if mode == FreshnessExporter {
		return p, nil
	}
	found, err := dice.Find(cert, c.MaxEvidenceSize)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRefused, err)
	}
	var want map[string][]byte
	if mode == FreshnessNonce {
		want = map[string][]byte{ClaimNonce: nonce}
	}
	if p, err = c.appraise(ctx, st, p, found, "the certificate has no evidence extension", want); err != nil {
		return nil, err
	}
	if mode == FreshnessNone {
		st.remember(key, p, c.now().Add(c.evidenceTTL()))
	}
	return p, nil
}

// verifyMessage checks the evidence a peer sent after the handshake in
// exporter mode against the peer's certificate and this session's exporter.
func (c *Config) verifyMessage(ctx context.Context, st *endpoint, p *Peer, msg, exporter []byte) (*Peer, error) {
	ev, endorse, err := dice.DecodeMessage(msg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRefused, err)
	}
	if ev == nil {
		if p, err = c.appraise(ctx, st, p, &dice.Found{Format: dice.FormatNone, Evidence: instance.Evidence{Type: instance.EvidenceTypeNull}}, "the peer sent no evidence after the handshake", nil); err != nil {
			return nil, err
		}
		return c.checkCallback(ctx, p)
	}
	if p.Certificate == nil {
		return nil, fmt.Errorf("%w: evidence arrived, but the peer presented no certificate to bind it to", ErrRefused)
	}
	found, err := dice.Bind(p.Certificate, dice.FormatDICE, ev, endorse)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRefused, err)
	}
	if p, err = c.appraise(ctx, st, p, found, "", map[string][]byte{ClaimExporter: exporter}); err != nil {
		return nil, err
	}
	return c.checkCallback(ctx, p)
}

// appraise finishes p: evidence found (or its absence, described by none)
// is verified by the right verifier and the freshness claims in want are
// checked. The callback is the caller's to run.
func (c *Config) appraise(ctx context.Context, st *endpoint, p *Peer, found *dice.Found, none string, want map[string][]byte) (*Peer, error) {
	p.Format, p.EvidenceType = found.Format, found.Evidence.Type
	if found.Format == dice.FormatNone {
		// Fail closed: only an explicitly named null verifier accepts a
		// peer without evidence.
		if c.Verifier != instance.NullVerifierName {
			return nil, fmt.Errorf("%w: %s (name the verifier %q to accept unattested peers)", ErrNoEvidence, none, instance.NullVerifierName)
		}
	} else {
		p.Evidence, p.Endorsements = found.Evidence.Data, found.Endorsements
		p.CustomClaims = maps.Clone(found.Claims.Custom)
		for k, v := range want {
			got, ok := found.Claims.Custom[k]
			if !ok {
				return nil, fmt.Errorf("%w: %s mode, but the evidence carries no %q claim", ErrFreshness, p.Freshness, k)
			}
			if subtle.ConstantTimeCompare(got, v) != 1 {
				return nil, fmt.Errorf("%w: the evidence's %q claim is not this session's (replayed evidence?)", ErrFreshness, k)
			}
		}
		delete(p.CustomClaims, ClaimNonce)
		delete(p.CustomClaims, ClaimExporter)
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
	return p, nil
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
