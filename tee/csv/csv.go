package csv

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/inclavare/inclavare/framework/instance"
)

// EvidenceType is the evidence type of a Hygon CSV report.
const EvidenceType = "csv"

// DevicePath is the CSV guest device.
const DevicePath = "/dev/csv-guest"

// Reasons the instances give.
const (
	// ReasonNoRoot says what a verifier lacks.
	ReasonNoRoot = "verifying a Hygon CSV report needs the Hygon Root Key (HRK), which is not embedded here, and the HRK -> HSK -> CEK -> PEK certificate chain format, which has no public specification implemented here"
	// ReasonNoGuestABI says what an attester lacks on a CSV guest.
	ReasonNoGuestABI = "the " + DevicePath + " report ioctl ABI has no public specification implemented here"
)

// ErrNoTrustRoot is wrapped by every [Verify]: the Hygon root key and chain
// format are missing (see the package doc).
var ErrNoTrustRoot = errors.New(ReasonNoRoot)

// Sizes of the leading fixed fields (see the package doc).
const (
	// HeaderSize is how many leading bytes [ParseReport] reads.
	HeaderSize = 32 + 16 + 16 + 64 + 16 + 32 + 4*4
	// ReportSize is the size of a whole report: the header, the SM2
	// signature, the PEK certificate, the chip ID, reserved bytes, the
	// HMAC and padding to a page.
	ReportSize = HeaderSize + 2*72 + 2084 + 64 + 32 + 32 + 1548
)

// Report holds the leading fields of a CSV attestation report, as received:
// masked fields are not unmasked, and nothing here is verified.
type Report struct {
	UserPubKeyDigest [32]byte
	VMID             [16]byte
	VMVersion        [16]byte
	UserData         [64]byte
	MNonce           [16]byte
	Measurement      [32]byte
	Policy           uint32
	SigUsage         uint32
	SigAlgo          uint32
	ANonce           uint32
	// Rest is everything after ANonce, unparsed.
	Rest []byte
}

// ParseReport reads the leading fields of b, which must hold at least
// HeaderSize bytes.
func ParseReport(b []byte) (*Report, error) {
	if len(b) < HeaderSize {
		return nil, fmt.Errorf("csv report: %d bytes, want at least %d (user_pubkey_digest 32, vm_id 16, vm_version 16, user_data 64, mnonce 16, measure 32, policy, sig_usage, sig_algo, anonce 4 each)", len(b), HeaderSize)
	}
	r := &Report{}
	o := 0
	take := func(dst []byte) { o += copy(dst, b[o:]) }
	take(r.UserPubKeyDigest[:])
	take(r.VMID[:])
	take(r.VMVersion[:])
	take(r.UserData[:])
	take(r.MNonce[:])
	take(r.Measurement[:])
	le := binary.LittleEndian
	r.Policy, r.SigUsage, r.SigAlgo, r.ANonce = le.Uint32(b[o:]), le.Uint32(b[o+4:]), le.Uint32(b[o+8:]), le.Uint32(b[o+12:])
	r.Rest = append([]byte(nil), b[HeaderSize:]...)
	return r, nil
}

// Verify refuses every report. It first parses it (so that a malformed
// report is refused for that), then fails wrapping instance.ErrUnavailable
// and [ErrNoTrustRoot].
func Verify(ctx context.Context, report []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := ParseReport(report); err != nil {
		return err
	}
	return fmt.Errorf("csv report refused: %w: %w", instance.ErrUnavailable, ErrNoTrustRoot)
}

// ProbeVerifier always fails: no CSV report can be verified here.
func ProbeVerifier(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return fmt.Errorf("%w: %s", instance.ErrUnavailable, ReasonNoRoot)
}

// Probe (the attester's) always fails: without /dev/csv-guest this is not a
// CSV guest, and with it the report ABI is not implemented.
func Probe(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := os.Stat(DevicePath); err != nil {
		why := err.Error()
		if errors.Is(err, fs.ErrNotExist) {
			why = "does not exist"
		}
		return fmt.Errorf("%w: not a Hygon CSV guest: %s %s", instance.ErrUnavailable, DevicePath, why)
	}
	return fmt.Errorf("%w: %s", instance.ErrUnavailable, ReasonNoGuestABI)
}
