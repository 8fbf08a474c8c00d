package sgxla

import (
	"context"
	"errors"
	"fmt"

	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/tee/attestfs"
)

// AttestationDir is Gramine's attestation pseudo-file directory inside an
// SGX enclave.
const AttestationDir = attestfs.DefaultDir

// ReasonNoEnclave is why reports cannot be produced outside an enclave.
const ReasonNoEnclave = "producing an SGX local report needs " + AttestationDir + "/report (a Gramine SGX enclave) or an SGX enclave runtime calling EREPORT"

// Probe tells whether reports can be produced here: only inside a Gramine
// SGX enclave. When not, the error wraps instance.ErrUnavailable and says
// what is missing.
func Probe(ctx context.Context) error {
	_, err := open(ctx, AttestationDir)
	return err
}

func open(ctx context.Context, dir string) (*attestfs.Dir, error) {
	d, err := attestfs.Open(ctx, dir, attestfs.Report, attestfs.MyTargetInfo, attestfs.TargetInfo, attestfs.UserReportData)
	if errors.Is(err, attestfs.ErrMissing) {
		return nil, fmt.Errorf("%w: %s: %w", instance.ErrUnavailable, ReasonNoEnclave, err)
	}
	if err != nil {
		return nil, fmt.Errorf("probing for SGX local attestation: %w", err)
	}
	return d, nil
}

// Device produces reports through Gramine's attestation pseudo-files. It
// is safe for concurrent use (see package attestfs).
type Device struct {
	dir *attestfs.Dir
}

// OpenDevice returns the device, failing where [Probe] does.
func OpenDevice(ctx context.Context) (*Device, error) { return OpenDeviceAt(ctx, AttestationDir) }

// OpenDeviceAt is OpenDevice on another directory (for tests).
func OpenDeviceAt(ctx context.Context, dir string) (*Device, error) {
	d, err := open(ctx, dir)
	if err != nil {
		return nil, err
	}
	return &Device{dir: d}, nil
}

// Report returns a REPORT over reportData, targeted at this enclave itself.
func (d *Device) Report(ctx context.Context, reportData []byte) ([]byte, error) {
	if len(reportData) != instance.ReportDataSize {
		return nil, fmt.Errorf("sgx_la: report data has %d bytes, want %d", len(reportData), instance.ReportDataSize)
	}
	rep, err := d.dir.LocalReport(ctx, reportData)
	if err != nil {
		return nil, fmt.Errorf("sgx_la: %w", err)
	}
	if _, err := ParseReport(rep); err != nil {
		return nil, err
	}
	return rep, nil
}
