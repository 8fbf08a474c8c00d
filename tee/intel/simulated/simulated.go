// Package simulated is the TEST-ONLY simulated Intel TEE of the sgx_ecdsa_sim
// and tdx_ecdsa_sim attesters: a fixed key hierarchy in Intel's format (a
// root CA, a PCK Platform CA, a PCK certificate with SGX extensions, a TCB
// signing certificate), the quoting enclave's attestation key, signed
// collateral for the simulated platform (TCB info and QE identity, SGX and
// TDX, UpToDate, with empty CRLs), and a [Simulator] that makes real-format
// SGX (version 3) and TDX (version 4) quotes over any report data.
//
// # Never trust this hierarchy in production
//
// The private keys are committed in this directory, so anyone can sign a
// quote that verifies up to [RootPEM]. The sgx_ecdsa and tdx_ecdsa
// verifiers trust it only when told to (instance.Options.AllowSimulated,
// --allow-simulated), and then mark their claims "simulated": true. The
// Intel SGX Root CA never accepts this chain, and this root never accepts an
// Intel chain.
//
// # Why the keys are fixed
//
// The attester and the verifier usually run in different processes, so
// both must agree on the simulated root without talking to each other: the
// hierarchy and its collateral were generated once and are embedded here.
// The generator is TestRegenerate in generate_test.go:
//
//	go test ./tee/intel/simulated -run TestRegenerate -regenerate
//
// makes new keys, certificates and collateral (every old simulated quote
// then stops verifying).
package simulated

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	_ "embed"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"sync"

	"github.com/inclavare/inclavare/tee/intel"
)

// ErrSimulated: a quote's PCK chain ends at the simulated root, which is
// trusted only with --allow-simulated.
var ErrSimulated = errors.New("evidence is from the simulated Intel TEE (sgx_ecdsa_sim or tdx_ecdsa_sim); it is trusted only with --allow-simulated")

// The embedded test-only material, PEM encoded (and JSON for collateral).
var (
	// RootPEM is the self-signed simulated "Intel SGX Root CA".
	//
	//go:embed testonly_root.pem
	RootPEM []byte
	// PCKCAPEM is the simulated "Intel SGX PCK Platform CA", signed by
	// the root.
	//
	//go:embed testonly_pck_ca.pem
	PCKCAPEM []byte
	// PCKPEM is the simulated platform's PCK certificate, signed by the
	// PCK Platform CA; its SGX extensions carry [FMSPC], [PCEID],
	// [Components] and [PCESVN].
	//
	//go:embed testonly_pck.pem
	PCKPEM []byte
	// PCKKeyPEM is the PCK certificate's PKCS #8 key: it signs the QE
	// report.
	//
	//go:embed testonly_pck_key.pem
	PCKKeyPEM []byte
	// AttestationKeyPEM is the quoting enclave's PKCS #8 attestation key:
	// it signs quotes.
	//
	//go:embed testonly_attestation_key.pem
	AttestationKeyPEM []byte
	// CollateralSGXJSON and CollateralTDXJSON are the simulated platform's
	// collateral in the collateral JSON layout (intel.ParseCollateralJSON),
	// signed by the simulated TCB signing certificate.
	//
	//go:embed testonly_collateral_sgx.json
	CollateralSGXJSON []byte
	//go:embed testonly_collateral_tdx.json
	CollateralTDXJSON []byte
)

// The simulated platform's TCB, as its PCK certificate states it.
var (
	// FMSPC is the simulated platform family.
	FMSPC = [6]byte{0x00, 0x90, 0x6e, 0x5a, 0x00, 0x00}
	// PCEID is the simulated PCE's ID.
	PCEID = [2]byte{0, 0}
	// Components are the 16 SGX TCB components (CPUSVN) of the platform.
	Components = [16]uint8{2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2}
)

// PCESVN is the simulated PCE's SVN.
const PCESVN = 11

// QE is the simulated quoting enclave's identity in its report.
var QE = struct {
	MRSignerSeed string
	ISVProdID    uint16
	ISVSVN       uint16
	Attributes   [16]byte
}{MRSignerSeed: "inclavare rats-tls simulated quoting enclave, TEST ONLY", ISVProdID: 1, ISVSVN: 8, Attributes: [16]byte{0x11}}

// QEMRSigner is SHA-256 of QE.MRSignerSeed.
func QEMRSigner() [32]byte { return sha256.Sum256([]byte(QE.MRSignerSeed)) }

// The seeds of the default measurements.
const (
	MREnclaveSeed = "inclavare rats-tls simulated SGX enclave, TEST ONLY"
	MRSignerSeed  = "inclavare rats-tls simulated SGX enclave signer, TEST ONLY"
	MRTDSeed      = "inclavare rats-tls simulated TD, TEST ONLY"
)

// DefaultMREnclave is SHA-256 of MREnclaveSeed.
func DefaultMREnclave() [32]byte { return sha256.Sum256([]byte(MREnclaveSeed)) }

// DefaultMRSigner is SHA-256 of MRSignerSeed.
func DefaultMRSigner() [32]byte { return sha256.Sum256([]byte(MRSignerSeed)) }

// DefaultMRTD is SHA-384 of MRTDSeed.
func DefaultMRTD() [48]byte { return sha512.Sum384([]byte(MRTDSeed)) }

// DefaultRTMR is SHA-384 of MRTDSeed followed by " RTMR" and i.
func DefaultRTMR(i int) [48]byte { return sha512.Sum384([]byte(fmt.Sprintf("%s RTMR%d", MRTDSeed, i))) }

// Material is the parsed hierarchy and collateral.
type Material struct {
	Root, PCKCA, PCK *x509.Certificate
	PCKKey, AttKey   *ecdsa.PrivateKey
	// PCKChain is the PEM chain in quotes: PCK, PCK Platform CA, root.
	PCKChain []byte
	// SGX and TDX are the collateral.
	SGX, TDX *intel.Collateral
}

// Load parses the embedded material (once).
var Load = sync.OnceValues(func() (*Material, error) {
	m := &Material{}
	var err error
	if m.Root, err = parseCert("root", RootPEM); err != nil {
		return nil, err
	}
	if m.PCKCA, err = parseCert("PCK Platform CA", PCKCAPEM); err != nil {
		return nil, err
	}
	if m.PCK, err = parseCert("PCK certificate", PCKPEM); err != nil {
		return nil, err
	}
	if m.PCKKey, err = parseKey("PCK key", PCKKeyPEM); err != nil {
		return nil, err
	}
	if !m.PCKKey.PublicKey.Equal(m.PCK.PublicKey) {
		return nil, fmt.Errorf("simulated PCK key does not match the PCK certificate")
	}
	if m.AttKey, err = parseKey("attestation key", AttestationKeyPEM); err != nil {
		return nil, err
	}
	m.PCKChain = PEM(m.PCK, m.PCKCA, m.Root)
	if m.SGX, err = intel.ParseCollateralJSON(CollateralSGXJSON); err != nil {
		return nil, fmt.Errorf("simulated SGX collateral: %w", err)
	}
	if m.TDX, err = intel.ParseCollateralJSON(CollateralTDXJSON); err != nil {
		return nil, fmt.Errorf("simulated TDX collateral: %w", err)
	}
	return m, nil
})

// Root returns the simulated root certificate.
func Root() (*x509.Certificate, error) {
	m, err := Load()
	if err != nil {
		return nil, err
	}
	return m.Root, nil
}

// IsSimulatedChain tells whether a PEM certificate chain (a quote's
// certification data) holds the simulated root or a certificate it
// signed: a chain a verifier trusts only with --allow-simulated.
func IsSimulatedChain(chain []byte) bool {
	m, err := Load()
	if err != nil {
		return false
	}
	for rest := chain; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return false
		}
		if bytes.Equal(b.Bytes, m.Root.Raw) || bytes.Equal(b.Bytes, m.PCKCA.Raw) {
			return true
		}
		if c, err := x509.ParseCertificate(b.Bytes); err == nil && c.CheckSignatureFrom(m.Root) == nil {
			return true
		}
	}
}

func parseCert(what string, p []byte) (*x509.Certificate, error) {
	b, _ := pem.Decode(p)
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("simulated %s: no CERTIFICATE PEM block", what)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("simulated %s: %w", what, err)
	}
	return c, nil
}

func parseKey(what string, p []byte) (*ecdsa.PrivateKey, error) {
	b, _ := pem.Decode(p)
	if b == nil || b.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("simulated %s: no PRIVATE KEY PEM block", what)
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("simulated %s: %w", what, err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, fmt.Errorf("simulated %s is a %T, want an ECDSA P-256 key", what, k)
	}
	return ek, nil
}

// PEM returns certs in PEM, in order.
func PEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// Options describe the simulated enclave or TD.
type Options struct {
	// Debug sets the DEBUG attribute.
	Debug bool
	// MREnclave and MRSigner of the SGX enclave; zero means
	// DefaultMREnclave and DefaultMRSigner.
	MREnclave, MRSigner [32]byte
	// MRTD and RTMR of the TD; zero means DefaultMRTD and DefaultRTMR.
	MRTD [48]byte
	RTMR [4][48]byte
}

// Simulator makes simulated quotes. It is safe for concurrent use.
type Simulator struct {
	m    *Material
	o    Options
	qe   []byte // the signed QE report, authentication data and certification data
	akey [64]byte
}

// qeAuthData is the QE authentication data of simulated quotes.
var qeAuthData = func() []byte {
	b := make([]byte, 32)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}()

// NewSimulator returns a simulator of the enclave or TD o describes.
func NewSimulator(o Options) (*Simulator, error) {
	m, err := Load()
	if err != nil {
		return nil, err
	}
	if o.MREnclave == ([32]byte{}) {
		o.MREnclave = DefaultMREnclave()
	}
	if o.MRSigner == ([32]byte{}) {
		o.MRSigner = DefaultMRSigner()
	}
	if o.MRTD == ([48]byte{}) {
		o.MRTD = DefaultMRTD()
	}
	for i := range o.RTMR {
		if o.RTMR[i] == ([48]byte{}) {
			o.RTMR[i] = DefaultRTMR(i)
		}
	}
	s := &Simulator{m: m, o: o}
	m.AttKey.X.FillBytes(s.akey[:32])
	m.AttKey.Y.FillBytes(s.akey[32:])
	// The QE report binds the attestation key and the authentication data.
	qe := make([]byte, intel.EnclaveReportSize)
	copy(qe[48:64], QE.Attributes[:])
	signer := QEMRSigner()
	copy(qe[128:160], signer[:])
	binary.LittleEndian.PutUint16(qe[256:], QE.ISVProdID)
	binary.LittleEndian.PutUint16(qe[258:], QE.ISVSVN)
	h := sha256.New()
	h.Write(s.akey[:])
	h.Write(qeAuthData)
	copy(qe[320:], h.Sum(nil))
	qeSig, err := rawSign(m.PCKKey, qe)
	if err != nil {
		return nil, err
	}
	s.qe = append(s.qe, qe...)
	s.qe = append(s.qe, qeSig...)
	s.qe = binary.LittleEndian.AppendUint16(s.qe, uint16(len(qeAuthData)))
	s.qe = append(s.qe, qeAuthData...)
	s.qe = binary.LittleEndian.AppendUint16(s.qe, intel.CertTypePCKChain)
	s.qe = binary.LittleEndian.AppendUint32(s.qe, uint32(len(m.PCKChain)))
	s.qe = append(s.qe, m.PCKChain...)
	return s, nil
}

// SGXQuote returns a version 3 SGX quote over reportData (at most 64
// bytes, zero-padded).
func (s *Simulator) SGXQuote(reportData []byte) ([]byte, error) {
	if len(reportData) > 64 {
		return nil, fmt.Errorf("report data is %d bytes, at most 64", len(reportData))
	}
	body := make([]byte, intel.EnclaveReportSize)
	copy(body[0:16], Components[:]) // CPUSVN
	flags := uint64(intel.SGXFlagInit | intel.SGXFlagMode64Bit)
	if s.o.Debug {
		flags |= intel.SGXFlagDebug
	}
	binary.LittleEndian.PutUint64(body[48:], flags)
	binary.LittleEndian.PutUint64(body[56:], 0xe7)
	copy(body[64:], s.o.MREnclave[:])
	copy(body[128:], s.o.MRSigner[:])
	copy(body[320:], reportData)
	return s.quote(3, intel.TEETypeSGX, body)
}

// TDXQuote returns a version 4 TDX quote over reportData (at most 64
// bytes, zero-padded).
func (s *Simulator) TDXQuote(reportData []byte) ([]byte, error) {
	if len(reportData) > 64 {
		return nil, fmt.Errorf("report data is %d bytes, at most 64", len(reportData))
	}
	body := make([]byte, intel.TDReport10Size)
	if s.o.Debug {
		body[120] |= intel.TDAttributeDebug
	}
	body[123] = 0x10 // SEPT_VE_DISABLE, as real TDs set it
	binary.LittleEndian.PutUint64(body[128:], 0x61ae7)
	copy(body[136:184], s.o.MRTD[:])
	for i := range s.o.RTMR {
		copy(body[328+48*i:], s.o.RTMR[i][:])
	}
	copy(body[520:], reportData)
	return s.quote(4, intel.TEETypeTDX, body)
}

func (s *Simulator) quote(version uint16, tee uint32, body []byte) ([]byte, error) {
	q := make([]byte, intel.HeaderSize, intel.HeaderSize+len(body)+4+128+len(s.qe)+6)
	binary.LittleEndian.PutUint16(q[0:], version)
	binary.LittleEndian.PutUint16(q[2:], intel.AttestationKeyECDSAP256)
	binary.LittleEndian.PutUint32(q[4:], tee)
	if version == 3 {
		binary.LittleEndian.PutUint16(q[8:], QE.ISVSVN)
		binary.LittleEndian.PutUint16(q[10:], PCESVN)
	}
	copy(q[12:28], intel.IntelQEVendorID[:])
	q = append(q, body...)
	sig, err := rawSign(s.m.AttKey, q)
	if err != nil {
		return nil, err
	}
	sigData := append(sig, s.akey[:]...)
	if version >= 4 {
		sigData = binary.LittleEndian.AppendUint16(sigData, intel.CertTypeQEReport)
		sigData = binary.LittleEndian.AppendUint32(sigData, uint32(len(s.qe)))
	}
	sigData = append(sigData, s.qe...)
	q = binary.LittleEndian.AppendUint32(q, uint32(len(sigData)))
	return append(q, sigData...), nil
}

// Collateral returns the simulated collateral for SGX or TDX quotes.
func (s *Simulator) Collateral(tdx bool) *intel.Collateral {
	if tdx {
		return s.m.TDX
	}
	return s.m.SGX
}

// Endorsements returns the simulated collateral for SGX or TDX quotes as
// the endorsements item (intel.EncodeEndorsements).
func (s *Simulator) Endorsements(tdx bool) ([]byte, error) {
	return intel.EncodeEndorsements(s.Collateral(tdx))
}

// rawSign signs SHA-256 of msg and returns r||s, 32 bytes each.
func rawSign(key *ecdsa.PrivateKey, msg []byte) ([]byte, error) {
	d := sha256.Sum256(msg)
	r, sv, err := ecdsa.Sign(rand.Reader, key, d[:])
	if err != nil {
		return nil, err
	}
	out := make([]byte, 64)
	r.FillBytes(out[:32])
	sv.FillBytes(out[32:])
	return out, nil
}
