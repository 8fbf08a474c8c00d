// Package inteltest is a fake Intel for tests: a test root CA with a PCK
// Platform CA and a TCB signing certificate (named as Intel names them),
// platforms whose PCK certificates carry SGX extensions, quoting enclaves
// that sign SGX (v3) and TDX (v4) quotes over any report data, and the
// collateral (TCB info, QE identity, CRLs) that goes with them. A verifier
// trusts it only when given [Hierarchy.Root] in intel.Options.Roots.
//
// Keys are generated afresh for every hierarchy: nothing here is a secret
// and nothing here is trusted by default.
package inteltest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"

	"github.com/inclavare/inclavare/tee/intel"
)

// Hierarchy is a test root with its PCK Platform CA and TCB signing
// certificate.
type Hierarchy struct {
	Root, PCKCA, TCBSigner *x509.Certificate
	rootKey, caKey, tcbKey *ecdsa.PrivateKey
	// NotBefore and NotAfter bound every certificate the hierarchy issues.
	NotBefore, NotAfter time.Time
	serial              int64
}

// NewHierarchy makes a hierarchy whose certificates are valid from
// notBefore for ten years.
func NewHierarchy(notBefore time.Time) (*Hierarchy, error) {
	h := &Hierarchy{NotBefore: notBefore.UTC().Truncate(time.Second), serial: 100}
	h.NotAfter = h.NotBefore.AddDate(10, 0, 0)
	var err error
	if h.rootKey, err = newKey(); err != nil {
		return nil, err
	}
	if h.Root, err = h.issue(&x509.Certificate{Subject: name("Intel SGX Root CA"), IsCA: true, MaxPathLen: 1,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}, nil, &h.rootKey.PublicKey, h.rootKey); err != nil {
		return nil, err
	}
	if h.caKey, err = newKey(); err != nil {
		return nil, err
	}
	if h.PCKCA, err = h.issue(&x509.Certificate{Subject: name("Intel SGX PCK Platform CA"), IsCA: true, MaxPathLen: 0, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}, h.Root, &h.caKey.PublicKey, h.rootKey); err != nil {
		return nil, err
	}
	if h.tcbKey, err = newKey(); err != nil {
		return nil, err
	}
	if h.TCBSigner, err = h.issue(&x509.Certificate{Subject: name("Intel SGX TCB Signing"),
		KeyUsage: x509.KeyUsageDigitalSignature}, h.Root, &h.tcbKey.PublicKey, h.rootKey); err != nil {
		return nil, err
	}
	return h, nil
}

func newKey() (*ecdsa.PrivateKey, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }

func name(cn string) pkix.Name {
	return pkix.Name{CommonName: cn, Organization: []string{"Inclavare test (not Intel)"}}
}

func (h *Hierarchy) issue(tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, key *ecdsa.PrivateKey) (*x509.Certificate, error) {
	h.serial++
	tmpl.SerialNumber = big.NewInt(h.serial)
	tmpl.BasicConstraintsValid = true
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore, tmpl.NotAfter = h.NotBefore, h.NotAfter
	}
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		return nil, fmt.Errorf("issuing %q: %w", tmpl.Subject.CommonName, err)
	}
	return x509.ParseCertificate(der)
}

// PEM returns certs in PEM, in order.
func PEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// Platform is a machine with a PCK certificate and a quoting enclave.
type Platform struct {
	H *Hierarchy
	// PCK is the platform's PCK certificate, PCKChain its PEM chain
	// (PCK, PCK Platform CA, root).
	PCK      *x509.Certificate
	PCKChain []byte
	pckKey   *ecdsa.PrivateKey
	attKey   *ecdsa.PrivateKey
	// QE is the quoting enclave's identity in its reports.
	QE QE
	// Opts is what the platform was made with.
	Opts PlatformOptions
}

// PlatformOptions describe a platform's PCK certificate.
type PlatformOptions struct {
	FMSPC      [6]byte
	PCEID      [2]byte
	Components [16]uint8
	PCESVN     uint16
	// NotBefore and NotAfter bound the PCK certificate (zero: the
	// hierarchy's).
	NotBefore, NotAfter time.Time
}

// QE is the identity the fake quoting enclave puts in its report.
type QE struct {
	MRSigner   [32]byte
	ISVProdID  uint16
	ISVSVN     uint16
	Attributes [16]byte
	MiscSelect uint32
}

// DefaultFMSPC is the FMSPC of platforms made with zero options.
var DefaultFMSPC = [6]byte{0x00, 0x90, 0x6e, 0xa1, 0x00, 0x00}

// NewPlatform issues a PCK certificate for a platform. Zero FMSPC and
// Components get DefaultFMSPC and components of 2 each, PCESVN 11.
func (h *Hierarchy) NewPlatform(o PlatformOptions) (*Platform, error) {
	if o.FMSPC == ([6]byte{}) {
		o.FMSPC = DefaultFMSPC
	}
	if o.Components == ([16]uint8{}) {
		for i := range o.Components {
			o.Components[i] = 2
		}
		o.PCESVN = 11
	}
	p := &Platform{H: h, Opts: o, QE: QE{ISVProdID: 1, ISVSVN: 8, Attributes: [16]byte{0x11}}}
	copy(p.QE.MRSigner[:], "inclavare test quoting enclave  ")
	var err error
	if p.pckKey, err = newKey(); err != nil {
		return nil, err
	}
	if p.attKey, err = newKey(); err != nil {
		return nil, err
	}
	ext, err := sgxExtension(o)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{Subject: name("Intel SGX PCK Certificate"), KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyAgreement,
		NotBefore: o.NotBefore, NotAfter: o.NotAfter, ExtraExtensions: []pkix.Extension{ext}}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore, tmpl.NotAfter = h.NotBefore, h.NotAfter
	}
	if p.PCK, err = h.issue(tmpl, h.PCKCA, &p.pckKey.PublicKey, h.caKey); err != nil {
		return nil, err
	}
	p.PCKChain = PEM(p.PCK, h.PCKCA, h.Root)
	return p, nil
}

type oidValue struct {
	ID    asn1.ObjectIdentifier
	Value asn1.RawValue
}

func entry(oid asn1.ObjectIdentifier, v any) (oidValue, error) {
	b, err := asn1.Marshal(v)
	if err != nil {
		return oidValue{}, err
	}
	return oidValue{ID: oid, Value: asn1.RawValue{FullBytes: b}}, nil
}

func sub(base asn1.ObjectIdentifier, n int) asn1.ObjectIdentifier {
	return append(append(asn1.ObjectIdentifier{}, base...), n)
}

// sgxExtension encodes the SGX extensions of a PCK certificate.
func sgxExtension(o PlatformOptions) (pkix.Extension, error) {
	base := intel.OIDSGXExtensions
	tcbOID := sub(base, 2)
	var tcb []oidValue
	for i, c := range o.Components {
		e, err := entry(sub(tcbOID, i+1), int(c))
		if err != nil {
			return pkix.Extension{}, err
		}
		tcb = append(tcb, e)
	}
	pce, _ := entry(sub(tcbOID, 17), int(o.PCESVN))
	cpusvn, _ := entry(sub(tcbOID, 18), o.Components[:])
	tcb = append(tcb, pce, cpusvn)
	tcbBytes, err := asn1.Marshal(tcb)
	if err != nil {
		return pkix.Extension{}, err
	}
	ppid, _ := entry(sub(base, 1), make([]byte, 16))
	pceid, _ := entry(sub(base, 3), o.PCEID[:])
	fmspc, _ := entry(sub(base, 4), o.FMSPC[:])
	sgxType, _ := entry(sub(base, 5), asn1.Enumerated(0))
	all := []oidValue{ppid, {ID: tcbOID, Value: asn1.RawValue{FullBytes: tcbBytes}}, pceid, fmspc, sgxType}
	b, err := asn1.Marshal(all)
	if err != nil {
		return pkix.Extension{}, err
	}
	return pkix.Extension{Id: base, Value: b}, nil
}

// QuoteOptions describe the enclave or TD a quote is for.
type QuoteOptions struct {
	// ReportData is the report data (up to 64 bytes, zero-padded).
	ReportData []byte
	// Debug sets the DEBUG attribute.
	Debug bool
	// MREnclave, MRSigner, ISVProdID and ISVSVN describe an SGX enclave.
	MREnclave, MRSigner [32]byte
	ISVProdID, ISVSVN   uint16
	// MRTD, RTMR and TEETCBSVN describe a TD.
	MRTD      [48]byte
	RTMR      [4][48]byte
	TEETCBSVN [16]byte
}

// SGXQuote returns a version 3 SGX quote of an enclave described by o.
func (p *Platform) SGXQuote(o QuoteOptions) ([]byte, error) {
	body := make([]byte, intel.EnclaveReportSize)
	flags := uint64(intel.SGXFlagInit | intel.SGXFlagMode64Bit)
	if o.Debug {
		flags |= intel.SGXFlagDebug
	}
	binary.LittleEndian.PutUint64(body[48:], flags)
	binary.LittleEndian.PutUint64(body[56:], 0xe7)
	copy(body[64:], o.MREnclave[:])
	copy(body[128:], o.MRSigner[:])
	binary.LittleEndian.PutUint16(body[256:], o.ISVProdID)
	binary.LittleEndian.PutUint16(body[258:], o.ISVSVN)
	copy(body[320:], o.ReportData)
	return p.quote(3, intel.TEETypeSGX, body)
}

// TDXQuote returns a version 4 TDX quote of a TD described by o.
func (p *Platform) TDXQuote(o QuoteOptions) ([]byte, error) {
	body := make([]byte, intel.TDReport10Size)
	copy(body[0:16], o.TEETCBSVN[:])
	if o.Debug {
		body[120] |= intel.TDAttributeDebug
	}
	body[123] = 0x10 // SEPT_VE_DISABLE, as real TDs set it
	binary.LittleEndian.PutUint64(body[128:], 0x61ae7)
	copy(body[136:184], o.MRTD[:])
	for i := range o.RTMR {
		copy(body[328+48*i:], o.RTMR[i][:])
	}
	copy(body[520:], o.ReportData)
	return p.quote(4, intel.TEETypeTDX, body)
}

func (p *Platform) quote(version uint16, tee uint32, body []byte) ([]byte, error) {
	q := make([]byte, intel.HeaderSize, 5000)
	binary.LittleEndian.PutUint16(q[0:], version)
	binary.LittleEndian.PutUint16(q[2:], intel.AttestationKeyECDSAP256)
	binary.LittleEndian.PutUint32(q[4:], tee)
	if version == 3 {
		binary.LittleEndian.PutUint16(q[8:], p.QE.ISVSVN)
		binary.LittleEndian.PutUint16(q[10:], p.Opts.PCESVN)
	}
	copy(q[12:28], intel.IntelQEVendorID[:])
	q = append(q, body...)
	sig, err := rawSign(p.attKey, q)
	if err != nil {
		return nil, err
	}
	attKey := p.attKey.PublicKey
	var point [65]byte
	attKey.X.FillBytes(point[1:33])
	attKey.Y.FillBytes(point[33:])
	auth := make([]byte, 32)
	for i := range auth {
		auth[i] = byte(i)
	}
	qe := make([]byte, intel.EnclaveReportSize)
	binary.LittleEndian.PutUint32(qe[16:], p.QE.MiscSelect)
	copy(qe[48:64], p.QE.Attributes[:])
	copy(qe[128:160], p.QE.MRSigner[:])
	binary.LittleEndian.PutUint16(qe[256:], p.QE.ISVProdID)
	binary.LittleEndian.PutUint16(qe[258:], p.QE.ISVSVN)
	h := sha256.New()
	h.Write(point[1:])
	h.Write(auth)
	copy(qe[320:], h.Sum(nil))
	qeSig, err := rawSign(p.pckKey, qe)
	if err != nil {
		return nil, err
	}
	var inner []byte
	inner = append(inner, qe...)
	inner = append(inner, qeSig...)
	inner = binary.LittleEndian.AppendUint16(inner, uint16(len(auth)))
	inner = append(inner, auth...)
	inner = binary.LittleEndian.AppendUint16(inner, intel.CertTypePCKChain)
	inner = binary.LittleEndian.AppendUint32(inner, uint32(len(p.PCKChain)))
	inner = append(inner, p.PCKChain...)
	sigData := append(append([]byte{}, sig...), point[1:]...)
	if version >= 4 {
		sigData = binary.LittleEndian.AppendUint16(sigData, intel.CertTypeQEReport)
		sigData = binary.LittleEndian.AppendUint32(sigData, uint32(len(inner)))
	}
	sigData = append(sigData, inner...)
	q = binary.LittleEndian.AppendUint32(q, uint32(len(sigData)))
	return append(q, sigData...), nil
}

// rawSign signs SHA-256 of msg and returns r||s, 32 bytes each.
func rawSign(key *ecdsa.PrivateKey, msg []byte) ([]byte, error) {
	d := sha256.Sum256(msg)
	r, s, err := ecdsa.Sign(rand.Reader, key, d[:])
	if err != nil {
		return nil, err
	}
	out := make([]byte, 64)
	r.FillBytes(out[:32])
	s.FillBytes(out[32:])
	return out, nil
}

// CollateralOptions describe the collateral the hierarchy signs. Zero
// values get defaults that make the platform UpToDate.
type CollateralOptions struct {
	// TDX makes TDX collateral (TCB info id "TDX", QE identity "TD_QE").
	TDX bool
	// IssueDate and NextUpdate of the TCB info and QE identity (zero:
	// the hierarchy's NotBefore and thirty days later).
	IssueDate, NextUpdate time.Time
	// TCBEvaluationDataNumber of both (zero: 17).
	TCBEvaluationDataNumber uint32
	// TCBLevels of the TCB info (nil: one UpToDate level at the
	// platform's components, with TDX components of zero).
	TCBLevels []intel.TCBLevel
	// TDXModule and TDXModuleIdentities of a TDX TCB info (nil: a
	// module signed by zeros with no identities).
	TDXModule           *intel.TDXModule
	TDXModuleIdentities []intel.TDXModuleIdentity
	// QELevels of the QE identity (nil: one UpToDate level at the QE's
	// ISVSVN).
	QELevels []intel.ISVSVNLevel
	// CRLs adds a PCK CRL and a root CA CRL; Revoked are serial numbers
	// the PCK CRL lists, RevokedCAs those the root CA CRL lists.
	CRLs                bool
	Revoked, RevokedCAs []*big.Int
	// CRLNextUpdate is the PCK CRL's next update (zero: NextUpdate).
	CRLNextUpdate time.Time
}

// Collateral signs collateral for p.
func (p *Platform) Collateral(o CollateralOptions) (*intel.Collateral, error) {
	h := p.H
	if o.IssueDate.IsZero() {
		o.IssueDate = h.NotBefore
		o.NextUpdate = o.IssueDate.AddDate(0, 0, 30)
	}
	if o.TCBEvaluationDataNumber == 0 {
		o.TCBEvaluationDataNumber = 17
	}
	if o.TCBLevels == nil {
		l := intel.TCBLevel{TCBDate: "2024-03-13T00:00:00Z", TCBStatus: intel.TCBUpToDate}
		l.TCB.SGX = p.Opts.Components
		l.TCB.PCESVN = p.Opts.PCESVN
		if o.TDX {
			l.TCB.TDX = new([16]uint8)
		}
		o.TCBLevels = []intel.TCBLevel{l}
	}
	if o.QELevels == nil {
		l := intel.ISVSVNLevel{TCBDate: "2024-03-13T00:00:00Z", TCBStatus: intel.TCBUpToDate}
		l.TCB.ISVSVN = p.QE.ISVSVN
		o.QELevels = []intel.ISVSVNLevel{l}
	}
	tcb := intel.TCBInfo{ID: "SGX", Version: 3, IssueDate: o.IssueDate.UTC(), NextUpdate: o.NextUpdate.UTC(),
		FMSPC: p.Opts.FMSPC[:], PCEID: p.Opts.PCEID[:], TCBEvaluationDataNumber: o.TCBEvaluationDataNumber, TCBLevels: o.TCBLevels}
	qe := intel.QEIdentity{ID: "QE", Version: 2, IssueDate: o.IssueDate.UTC(), NextUpdate: o.NextUpdate.UTC(),
		TCBEvaluationDataNumber: o.TCBEvaluationDataNumber, MiscSelect: make([]byte, 4), MiscSelectMask: []byte{0xff, 0xff, 0xff, 0xff},
		Attributes: p.QE.Attributes[:], AttributesMask: append([]byte{0xfb}, make([]byte, 15)...), MRSigner: p.QE.MRSigner[:],
		ISVProdID: p.QE.ISVProdID, TCBLevels: o.QELevels}
	if o.TDX {
		tcb.ID, qe.ID = "TDX", "TD_QE"
		tcb.TDXModule = o.TDXModule
		if tcb.TDXModule == nil {
			tcb.TDXModule = &intel.TDXModule{MRSigner: make([]byte, 48), Attributes: make([]byte, 8), AttributesMask: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
		}
		tcb.TDXModuleIdentities = o.TDXModuleIdentities
	}
	c := &intel.Collateral{TCBInfoIssuerChain: PEM(h.TCBSigner, h.Root), QEIdentityIssuerChain: PEM(h.TCBSigner, h.Root)}
	var err error
	if c.TCBInfo, err = json.Marshal(tcb); err != nil {
		return nil, err
	}
	if c.QEIdentity, err = json.Marshal(qe); err != nil {
		return nil, err
	}
	if c.TCBInfoSignature, err = rawSign(h.tcbKey, c.TCBInfo); err != nil {
		return nil, err
	}
	if c.QEIdentitySignature, err = rawSign(h.tcbKey, c.QEIdentity); err != nil {
		return nil, err
	}
	if o.CRLs {
		next := o.CRLNextUpdate
		if next.IsZero() {
			next = o.NextUpdate
		}
		if c.PCKCRL, err = h.crl(h.PCKCA, h.caKey, o.Revoked, o.IssueDate, next); err != nil {
			return nil, err
		}
		if c.RootCACRL, err = h.crl(h.Root, h.rootKey, o.RevokedCAs, o.IssueDate, o.NextUpdate.AddDate(1, 0, 0)); err != nil {
			return nil, err
		}
		c.PCKCRLIssuerChain = PEM(h.PCKCA, h.Root)
	}
	return c, nil
}

func (h *Hierarchy) crl(issuer *x509.Certificate, key *ecdsa.PrivateKey, revoked []*big.Int, this, next time.Time) ([]byte, error) {
	tmpl := &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: this, NextUpdate: next}
	for _, s := range revoked {
		tmpl.RevokedCertificateEntries = append(tmpl.RevokedCertificateEntries, x509.RevocationListEntry{SerialNumber: s, RevocationTime: this})
	}
	return x509.CreateRevocationList(rand.Reader, tmpl, issuer, key)
}
