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
	"log/slog"

	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/registry"
	"github.com/inclavare/inclavare/tee/attestfs"
	"github.com/inclavare/inclavare/tee/intel"
)

// Name is the instance name, as in the C Rats-TLS.
const Name = "sgx_ecdsa"

// AttestationDir is the directory of the enclave runtime's attestation
// pseudo-files (a variable for tests).
var AttestationDir = attestfs.DefaultDir

// Registration describes the SGX ECDSA attester. It is usable only inside
// an SGX enclave runtime: its probe says what is missing elsewhere.
var Registration = &registry.Registration{
	Descriptor: descriptor,
	Probe:      Probe,
	New: func(ctx context.Context, opts instance.Options) (instance.Instance, error) {
		dir, err := open(ctx)
		if err != nil {
			return nil, err
		}
		if opts.DebugEnclave {
			slog.Default().Info("sgx_ecdsa: the enclave's DEBUG attribute is set when it is signed and launched; --debug-enclave does not change it")
		}
		return &attester{dir: dir}, nil
	},
}

var descriptor = instance.Descriptor{Kind: instance.KindAttester, Name: Name, Type: intel.EvidenceTypeSGX, Priority: 100}

func init() { registry.Register(Registration) }

// Probe tells whether this program runs in an SGX enclave runtime that
// gives quotes. When it does not, the error wraps instance.ErrUnavailable
// and says what is missing.
func Probe(ctx context.Context) error {
	_, err := open(ctx)
	return err
}

func open(ctx context.Context) (*attestfs.Dir, error) {
	d, err := attestfs.Open(ctx, AttestationDir, attestfs.UserReportData, attestfs.Quote)
	if errors.Is(err, attestfs.ErrMissing) {
		return nil, fmt.Errorf("%w: not in an SGX enclave runtime with DCAP attestation (Gramine, Occlum): %w", instance.ErrUnavailable, err)
	}
	if err != nil {
		return nil, fmt.Errorf("probing for SGX: %w", err)
	}
	return d, nil
}

type attester struct {
	dir *attestfs.Dir
}

// Descriptor says what the instance is.
func (*attester) Descriptor() instance.Descriptor { return descriptor }

// Close releases nothing: the instance holds no resources.
func (*attester) Close() error { return nil }

// Collect writes reportData (zero-padded to 64 bytes) and reads the quote.
func (a *attester) Collect(ctx context.Context, reportData []byte) (instance.Evidence, error) {
	q, err := a.dir.Quote(ctx, reportData)
	if err != nil {
		return instance.Evidence{}, fmt.Errorf("sgx_ecdsa: %w", err)
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
