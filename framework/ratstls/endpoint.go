package ratstls

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/big"
	"sync"
	"sync/atomic"
	"time"

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

	tls    registry.Selected
	crypto registry.Selected

	// id is this side's attester and key, nil until issued (and for a
	// side that does not attest). It is replaced whole when its key is
	// lost; a handshake uses the one it started with.
	id atomic.Pointer[identity]
	// retired are identities replaced after a key loss, closed with the
	// endpoint (a handshake may still use one).
	retired []*identity

	vmu       sync.Mutex
	verifiers map[string]registry.Selected // by evidence type

	pmu      sync.Mutex
	verdicts map[[32]byte]verdict // none-mode peers, by certificate hash
}

// identity is an attester, a key of the crypto wrapper and the
// certificates made for that key.
type identity struct {
	attester registry.Selected
	key      crypto.Signer // nil with nullcrypto
	pkh      []byte        // SHA-256 of key's SubjectPublicKeyInfo
	// lost is set when the crypto wrapper no longer holds key (a crypto
	// plugin whose process was restarted): the next handshake makes a new
	// identity.
	lost atomic.Bool

	cmu    sync.Mutex // guards the cached certificates
	cert   [][]byte   // none mode, issued at certAt
	certAt time.Time
	bare   [][]byte // exporter mode: no evidence, issued at bareAt
	bareAt time.Time
}

// note records that err says the key is lost.
func (id *identity) note(err error) error {
	if errors.Is(err, instance.ErrKeyLost) {
		id.lost.Store(true)
	}
	return err
}

// watchedKey is the key handed to the TLS stack: it notes key loss in
// signatures made during handshakes.
type watchedKey struct {
	crypto.Signer
	id *identity
}

// Sign signs with the key, noting a lost key.
func (k watchedKey) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	sig, err := k.Signer.Sign(r, digest, opts)
	return sig, k.id.note(err)
}

// identity returns this side's identity (nil if not issued).
func (st *endpoint) identity() *identity { return st.id.Load() }

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
	if id := c.state.identity(); attests && id != nil && id.lost.Load() {
		// The crypto wrapper lost the key (its plugin process restarted):
		// make a new key and certificate, as at the first handshake.
		c.logger().Warn("rats-tls certificate key lost with its crypto plugin; making a new one")
		c.state.retired = append(c.state.retired, id)
		c.state.id.Store(nil)
	}
	if attests && c.state.identity() == nil {
		id, err := c.state.issue(ctx, c)
		if err != nil {
			return nil, err
		}
		c.state.id.Store(id)
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

// issue selects the attester and makes this side's key, and the
// certificate of none mode.
func (st *endpoint) issue(ctx context.Context, c *Config) (_ *identity, err error) {
	for k := range c.CustomClaims {
		if k == ClaimNonce || k == ClaimExporter || k == dice.ClaimPubKeyHash {
			return nil, fmt.Errorf("custom claim %q is reserved", k)
		}
	}
	sel, err := st.catalog.Select(ctx, instance.KindAttester, c.Attester, st.opts)
	if err != nil {
		return nil, fmt.Errorf("selecting the attester: %w", err)
	}
	defer func() {
		if err != nil {
			sel.Instance.Close()
		}
	}()
	id := &identity{attester: sel}
	cw := st.crypto.Instance.(instance.CryptoWrapper)
	alg, err := instance.ParseKeyAlgorithm(string(c.KeyAlgorithm))
	if err != nil {
		return nil, err
	}
	key, err := cw.GenerateKey(ctx, alg)
	if errors.Is(err, instance.ErrUnsupported) {
		// nullcrypto: no certificate; only nulltls can work with that.
		c.logger().Debug("crypto wrapper makes no keys; no certificate will be presented", "crypto", cw.Descriptor().Name)
		return id, nil
	}
	if err != nil {
		return nil, fmt.Errorf("generating the %s certificate key: %w", alg, err)
	}
	pkh, err := cw.PubKeyHash(ctx, instance.SHA256, key.Public())
	if err != nil {
		return nil, fmt.Errorf("hashing the certificate key: %w", err)
	}
	id.key, id.pkh = key, pkh
	if id.cert, err = st.certificate(ctx, c, id, nil); err != nil {
		return nil, err
	}
	id.certAt = c.now()
	c.logger().Debug("rats-tls certificate issued", "attester", sel.Instance.Descriptor().Name, "key", alg)
	return id, nil
}

// attest collects evidence over this side's key, the custom claims and
// extra (freshness) claims, and returns the evidence and endorsements
// values as the extensions carry them; nil evidence for the null attester.
func (st *endpoint) attest(ctx context.Context, c *Config, id *identity, extra map[string][]byte) (evidence, endorsements []byte, err error) {
	att := id.attester.Instance.(instance.Attester)
	custom := c.CustomClaims
	if len(extra) > 0 {
		custom = make(map[string][]byte, len(c.CustomClaims)+len(extra))
		maps.Copy(custom, c.CustomClaims)
		maps.Copy(custom, extra)
	}
	claims, err := dice.EncodeClaims(dice.Claims{PubKeyHash: dice.PubKeyHash{Alg: instance.SHA256, Hash: id.pkh}, Custom: custom})
	if err != nil {
		return nil, nil, fmt.Errorf("encoding claims: %w", err)
	}
	ev, err := att.Collect(ctx, dice.ReportData(claims))
	if err != nil {
		return nil, nil, fmt.Errorf("collecting evidence with attester %q: %w", att.Descriptor().Name, err)
	}
	if ev.Type == instance.EvidenceTypeNull {
		return nil, nil, nil
	}
	if evidence, err = dice.EncodeEvidence(ev, claims); err != nil {
		return nil, nil, fmt.Errorf("encoding %s evidence: %w", ev.Type, err)
	}
	if c.Endorsements {
		e, err := att.Endorsements(ctx, ev)
		if err != nil {
			return nil, nil, fmt.Errorf("collecting endorsements with attester %q: %w", att.Descriptor().Name, err)
		}
		if e != nil {
			if endorsements, err = dice.EncodeEndorsements(ev.Type, e); err != nil {
				return nil, nil, err
			}
		}
	}
	return evidence, endorsements, nil
}

// certificate issues a certificate for this side's key: with evidence over
// extra claims (nil extra: none mode), or, when bare, with none at all.
func (st *endpoint) certificate(ctx context.Context, c *Config, id *identity, extra map[string][]byte) ([][]byte, error) {
	ev, endorse, err := st.attest(ctx, c, id, extra)
	if err != nil {
		return nil, err
	}
	return st.sign(ctx, c, id, ev, endorse)
}

func (st *endpoint) sign(ctx context.Context, c *Config, id *identity, evidence, endorsements []byte) ([][]byte, error) {
	var exts []pkix.Extension
	if evidence != nil {
		exts = append(exts, pkix.Extension{Id: dice.OIDTaggedEvidence, Value: evidence})
	}
	if endorsements != nil {
		exts = append(exts, pkix.Extension{Id: dice.OIDEndorsementManifest, Value: endorsements})
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("certificate serial: %w", err)
	}
	validity := c.CertificateValidity
	if validity <= 0 {
		validity = DefaultCertificateValidity
	}
	now := c.now()
	der, err := st.crypto.Instance.(instance.CryptoWrapper).SelfSignedCertificate(ctx, id.key, instance.CertificateTemplate{
		Subject:      pkix.Name{Organization: []string{"Inclavare"}, CommonName: "RATS-TLS"},
		SerialNumber: serial,
		NotBefore:    now.Add(-5 * time.Minute),
		NotAfter:     now.Add(validity),
		Extensions:   exts,
	})
	if err != nil {
		return nil, fmt.Errorf("issuing the certificate: %w", id.note(err))
	}
	return [][]byte{der}, nil
}

// credentials returns this side's certificate for a session in mode: the
// cached one of none mode (re-issued after Config.EvidenceTTL), one over
// the peer's nonce, or for exporter mode a bare one (evidence follows the
// handshake).
func (st *endpoint) credentials(ctx context.Context, c *Config, id *identity, mode Freshness, nonce []byte) (*instance.Credentials, error) {
	if id.key == nil {
		return &instance.Credentials{}, nil // nullcrypto: none
	}
	var cert [][]byte
	var err error
	switch mode {
	case FreshnessNonce:
		cert, err = st.certificate(ctx, c, id, map[string][]byte{ClaimNonce: nonce})
	case FreshnessExporter:
		id.cmu.Lock()
		if id.bare == nil || c.now().Sub(id.bareAt) > c.evidenceTTL() {
			var fresh [][]byte
			if fresh, err = st.sign(ctx, c, id, nil, nil); err == nil {
				id.bare, id.bareAt = fresh, c.now()
			}
		}
		cert = id.bare
		id.cmu.Unlock()
	default:
		id.cmu.Lock()
		if ttl := c.evidenceTTL(); c.now().Sub(id.certAt) > ttl {
			var fresh [][]byte
			if fresh, err = st.certificate(ctx, c, id, nil); err == nil {
				id.cert, id.certAt = fresh, c.now()
			}
		}
		cert = id.cert
		id.cmu.Unlock()
	}
	if err != nil {
		return nil, err
	}
	return &instance.Credentials{Certificate: cert, Key: watchedKey{Signer: id.key, id: id}}, nil
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
	if id := st.identity(); id != nil {
		add(instance.KindAttester, id.attester)
	}
	st.vmu.Lock()
	for _, s := range st.verifiers {
		add(instance.KindVerifier, s)
	}
	st.vmu.Unlock()
	return out
}

func (st *endpoint) close() error {
	var errs []error
	sels := []registry.Selected{st.crypto, st.tls}
	for _, id := range append(st.retired, st.identity()) {
		if id != nil {
			sels = append(sels, id.attester)
		}
	}
	for _, s := range sels {
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

// verdictCacheSize bounds the none-mode verdicts an endpoint remembers.
const verdictCacheSize = 1024

type verdict struct {
	peer    Peer
	expires time.Time
}

// recall returns a copy of the verdict remembered for a certificate (by
// its SHA-256), if it is still good at now: not past its time to live nor
// the certificate's validity.
func (st *endpoint) recall(key [32]byte, now time.Time) *Peer {
	st.pmu.Lock()
	v, ok := st.verdicts[key]
	st.pmu.Unlock()
	if !ok || !now.Before(v.expires) || now.Before(v.peer.Certificate.NotBefore) {
		return nil
	}
	p := v.peer
	p.Claims = maps.Clone(p.Claims)
	p.CustomClaims = maps.Clone(p.CustomClaims)
	return &p
}

// remember keeps a verified none-mode peer until expires (or the end of
// its certificate's validity, if sooner).
func (st *endpoint) remember(key [32]byte, p *Peer, expires time.Time) {
	if p.Certificate != nil && p.Certificate.NotAfter.Before(expires) {
		expires = p.Certificate.NotAfter
	}
	st.pmu.Lock()
	defer st.pmu.Unlock()
	if st.verdicts == nil {
		st.verdicts = map[[32]byte]verdict{}
	}
	if len(st.verdicts) >= verdictCacheSize {
		for k, v := range st.verdicts { // drop the expired, else one
			if !v.expires.After(time.Now()) || len(st.verdicts) >= verdictCacheSize {
				delete(st.verdicts, k)
			}
		}
	}
	cp := *p
	cp.Claims = maps.Clone(p.Claims)
	cp.CustomClaims = maps.Clone(p.CustomClaims)
	st.verdicts[key] = verdict{peer: cp, expires: expires}
}
