package sgxla

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/inclavare/inclavare/framework/instance"
)

// AttestationDir is Gramine's attestation pseudo-file directory inside an
// SGX enclave.
const AttestationDir = "/dev/attestation"

// The Gramine pseudo-files used.
const (
	fileMyTargetInfo   = "my_target_info"
	fileTargetInfo     = "target_info"
	fileUserReportData = "user_report_data"
	fileReport         = "report"
)

// ReasonNoEnclave is why reports cannot be produced outside an enclave.
const ReasonNoEnclave = "producing an SGX local report needs " + AttestationDir + "/report (a Gramine SGX enclave) or an SGX enclave runtime calling EREPORT"

// Probe tells whether reports can be produced here: only inside a Gramine
// SGX enclave. When not, the error wraps instance.ErrUnavailable and says
// what is missing.
func Probe(ctx context.Context) error { return probeDir(ctx, AttestationDir) }

func probeDir(ctx context.Context, dir string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("probing for SGX local attestation: %w", err)
	}
	for _, f := range []string{fileReport, fileMyTargetInfo, fileTargetInfo, fileUserReportData} {
		p := filepath.Join(dir, f)
		if _, err := os.Stat(p); err != nil {
			why := err.Error()
			if errors.Is(err, fs.ErrNotExist) {
				why = "does not exist"
			}
			return fmt.Errorf("%w: %s: %s %s", instance.ErrUnavailable, ReasonNoEnclave, p, why)
		}
	}
	return nil
}

// Device produces reports through Gramine's attestation pseudo-files. It
// is safe for concurrent use: the write-then-read exchange on the shared
// pseudo-files is serialised, so one caller cannot read a report over
// another's report data.
type Device struct {
	dir string
	mu  sync.Mutex
}

// OpenDevice returns the device, failing where [Probe] does.
func OpenDevice(ctx context.Context) (*Device, error) { return OpenDeviceAt(ctx, AttestationDir) }

// OpenDeviceAt is OpenDevice on another directory (for tests).
func OpenDeviceAt(ctx context.Context, dir string) (*Device, error) {
	if err := probeDir(ctx, dir); err != nil {
		return nil, err
	}
	return &Device{dir: dir}, nil
}

// Report returns a REPORT over reportData, targeted at this enclave itself.
func (d *Device) Report(ctx context.Context, reportData []byte) ([]byte, error) {
	if len(reportData) != instance.ReportDataSize {
		return nil, fmt.Errorf("sgx_la: report data has %d bytes, want %d", len(reportData), instance.ReportDataSize)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	ti, err := os.ReadFile(filepath.Join(d.dir, fileMyTargetInfo))
	if err != nil {
		return nil, fmt.Errorf("sgx_la: reading TARGETINFO: %w", err)
	}
	if len(ti) != TargetInfoSize {
		return nil, fmt.Errorf("sgx_la: %s has %d bytes, want %d", fileMyTargetInfo, len(ti), TargetInfoSize)
	}
	if err := os.WriteFile(filepath.Join(d.dir, fileTargetInfo), ti, 0); err != nil {
		return nil, fmt.Errorf("sgx_la: writing TARGETINFO: %w", err)
	}
	if err := os.WriteFile(filepath.Join(d.dir, fileUserReportData), reportData, 0); err != nil {
		return nil, fmt.Errorf("sgx_la: writing report data: %w", err)
	}
	rep, err := os.ReadFile(filepath.Join(d.dir, fileReport))
	if err != nil {
		return nil, fmt.Errorf("sgx_la: reading the report: %w", err)
	}
	if _, err := ParseReport(rep); err != nil {
		return nil, err
	}
	return rep, nil
}
