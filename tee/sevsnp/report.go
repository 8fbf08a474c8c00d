package sevsnp

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/kds"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
)

// EvidenceType is the evidence type of SEV-SNP reports, as in the C
// Rats-TLS (CBOR tag 0x1a7504 in framework/dice).
const EvidenceType = "sev_snp"

// ReportSize is the size of an SEV-SNP ATTESTATION_REPORT: 1184 bytes.
const ReportSize = abi.ReportSize

// The report versions this package reads: 2 (SNP firmware 1.51), 3 (adds
// the CPUID family, model and stepping), and 4 and 5 (later firmware).
const (
	MinReportVersion = abi.MinSupportedReportVersion
	MaxReportVersion = abi.MaxSupportedReportVersion
)

// ErrMalformedReport is wrapped by every error about a report's bytes.
var ErrMalformedReport = errors.New("malformed SEV-SNP attestation report")

// signedSize is the size of the signed part of a report: everything before
// the signature.
const signedSize = 0x2A0

// Report is a parsed SEV-SNP attestation report. It is only parsed: nothing
// about it is verified until a [Verifier] has checked it.
type Report struct {
	// Raw is the report as received (ReportSize bytes). It is not copied:
	// the caller must not change it.
	Raw []byte
	// Proto is every field of the report, from go-sev-guest's abi.
	Proto *spb.Report
	// Signer says which key signed the report (VCEK or VLEK) and whether
	// the host masked CHIP_ID.
	Signer abi.SignerInfo
	// ProductLine is the AMD product line the report names (from its
	// CPUID fields, version 3 and later), or "" for a version 2 report.
	ProductLine string
}

// ParseReport parses raw, which must be exactly one report of a version
// this package reads, signed with ECDSA P-384 and SHA-384.
func ParseReport(raw []byte) (*Report, error) {
	if len(raw) != ReportSize {
		return nil, fmt.Errorf("%w: %d bytes, want exactly %d", ErrMalformedReport, len(raw), ReportSize)
	}
	if v := binary.LittleEndian.Uint32(raw[0:4]); v < MinReportVersion || v > MaxReportVersion {
		return nil, fmt.Errorf("%w: version %d is not supported (want %d to %d)", ErrMalformedReport, v, MinReportVersion, MaxReportVersion)
	}
	if alg := abi.SignatureAlgo(raw); alg != abi.SignEcdsaP384Sha384 {
		return nil, fmt.Errorf("%w: signature algorithm %d is not ECDSA P-384 with SHA-384 (%d)", ErrMalformedReport, alg, abi.SignEcdsaP384Sha384)
	}
	p, err := abi.ReportToProto(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedReport, err)
	}
	si, err := abi.ParseSignerInfo(p.GetSignerInfo())
	if err != nil {
		return nil, fmt.Errorf("%w: signer info: %w", ErrMalformedReport, err)
	}
	r := &Report{Raw: raw, Proto: p, Signer: si}
	if fms := p.GetCpuid1EaxFms(); fms != 0 {
		r.ProductLine = kds.ProductLineFromFms(fms)
	}
	return r, nil
}

// Version is the report's VERSION.
func (r *Report) Version() uint32 { return r.Proto.GetVersion() }

// ReportedTCB is the report's REPORTED_TCB, the TCB its VCEK is issued for.
func (r *Report) ReportedTCB() TCB { return TCBFromVersion(r.Proto.GetReportedTcb()) }

// CurrentTCB is the report's CURRENT_TCB, the platform's running TCB.
func (r *Report) CurrentTCB() TCB { return TCBFromVersion(r.Proto.GetCurrentTcb()) }

// Debug tells whether the guest policy allows debugging (policy bit DEBUG):
// the host can then read and change the guest's memory.
func (r *Report) Debug() bool { return r.Proto.GetPolicy()&(1<<policyDebugBit) != 0 }

// policyDebugBit is the DEBUG bit of the SNP guest policy.
const policyDebugBit = 19

// TCB is an SEV-SNP TCB_VERSION split into the security patch levels that
// matter (the other four bytes are reserved).
type TCB struct {
	// Bootloader is the AMD-SP bootloader SPL.
	Bootloader uint8
	// TEE is the AMD-SP TEE OS SPL.
	TEE uint8
	// SNP is the SNP firmware SPL.
	SNP uint8
	// Microcode is the CPU microcode SPL.
	Microcode uint8
}

// TCBFromVersion splits a TCB_VERSION.
func TCBFromVersion(v uint64) TCB {
	p := kds.DecomposeTCBVersion(kds.TCBVersion(v))
	return TCB{Bootloader: p.BlSpl, TEE: p.TeeSpl, SNP: p.SnpSpl, Microcode: p.UcodeSpl}
}

// Version composes the TCB_VERSION (reserved bytes zero).
func (t TCB) Version() uint64 {
	return uint64(t.Microcode)<<56 | uint64(t.SNP)<<48 | uint64(t.TEE)<<8 | uint64(t.Bootloader)
}

// String formats t as "bootloader=3 tee=0 snp=8 microcode=115".
func (t TCB) String() string {
	return fmt.Sprintf("bootloader=%d tee=%d snp=%d microcode=%d", t.Bootloader, t.TEE, t.SNP, t.Microcode)
}
