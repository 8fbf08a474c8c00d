// Package attestfs is the attestation pseudo-file interface that SGX
// enclave runtimes give the program inside the enclave (Gramine's
// /dev/attestation, which Occlum and others imitate): a write of report
// data to user_report_data, then a read of quote gives an ECDSA quote, or,
// after a write of a TARGETINFO to target_info, a read of report gives a
// local REPORT.
//
// The pseudo-files hold one request at a time for the whole enclave, so
// every exchange on a directory is serialised across all its users in the
// process (the sgx_ecdsa attester and the sgx_la attester share it): one
// caller never reads a quote or report over another's report data.
package attestfs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// DefaultDir is where enclave runtimes put the pseudo-files.
const DefaultDir = "/dev/attestation"

// The pseudo-files.
const (
	UserReportData = "user_report_data"
	Quote          = "quote"
	MyTargetInfo   = "my_target_info"
	TargetInfo     = "target_info"
	Report         = "report"
)

// Sizes of SGX structures.
const (
	// ReportDataSize is the size of report data.
	ReportDataSize = 64
	// TargetInfoSize is the size of a TARGETINFO.
	TargetInfoSize = 512
)

// ErrMissing is wrapped when a pseudo-file the caller needs is absent: the
// program does not run inside such an enclave runtime.
var ErrMissing = errors.New("enclave attestation pseudo-file missing")

// locks holds one mutex per directory, shared by every Dir on it.
var locks sync.Map // string -> *sync.Mutex

// Dir is a directory of attestation pseudo-files.
type Dir struct {
	path string
	mu   *sync.Mutex
}

// Open returns the directory at path (DefaultDir when empty) after
// checking that the named pseudo-files exist; the error wraps ErrMissing
// and names the first one missing.
func Open(ctx context.Context, path string, files ...string) (*Dir, error) {
	if path == "" {
		path = DefaultDir
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, f := range files {
		p := filepath.Join(path, f)
		if _, err := os.Stat(p); err != nil {
			why := err.Error()
			if errors.Is(err, fs.ErrNotExist) {
				why = "does not exist"
			}
			return nil, fmt.Errorf("%w: %s %s", ErrMissing, p, why)
		}
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	mu, _ := locks.LoadOrStore(abs, new(sync.Mutex))
	return &Dir{path: path, mu: mu.(*sync.Mutex)}, nil
}

// Path is the directory.
func (d *Dir) Path() string { return d.path }

// Quote writes reportData (at most 64 bytes, zero padded) and reads the
// quote, as the runtime returns it (it may be padded).
func (d *Dir) Quote(ctx context.Context, reportData []byte) ([]byte, error) {
	rd, err := pad(reportData)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.write(UserReportData, rd); err != nil {
		return nil, err
	}
	return d.read(Quote)
}

// LocalReport writes the enclave's own TARGETINFO as the target and
// reportData (at most 64 bytes, zero padded), and reads the REPORT: a
// report this enclave itself can check.
func (d *Dir) LocalReport(ctx context.Context, reportData []byte) ([]byte, error) {
	rd, err := pad(reportData)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	ti, err := d.read(MyTargetInfo)
	if err != nil {
		return nil, err
	}
	if len(ti) != TargetInfoSize {
		return nil, fmt.Errorf("%s has %d bytes, want a TARGETINFO of %d", MyTargetInfo, len(ti), TargetInfoSize)
	}
	if err := d.write(TargetInfo, ti); err != nil {
		return nil, err
	}
	if err := d.write(UserReportData, rd); err != nil {
		return nil, err
	}
	return d.read(Report)
}

func pad(reportData []byte) ([]byte, error) {
	if len(reportData) > ReportDataSize {
		return nil, fmt.Errorf("report data is %d bytes, at most %d", len(reportData), ReportDataSize)
	}
	rd := make([]byte, ReportDataSize)
	copy(rd, reportData)
	return rd, nil
}

func (d *Dir) write(name string, b []byte) error {
	if err := os.WriteFile(filepath.Join(d.path, name), b, 0); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return nil
}

func (d *Dir) read(name string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(d.path, name))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	return b, nil
}
