package intel

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Evidence types of Intel quotes, as in the C Rats-TLS (both under CBOR tag
// 60000 in framework/dice, told apart by the quote header's TEE type).
const (
	EvidenceTypeSGX = "sgx_ecdsa"
	EvidenceTypeTDX = "tdx_ecdsa"
)

// TEE types of the quote header.
const (
	TEETypeSGX uint32 = 0x00000000
	TEETypeTDX uint32 = 0x00000081
)

// AttestationKeyECDSAP256 is the header's attestation key type 2,
// ECDSA-256-with-P-256: the only one Intel's quoting enclaves use.
const AttestationKeyECDSAP256 uint16 = 2

// Sizes of the fixed parts of a quote.
const (
	HeaderSize         = 48
	EnclaveReportSize  = 384 // an SGX REPORT body (sgx_report_body_t)
	TDReport10Size     = 584 // a TDX 1.0 TD report body (TD_REPORT's TDINFO and TEE_TCB_SVN)
	TDReport15Size     = 648 // a TDX 1.5 TD report body: TDX 1.0 plus TEE_TCB_SVN_2 and MRSERVICETD
	ReportDataSize     = 64
	ecdsaSignatureSize = 64 // raw r||s, P-256
	ecdsaPublicKeySize = 64 // raw x||y, P-256
	bodyDescriptorSize = 6  // quote v5: body type (2) and size (4)
)

// Body types of a quote v5 body descriptor; versions 3 and 4 imply one.
const (
	BodyTypeSGX  uint16 = 1 // SGX enclave report (quote v3)
	BodyTypeTD10 uint16 = 2 // TDX 1.0 TD report (quote v4)
	BodyTypeTD15 uint16 = 3 // TDX 1.5 TD report (quote v5 only)
)

// Certification data types (Intel SGX ECDSA quote library reference,
// "Certification Data").
const (
	CertTypePPIDCleartext    uint16 = 1 // PCK cert ID: PPID in clear
	CertTypePPIDRSA2048      uint16 = 2 // PCK cert ID: PPID encrypted with RSA-2048-OAEP
	CertTypePPIDRSA3072      uint16 = 3 // PCK cert ID: PPID encrypted with RSA-3072-OAEP (EPPID)
	CertTypePCKLeaf          uint16 = 4 // the PCK leaf certificate
	CertTypePCKChain         uint16 = 5 // the PCK certificate chain, PEM: leaf, PCK CA, root
	CertTypeQEReport         uint16 = 6 // QE report certification data (quote v4 and v5)
	CertTypePlatformManifest uint16 = 7
)

// IntelQEVendorID is the QE vendor ID of Intel's quoting enclaves
// (939A7233-F79C-4CA9-940A-0DB3957F0607).
var IntelQEVendorID = [16]byte{0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07}

// MaxQuoteSize caps what ParseQuote reads: a quote with a PCK chain is about
// 5 KiB, and an authentication data or certification data field cannot
// make it larger than this.
const MaxQuoteSize = 64 << 10

// ErrMalformedQuote is wrapped by every error about a quote's bytes; the
// error names the field, its offset and the values.
var ErrMalformedQuote = errors.New("malformed Intel quote")

// ErrUnsupportedQuote is wrapped when a well-formed quote is of a kind this
// package does not verify (a version, attestation key type, TEE type or
// body type it does not know).
var ErrUnsupportedQuote = errors.New("unsupported Intel quote")

// Header is the 48-byte quote header.
type Header struct {
	// Version is 3 (SGX), 4 (TDX) or 5 (TDX, with a body descriptor).
	Version uint16
	// AttestationKeyType is 2, ECDSA-256-with-P-256.
	AttestationKeyType uint16
	// TEEType is TEETypeSGX or TEETypeTDX (reserved, zero, in version 3).
	TEEType uint32
	// QESVN and PCESVN are the quoting enclave's and the PCE's SVNs at
	// quote time (version 3; reserved in later versions).
	QESVN, PCESVN uint16
	// QEVendorID names the quoting enclave's vendor: IntelQEVendorID.
	QEVendorID [16]byte
	// UserData is the QE's own data: for Intel's QE, the first 16 bytes
	// are the QE ID.
	UserData [20]byte
}

// EnclaveReport is the 384-byte body of an SGX REPORT: the application
// enclave's report in an SGX quote, and the quoting enclave's own report in
// every quote.
type EnclaveReport struct {
	CPUSVN       [16]byte
	MiscSelect   uint32
	ISVExtProdID [16]byte
	// Attributes are the enclave's ATTRIBUTES: FLAGS (8 bytes, little
	// endian: bit 1 is DEBUG) then XFRM (8 bytes).
	Attributes  [16]byte
	MREnclave   [32]byte
	MRSigner    [32]byte
	ConfigID    [64]byte
	ISVProdID   uint16
	ISVSVN      uint16
	ConfigSVN   uint16
	ISVFamilyID [16]byte
	ReportData  [64]byte
	// Raw is the report's 384 bytes as received (shared with the quote).
	Raw []byte
}

// SGX ATTRIBUTES.FLAGS bits.
const (
	SGXFlagInit      = 1 << 0
	SGXFlagDebug     = 1 << 1
	SGXFlagMode64Bit = 1 << 2
)

// Debug tells whether ATTRIBUTES.DEBUG is set: the enclave's memory can be
// read and changed by a debugger.
func (r *EnclaveReport) Debug() bool { return r.Flags()&SGXFlagDebug != 0 }

// Flags is ATTRIBUTES.FLAGS.
func (r *EnclaveReport) Flags() uint64 { return binary.LittleEndian.Uint64(r.Attributes[:8]) }

// XFRM is ATTRIBUTES.XFRM.
func (r *EnclaveReport) XFRM() uint64 { return binary.LittleEndian.Uint64(r.Attributes[8:]) }

func parseEnclaveReport(b []byte) EnclaveReport {
	r := EnclaveReport{Raw: b[:EnclaveReportSize:EnclaveReportSize]}
	copy(r.CPUSVN[:], b[0:16])
	r.MiscSelect = binary.LittleEndian.Uint32(b[16:20])
	copy(r.ISVExtProdID[:], b[32:48])
	copy(r.Attributes[:], b[48:64])
	copy(r.MREnclave[:], b[64:96])
	copy(r.MRSigner[:], b[128:160])
	copy(r.ConfigID[:], b[192:256])
	r.ISVProdID = binary.LittleEndian.Uint16(b[256:258])
	r.ISVSVN = binary.LittleEndian.Uint16(b[258:260])
	r.ConfigSVN = binary.LittleEndian.Uint16(b[260:262])
	copy(r.ISVFamilyID[:], b[304:320])
	copy(r.ReportData[:], b[320:384])
	return r
}

// TDReport is the body of a TDX quote: a TDX 1.0 TD report (584 bytes), or
// a TDX 1.5 one (648 bytes, quote v5 body type 3) that adds TEETCBSVN2 and
// MRServiceTD.
type TDReport struct {
	// TEETCBSVN is the TDX module's TCB: byte 0 its SVN, byte 1 its major
	// version, the others per Intel's TCB info tdxtcbcomponents.
	TEETCBSVN [16]byte
	// MRSEAM is the TDX module's measurement, MRSignerSEAM its signer (zero
	// for Intel's).
	MRSEAM, MRSignerSEAM [48]byte
	SEAMAttributes       [8]byte
	// TDAttributes are the TD's attributes: byte 0 bit 0 is DEBUG.
	TDAttributes [8]byte
	XFAM         [8]byte
	// MRTD measures the TD's initial contents.
	MRTD                            [48]byte
	MRConfigID, MROwner, MROwnerCfg [48]byte
	// RTMR are the runtime measurement registers 0 to 3.
	RTMR       [4][48]byte
	ReportData [64]byte
	// TEETCBSVN2 and MRServiceTD are in TDX 1.5 reports only (zero
	// otherwise).
	TEETCBSVN2  [16]byte
	MRServiceTD [48]byte
	// Raw is the body as received (shared with the quote).
	Raw []byte
}

// TDAttributeDebug is TD_ATTRIBUTES.TUD.DEBUG (bit 0): the host can read
// and change the TD's state.
const TDAttributeDebug = 1 << 0

// Debug tells whether TD_ATTRIBUTES.DEBUG is set.
func (r *TDReport) Debug() bool { return r.TDAttributes[0]&TDAttributeDebug != 0 }

func parseTDReport(b []byte) TDReport {
	r := TDReport{Raw: b[:len(b):len(b)]}
	copy(r.TEETCBSVN[:], b[0:16])
	copy(r.MRSEAM[:], b[16:64])
	copy(r.MRSignerSEAM[:], b[64:112])
	copy(r.SEAMAttributes[:], b[112:120])
	copy(r.TDAttributes[:], b[120:128])
	copy(r.XFAM[:], b[128:136])
	copy(r.MRTD[:], b[136:184])
	copy(r.MRConfigID[:], b[184:232])
	copy(r.MROwner[:], b[232:280])
	copy(r.MROwnerCfg[:], b[280:328])
	for i := range r.RTMR {
		copy(r.RTMR[i][:], b[328+48*i:376+48*i])
	}
	copy(r.ReportData[:], b[520:584])
	if len(b) == TDReport15Size {
		copy(r.TEETCBSVN2[:], b[584:600])
		copy(r.MRServiceTD[:], b[600:648])
	}
	return r
}

// Quote is a parsed SGX (version 3) or TDX (version 4 or 5) ECDSA quote. It
// is only parsed: nothing in it is verified until a [Verifier] has checked
// it.
type Quote struct {
	// Raw is the quote's bytes, without any trailing bytes that followed
	// it (see ParseOptions.AllowTrailing). It is not copied: the caller
	// must not change it.
	Raw []byte
	// Trailing is the number of bytes that followed the quote in the
	// input (only with ParseOptions.AllowTrailing).
	Trailing int
	Header   Header
	// BodyType is BodyTypeSGX, BodyTypeTD10 or BodyTypeTD15.
	BodyType uint16
	// Enclave is the application enclave's report (SGX quotes); TD the
	// TD's report (TDX quotes). Exactly one is set.
	Enclave *EnclaveReport
	TD      *TDReport
	// Signature is the ECDSA P-256 signature (r||s) of the header and
	// body by AttestationKey.
	Signature [ecdsaSignatureSize]byte
	// AttestationKey is the quote's ECDSA P-256 public key (x||y), which
	// the QE vouches for in its report data.
	AttestationKey [ecdsaPublicKeySize]byte
	// QEReport is the quoting enclave's report, signed by the PCK key
	// with QEReportSignature (r||s).
	QEReport          EnclaveReport
	QEReportSignature [ecdsaSignatureSize]byte
	// QEAuthData is the QE authentication data, hashed with the
	// attestation key into the QE's report data.
	QEAuthData []byte
	// CertType and CertData are the certification data: type 5 is the
	// PCK certificate chain in PEM; other types (such as 3, the encrypted
	// PPID) carry no certificate. For quotes v4 and v5 these are the
	// certification data inside the type 6 QE report certification data.
	CertType uint16
	CertData []byte
}

// SignedBytes are the bytes the attestation key signs: the header and the
// body (with the v5 body descriptor).
func (q *Quote) SignedBytes() []byte { return q.Raw[:q.signedLen()] }

func (q *Quote) signedLen() int {
	n := HeaderSize
	if q.Header.Version >= 5 {
		n += bodyDescriptorSize
	}
	if q.Enclave != nil {
		return n + len(q.Enclave.Raw)
	}
	return n + len(q.TD.Raw)
}

// IsTDX tells whether the quote is from a TD.
func (q *Quote) IsTDX() bool { return q.Header.TEEType == TEETypeTDX }

// EvidenceType is "sgx_ecdsa" or "tdx_ecdsa".
func (q *Quote) EvidenceType() string {
	if q.IsTDX() {
		return EvidenceTypeTDX
	}
	return EvidenceTypeSGX
}

// ReportData is the 64 bytes of report data of the enclave or TD.
func (q *Quote) ReportData() []byte {
	if q.TD != nil {
		return q.TD.ReportData[:]
	}
	return q.Enclave.ReportData[:]
}

// Debug tells whether the enclave or TD is a debug one.
func (q *Quote) Debug() bool {
	if q.TD != nil {
		return q.TD.Debug()
	}
	return q.Enclave.Debug()
}

// ParseOptions change how ParseQuoteWith reads a quote.
type ParseOptions struct {
	// AllowTrailing accepts bytes after the quote (a TDX quote buffer is
	// often padded with zeros): the quote is read, Quote.Raw is its bytes
	// only, and Quote.Trailing counts the rest. Without it such bytes are
	// an error.
	AllowTrailing bool
}

// ParseQuote parses b, which must be exactly one quote: an SGX quote v3 or a
// TDX quote v4 or v5 with an ECDSA P-256 attestation key. Every length is
// checked; bytes after the quote are an error (see ParseQuoteWith).
func ParseQuote(b []byte) (*Quote, error) { return ParseQuoteWith(b, ParseOptions{}) }

// ParseQuoteWith parses a quote with opts.
func ParseQuoteWith(b []byte, opts ParseOptions) (*Quote, error) {
	if len(b) > MaxQuoteSize && !opts.AllowTrailing {
		return nil, fmt.Errorf("%w: %d bytes, more than the %d a quote can be", ErrMalformedQuote, len(b), MaxQuoteSize)
	}
	r := reader{b: b}
	h, err := r.take("header", HeaderSize)
	if err != nil {
		return nil, err
	}
	q := &Quote{}
	q.Header.Version = binary.LittleEndian.Uint16(h[0:2])
	q.Header.AttestationKeyType = binary.LittleEndian.Uint16(h[2:4])
	q.Header.TEEType = binary.LittleEndian.Uint32(h[4:8])
	q.Header.QESVN = binary.LittleEndian.Uint16(h[8:10])
	q.Header.PCESVN = binary.LittleEndian.Uint16(h[10:12])
	copy(q.Header.QEVendorID[:], h[12:28])
	copy(q.Header.UserData[:], h[28:48])

	switch v := q.Header.Version; v {
	case 3:
		if q.Header.TEEType != TEETypeSGX {
			return nil, fmt.Errorf("%w: header TEE type at offset 4 is %#x, but a version 3 quote is an SGX quote (%#x)", ErrUnsupportedQuote, q.Header.TEEType, TEETypeSGX)
		}
		q.BodyType = BodyTypeSGX
	case 4:
		if q.Header.TEEType != TEETypeTDX {
			return nil, fmt.Errorf("%w: header TEE type at offset 4 is %#x, but a version 4 quote is a TDX quote (%#x)", ErrUnsupportedQuote, q.Header.TEEType, TEETypeTDX)
		}
		q.BodyType = BodyTypeTD10
	case 5:
		if q.Header.TEEType != TEETypeTDX {
			return nil, fmt.Errorf("%w: header TEE type at offset 4 is %#x; version 5 quotes are verified for TDX (%#x) only", ErrUnsupportedQuote, q.Header.TEEType, TEETypeTDX)
		}
	default:
		return nil, fmt.Errorf("%w: header version at offset 0 is %d (want 3 for SGX, 4 or 5 for TDX)", ErrUnsupportedQuote, v)
	}
	if q.Header.AttestationKeyType != AttestationKeyECDSAP256 {
		return nil, fmt.Errorf("%w: header attestation key type at offset 2 is %d (want %d, ECDSA-256-with-P-256)", ErrUnsupportedQuote, q.Header.AttestationKeyType, AttestationKeyECDSAP256)
	}

	bodySize := EnclaveReportSize
	if q.Header.Version == 4 {
		bodySize = TDReport10Size
	}
	if q.Header.Version == 5 {
		d, err := r.take("body descriptor", bodyDescriptorSize)
		if err != nil {
			return nil, err
		}
		q.BodyType = binary.LittleEndian.Uint16(d[0:2])
		size := binary.LittleEndian.Uint32(d[2:6])
		switch q.BodyType {
		case BodyTypeTD10:
			bodySize = TDReport10Size
		case BodyTypeTD15:
			bodySize = TDReport15Size
		default:
			return nil, fmt.Errorf("%w: body type at offset %d is %d (want %d, TDX 1.0, or %d, TDX 1.5)", ErrUnsupportedQuote, HeaderSize, q.BodyType, BodyTypeTD10, BodyTypeTD15)
		}
		if size != uint32(bodySize) {
			return nil, fmt.Errorf("%w: body size at offset %d is %d, but a body of type %d is %d bytes", ErrMalformedQuote, HeaderSize+2, size, q.BodyType, bodySize)
		}
	}
	body, err := r.take("report body", bodySize)
	if err != nil {
		return nil, err
	}
	if q.BodyType == BodyTypeSGX {
		e := parseEnclaveReport(body)
		q.Enclave = &e
	} else {
		td := parseTDReport(body)
		q.TD = &td
	}

	sigLen, err := r.u32("signature data length")
	if err != nil {
		return nil, err
	}
	sigStart := r.off
	if uint64(sigLen) > uint64(len(b)-r.off) {
		return nil, fmt.Errorf("%w: signature data length at offset %d is %d, but %d bytes follow", ErrMalformedQuote, sigStart-4, sigLen, len(b)-r.off)
	}
	sigEnd := sigStart + int(sigLen)
	r.end = sigEnd
	s, err := r.take("quote signature", ecdsaSignatureSize)
	if err != nil {
		return nil, err
	}
	copy(q.Signature[:], s)
	k, err := r.take("attestation key", ecdsaPublicKeySize)
	if err != nil {
		return nil, err
	}
	copy(q.AttestationKey[:], k)

	qeEnd := sigEnd
	if q.Header.Version >= 4 {
		// The QE report certification data (type 6) wraps the rest.
		typ, err := r.u16("certification data type")
		if err != nil {
			return nil, err
		}
		if typ != CertTypeQEReport {
			return nil, fmt.Errorf("%w: certification data type at offset %d is %d, want %d (QE report certification data) in a version %d quote", ErrMalformedQuote, r.off-2, typ, CertTypeQEReport, q.Header.Version)
		}
		size, err := r.u32("certification data size")
		if err != nil {
			return nil, err
		}
		if uint64(size) != uint64(sigEnd-r.off) {
			return nil, fmt.Errorf("%w: QE report certification data size at offset %d is %d, but the signature data leaves %d bytes for it", ErrMalformedQuote, r.off-4, size, sigEnd-r.off)
		}
		qeEnd = r.off + int(size)
	}
	qr, err := r.take("QE report", EnclaveReportSize)
	if err != nil {
		return nil, err
	}
	q.QEReport = parseEnclaveReport(qr)
	qs, err := r.take("QE report signature", ecdsaSignatureSize)
	if err != nil {
		return nil, err
	}
	copy(q.QEReportSignature[:], qs)
	authLen, err := r.u16("QE authentication data size")
	if err != nil {
		return nil, err
	}
	if q.QEAuthData, err = r.take("QE authentication data", int(authLen)); err != nil {
		return nil, err
	}
	if q.CertType, err = r.u16("certification data type"); err != nil {
		return nil, err
	}
	certLen, err := r.u32("certification data size")
	if err != nil {
		return nil, err
	}
	if uint64(certLen) != uint64(qeEnd-r.off) {
		return nil, fmt.Errorf("%w: certification data size at offset %d is %d, but %d bytes of signature data remain for it", ErrMalformedQuote, r.off-4, certLen, qeEnd-r.off)
	}
	if q.CertData, err = r.take("certification data", int(certLen)); err != nil {
		return nil, err
	}
	if q.CertType == CertTypeQEReport {
		return nil, fmt.Errorf("%w: certification data type at offset %d is %d (QE report certification data) inside the QE report certification data", ErrMalformedQuote, r.off-int(certLen)-6, q.CertType)
	}
	if rest := len(b) - sigEnd; rest > 0 {
		if !opts.AllowTrailing {
			return nil, fmt.Errorf("%w: %d trailing bytes after the %d-byte quote (at offset %d)", ErrMalformedQuote, rest, sigEnd, sigEnd)
		}
		q.Trailing = rest
	}
	if sigEnd > MaxQuoteSize {
		return nil, fmt.Errorf("%w: the quote is %d bytes, more than the %d a quote can be", ErrMalformedQuote, sigEnd, MaxQuoteSize)
	}
	q.Raw = b[:sigEnd:sigEnd]
	return q, nil
}

// reader reads the fields of a quote, naming each in its errors.
type reader struct {
	b   []byte
	off int
	end int // 0: len(b)
}

func (r *reader) limit() int {
	if r.end > 0 {
		return r.end
	}
	return len(r.b)
}

func (r *reader) take(field string, n int) ([]byte, error) {
	if n < 0 || n > r.limit()-r.off {
		what := "the quote"
		if r.end > 0 {
			what = "the signature data"
		}
		return nil, fmt.Errorf("%w: %s at offset %d needs %d bytes, but %s has %d left", ErrMalformedQuote, field, r.off, n, what, r.limit()-r.off)
	}
	s := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return s, nil
}

func (r *reader) u16(field string) (uint16, error) {
	s, err := r.take(field, 2)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint16(s), nil
}

func (r *reader) u32(field string) (uint32, error) {
	s, err := r.take(field, 4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(s), nil
}
