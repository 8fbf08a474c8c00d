package sgxla

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"github.com/inclavare/inclavare/framework/instance"
)

// EvidenceType is the evidence type of an SGX local report.
const EvidenceType = "sgx_la"

// Sizes of the SGX REPORT structure.
const (
	// ReportSize is the size of a REPORT.
	ReportSize = 432
	// BodySize is the size of the REPORT body, the bytes the MAC covers.
	BodySize = 384
	// KeyIDSize is the size of KEYID.
	KeyIDSize = 32
	// MACSize is the size of MAC.
	MACSize = 16
	// TargetInfoSize is the size of a TARGETINFO.
	TargetInfoSize = 512
)

// Offsets of the body fields (Intel SDM vol. 3D, table 38-21).
const (
	offCPUSVN       = 0
	offMiscSelect   = 16
	offISVExtProdID = 32
	offAttributes   = 48
	offMREnclave    = 64
	offMRSigner     = 128
	offConfigID     = 192
	offISVProdID    = 256
	offISVSVN       = 258
	offConfigSVN    = 260
	offISVFamilyID  = 304
	offReportData   = 320
	offKeyID        = BodySize
	offMAC          = BodySize + KeyIDSize
)

// AttributeDebug is the DEBUG bit of ATTRIBUTES.FLAGS.
const AttributeDebug = 1 << 1

// Report is a parsed SGX REPORT. Raw keeps the bytes as received.
type Report struct {
	CPUSVN       [16]byte
	MiscSelect   uint32
	ISVExtProdID [16]byte
	// AttributesFlags and AttributesXFRM are the two halves of ATTRIBUTES.
	AttributesFlags uint64
	AttributesXFRM  uint64
	MREnclave       [32]byte
	MRSigner        [32]byte
	ConfigID        [64]byte
	ISVProdID       uint16
	ISVSVN          uint16
	ConfigSVN       uint16
	ISVFamilyID     [16]byte
	ReportData      [instance.ReportDataSize]byte
	KeyID           [KeyIDSize]byte
	MAC             [MACSize]byte

	Raw []byte
}

// Body returns the 384 bytes the MAC covers.
func (r *Report) Body() []byte { return r.Raw[:BodySize] }

// Debug tells whether the report comes from a debug enclave.
func (r *Report) Debug() bool { return r.AttributesFlags&AttributeDebug != 0 }

// ParseReport reads a REPORT. It must be exactly ReportSize bytes.
func ParseReport(b []byte) (*Report, error) {
	if len(b) != ReportSize {
		return nil, fmt.Errorf("sgx_la REPORT: %d bytes, want %d (body %d, KEYID %d, MAC %d)", len(b), ReportSize, BodySize, KeyIDSize, MACSize)
	}
	le := binary.LittleEndian
	r := &Report{Raw: append([]byte(nil), b...)}
	copy(r.CPUSVN[:], b[offCPUSVN:])
	r.MiscSelect = le.Uint32(b[offMiscSelect:])
	copy(r.ISVExtProdID[:], b[offISVExtProdID:])
	r.AttributesFlags = le.Uint64(b[offAttributes:])
	r.AttributesXFRM = le.Uint64(b[offAttributes+8:])
	copy(r.MREnclave[:], b[offMREnclave:])
	copy(r.MRSigner[:], b[offMRSigner:])
	copy(r.ConfigID[:], b[offConfigID:])
	r.ISVProdID = le.Uint16(b[offISVProdID:])
	r.ISVSVN = le.Uint16(b[offISVSVN:])
	r.ConfigSVN = le.Uint16(b[offConfigSVN:])
	copy(r.ISVFamilyID[:], b[offISVFamilyID:])
	copy(r.ReportData[:], b[offReportData:])
	copy(r.KeyID[:], b[offKeyID:])
	copy(r.MAC[:], b[offMAC:])
	return r, nil
}

// Claims returns the body's fields as claims. They are vouched for only
// once [Verify] has accepted the report.
func Claims(r *Report) instance.Claims {
	return instance.Claims{
		"mrenclave":   hex.EncodeToString(r.MREnclave[:]),
		"mrsigner":    hex.EncodeToString(r.MRSigner[:]),
		"isv_prod_id": uint64(r.ISVProdID),
		"isv_svn":     uint64(r.ISVSVN),
		"attributes":  hex.EncodeToString(r.Raw[offAttributes : offAttributes+16]),
		"debug":       r.Debug(),
		"report_data": hex.EncodeToString(r.ReportData[:]),
		"cpusvn":      hex.EncodeToString(r.CPUSVN[:]),
	}
}
