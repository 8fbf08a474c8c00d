package ratstls

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"sync"

	"github.com/inclavare/inclavare/framework/dice"
	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/registry"
)

// ErrClosed is returned by handshakes on a closed Config.
var ErrClosed = errors.New("rats-tls config is closed")

// endpoint is a Config's live state: the instances and this side's
// credentials.
type endpoint struct {
	closed  bool
	catalog *registry.Catalog
	opts    instance.Options

	tls      registry.Selected
	crypto   registry.Selected
	attester registry.Selected // zero when this side does not attest

	issued bool // the attester is selected and cert and key made
	cert   [][]byte
	key    crypto.Signer

	vmu       sync.Mutex
	verifiers map[string]registry.Selected // by evidence type
}

// endpoint returns the live state, creating what role needs on first use.
func (c *Config) endpoint(ctx context.Context, role instance.Role) (*endpoint, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state != nil && c.state.closed {
		return nil, ErrClosed
	}
	if c.state == nil {
		st, err := c.newEndpoint(ctx)
		if err != nil {
			return nil, err
		}
		c.state = st
	}
	attests := role == instance.RoleServer || c.Mutual
	if attests && !c.state.issued {
		if err := c.state.issue(ctx, c); err != nil {
			return nil, err
		}
		c.state.issued = true
	}
	return c.state, nil
}

func (c *Config) newEndpoint(ctx context.Context) (*endpoint, error) {
	cat := c.Catalog
	if cat == nil {
		cat = registry.NewCatalog(false, nil, c.logger())
	}
	st := &endpoint{
		catalog:   cat,
		opts:      instance.Options{DebugEnclave: c.DebugEnclave, Endorsements: c.Endorsements, AllowSimulated: c.AllowSimulated},
		verifiers: map[string]registry.Selected{},
	}
	var err error
	if st.tls, err = cat.Select(ctx, instance.KindTLS, c.TLS, st.opts); err != nil {
		return nil, fmt.Errorf("selecting the TLS wrapper: %w", err)
	}
	if st.crypto, err = cat.Select(ctx, instance.KindCrypto, c.Crypto, st.opts); err != nil {
		st.close()
		return nil, fmt.Errorf("selecting the crypto wrapper: %w", err)
	}
	c.logger().Debug("rats-tls instances selected", "tls", st.tls.Instance.Descriptor().Name, "crypto", st.crypto.Instance.Descriptor().Name)
	return st, nil
}

// issue selects the attester and makes this side's key and certificate.
func (st *endpoint) issue(ctx context.Context, c *Config) (err error) {
	sel, err := st.catalog.Select(ctx, instance.KindAttester, c.Attester, st.opts)
	if err != nil {
		return fmt.Errorf("selecting the attester: %w", err)
	}
	defer func() {
		if err != nil {
			sel.Instance.Close()
			return
		}
		st.attester = sel
	}()
	att := sel.Instance.(instance.Attester)
	cw := st.crypto.Instance.(instance.CryptoWrapper)
	alg, err := instance.ParseKeyAlgorithm(string(c.KeyAlgorithm))
	if err != nil {
		return err
	}
	key, err := cw.GenerateKey(ctx, alg)
	if errors.Is(err, instance.ErrUnsupported) {
		// nullcrypto: no certificate; only nulltls can work with that.
		c.logger().Debug("crypto wrapper makes no keys; no certificate will be presented", "crypto", cw.Descriptor().Name)
		return nil
	}
	if err != nil {
		return fmt.Errorf("generating the %s certificate key: %w", alg, err)
	}
	pkh, err := cw.PubKeyHash(ctx, instance.SHA256, key.Public())
	if err != nil {
		return fmt.Errorf("hashing the certificate key: %w", err)
	}
	claims, err := dice.EncodeClaims(dice.Claims{
		PubKeyHash: dice.PubKeyHash{Alg: instance.SHA256, Hash: pkh},
		Custom:     c.CustomClaims,
	})
	if err != nil {
		return fmt.Errorf("encoding claims: %w", err)
	}
	ev, err := att.Collect(ctx, dice.ReportData(claims))
	if err != nil {
		return fmt.Errorf("collecting evidence with attester %q: %w", att.Descriptor().Name, err)
	}
	var exts []pkix.Extension
	if ev.Type != instance.EvidenceTypeNull {
		v, err := dice.EncodeEvidence(ev, claims)
		if err != nil {
			return fmt.Errorf("encoding %s evidence: %w", ev.Type, err)
		}
		exts = append(exts, pkix.Extension{Id: dice.OIDTaggedEvidence, Value: v})
		if c.Endorsements {
			e, err := att.Endorsements(ctx, ev)
			if err != nil {
				return fmt.Errorf("collecting endorsements with attester %q: %w", att.Descriptor().Name, err)
			}
			if e != nil {
				v, err := dice.EncodeEndorsements(ev.Type, e)
				if err != nil {
					return err
				}
				exts = append(exts, pkix.Extension{Id: dice.OIDEndorsementManifest, Value: v})
			}
		}
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return fmt.Errorf("certificate serial: %w", err)
	}
	validity := c.CertificateValidity
	if validity <= 0 {
		validity = DefaultCertificateValidity
	}
	now := c.now()
	der, err := cw.SelfSignedCertificate(ctx, key, instance.CertificateTemplate{
		Subject:      pkix.Name{Organization: []string{"Inclavare"}, CommonName: "RATS-TLS"},
		SerialNumber: serial,
		NotBefore:    now.Add(-5 * 60e9),
		NotAfter:     now.Add(validity),
		Extensions:   exts,
	})
	if err != nil {
		return fmt.Errorf("issuing the certificate: %w", err)
	}
	st.cert, st.key = [][]byte{der}, key
	c.logger().Debug("rats-tls certificate issued", "attester", att.Descriptor().Name, "evidence", ev.Type, "evidence_bytes", len(ev.Data), "key", alg)
	return nil
}

// verifier returns the verifier for evType, creating it on first use.
func (st *endpoint) verifier(ctx context.Context, name, evType string) (instance.Verifier, error) {
	st.vmu.Lock()
	defer st.vmu.Unlock()
	if st.verifiers == nil {
		// Closed while this handshake waited for the peer's certificate.
		return nil, ErrClosed
	}
	if s, ok := st.verifiers[evType]; ok {
		return s.Instance.(instance.Verifier), nil
	}
	s, err := st.catalog.SelectVerifier(ctx, name, evType, st.opts)
	if err != nil {
		return nil, err
	}
	st.verifiers[evType] = s
	return s.Instance.(instance.Verifier), nil
}

func (st *endpoint) selected() map[instance.Kind]Selection {
	out := map[instance.Kind]Selection{}
	add := func(k instance.Kind, s registry.Selected) {
		if s.Instance != nil {
			d := s.Instance.Descriptor()
			out[k] = Selection{Name: d.Name, Type: d.Type, Source: s.Registration.Source}
		}
	}
	add(instance.KindTLS, st.tls)
	add(instance.KindCrypto, st.crypto)
	add(instance.KindAttester, st.attester)
	st.vmu.Lock()
	for _, s := range st.verifiers {
		add(instance.KindVerifier, s)
	}
	st.vmu.Unlock()
	return out
}

func (st *endpoint) close() error {
	var errs []error
	for _, s := range []registry.Selected{st.attester, st.crypto, st.tls} {
		if s.Instance != nil {
			errs = append(errs, s.Instance.Close())
		}
	}
	st.vmu.Lock()
	for _, s := range st.verifiers {
		errs = append(errs, s.Instance.Close())
	}
	st.verifiers = nil
	st.vmu.Unlock()
	return errors.Join(errs...)
}
