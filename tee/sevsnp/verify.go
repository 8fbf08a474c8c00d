package sevsnp

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/kds"
)

// Errors of verification, each wrapped with the details.
var (
	// ErrMissingCertificate: the VCEK (or VLEK) that signed the report is
	// neither in the endorsements nor in the certificate directory.
	ErrMissingCertificate = errors.New("SEV-SNP signing key certificate unavailable")
	// ErrChain: the certificate chain does not lead to a trusted root, or a
	// certificate in it is malformed or out of its validity.
	ErrChain = errors.New("SEV-SNP certificate chain refused")
	// ErrSignature: the report's signature does not verify, or the key
	// that made it is not the key of the chip and TCB the report names.
	ErrSignature = errors.New("SEV-SNP report signature refused")
	// ErrSimulated: the report verifies up to the simulated root, which is
	// not trusted without Options.AllowSimulated.
	ErrSimulated = errors.New("evidence is from the simulated SEV-SNP TEE (sev_snp_sim); it is trusted only with --allow-simulated")
)

// Options configure a [Verifier]. The zero value verifies against the AMD
// roots, recognises (and refuses) the simulated root, and reads
// certificates from the endorsements only.
type Options struct {
	// Roots are the trust anchors; nil means [DefaultRoots].
	Roots []*Root
	// AllowSimulated trusts a chain ending at a simulated root
	// (instance.Options.AllowSimulated, --allow-simulated).
	AllowSimulated bool
	// CertDir, when set, is a local directory of certificates (PEM or DER,
	// any file name, for example the VCEK and the cert_chain downloaded
	// from AMD's KDS) searched for a VCEK, VLEK or ASK the endorsements do
	// not carry.
	CertDir string
	// Now is the time certificates must be valid at; nil means time.Now.
	Now func() time.Time
	// Cache keeps verified chains; nil means [DefaultCache].
	Cache *ChainCache
	// Logger receives debug records of chain verification; nil means
	// slog.Default().
	Logger *slog.Logger
}

// Attestation is a report whose signature and chain verified.
type Attestation struct {
	// Report is the verified report.
	Report *Report
	// Endorser is the VCEK or VLEK certificate that signed it.
	Endorser *x509.Certificate
	// Extensions are the endorser's AMD KDS extensions (product name,
	// HWID, TCB).
	Extensions *kds.Extensions
	// Root is the trust anchor the chain ended at.
	Root *Root
	// Simulated is Root.Simulated: the report comes from the simulated TEE.
	Simulated bool
	// Cached tells that the chain was verified before (a warm
	// verification).
	Cached bool
}

// Verifier checks SEV-SNP report signatures and certificate chains. It is
// safe for concurrent use.
type Verifier struct {
	roots []*Root
	opts  Options
	cache *ChainCache
	log   *slog.Logger
}

// NewVerifier returns a verifier with opts.
func NewVerifier(opts Options) (*Verifier, error) {
	v := &Verifier{opts: opts, roots: opts.Roots, cache: opts.Cache, log: opts.Logger}
	if v.roots == nil {
		var err error
		if v.roots, err = DefaultRoots(); err != nil {
			return nil, fmt.Errorf("loading the SEV-SNP roots: %w", err)
		}
	}
	if len(v.roots) == 0 {
		return nil, fmt.Errorf("no SEV-SNP roots to trust")
	}
	if v.cache == nil {
		v.cache = DefaultCache
	}
	if v.log == nil {
		v.log = slog.Default()
	}
	return v, nil
}

func (v *Verifier) now() time.Time {
	if v.opts.Now != nil {
		return v.opts.Now()
	}
	return time.Now()
}

// Verify parses raw and checks that it is signed by the VCEK (or VLEK) it
// names, that this key is the key of the report's chip and REPORTED_TCB,
// and that its certificate chains to a trusted root. certs are the
// certificates that came with the report (usually from
// [DecodeEndorsements]); missing ones are looked up in Options.CertDir, then
// among the roots' known endorsers (Root.Endorsers).
// Verify checks no policy: see [Validate].
func (v *Verifier) Verify(ctx context.Context, raw []byte, certs Certificates) (*Attestation, error) {
	r, err := ParseReport(raw)
	if err != nil {
		return nil, err
	}
	key := r.Signer.SigningKey
	var der []byte
	switch key {
	case abi.VcekReportSigner:
		der = certs.VCEK
	case abi.VlekReportSigner:
		der = certs.VLEK
	default:
		return nil, fmt.Errorf("%w: the report's SIGNING_KEY is %v; only VCEK- and VLEK-signed reports can be verified", ErrSignature, key)
	}
	now := v.now()
	e, cached := v.lookup(r, der, certs, now)
	if e == nil {
		if e, err = v.verifyChain(ctx, r, certs, now); err != nil {
			return nil, err
		}
	}
	if err := checkBinding(r, e); err != nil {
		return nil, err
	}
	if err := checkSignature(r, e.pub); err != nil {
		return nil, err
	}
	if e.root.Simulated && !v.opts.AllowSimulated {
		return nil, ErrSimulated
	}
	return &Attestation{Report: r, Endorser: e.cert, Extensions: e.exts, Root: e.root, Simulated: e.root.Simulated, Cached: cached}, nil
}

// checkSignature verifies the report's ECDSA P-384 signature over SHA-384
// of its first 0x2A0 bytes.
func checkSignature(r *Report, pub *ecdsa.PublicKey) error {
	sig, err := abi.ReportToSignatureDER(r.Raw)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSignature, err)
	}
	digest := sha512.Sum384(r.Raw[:signedSize])
	if !ecdsa.VerifyASN1(pub, digest[:], sig) {
		return fmt.Errorf("%w: the report's ECDSA P-384 signature does not verify with the %v", ErrSignature, r.Signer.SigningKey)
	}
	return nil
}

// checkBinding checks that the endorsement key is the one of the chip and
// TCB the report names: a VCEK is issued per CHIP_ID and REPORTED_TCB, so
// that a VCEK of an older, vulnerable TCB cannot vouch for a newer one.
func checkBinding(r *Report, e *chainEntry) error {
	if e.key != r.Signer.SigningKey {
		return fmt.Errorf("%w: the report is signed by its %v, but the certificate is a %v", ErrSignature, r.Signer.SigningKey, e.key)
	}
	if got, want := r.Proto.GetReportedTcb(), uint64(e.exts.TCBVersion); got != want {
		return fmt.Errorf("%w: report REPORTED_TCB %#016x (%v) is not the TCB of the %v certificate %#016x (%v)",
			ErrSignature, got, TCBFromVersion(got), e.key, want, TCBFromVersion(want))
	}
	if e.key == abi.VcekReportSigner && !r.Signer.MaskChipKey {
		if chip := r.Proto.GetChipId(); !bytes.Equal(chip, e.exts.HWID) {
			return fmt.Errorf("%w: report CHIP_ID %x is not the HWID %x of the VCEK certificate", ErrSignature, chip, e.exts.HWID)
		}
	}
	return nil
}

// verifyChain is the cold path: it verifies the endorser's chain up to a
// root and caches the result.
func (v *Verifier) verifyChain(ctx context.Context, r *Report, certs Certificates, now time.Time) (*chainEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("verifying the SEV-SNP certificate chain: %w", err)
	}
	key := r.Signer.SigningKey
	endorser := certs.VCEK
	if key == abi.VlekReportSigner {
		endorser = certs.VLEK
	}
	var dir *certDir
	if v.opts.CertDir != "" && (len(endorser) == 0 || len(certs.ASK) == 0) {
		var err error
		if dir, err = readCertDir(ctx, v.opts.CertDir); err != nil {
			return nil, err
		}
	}
	var cert *x509.Certificate
	if len(endorser) > 0 {
		var err error
		if cert, err = x509.ParseCertificate(endorser); err != nil {
			return nil, fmt.Errorf("%w: parsing the %v certificate: %w", ErrChain, key, err)
		}
	} else {
		if dir != nil {
			cert = endorserFor(r, dir.certs)
		}
		for _, root := range v.roots {
			if cert == nil {
				cert = endorserFor(r, root.Endorsers)
			}
		}
	}
	if cert == nil {
		where := "the endorsements carry none and no certificate directory is configured"
		if v.opts.CertDir != "" {
			where = fmt.Sprintf("neither the endorsements nor the certificate directory %s have one for CHIP_ID %x and REPORTED_TCB %v", v.opts.CertDir, r.Proto.GetChipId(), r.ReportedTCB())
		}
		return nil, fmt.Errorf("%w: no %v certificate: %s (certificates are never fetched from AMD's KDS)", ErrMissingCertificate, key, where)
	}
	exts, err := checkEndorserShape(cert, key)
	if err != nil {
		return nil, err
	}
	line := r.ProductLine
	if line == "" { // a version 2 report: the certificate names the product
		p, err := kds.ParseProductName(exts.ProductName, key)
		if err != nil {
			return nil, fmt.Errorf("%w: %v certificate product name %q: %w", ErrChain, key, exts.ProductName, err)
		}
		line = kds.ProductLine(p)
	}

	var roots []*Root
	if len(certs.ARK) > 0 {
		root := v.rootByARK(certs.ARK)
		if root == nil {
			sum := sha256.Sum256(certs.ARK)
			return nil, fmt.Errorf("%w: the ARK in the endorsements (SHA-256 %x) is none of the trusted roots", ErrChain, sum)
		}
		if root.ProductLine != line {
			return nil, fmt.Errorf("%w: the ARK in the endorsements is %s, but the report is from a %s", ErrChain, root.Name(), line)
		}
		roots = []*Root{root}
	} else {
		for _, root := range v.roots {
			if root.ProductLine == line {
				roots = append(roots, root)
			}
		}
		if len(roots) == 0 {
			return nil, fmt.Errorf("%w: no trusted root for AMD product line %q", ErrChain, line)
		}
	}

	var ask *x509.Certificate
	if len(certs.ASK) > 0 {
		if ask, err = x509.ParseCertificate(certs.ASK); err != nil {
			return nil, fmt.Errorf("%w: parsing the ASK certificate: %w", ErrChain, err)
		}
	} else if dir != nil {
		ask = dir.intermediate(cert)
	}
	var errs []error
	for _, root := range roots {
		e, err := chainTo(root, ask, cert, exts, key, now)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var byReport *reportKey
		if len(endorser) == 0 { // from the certificate directory or a root
			k := reportKeyOf(r)
			byReport = &k
		}
		v.cache.put(e, byReport)
		v.log.Debug("SEV-SNP certificate chain verified", "root", root.Name(), "signer", key.String(),
			"cert_sha256", hex.EncodeToString(e.id[:]))
		return e, nil
	}
	return nil, fmt.Errorf("%w: %w", ErrChain, errors.Join(errs...))
}

// chainTo checks cert -> ask -> root.ARK (ask nil: the root's own
// intermediate) at now.
func chainTo(root *Root, ask, cert *x509.Certificate, exts *kds.Extensions, key abi.ReportSigner, now time.Time) (*chainEntry, error) {
	if ask == nil {
		ask = root.ASK
		if key == abi.VlekReportSigner {
			ask = root.ASVK
		}
		if ask == nil {
			return nil, fmt.Errorf("no intermediate certificate for a %v under %s", key, root.Name())
		}
	}
	if err := ask.CheckSignatureFrom(root.ARK); err != nil {
		return nil, fmt.Errorf("the ASK %q is not signed by %s: %w", ask.Subject.CommonName, root.Name(), err)
	}
	if err := cert.CheckSignatureFrom(ask); err != nil {
		return nil, fmt.Errorf("the %v certificate is not signed by the ASK %q of %s: %w", key, ask.Subject.CommonName, root.Name(), err)
	}
	e := &chainEntry{cert: cert, exts: exts, key: key, ask: ask.Raw, root: root, id: sha256.Sum256(cert.Raw)}
	e.notBefore, e.notAfter = root.ARK.NotBefore, root.ARK.NotAfter
	for _, c := range []struct {
		what string
		c    *x509.Certificate
	}{{"ARK", root.ARK}, {"ASK", ask}, {key.String(), cert}} {
		if now.Before(c.c.NotBefore) || now.After(c.c.NotAfter) {
			return nil, fmt.Errorf("the %s certificate %q is not valid at %s (valid from %s to %s)",
				c.what, c.c.Subject.CommonName, now.UTC().Format(time.RFC3339), c.c.NotBefore.UTC().Format(time.RFC3339), c.c.NotAfter.UTC().Format(time.RFC3339))
		}
		if c.c.NotBefore.After(e.notBefore) {
			e.notBefore = c.c.NotBefore
		}
		if c.c.NotAfter.Before(e.notAfter) {
			e.notAfter = c.c.NotAfter
		}
	}
	e.pub = cert.PublicKey.(*ecdsa.PublicKey) // checked by checkEndorserShape
	return e, nil
}

// checkEndorserShape checks what AMD's KDS specification says a VCEK or
// VLEK certificate is, and returns its extensions.
func checkEndorserShape(cert *x509.Certificate, key abi.ReportSigner) (*kds.Extensions, error) {
	if cert.Version != 3 {
		return nil, fmt.Errorf("%w: %v certificate version is %d, want 3", ErrChain, key, cert.Version)
	}
	if cert.SignatureAlgorithm != x509.SHA384WithRSAPSS {
		return nil, fmt.Errorf("%w: %v certificate signature algorithm is %v, want %v", ErrChain, key, cert.SignatureAlgorithm, x509.SHA384WithRSAPSS)
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P384() {
		return nil, fmt.Errorf("%w: %v certificate key is a %T, want an ECDSA P-384 key", ErrChain, key, cert.PublicKey)
	}
	if want := "SEV-" + key.String(); cert.Subject.CommonName != want {
		return nil, fmt.Errorf("%w: %v certificate subject common name is %q, want %q", ErrChain, key, cert.Subject.CommonName, want)
	}
	exts, err := kds.CertificateExtensions(cert, key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v certificate extensions: %w", ErrChain, key, err)
	}
	return exts, nil
}

func (v *Verifier) rootByARK(der []byte) *Root {
	for _, r := range v.roots {
		if bytes.Equal(r.ARK.Raw, der) {
			return r
		}
	}
	return nil
}

// lookup is the warm path: the cached chain of der, if it ended at one of
// this verifier's roots, is still valid at now, and went through the ASK
// and ARK the endorsements carry (if they carry them).
func (v *Verifier) lookup(r *Report, der []byte, certs Certificates, now time.Time) (*chainEntry, bool) {
	key := r.Signer.SigningKey
	var e *chainEntry
	if len(der) == 0 {
		// The endorser came from the certificate directory or a root's
		// known endorsers: look it up by what the report says it is.
		if e = v.cache.getByReport(reportKeyOf(r)); e == nil {
			return nil, false
		}
		if len(certs.ARK) > 0 && !bytes.Equal(certs.ARK, e.root.ARK.Raw) {
			return nil, false
		}
	} else if id := sha256.Sum256(der); len(certs.ARK) > 0 {
		root := v.rootByARK(certs.ARK)
		if root == nil {
			return nil, false
		}
		e = v.cache.get(chainKey{id, root.id})
	} else {
		for _, root := range v.roots {
			if e = v.cache.get(chainKey{id, root.id}); e != nil {
				break
			}
		}
	}
	// The entry must be for one of this verifier's own roots (another
	// verifier may trust a root of the same ARK differently).
	if e == nil || !slices.Contains(v.roots, e.root) || e.key != key || now.Before(e.notBefore) || now.After(e.notAfter) {
		return nil, false
	}
	if len(certs.ASK) > 0 && !bytes.Equal(certs.ASK, e.ask) {
		return nil, false
	}
	return e, true
}

// reportKey identifies the endorser a report names: its kind, CHIP_ID (for
// a VCEK) and REPORTED_TCB.
type reportKey struct {
	key  abi.ReportSigner
	chip [abi.ChipIDSize]byte
	tcb  uint64
}

func reportKeyOf(r *Report) reportKey {
	k := reportKey{key: r.Signer.SigningKey, tcb: r.Proto.GetReportedTcb()}
	if k.key == abi.VcekReportSigner {
		copy(k.chip[:], r.Proto.GetChipId())
	}
	return k
}

// chainKey identifies a verified chain: SHA-256 of the endorser's DER and
// SHA-256 of the ARK it chained to.
type chainKey struct {
	cert, root [sha256.Size]byte
}

// chainEntry is a verified chain.
type chainEntry struct {
	id                  [sha256.Size]byte
	cert                *x509.Certificate
	pub                 *ecdsa.PublicKey
	exts                *kds.Extensions
	key                 abi.ReportSigner
	ask                 []byte
	root                *Root
	notBefore, notAfter time.Time
}

// ChainCache remembers verified certificate chains, so that verifying
// another report from the same chip and TCB checks one signature. An entry
// is keyed by SHA-256 of the VCEK (or VLEK) DER together with the root it
// chained to, and holds the parsed key and the chain's validity window. It
// is safe for concurrent use.
type ChainCache struct {
	mu       sync.RWMutex
	m        map[chainKey]*chainEntry
	byReport map[reportKey]*chainEntry // endorsers not from the endorsements
	max      int
}

// DefaultCache is shared by verifiers whose Options.Cache is nil: one per
// process, so that every handshake's verifier instance finds it warm.
var DefaultCache = NewChainCache(1024)

// NewChainCache returns a cache of at most size chains (at least 1).
func NewChainCache(size int) *ChainCache {
	return &ChainCache{m: map[chainKey]*chainEntry{}, byReport: map[reportKey]*chainEntry{}, max: max(1, size)}
}

// Len is the number of cached chains.
func (c *ChainCache) Len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}

// Clear forgets every chain.
func (c *ChainCache) Clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.m)
	clear(c.byReport)
}

func (c *ChainCache) get(k chainKey) *chainEntry {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.m[k]
}

func (c *ChainCache) getByReport(k reportKey) *chainEntry {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.byReport[k]
}

func (c *ChainCache) put(e *chainEntry, byReport *reportKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= c.max {
		for k := range c.m { // evict one at random
			delete(c.m, k)
			break
		}
	}
	if len(c.byReport) >= c.max {
		for k := range c.byReport {
			delete(c.byReport, k)
			break
		}
	}
	c.m[chainKey{e.id, e.root.id}] = e
	if byReport != nil {
		c.byReport[*byReport] = e
	}
}

// certDir is what a certificate directory holds.
type certDir struct {
	certs []*x509.Certificate
}

// readCertDir reads every certificate (PEM, possibly several per file, or
// DER) in the files of dir; files that hold none are skipped.
func readCertDir(ctx context.Context, dir string) (*certDir, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading the SEV-SNP certificate directory: %w", err)
	}
	d := &certDir{}
	for _, ent := range ents {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("reading the SEV-SNP certificate directory: %w", err)
		}
		if !ent.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, ent.Name()))
		if err != nil {
			return nil, fmt.Errorf("reading the SEV-SNP certificate directory: %w", err)
		}
		if c, err := x509.ParseCertificate(b); err == nil {
			d.certs = append(d.certs, c)
			continue
		}
		for rest := b; ; {
			var blk *pem.Block
			if blk, rest = pem.Decode(rest); blk == nil {
				break
			}
			if blk.Type != "CERTIFICATE" {
				continue
			}
			if c, err := x509.ParseCertificate(blk.Bytes); err == nil {
				d.certs = append(d.certs, c)
			}
		}
	}
	return d, nil
}

// endorserFor finds among certs the VCEK of the report's chip and
// REPORTED_TCB, or a VLEK of its REPORTED_TCB.
func endorserFor(r *Report, certs []*x509.Certificate) *x509.Certificate {
	key := r.Signer.SigningKey
	for _, c := range certs {
		if c.Subject.CommonName != "SEV-"+key.String() {
			continue
		}
		exts, err := kds.CertificateExtensions(c, key)
		if err != nil || uint64(exts.TCBVersion) != r.Proto.GetReportedTcb() {
			continue
		}
		if key == abi.VcekReportSigner && !r.Signer.MaskChipKey && !bytes.Equal(exts.HWID, r.Proto.GetChipId()) {
			continue
		}
		return c
	}
	return nil
}

// intermediate finds the certificate that issued cert by name.
func (d *certDir) intermediate(cert *x509.Certificate) *x509.Certificate {
	for _, c := range d.certs {
		if c.IsCA && bytes.Equal(c.RawSubject, cert.RawIssuer) {
			return c
		}
	}
	return nil
}
