package sevsnp

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/client"

	"github.com/inclavare/inclavare/framework/instance"
)

// Where an SEV-SNP guest gets reports.
const (
	// ConfigfsTSMReportDir is the configfs-tsm report directory (Linux
	// 6.7 and later), preferred.
	ConfigfsTSMReportDir = "/sys/kernel/config/tsm/report"
	// DevicePath is the SEV guest device of the sev-guest driver.
	DevicePath = "/dev/sev-guest"
)

// Probe tells whether this machine is an SEV-SNP guest that can get
// reports. When it is not, the error wraps instance.ErrUnavailable and says
// what is missing.
func Probe(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("probing for SEV-SNP: %w", err)
	}
	_, devErr := os.Stat(DevicePath)
	_, tsmErr := os.Stat(ConfigfsTSMReportDir)
	if devErr != nil && tsmErr != nil {
		return fmt.Errorf("%w: not an SEV-SNP guest: no %s (%s) and no configfs-tsm report directory %s (%s)",
			instance.ErrUnavailable, DevicePath, reason(devErr), ConfigfsTSMReportDir, reason(tsmErr))
	}
	if _, err := client.GetQuoteProvider(); err != nil {
		var what []string
		if devErr == nil {
			what = append(what, DevicePath+" cannot be opened")
		}
		if tsmErr == nil {
			what = append(what, ConfigfsTSMReportDir+" is not served by the sev_guest provider")
		}
		return fmt.Errorf("%w: no usable SEV-SNP report interface (%s): %w", instance.ErrUnavailable, strings.Join(what, "; "), err)
	}
	return nil
}

func reason(err error) string {
	if errors.Is(err, fs.ErrNotExist) {
		return "does not exist"
	}
	return err.Error()
}

// Device gets reports from the SEV-SNP guest interface.
type Device struct {
	qp client.QuoteProvider
}

// OpenDevice returns the guest's report interface: configfs-tsm when the
// kernel has it, else /dev/sev-guest (go-sev-guest's client chooses). It
// fails, wrapping instance.ErrUnavailable, where [Probe] does.
func OpenDevice(ctx context.Context) (*Device, error) {
	if err := Probe(ctx); err != nil {
		return nil, err
	}
	qp, err := client.GetQuoteProvider()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", instance.ErrUnavailable, err)
	}
	return &Device{qp: qp}, nil
}

// NewDevice returns a device over qp, for example one of go-sev-guest's
// fakes.
func NewDevice(qp client.QuoteProvider) *Device { return &Device{qp: qp} }

// Attest returns a report over reportData (64 bytes) and the certificates
// the host provides with it (from the extended report or the configfs-tsm
// auxblob), or a nil table when it provides none. The device call cannot be
// interrupted: when ctx ends first, Attest returns and the call finishes in
// the background.
func (d *Device) Attest(ctx context.Context, reportData []byte) ([]byte, *abi.CertTable, error) {
	if len(reportData) != abi.ReportDataSize {
		return nil, nil, fmt.Errorf("report data has %d bytes, want %d", len(reportData), abi.ReportDataSize)
	}
	var rd [abi.ReportDataSize]byte
	copy(rd[:], reportData)
	type result struct {
		quote []byte
		err   error
	}
	done := make(chan result, 1)
	go func() {
		q, err := d.qp.GetRawQuote(rd)
		done <- result{q, err}
	}()
	var res result
	select {
	case <-ctx.Done():
		return nil, nil, fmt.Errorf("getting an SEV-SNP report: %w", ctx.Err())
	case res = <-done:
	}
	if res.err != nil {
		return nil, nil, fmt.Errorf("getting an SEV-SNP report: %w", res.err)
	}
	if len(res.quote) < ReportSize {
		return nil, nil, fmt.Errorf("%w: the device returned %d bytes, less than a report", ErrMalformedReport, len(res.quote))
	}
	report, rest := res.quote[:ReportSize:ReportSize], res.quote[ReportSize:]
	if _, err := ParseReport(report); err != nil {
		return nil, nil, fmt.Errorf("the device's report: %w", err)
	}
	if len(rest) == 0 {
		return report, nil, nil
	}
	t, err := ParseCertTable(rest)
	if err != nil {
		return nil, nil, fmt.Errorf("the device's certificate table: %w", err)
	}
	if c := CertificatesOf(t); c.VCEK == nil && c.VLEK == nil && c.ASK == nil && c.ARK == nil {
		return report, nil, nil // only platform information, no certificates
	}
	return report, t, nil
}
