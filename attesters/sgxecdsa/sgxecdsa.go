// Package sgxecdsa is the Intel SGX ECDSA (DCAP) attester, for programs
// running inside an SGX enclave under a library OS that exposes the
// attestation pseudo-files (Gramine, Occlum and the like): it writes the
// report data to /dev/attestation/user_report_data and reads the quote
// (version 3, from the platform's quoting enclave) from
// /dev/attestation/quote. It sends no endorsements: the verifier takes the
// collateral from its configuration (RATS_TLS_INTEL_COLLATERAL). Everything
// Intel lives in tee/intel; this is the instance around it.
package sgxecdsa

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/registry"
	"github.com/inclavare/inclavare/tee/intel"
)

// Name is the instance name, as in the C Rats-TLS.
const Name = "sgx_ecdsa"

// AttestationDir is the directory of the enclave runtime's attestation
// pseudo-files.
var AttestationDir = "/dev/attestation"

// The pseudo-files, in AttestationDir.
const (
	UserReportDataFile = "user_report_data"
	QuoteFile          = "quote"
)

// Registration describes the SGX ECDSA attester. It is usable only inside
// an SGX enclave runtime: its probe says what is missing elsewhere.
var Registration = &registry.Registration{
	Descriptor: descriptor,
	Probe:      Probe,
	New: func(ctx context.Context, opts instance.Options) (instance.Instance, error) {
		if err := Probe(ctx); err != nil {
			return nil, err
		}
		if opts.DebugEnclave {
			slog.Default().Info("sgx_ecdsa: the enclave's DEBUG attribute is set when it is signed and launched; --debug-enclave does not change it")
		}
		return &attester{dir: AttestationDir}, nil
	},
}

var descriptor = instance.Descriptor{Kind: instance.KindAttester, Name: Name, Type: intel.EvidenceTypeSGX, Priority: 100}

func init() { registry.Register(Registration) }

// Probe tells whether this program runs in an SGX enclave runtime that
// gives quotes. When it does not, the error wraps instance.ErrUnavailable
// and says what is missing.
func Probe(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("probing for SGX: %w", err)
	}
	for _, f := range []string{UserReportDataFile, QuoteFile} {
		p := filepath.Join(AttestationDir, f)
		if _, err := os.Stat(p); err != nil {
			why := err.Error()
			if errors.Is(err, fs.ErrNotExist) {
				why = "does not exist"
			}
			return fmt.Errorf("%w: not in an SGX enclave runtime with DCAP attestation (Gramine, Occlum): %s %s", instance.ErrUnavailable, p, why)
		}
	}
	return nil
}

type attester struct {
	dir string
	// mu serialises the write of the report data and the read of the
	// quote: the pseudo-files hold one request at a time.
	mu sync.Mutex
}

// Descriptor says what the instance is.
func (*attester) Descriptor() instance.Descriptor { return descriptor }

// Close releases nothing: the instance holds no resources.
func (*attester) Close() error { return nil }

// Collect writes reportData (zero-padded to 64 bytes) and reads the quote.
func (a *attester) Collect(ctx context.Context, reportData []byte) (instance.Evidence, error) {
	if err := ctx.Err(); err != nil {
		return instance.Evidence{}, err
	}
	if len(reportData) > 64 {
		return instance.Evidence{}, fmt.Errorf("sgx_ecdsa: report data is %d bytes, at most 64", len(reportData))
	}
	var rd [64]byte
	copy(rd[:], reportData)
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := os.WriteFile(filepath.Join(a.dir, UserReportDataFile), rd[:], 0); err != nil {
		return instance.Evidence{}, fmt.Errorf("sgx_ecdsa: writing the report data: %w", err)
	}
	q, err := os.ReadFile(filepath.Join(a.dir, QuoteFile))
	if err != nil {
		return instance.Evidence{}, fmt.Errorf("sgx_ecdsa: reading the quote: %w", err)
	}
	// The quote buffer may be padded: send the quote's own bytes.
	pq, err := intel.ParseQuoteWith(q, intel.ParseOptions{AllowTrailing: true})
	if err != nil {
		return instance.Evidence{}, fmt.Errorf("sgx_ecdsa: the quote read (%d bytes) is not a quote: %w", len(q), err)
	}
	return instance.Evidence{Type: intel.EvidenceTypeSGX, Data: pq.Raw}, nil
}

// Endorsements returns nil: the enclave runtime gives no collateral.
func (*attester) Endorsements(context.Context, instance.Evidence) ([]byte, error) { return nil, nil }
