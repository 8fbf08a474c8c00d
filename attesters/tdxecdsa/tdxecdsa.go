// Package tdxecdsa is the Intel TDX ECDSA (DCAP) attester: in a TDX guest it
// gets a quote (version 4 or 5) over the report data from the guest's quote
// interface through go-tdx-guest's client (configfs-tsm, else
// /dev/tdx_guest). It sends no endorsements: the verifier takes the
// collateral from its configuration (RATS_TLS_INTEL_COLLATERAL). Everything
// Intel lives in tee/intel; this is the instance around it.
package tdxecdsa

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"

	"github.com/google/go-tdx-guest/client"

	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/registry"
	"github.com/inclavare/inclavare/tee/intel"
)

// Name is the instance name, as in the C Rats-TLS.
const Name = "tdx_ecdsa"

// Where a TDX guest gets quotes.
const (
	// ConfigfsTSMReportDir is the configfs-tsm report directory (Linux
	// 6.7 and later), preferred.
	ConfigfsTSMReportDir = "/sys/kernel/config/tsm/report"
	// DevicePath is the TDX guest device of the tdx-guest driver.
	DevicePath = "/dev/tdx_guest"
)

// Registration describes the TDX ECDSA attester. It is usable only in a TDX
// guest: its probe says what is missing elsewhere.
var Registration = &registry.Registration{
	Descriptor: descriptor,
	Probe:      Probe,
	New: func(ctx context.Context, opts instance.Options) (instance.Instance, error) {
		if err := Probe(ctx); err != nil {
			return nil, err
		}
		if opts.DebugEnclave {
			slog.Default().Info("tdx_ecdsa: the TD's DEBUG attribute is set at launch by the host; --debug-enclave does not change it")
		}
		return &attester{}, nil
	},
}

var descriptor = instance.Descriptor{Kind: instance.KindAttester, Name: Name, Type: intel.EvidenceTypeTDX, Priority: 100}

func init() { registry.Register(Registration) }

// Probe tells whether this machine is a TDX guest that can get quotes. When
// it is not, the error wraps instance.ErrUnavailable and says what is
// missing.
func Probe(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("probing for TDX: %w", err)
	}
	_, devErr := os.Stat(DevicePath)
	tsmErr := errors.New("no configfs-tsm quote provider")
	if qp, err := client.GetQuoteProvider(); err != nil {
		tsmErr = err
	} else {
		tsmErr = qp.IsSupported()
	}
	if devErr != nil && tsmErr != nil {
		return fmt.Errorf("%w: not a TDX guest: no %s (%s) and no configfs-tsm TDX quote provider at %s (%s)",
			instance.ErrUnavailable, DevicePath, reason(devErr), ConfigfsTSMReportDir, reason(tsmErr))
	}
	return nil
}

func reason(err error) string {
	if errors.Is(err, fs.ErrNotExist) {
		return "does not exist"
	}
	return err.Error()
}

type attester struct{}

// Descriptor says what the instance is.
func (*attester) Descriptor() instance.Descriptor { return descriptor }

// Close releases nothing: the instance holds no resources.
func (*attester) Close() error { return nil }

// Collect returns a quote over reportData (zero-padded to 64 bytes).
func (*attester) Collect(ctx context.Context, reportData []byte) (instance.Evidence, error) {
	if err := ctx.Err(); err != nil {
		return instance.Evidence{}, err
	}
	if len(reportData) > 64 {
		return instance.Evidence{}, fmt.Errorf("tdx_ecdsa: report data is %d bytes, at most 64", len(reportData))
	}
	var rd [64]byte
	copy(rd[:], reportData)
	qp, err := client.GetQuoteProvider()
	if err != nil {
		return instance.Evidence{}, fmt.Errorf("tdx_ecdsa: %w", err)
	}
	q, err := client.GetRawQuote(qp, rd)
	if err != nil {
		return instance.Evidence{}, fmt.Errorf("tdx_ecdsa: getting a quote: %w", err)
	}
	// The quote buffer may be padded: send the quote's own bytes.
	pq, err := intel.ParseQuoteWith(q, intel.ParseOptions{AllowTrailing: true})
	if err != nil {
		return instance.Evidence{}, fmt.Errorf("tdx_ecdsa: the quote read (%d bytes) is not a quote: %w", len(q), err)
	}
	return instance.Evidence{Type: intel.EvidenceTypeTDX, Data: pq.Raw}, nil
}

// Endorsements returns nil: the guest's quote interface gives no
// collateral.
func (*attester) Endorsements(context.Context, instance.Evidence) ([]byte, error) { return nil, nil }
