package intel

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Errors about collateral, each wrapped with the details.
var (
	// ErrMalformedCollateral: the collateral's bytes (JSON, CBOR, hex,
	// PEM, the TCB info or QE identity body) cannot be read.
	ErrMalformedCollateral = errors.New("malformed Intel collateral")
	// ErrCollateral: the collateral does not verify: a signature, the TCB
	// signing chain, the dates, the TCB evaluation data number, or it is
	// not the collateral for this quote (TEE type, FMSPC, PCE-ID).
	ErrCollateral = errors.New("Intel collateral refused")
)

// Collateral is what verifies a quote beside the quote itself, as Intel's
// PCS serves it: the TCB info and QE identity (each a signed JSON body,
// its raw r||s ECDSA P-256 signature and the PEM chain of its signer, the
// Intel SGX TCB Signing certificate) and, when known, the CRLs of PCK
// certificates and of the root CA, in DER.
//
// A Collateral must not be changed once it has been given to a Verifier:
// its verification is cached by the SHA-256 of its contents.
type Collateral struct {
	// Version is the endorsements' version (the C sgx_ql_qve_collateral_t
	// version: major in the low 16 bits, minor in the high), 0 when the
	// collateral did not come from endorsements.
	Version uint32
	// TCBInfo is the "tcbInfo" JSON object exactly as signed;
	// TCBInfoSignature its 64-byte signature; TCBInfoIssuerChain the PEM
	// chain of its signer.
	TCBInfo, TCBInfoSignature, TCBInfoIssuerChain []byte
	// QEIdentity is the "enclaveIdentity" JSON object exactly as signed,
	// with its signature and the PEM chain of its signer.
	QEIdentity, QEIdentitySignature, QEIdentityIssuerChain []byte
	// PCKCRL is the DER CRL of the PCK certificate's issuer (the Intel SGX
	// PCK Platform or Processor CA), PCKCRLIssuerChain the PEM chain of
	// that CA up to the root, RootCACRL the root CA's DER CRL. Each may be
	// empty; then revocation is not checked (see Options.RequireCRLs).
	PCKCRL, PCKCRLIssuerChain, RootCACRL []byte
	// PCKCertChain is a PEM PCK certificate chain for quotes that carry
	// none (certification data of another type than 5, such as the
	// encrypted PPID). It is used only for such quotes.
	PCKCertChain []byte
	// CreationDatetime is the endorsements' optional ninth item, as sent.
	CreationDatetime string
}

// collateralJSON is the JSON layout of collateral: the keys of Intel's PCS
// responses, as dcap-qvl and the shared test vectors write them.
type collateralJSON struct {
	TCBInfo               *string `json:"tcb_info"`
	TCBInfoSignature      *string `json:"tcb_info_signature,omitempty"`
	TCBInfoIssuerChain    *string `json:"tcb_info_issuer_chain"`
	QEIdentity            *string `json:"qe_identity"`
	QEIdentitySignature   *string `json:"qe_identity_signature,omitempty"`
	QEIdentityIssuerChain *string `json:"qe_identity_issuer_chain"`
	PCKCRL                *string `json:"pck_crl,omitempty"`
	PCKCRLIssuerChain     *string `json:"pck_crl_issuer_chain,omitempty"`
	RootCACRL             *string `json:"root_ca_crl,omitempty"`
	PCKCertChain          *string `json:"pck_certificate_chain,omitempty"`
}

// MaxCollateralSize caps the collateral JSON and endorsements read.
const MaxCollateralSize = 1 << 20

// ParseCollateralJSON reads collateral in the JSON layout: an object with
// the string values tcb_info, tcb_info_signature (hex), tcb_info_issuer_chain
// (PEM), qe_identity, qe_identity_signature, qe_identity_issuer_chain and
// optionally pck_crl, root_ca_crl (hex DER, or PEM), pck_crl_issuer_chain and
// pck_certificate_chain (PEM). tcb_info and qe_identity may also be whole PCS
// responses ({"tcbInfo": ..., "signature": ...}) without a separate
// signature. Unknown keys are refused.
func ParseCollateralJSON(b []byte) (*Collateral, error) {
	if len(b) > MaxCollateralSize {
		return nil, fmt.Errorf("%w: %d bytes of collateral JSON, the cap is %d", ErrMalformedCollateral, len(b), MaxCollateralSize)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var j collateralJSON
	if err := dec.Decode(&j); err != nil {
		return nil, fmt.Errorf("%w: collateral JSON: %w", ErrMalformedCollateral, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: collateral JSON: more than one value", ErrMalformedCollateral)
	}
	c := &Collateral{}
	for _, f := range []struct {
		name string
		s    *string
		out  *[]byte
	}{
		{"tcb_info", j.TCBInfo, &c.TCBInfo},
		{"tcb_info_issuer_chain", j.TCBInfoIssuerChain, &c.TCBInfoIssuerChain},
		{"qe_identity", j.QEIdentity, &c.QEIdentity},
		{"qe_identity_issuer_chain", j.QEIdentityIssuerChain, &c.QEIdentityIssuerChain},
		{"pck_crl_issuer_chain", j.PCKCRLIssuerChain, &c.PCKCRLIssuerChain},
		{"pck_certificate_chain", j.PCKCertChain, &c.PCKCertChain},
	} {
		if f.s != nil {
			*f.out = []byte(*f.s)
		}
	}
	for _, f := range []struct {
		name string
		s    *string
		out  *[]byte
	}{
		{"tcb_info_signature", j.TCBInfoSignature, &c.TCBInfoSignature},
		{"qe_identity_signature", j.QEIdentitySignature, &c.QEIdentitySignature},
	} {
		if f.s == nil {
			continue
		}
		sig, err := hex.DecodeString(*f.s)
		if err != nil {
			return nil, fmt.Errorf("%w: %s is not hex: %w", ErrMalformedCollateral, f.name, err)
		}
		*f.out = sig
	}
	for _, f := range []struct {
		name string
		s    *string
		out  *[]byte
	}{
		{"pck_crl", j.PCKCRL, &c.PCKCRL},
		{"root_ca_crl", j.RootCACRL, &c.RootCACRL},
	} {
		if f.s == nil || *f.s == "" {
			continue
		}
		der, err := crlDER(f.name, []byte(*f.s))
		if err != nil {
			return nil, err
		}
		*f.out = der
	}
	if err := c.normalize(); err != nil {
		return nil, err
	}
	return c, nil
}

// MarshalJSON writes c in the JSON layout ParseCollateralJSON reads (CRLs
// as hex DER, signatures as hex).
func (c *Collateral) MarshalJSON() ([]byte, error) {
	str := func(b []byte) *string {
		if b == nil {
			return nil
		}
		s := string(b)
		return &s
	}
	hx := func(b []byte) *string {
		if b == nil {
			return nil
		}
		s := hex.EncodeToString(b)
		return &s
	}
	return json.Marshal(collateralJSON{
		TCBInfo: str(c.TCBInfo), TCBInfoSignature: hx(c.TCBInfoSignature), TCBInfoIssuerChain: str(c.TCBInfoIssuerChain),
		QEIdentity: str(c.QEIdentity), QEIdentitySignature: hx(c.QEIdentitySignature), QEIdentityIssuerChain: str(c.QEIdentityIssuerChain),
		PCKCRL: hx(c.PCKCRL), PCKCRLIssuerChain: str(c.PCKCRLIssuerChain), RootCACRL: hx(c.RootCACRL),
		PCKCertChain: str(c.PCKCertChain),
	})
}

// SplitPCSResponse returns the signed body and the signature of a PCS
// response body such as {"tcbInfo": {...}, "signature": "hex"}: key is
// "tcbInfo" or "enclaveIdentity". The body is the object's bytes exactly
// as they stand in resp, which is what Intel signed.
func SplitPCSResponse(resp []byte, key string) (body, sig []byte, err error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(bytes.TrimRight(resp, "\x00"), &m); err != nil {
		return nil, nil, fmt.Errorf("%w: PCS response: %w", ErrMalformedCollateral, err)
	}
	body, ok := m[key]
	if !ok {
		return nil, nil, fmt.Errorf("%w: PCS response has no %q", ErrMalformedCollateral, key)
	}
	var s string
	if err := json.Unmarshal(m["signature"], &s); err != nil {
		return nil, nil, fmt.Errorf("%w: PCS response %q has no signature string: %v", ErrMalformedCollateral, key, err)
	}
	if sig, err = hex.DecodeString(s); err != nil {
		return nil, nil, fmt.Errorf("%w: PCS response %q signature is not hex: %w", ErrMalformedCollateral, key, err)
	}
	return []byte(body), sig, nil
}

// CollateralFromPCS builds collateral from PCS response bodies: the TCB
// info response, the QE identity response, and the PEM issuer chain (the
// TCB-Info-Issuer-Chain and SGX-Enclave-Identity-Issuer-Chain headers; both
// name the TCB signing certificate, so one chain serves both).
func CollateralFromPCS(tcbInfoResponse, qeIdentityResponse, issuerChain []byte) (*Collateral, error) {
	c := &Collateral{TCBInfoIssuerChain: issuerChain, QEIdentityIssuerChain: issuerChain}
	var err error
	if c.TCBInfo, c.TCBInfoSignature, err = SplitPCSResponse(tcbInfoResponse, "tcbInfo"); err != nil {
		return nil, err
	}
	if c.QEIdentity, c.QEIdentitySignature, err = SplitPCSResponse(qeIdentityResponse, "enclaveIdentity"); err != nil {
		return nil, err
	}
	return c, c.normalize()
}

// normalize strips the NUL bytes C strings end in, splits whole PCS
// responses given without a separate signature, and checks c.
func (c *Collateral) normalize() error {
	for _, f := range []*[]byte{&c.TCBInfo, &c.TCBInfoIssuerChain, &c.QEIdentity, &c.QEIdentityIssuerChain, &c.PCKCRLIssuerChain, &c.PCKCertChain} {
		if len(*f) > 0 {
			*f = bytes.TrimRight(*f, "\x00")
		}
	}
	var err error
	if len(c.TCBInfoSignature) == 0 && bytes.Contains(c.TCBInfo, []byte(`"tcbInfo"`)) {
		if c.TCBInfo, c.TCBInfoSignature, err = SplitPCSResponse(c.TCBInfo, "tcbInfo"); err != nil {
			return err
		}
	}
	if len(c.QEIdentitySignature) == 0 && bytes.Contains(c.QEIdentity, []byte(`"enclaveIdentity"`)) {
		if c.QEIdentity, c.QEIdentitySignature, err = SplitPCSResponse(c.QEIdentity, "enclaveIdentity"); err != nil {
			return err
		}
	}
	return c.check()
}

// check checks what every collateral must have.
func (c *Collateral) check() error {
	for _, f := range []struct {
		name string
		b    []byte
	}{
		{"tcb_info", c.TCBInfo}, {"tcb_info_issuer_chain", c.TCBInfoIssuerChain},
		{"qe_identity", c.QEIdentity}, {"qe_identity_issuer_chain", c.QEIdentityIssuerChain},
	} {
		if len(f.b) == 0 {
			return fmt.Errorf("%w: no %s", ErrMalformedCollateral, f.name)
		}
	}
	for _, f := range []struct {
		name string
		b    []byte
	}{{"tcb_info_signature", c.TCBInfoSignature}, {"qe_identity_signature", c.QEIdentitySignature}} {
		if len(f.b) != ecdsaSignatureSize {
			return fmt.Errorf("%w: %s is %d bytes, want %d (r||s)", ErrMalformedCollateral, f.name, len(f.b), ecdsaSignatureSize)
		}
	}
	if len(c.PCKCRL) > 0 && len(c.PCKCRLIssuerChain) == 0 {
		return fmt.Errorf("%w: a pck_crl without its pck_crl_issuer_chain", ErrMalformedCollateral)
	}
	return nil
}

// crlDER returns the DER of a CRL given as DER, PEM ("X509 CRL"), or hex
// of the DER (with or without a trailing NUL).
func crlDER(name string, b []byte) ([]byte, error) {
	b = bytes.TrimRight(b, "\x00")
	t := bytes.TrimSpace(b)
	switch {
	case len(t) > 0 && t[0] == 0x30:
		return b, nil
	case bytes.HasPrefix(t, []byte("-----BEGIN")):
		blk, rest := pem.Decode(t)
		if blk == nil || blk.Type != "X509 CRL" || len(bytes.TrimSpace(rest)) > 0 {
			return nil, fmt.Errorf("%w: %s is PEM but not one X509 CRL block", ErrMalformedCollateral, name)
		}
		return blk.Bytes, nil
	default:
		d, err := hex.DecodeString(string(t))
		if err != nil {
			return nil, fmt.Errorf("%w: %s is neither DER, PEM nor hex: %w", ErrMalformedCollateral, name, err)
		}
		return d, nil
	}
}

// digest is SHA-256 over every field of c (each length-prefixed): the key
// of its cached verification.
func (c *Collateral) digest() [sha256.Size]byte {
	h := sha256.New()
	var n [8]byte
	for _, f := range [][]byte{c.TCBInfo, c.TCBInfoSignature, c.TCBInfoIssuerChain, c.QEIdentity, c.QEIdentitySignature,
		c.QEIdentityIssuerChain, c.PCKCRL, c.PCKCRLIssuerChain, c.RootCACRL} {
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		h.Write(n[:])
		h.Write(f)
	}
	var d [sha256.Size]byte
	h.Sum(d[:0])
	return d
}

// crlEntry is a verified CRL.
type crlEntry struct {
	issuer  *x509.Certificate // the CA that signed it
	revoked map[string]bool   // serial numbers, as big-endian bytes
}

func (e *crlEntry) has(c *x509.Certificate) bool {
	return e != nil && e.revoked[string(c.SerialNumber.Bytes())]
}

// verifiedCollateral is collateral whose signatures, chains and CRLs
// verified: what the cache holds.
type verifiedCollateral struct {
	tcbInfo    *TCBInfo
	levels     []TCBLevel // sorted as Intel's QVL matches them
	qeIdentity *QEIdentity
	qeLevels   []ISVSVNLevel
	root       *x509.Certificate
	pckCRL     *crlEntry
	rootCRL    *crlEntry
	validity
}

// verifyCollateral is the cold path: it verifies c's TCB signing chains
// up to one of roots, the signatures over the QE identity and the TCB
// info, their dates at now, and the CRLs. The three run concurrently (they
// are independent); errors are reported in that order, whatever finished
// first.
func verifyCollateral(c *Collateral, roots []*x509.Certificate, now time.Time) (*verifiedCollateral, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	v := &verifiedCollateral{}
	qeSigner, _, root, err := signingChain("QE identity issuer chain", c.QEIdentityIssuerChain, roots, now, &v.validity)
	if err != nil {
		return nil, err
	}
	v.root = root
	var qeV, tcbV, crlV validity
	tcbSigner := qeSigner
	errs := parallel(func() error {
		if err := checkBodySignature("QE identity", qeSigner, c.QEIdentity, c.QEIdentitySignature); err != nil {
			return err
		}
		q, err := ParseQEIdentity(c.QEIdentity)
		if err != nil {
			return err
		}
		if err := checkTime(fmt.Sprintf("the QE identity (%s, issued %s)", q.ID, rfc(q.IssueDate)), q.IssueDate, q.NextUpdate, now); err != nil {
			return fmt.Errorf("%w: %w", ErrCollateral, err)
		}
		qeV.narrow(q.IssueDate, q.NextUpdate)
		v.qeIdentity, v.qeLevels = q, sortedISVSVN(q.TCBLevels)
		return nil
	}, func() error {
		if !bytes.Equal(c.TCBInfoIssuerChain, c.QEIdentityIssuerChain) {
			var root2 *x509.Certificate
			var err error
			if tcbSigner, _, root2, err = signingChain("TCB info issuer chain", c.TCBInfoIssuerChain, roots, now, &tcbV); err != nil {
				return err
			}
			if root2 != root {
				return fmt.Errorf("%w: the TCB info chains to %q but the QE identity to %q", ErrCollateral, root2.Subject.CommonName, root.Subject.CommonName)
			}
		}
		if err := checkBodySignature("TCB info", tcbSigner, c.TCBInfo, c.TCBInfoSignature); err != nil {
			return err
		}
		t, err := ParseTCBInfo(c.TCBInfo)
		if err != nil {
			return err
		}
		if err := checkTime(fmt.Sprintf("the TCB info (FMSPC %X, issued %s)", []byte(t.FMSPC), rfc(t.IssueDate)), t.IssueDate, t.NextUpdate, now); err != nil {
			return fmt.Errorf("%w: %w", ErrCollateral, err)
		}
		tcbV.narrow(t.IssueDate, t.NextUpdate)
		v.tcbInfo, v.levels = t, sortedLevels(t)
		return nil
	}, func() error {
		var err error
		if len(c.RootCACRL) > 0 {
			if v.rootCRL, err = verifyCRL("root CA CRL", c.RootCACRL, root, now, &crlV); err != nil {
				return err
			}
		}
		if len(c.PCKCRL) > 0 {
			ca, err := caChain("PCK CRL issuer chain", c.PCKCRLIssuerChain, root, now, &crlV)
			if err != nil {
				return err
			}
			if v.rootCRL.has(ca) {
				return fmt.Errorf("%w: the PCK CRL issuer %q (serial %X) is in the root CA CRL", ErrRevoked, ca.Subject.CommonName, ca.SerialNumber)
			}
			if v.pckCRL, err = verifyCRL("PCK CRL", c.PCKCRL, ca, now, &crlV); err != nil {
				return err
			}
		}
		return nil
	})
	if err := firstError(errs); err != nil {
		return nil, err
	}
	for _, w := range []validity{qeV, tcbV, crlV} {
		if !w.notBefore.IsZero() {
			v.narrow(w.notBefore, w.notAfter)
		}
	}
	for _, s := range []*x509.Certificate{qeSigner, tcbSigner} {
		if v.rootCRL.has(s) {
			return nil, fmt.Errorf("%w: the certificate %q (serial %X) is in the root CA CRL", ErrRevoked, s.Subject.CommonName, s.SerialNumber)
		}
	}
	return v, nil
}

// parallel runs fns concurrently (the first in the calling goroutine) and
// returns their errors in order.
func parallel(fns ...func() error) []error {
	errs := make([]error, len(fns))
	var wg sync.WaitGroup
	for i := 1; i < len(fns); i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fns[i]()
		}()
	}
	errs[0] = fns[0]()
	wg.Wait()
	return errs
}

// firstError is the first non-nil error of errs.
func firstError(errs []error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// signingChain verifies a TCB signing chain: the Intel SGX TCB Signing
// certificate, the root (optional in the PEM), valid at now.
func signingChain(what string, chain []byte, roots []*x509.Certificate, now time.Time, v *validity) (signer, ca, root *x509.Certificate, err error) {
	ders, err := pemCerts(what, chain)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w: %w", ErrCollateral, err)
	}
	if len(ders) != 1 && len(ders) != 2 {
		return nil, nil, nil, fmt.Errorf("%w: the %s has %d certificates, want 2 (TCB signing, root)", ErrCollateral, what, len(ders))
	}
	if signer, err = x509.ParseCertificate(ders[0]); err != nil {
		return nil, nil, nil, fmt.Errorf("%w: parsing the %s signer: %w", ErrCollateral, what, err)
	}
	if signer.Subject.CommonName != cnTCBSigning || signer.IsCA {
		return nil, nil, nil, fmt.Errorf("%w: the %s signer is %q (CA %t), want the end-entity %q", ErrCollateral, what, signer.Subject.CommonName, signer.IsCA, cnTCBSigning)
	}
	cands := roots
	if len(ders) == 2 {
		cands = nil
		for _, r := range roots {
			if bytes.Equal(r.Raw, ders[1]) {
				cands = []*x509.Certificate{r}
			}
		}
		if cands == nil {
			return nil, nil, nil, fmt.Errorf("%w: the %s ends at a root that is not trusted (%s)", ErrCollateral, what, rootNames(roots))
		}
	}
	var errs []error
	for _, r := range cands {
		if err := signer.CheckSignatureFrom(r); err != nil {
			errs = append(errs, fmt.Errorf("the %s signer %q is not signed by %q: %w", what, signer.Subject.CommonName, r.Subject.CommonName, err))
			continue
		}
		root = r
		break
	}
	if root == nil {
		return nil, nil, nil, fmt.Errorf("%w: %w", ErrCollateral, errors.Join(errs...))
	}
	if err := checkCerts(what, now, v, root, signer); err != nil {
		return nil, nil, nil, fmt.Errorf("%w: %w", ErrCollateral, err)
	}
	return signer, root, root, nil
}

// caChain verifies a CA's PEM chain: the CA, then optionally root.
func caChain(what string, chain []byte, root *x509.Certificate, now time.Time, v *validity) (*x509.Certificate, error) {
	ders, err := pemCerts(what, chain)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCRL, err)
	}
	if len(ders) != 1 && len(ders) != 2 {
		return nil, fmt.Errorf("%w: the %s has %d certificates, want 2 (CA, root)", ErrCRL, what, len(ders))
	}
	if len(ders) == 2 && !bytes.Equal(ders[1], root.Raw) {
		return nil, fmt.Errorf("%w: the %s does not end at the root %q the TCB info chains to", ErrCRL, what, root.Subject.CommonName)
	}
	ca, err := x509.ParseCertificate(ders[0])
	if err != nil {
		return nil, fmt.Errorf("%w: parsing the %s CA: %w", ErrCRL, what, err)
	}
	if err := ca.CheckSignatureFrom(root); err != nil {
		return nil, fmt.Errorf("%w: the %s CA %q is not signed by %q: %w", ErrCRL, what, ca.Subject.CommonName, root.Subject.CommonName, err)
	}
	if err := checkCerts(what, now, v, ca); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCRL, err)
	}
	return ca, nil
}

// verifyCRL parses a DER CRL and checks its signature by issuer and its
// dates at now.
func verifyCRL(what string, der []byte, issuer *x509.Certificate, now time.Time, v *validity) (*crlEntry, error) {
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("%w: parsing the %s: %w", ErrCRL, what, err)
	}
	if err := crl.CheckSignatureFrom(issuer); err != nil {
		return nil, fmt.Errorf("%w: the %s (issuer %q) is not signed by %q: %w", ErrCRL, what, crl.Issuer.CommonName, issuer.Subject.CommonName, err)
	}
	if crl.NextUpdate.IsZero() {
		return nil, fmt.Errorf("%w: the %s has no nextUpdate", ErrCRL, what)
	}
	if err := checkTime("the "+what, crl.ThisUpdate, crl.NextUpdate, now); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCRL, err)
	}
	v.narrow(crl.ThisUpdate, crl.NextUpdate)
	e := &crlEntry{issuer: issuer, revoked: make(map[string]bool, len(crl.RevokedCertificateEntries))}
	for _, r := range crl.RevokedCertificateEntries {
		e.revoked[string(r.SerialNumber.Bytes())] = true
	}
	return e, nil
}

// checkBodySignature verifies a raw r||s ECDSA P-256 signature of body by
// signer.
func checkBodySignature(what string, signer *x509.Certificate, body, sig []byte) error {
	pub, err := p256Key(signer)
	if err != nil {
		return fmt.Errorf("%w: %s signer: %w", ErrCollateral, what, err)
	}
	if !verifyRaw(pub, body, sig) {
		return fmt.Errorf("%w: the %s signature does not verify with the key of %q", ErrCollateral, what, signer.Subject.CommonName)
	}
	return nil
}

// verifyRaw verifies a raw r||s P-256 signature over SHA-256 of msg.
func verifyRaw(pub *ecdsa.PublicKey, msg, sig []byte) bool {
	if len(sig) != ecdsaSignatureSize {
		return false
	}
	digest := sha256.Sum256(msg)
	var buf [72]byte
	return ecdsa.VerifyASN1(pub, digest[:], rawToASN1(buf[:0], sig))
}

// rawToASN1 appends to dst the DER SEQUENCE of the two 32-byte
// big-endian integers of a raw r||s signature.
func rawToASN1(dst, sig []byte) []byte {
	trim := func(b []byte) []byte {
		for len(b) > 0 && b[0] == 0 {
			b = b[1:]
		}
		return b
	}
	size := func(b []byte) int {
		if len(b) == 0 || b[0]&0x80 != 0 {
			return len(b) + 1
		}
		return len(b)
	}
	put := func(dst, b []byte) []byte {
		dst = append(dst, 0x02, byte(size(b)))
		if len(b) == 0 || b[0]&0x80 != 0 {
			dst = append(dst, 0)
		}
		return append(dst, b...)
	}
	r, s := trim(sig[:32]), trim(sig[32:])
	dst = append(dst, 0x30, byte(4+size(r)+size(s)))
	return put(put(dst, r), s)
}
