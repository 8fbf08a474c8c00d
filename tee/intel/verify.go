package intel

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// ErrSignature is wrapped when a quote's own signatures do not verify: the
// QE report's signature by the PCK key, the QE report data's binding of the
// attestation key, or the quote's signature by the attestation key.
var ErrSignature = errors.New("Intel quote signature refused")

// Options configure a [Verifier]. The zero value trusts the Intel SGX Root
// CA, verifies at the current time, refuses trailing bytes, needs the
// collateral with each quote, checks revocation when the collateral has
// CRLs, and shares DefaultCache.
type Options struct {
	// Now is the time certificates, CRLs, the TCB info and the QE identity
	// must be valid at; nil means time.Now. Tests pin it.
	Now func() time.Time
	// Roots are the trusted roots; nil means the Intel SGX Root CA
	// embedded in this package ([IntelRootCA]). A test root (see the
	// inteltest package) is given here.
	Roots []*x509.Certificate
	// MinTCBEvaluationDataNumber, when not zero, is the oldest TCB
	// evaluation data number accepted in the TCB info and QE identity:
	// collateral from before a TCB recovery is refused.
	MinTCBEvaluationDataNumber uint32
	// AllowTrailing accepts bytes after the quote (see
	// ParseOptions.AllowTrailing).
	AllowTrailing bool
	// Collateral is used for quotes verified without collateral of their
	// own (a verifier's configured collateral).
	Collateral *Collateral
	// RequireCRLs refuses collateral without a PCK CRL and a root CA CRL;
	// without it revocation is checked only when they are present
	// (Attestation.RevocationChecked tells which).
	RequireCRLs bool
	// Cache keeps verified PCK chains and collateral; nil means
	// DefaultCache.
	Cache *Cache
	// Logger receives debug records of cold verifications; nil means
	// slog.Default().
	Logger *slog.Logger
}

// Attestation is a quote whose signatures, PCK chain and collateral
// verified, with its TCB status.
type Attestation struct {
	// Quote is the verified quote.
	Quote *Quote
	// PCK is the PCK certificate that signed the QE report, PCKExtensions
	// its SGX extensions.
	PCK           *x509.Certificate
	PCKExtensions *PCKExtensions
	// Root is the trusted root the PCK chain and the collateral end at.
	Root *x509.Certificate
	// TCBInfo and QEIdentity are the verified collateral.
	TCBInfo    *TCBInfo
	QEIdentity *QEIdentity
	// TCBStatus is the quote's TCB status: the platform's, combined with
	// the TDX module's and the QE's as Intel's QVL does. AdvisoryIDs are
	// the Intel security advisories of the matched levels.
	TCBStatus   TCBStatus
	AdvisoryIDs []string
	// PlatformLevel is the platform's TCB level in the TCB info.
	PlatformLevel *TCBLevel
	// QELevel is the QE's TCB level in the QE identity.
	QELevel *ISVSVNLevel
	// TDXModuleID and TDXModuleLevel are the TDX module identity and its
	// level, when the TCB info has module identities and the module's
	// major version is not zero.
	TDXModuleID    string
	TDXModuleLevel *ISVSVNLevel
	// RevocationChecked tells that the collateral had the PCK CRL and the
	// root CA CRL, and neither lists a certificate of the chains.
	RevocationChecked bool
	// CachedPCK and CachedCollateral tell which verifications came from
	// the cache.
	CachedPCK, CachedCollateral bool
}

// TCBEvaluationDataNumber is the smaller of the TCB info's and the QE
// identity's numbers.
func (a *Attestation) TCBEvaluationDataNumber() uint32 {
	return min(a.TCBInfo.TCBEvaluationDataNumber, a.QEIdentity.TCBEvaluationDataNumber)
}

// Verifier checks Intel quotes. It is safe for concurrent use.
type Verifier struct {
	opts  Options
	roots []*x509.Certificate
	cache *Cache
	log   *slog.Logger
}

// NewVerifier returns a verifier with opts.
func NewVerifier(opts Options) (*Verifier, error) {
	v := &Verifier{opts: opts, roots: opts.Roots, cache: opts.Cache, log: opts.Logger}
	if v.roots == nil {
		root, err := IntelRootCA()
		if err != nil {
			return nil, err
		}
		v.roots = []*x509.Certificate{root}
	}
	if len(v.roots) == 0 {
		return nil, fmt.Errorf("no Intel roots to trust")
	}
	if v.cache == nil {
		v.cache = DefaultCache
	}
	if v.log == nil {
		v.log = slog.Default()
	}
	return v, nil
}

// Verify checks raw with opts: see [Verifier.Verify].
func Verify(ctx context.Context, raw []byte, opts Options) (*Attestation, error) {
	v, err := NewVerifier(opts)
	if err != nil {
		return nil, err
	}
	return v.Verify(ctx, raw, nil)
}

func (v *Verifier) now() time.Time {
	if v.opts.Now != nil {
		return v.opts.Now()
	}
	return time.Now()
}

// Verify parses raw and checks, in this order: the PCK certificate chain
// up to a trusted root (from the quote's certification data, else from the
// collateral), the collateral (QE identity, then TCB info: signatures,
// chains, dates; the CRLs), that no certificate is revoked, the QE report's
// signature by the PCK key, that the QE report data binds the attestation
// key and the QE authentication data, the quote's signature by the
// attestation key, the QE report against the QE identity, and the
// platform's TCB level (FMSPC and PCE-ID of the PCK certificate, its TCB
// components, and for TDX the TEE TCB SVN and the TDX module). c is the
// quote's collateral; nil means Options.Collateral.
//
// A TCB status other than UpToDate is not an error: Verify checks no
// policy (see [Validate]). A platform older than every TCB level is
// (ErrTCBNotSupported), after every signature has verified.
func (v *Verifier) Verify(ctx context.Context, raw []byte, c *Collateral) (*Attestation, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("verifying an Intel quote: %w", err)
	}
	q, err := ParseQuoteWith(raw, ParseOptions{AllowTrailing: v.opts.AllowTrailing})
	if err != nil {
		return nil, err
	}
	if q.Header.QEVendorID != IntelQEVendorID {
		return nil, fmt.Errorf("%w: QE vendor ID %x is not Intel's %x", ErrUnsupportedQuote, q.Header.QEVendorID, IntelQEVendorID)
	}
	if c == nil {
		c = v.opts.Collateral
	}
	if c == nil {
		return nil, fmt.Errorf("%w: no collateral to verify the %s quote with (TCB info, QE identity)", ErrCollateral, q.EvidenceType())
	}
	now := v.now()

	// The PCK chain.
	chain := q.CertData
	if q.CertType != CertTypePCKChain {
		if len(c.PCKCertChain) == 0 {
			return nil, fmt.Errorf("%w: the quote's certification data is of type %d (%s) and carries no PCK certificate; the collateral must supply one (pck_certificate_chain)", ErrMissingPCK, q.CertType, certTypeName(q.CertType))
		}
		chain = c.PCKCertChain
	}
	// The PCK chain and the collateral: from the cache, else verified
	// concurrently (errors are reported PCK chain first).
	pck, pckCached := v.cache.pckChain(sha256.Sum256(chain), v.roots, now)
	digest := c.digest()
	col, colCached := v.cache.collateral(digest, v.roots, now)
	var pckErr, colErr error
	coldPCK := func() error {
		if pck, pckErr = verifyPCKChain(chain, v.roots, now); pckErr == nil {
			v.cache.putPCK(sha256.Sum256(chain), pck)
			v.log.Debug("Intel PCK chain verified", "ca", pck.ca.Subject.CommonName, "fmspc", pck.ext.FMSPCHex())
		}
		return pckErr
	}
	coldCollateral := func() error {
		if col, colErr = verifyCollateral(c, v.roots, now); colErr == nil {
			v.cache.putCollateral(digest, col)
			v.log.Debug("Intel collateral verified", "fmspc", hex.EncodeToString(col.tcbInfo.FMSPC), "tcb_evaluation_data_number", col.tcbInfo.TCBEvaluationDataNumber)
		}
		return colErr
	}
	// The quote's own signature needs neither: on a cold path it is
	// checked alongside them, and its result reported in its turn below.
	var quoteErr error
	quoteChecked := pck == nil || col == nil
	quoteSig := func() error { quoteErr = checkQuoteSignature(q); return nil }
	switch {
	case pck == nil && col == nil:
		if err := firstError(parallel(coldPCK, coldCollateral, quoteSig)); err != nil {
			return nil, err
		}
	case pck == nil:
		if err := firstError(parallel(coldPCK, quoteSig)); err != nil {
			return nil, err
		}
	case col == nil:
		if err := firstError(parallel(coldCollateral, quoteSig)); err != nil {
			return nil, err
		}
	}
	if col.root != pck.root && !col.root.Equal(pck.root) {
		return nil, fmt.Errorf("%w: the collateral chains to %q but the PCK certificate to %q", ErrCollateral, col.root.Subject.CommonName, pck.root.Subject.CommonName)
	}
	if err := v.checkCollateralFits(q, col); err != nil {
		return nil, err
	}
	revocationChecked, err := v.checkRevocation(pck, col)
	if err != nil {
		return nil, err
	}

	// The quote's signatures.
	if !verifyRaw(pck.pub, q.QEReport.Raw, q.QEReportSignature[:]) {
		return nil, fmt.Errorf("%w: the QE report signature does not verify with the PCK certificate's key (PCK serial %X)", ErrSignature, pck.leaf.SerialNumber)
	}
	if err := checkQEReportData(q); err != nil {
		return nil, err
	}
	if !quoteChecked {
		quoteErr = checkQuoteSignature(q)
	}
	if quoteErr != nil {
		return nil, quoteErr
	}

	// The TCB.
	a := &Attestation{Quote: q, PCK: pck.leaf, PCKExtensions: pck.ext, Root: pck.root, TCBInfo: col.tcbInfo,
		QEIdentity: col.qeIdentity, RevocationChecked: revocationChecked, CachedPCK: pckCached, CachedCollateral: colCached}
	if a.QELevel, err = matchQE(&q.QEReport, col.qeIdentity, col.qeLevels); err != nil {
		return nil, err
	}
	t := col.tcbInfo
	if !bytes.Equal(pck.ext.FMSPC[:], t.FMSPC) {
		return nil, fmt.Errorf("%w: the PCK certificate's FMSPC %X is not the TCB info's fmspc %X", ErrCollateral, pck.ext.FMSPC, []byte(t.FMSPC))
	}
	if !bytes.Equal(pck.ext.PCEID[:], t.PCEID) {
		return nil, fmt.Errorf("%w: the PCK certificate's PCE-ID %X is not the TCB info's pceId %X", ErrCollateral, pck.ext.PCEID, []byte(t.PCEID))
	}
	if a.PlatformLevel, err = matchPlatform(col.levels, pck.ext, q.TD); err != nil {
		return nil, err
	}
	a.TCBStatus = a.PlatformLevel.TCBStatus
	a.AdvisoryIDs = slices.Clone(a.PlatformLevel.AdvisoryIDs)
	if q.TD != nil {
		if a.TDXModuleLevel, a.TDXModuleID, err = matchTDXModule(t, q.TD); err != nil {
			return nil, err
		}
		if m := a.TDXModuleLevel; m != nil {
			a.TCBStatus = converge(a.TCBStatus, m.TCBStatus)
			a.AdvisoryIDs = mergeAdvisories(a.AdvisoryIDs, m.AdvisoryIDs)
		}
	}
	a.TCBStatus = converge(a.TCBStatus, a.QELevel.TCBStatus)
	a.AdvisoryIDs = mergeAdvisories(a.AdvisoryIDs, a.QELevel.AdvisoryIDs)
	return a, nil
}

// checkCollateralFits checks that the collateral is for this kind of quote
// and new enough.
func (v *Verifier) checkCollateralFits(q *Quote, col *verifiedCollateral) error {
	t, qe := col.tcbInfo, col.qeIdentity
	wantTCB, wantQE := "SGX", "QE"
	if q.IsTDX() {
		wantTCB, wantQE = "TDX", "TD_QE"
	}
	if t.ID != wantTCB && !(t.ID == "" && wantTCB == "SGX") {
		return fmt.Errorf("%w: the TCB info's id is %q (version %d), but the quote is %s quote (want %q)", ErrCollateral, t.ID, t.Version, article(wantTCB), wantTCB)
	}
	if qe.ID != wantQE {
		return fmt.Errorf("%w: the QE identity's id is %q, but %s quote needs %q", ErrCollateral, qe.ID, article(wantTCB), wantQE)
	}
	if m := v.opts.MinTCBEvaluationDataNumber; m > 0 {
		if t.TCBEvaluationDataNumber < m {
			return fmt.Errorf("%w: the TCB info's tcbEvaluationDataNumber %d is below the minimum %d", ErrCollateral, t.TCBEvaluationDataNumber, m)
		}
		if qe.TCBEvaluationDataNumber < m {
			return fmt.Errorf("%w: the QE identity's tcbEvaluationDataNumber %d is below the minimum %d", ErrCollateral, qe.TCBEvaluationDataNumber, m)
		}
	}
	return nil
}

// checkRevocation checks the PCK chain against the collateral's CRLs.
func (v *Verifier) checkRevocation(pck *pckEntry, col *verifiedCollateral) (bool, error) {
	if col.rootCRL != nil && col.rootCRL.has(pck.ca) {
		return false, fmt.Errorf("%w: the PCK CA %q (serial %X) is in the root CA CRL", ErrRevoked, pck.ca.Subject.CommonName, pck.ca.SerialNumber)
	}
	if col.pckCRL != nil {
		if !bytes.Equal(col.pckCRL.issuer.RawSubject, pck.ca.RawSubject) || !col.pckCRL.issuer.PublicKey.(*ecdsa.PublicKey).Equal(pck.ca.PublicKey) {
			return false, fmt.Errorf("%w: the PCK CRL is issued by %q, but the PCK certificate by %q", ErrCRL, col.pckCRL.issuer.Subject.CommonName, pck.ca.Subject.CommonName)
		}
		if col.pckCRL.has(pck.leaf) {
			return false, fmt.Errorf("%w: the PCK certificate (serial %X, FMSPC %s) is in the PCK CRL of %q", ErrRevoked, pck.leaf.SerialNumber, pck.ext.FMSPCHex(), pck.ca.Subject.CommonName)
		}
	}
	checked := col.pckCRL != nil && col.rootCRL != nil
	if v.opts.RequireCRLs && !checked {
		return false, fmt.Errorf("%w: revocation must be checked, but the collateral lacks the %s", ErrCRL, missingCRLs(col))
	}
	return checked, nil
}

func article(tee string) string {
	if tee == "SGX" {
		return "an SGX"
	}
	return "a " + tee
}

func missingCRLs(col *verifiedCollateral) string {
	switch {
	case col.pckCRL == nil && col.rootCRL == nil:
		return "PCK CRL and the root CA CRL"
	case col.pckCRL == nil:
		return "PCK CRL"
	}
	return "root CA CRL"
}

// checkQEReportData checks that the QE's report data is SHA-256 of the
// attestation key and the QE authentication data, then 32 zero bytes: the
// QE vouches for the key that signs the quote.
func checkQEReportData(q *Quote) error {
	h := sha256.New()
	h.Write(q.AttestationKey[:])
	h.Write(q.QEAuthData)
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	rd := q.QEReport.ReportData[:]
	if !bytes.Equal(rd[:32], sum[:]) {
		return fmt.Errorf("%w: the QE report data %x is not SHA-256 of the attestation key and QE authentication data %x", ErrSignature, rd[:32], sum)
	}
	var zero [32]byte
	if !bytes.Equal(rd[32:], zero[:]) {
		return fmt.Errorf("%w: the QE report data's last 32 bytes are %x, want zero", ErrSignature, rd[32:])
	}
	return nil
}

func certTypeName(t uint16) string {
	switch t {
	case CertTypePPIDCleartext:
		return "PPID in clear"
	case CertTypePPIDRSA2048:
		return "PPID encrypted with RSA-2048"
	case CertTypePPIDRSA3072:
		return "PPID encrypted with RSA-3072 (EPPID)"
	case CertTypePCKLeaf:
		return "PCK leaf certificate"
	case CertTypePCKChain:
		return "PCK certificate chain"
	case CertTypeQEReport:
		return "QE report certification data"
	case CertTypePlatformManifest:
		return "platform manifest"
	}
	return "unknown"
}

// Cache remembers verified PCK chains (keyed by SHA-256 of the chain's
// PEM) and verified collateral (keyed by SHA-256 of its contents), each
// with the window of time in which it stays valid, so that a warm
// verification checks two signatures: the QE report's by the PCK key and
// the quote's by the attestation key. Failures are not cached. It is safe
// for concurrent use.
type Cache struct {
	mu  sync.RWMutex
	pck map[[sha256.Size]byte]*pckEntry
	col map[[sha256.Size]byte]*verifiedCollateral
	max int
}

// DefaultCache is shared by verifiers whose Options.Cache is nil: one per
// process, so that every handshake's verifier finds it warm.
var DefaultCache = NewCache(256)

// NewCache returns a cache of at most size PCK chains and size collaterals
// (at least 1 each).
func NewCache(size int) *Cache {
	return &Cache{pck: map[[sha256.Size]byte]*pckEntry{}, col: map[[sha256.Size]byte]*verifiedCollateral{}, max: max(1, size)}
}

// Len is the number of cached PCK chains and collaterals.
func (c *Cache) Len() (pckChains, collaterals int) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.pck), len(c.col)
}

// Clear forgets everything.
func (c *Cache) Clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.pck)
	clear(c.col)
}

func trusted(roots []*x509.Certificate, r *x509.Certificate) bool {
	for _, t := range roots {
		if t == r || bytes.Equal(t.Raw, r.Raw) {
			return true
		}
	}
	return false
}

func (c *Cache) pckChain(k [sha256.Size]byte, roots []*x509.Certificate, now time.Time) (*pckEntry, bool) {
	c.mu.RLock()
	e := c.pck[k]
	c.mu.RUnlock()
	if e == nil || !e.contains(now) || !trusted(roots, e.root) {
		return nil, false
	}
	return e, true
}

func (c *Cache) collateral(k [sha256.Size]byte, roots []*x509.Certificate, now time.Time) (*verifiedCollateral, bool) {
	c.mu.RLock()
	e := c.col[k]
	c.mu.RUnlock()
	if e == nil || !e.contains(now) || !trusted(roots, e.root) {
		return nil, false
	}
	return e, true
}

func (c *Cache) putPCK(k [sha256.Size]byte, e *pckEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.pck[k]; !ok && len(c.pck) >= c.max {
		for old := range c.pck { // evict one at random
			delete(c.pck, old)
			break
		}
	}
	c.pck[k] = e
}

func (c *Cache) putCollateral(k [sha256.Size]byte, e *verifiedCollateral) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.col[k]; !ok && len(c.col) >= c.max {
		for old := range c.col {
			delete(c.col, old)
			break
		}
	}
	c.col[k] = e
}

// checkQuoteSignature checks the quote's signature over its header and
// report body with the attestation key it carries (which the QE report
// vouches for: see checkQEReportData).
func checkQuoteSignature(q *Quote) error {
	var point [1 + ecdsaPublicKeySize]byte
	point[0] = 4
	copy(point[1:], q.AttestationKey[:])
	attKey, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point[:])
	if err != nil {
		return fmt.Errorf("%w: the attestation key %x is not a P-256 point: %w", ErrSignature, q.AttestationKey, err)
	}
	if !verifyRaw(attKey, q.SignedBytes(), q.Signature[:]) {
		return fmt.Errorf("%w: the quote signature over the header and report body does not verify with the attestation key", ErrSignature)
	}
	return nil
}
