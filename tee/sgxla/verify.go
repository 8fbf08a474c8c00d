package sgxla

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/inclavare/inclavare/framework/instance"
)

// ErrMACMismatch is wrapped when a report's MAC is not the AES-CMAC of its
// body under the REPORT key.
var ErrMACMismatch = errors.New("sgx_la REPORT MAC does not match")

// ReasonNoEGETKEY is why the REPORT key cannot be had here.
const ReasonNoEGETKEY = "verifying an SGX local report needs EGETKEY inside an enclave on the same platform"

// KeySource gives the 16-byte REPORT key of the target enclave a report was
// made for.
type KeySource interface {
	// ReportKey returns the REPORT key for r (derived with r's KEYID), or
	// an error saying why it cannot.
	ReportKey(ctx context.Context, r *Report) ([]byte, error)
}

// HardwareKeySource would ask the CPU (EGETKEY with KEYNAME REPORT) for the
// key. This Go code never runs inside an SGX enclave, so it always fails,
// wrapping instance.ErrUnavailable with [ReasonNoEGETKEY].
type HardwareKeySource struct{}

// ReportKey always fails: see [HardwareKeySource].
func (HardwareKeySource) ReportKey(context.Context, *Report) ([]byte, error) {
	return nil, fmt.Errorf("%w: %s", instance.ErrUnavailable, ReasonNoEGETKEY)
}

// Verify checks r: REPORTDATA must equal reportData, then the MAC must be
// the AES-128-CMAC of the body under the REPORT key from keys. It returns
// nil only when both hold. It does not apply policy (debug, measurements).
func Verify(ctx context.Context, r *Report, reportData []byte, keys KeySource) error {
	if len(reportData) != instance.ReportDataSize {
		return fmt.Errorf("sgx_la: the expected report data has %d bytes, REPORTDATA has %d", len(reportData), instance.ReportDataSize)
	}
	if subtle.ConstantTimeCompare(r.ReportData[:], reportData) != 1 {
		return fmt.Errorf("sgx_la: REPORTDATA %x is not the expected %x", r.ReportData, reportData)
	}
	if keys == nil {
		keys = HardwareKeySource{}
	}
	key, err := keys.ReportKey(ctx, r)
	if err != nil {
		return fmt.Errorf("sgx_la: getting the REPORT key: %w", err)
	}
	if len(key) != 16 {
		return fmt.Errorf("sgx_la: the REPORT key has %d bytes, want 16", len(key))
	}
	mac, err := CMAC(key, r.Body())
	if err != nil {
		return fmt.Errorf("sgx_la: %w", err)
	}
	if subtle.ConstantTimeCompare(mac[:], r.MAC[:]) != 1 {
		return fmt.Errorf("%w: MAC %x, computed %x", ErrMACMismatch, r.MAC, mac)
	}
	return nil
}
