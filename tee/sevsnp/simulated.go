package sevsnp

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/kds"

	"github.com/inclavare/inclavare/tee/sevsnp/simulated"
)

// DefaultLaunchDigestSeed is hashed with SHA-384 into the default launch
// digest of the simulated guest.
const DefaultLaunchDigestSeed = "inclavare rats-tls simulated SEV-SNP guest"

// DefaultLaunchDigest is the MEASUREMENT of simulated reports unless
// configured: SHA-384 of [DefaultLaunchDigestSeed].
func DefaultLaunchDigest() [48]byte { return sha512.Sum384([]byte(DefaultLaunchDigestSeed)) }

// SimulatorOptions configure a [Simulator].
type SimulatorOptions struct {
	// LaunchDigest is the guest's MEASUREMENT; zero means
	// [DefaultLaunchDigest].
	LaunchDigest [48]byte
	// Debug sets the DEBUG bit of the guest policy (a debug guest, which
	// verifiers refuse unless allowed).
	Debug bool
}

// Simulator is the simulated SEV-SNP TEE: it makes realistic version 3
// reports of a Milan-B0 guest over any REPORT_DATA and signs them with the
// test-only VCEK of package simulated. Only a verifier that allows simulated
// evidence trusts them.
type Simulator struct {
	key      *ecdsa.PrivateKey
	template [ReportSize]byte
	certs    Certificates
}

// The simulated guest and platform.
const (
	simPolicy  = 0x30000 // ABI 0.0, SMT allowed, reserved bit 17 set, debug off
	simDebug   = 1 << policyDebugBit
	simVersion = abi.ReportVersion3
	// simFamily, simModel and simStepping are a Milan-B0 (CPUID 0x00a00f10).
	simFamily, simModel, simStepping = 0x19, 0x01, 0x00
	simGuestSVN                      = 1
	simPlatformInfo                  = 0x1 // SMT enabled
	// SNP firmware 1.55, build 21.
	simMajor, simMinor, simBuild = 1, 55, 21
)

// NewSimulator returns a simulator.
func NewSimulator(opts SimulatorOptions) (*Simulator, error) {
	m, err := simulated.Load()
	if err != nil {
		return nil, fmt.Errorf("loading the simulated SEV-SNP keys: %w", err)
	}
	if opts.LaunchDigest == ([48]byte{}) {
		opts.LaunchDigest = DefaultLaunchDigest()
	}
	tcb, err := kds.ComposeTCBParts(kds.TCBParts{
		BlSpl: simulated.TCB.Bootloader, TeeSpl: simulated.TCB.TEE, SnpSpl: simulated.TCB.SNP, UcodeSpl: simulated.TCB.Microcode,
	})
	if err != nil {
		return nil, err
	}
	s := &Simulator{key: m.VCEKKey, certs: Certificates{VCEK: m.VCEK.Raw, ASK: m.ASK.Raw, ARK: m.ARK.Raw}}
	t := s.template[:]
	le := binary.LittleEndian
	le.PutUint32(t[0x00:], simVersion)
	le.PutUint32(t[0x04:], simGuestSVN)
	policy := uint64(simPolicy)
	if opts.Debug {
		policy |= simDebug
	}
	le.PutUint64(t[0x08:], policy)
	copy(t[0x10:0x20], "inclavare-sim\x00\x00\x00") // FAMILY_ID
	copy(t[0x20:0x30], "rats-tls-guest\x00\x00")    // IMAGE_ID
	le.PutUint32(t[0x30:], 0)                       // VMPL
	le.PutUint32(t[0x34:], abi.SignEcdsaP384Sha384)
	le.PutUint64(t[0x38:], uint64(tcb)) // CURRENT_TCB
	le.PutUint64(t[0x40:], simPlatformInfo)
	le.PutUint32(t[0x48:], abi.ComposeSignerInfo(abi.SignerInfo{SigningKey: abi.VcekReportSigner}))
	copy(t[0x90:0xC0], opts.LaunchDigest[:]) // MEASUREMENT
	reportID := sha512.Sum512_256([]byte("simulated report id " + hex.EncodeToString(opts.LaunchDigest[:])))
	copy(t[0x140:0x160], reportID[:])
	for i := 0x160; i < 0x180; i++ { // REPORT_ID_MA: no migration agent
		t[i] = 0xff
	}
	le.PutUint64(t[0x180:], uint64(tcb)) // REPORTED_TCB
	t[0x188], t[0x189], t[0x18A] = simFamily, simModel, simStepping
	chip := simulated.ChipID()
	copy(t[0x1A0:0x1E0], chip[:])
	le.PutUint64(t[0x1E0:], uint64(tcb)) // COMMITTED_TCB
	t[0x1E8], t[0x1E9], t[0x1EA] = simBuild, simMinor, simMajor
	t[0x1EC], t[0x1ED], t[0x1EE] = simBuild, simMinor, simMajor
	le.PutUint64(t[0x1F0:], uint64(tcb)) // LAUNCH_TCB
	if _, err := abi.ReportToProto(t); err != nil {
		return nil, fmt.Errorf("internal error: the simulated report does not parse: %w", err)
	}
	return s, nil
}

// Report returns a simulated report over reportData (64 bytes), signed by
// the simulated VCEK.
func (s *Simulator) Report(reportData []byte) ([]byte, error) {
	if len(reportData) != abi.ReportDataSize {
		return nil, fmt.Errorf("report data has %d bytes, want %d", len(reportData), abi.ReportDataSize)
	}
	r := make([]byte, ReportSize)
	copy(r, s.template[:])
	copy(r[0x50:0x90], reportData)
	digest := sha512.Sum384(r[:signedSize])
	R, S, err := ecdsa.Sign(rand.Reader, s.key, digest[:])
	if err != nil {
		return nil, fmt.Errorf("signing the simulated report: %w", err)
	}
	if err := abi.SetSignature(R, S, r); err != nil {
		return nil, fmt.Errorf("signing the simulated report: %w", err)
	}
	return r, nil
}

// Certificates returns the simulated VCEK, ASK and ARK, the certificate
// table a simulated extended report comes with.
func (s *Simulator) Certificates() Certificates { return s.certs }
