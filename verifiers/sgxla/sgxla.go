// Package sgxla is the SGX local attestation verifier ("sgx_la"). An SGX
// REPORT's MAC can only be checked with the target enclave's REPORT key,
// which only EGETKEY inside that enclave on the same platform yields, so
// this verifier is never usable here: its probe says so, and its Verify
// checks the report data binding and then refuses, wrapping
// instance.ErrUnavailable, for want of the key. Everything sgx_la lives in
// tee/sgxla; this is the instance around it.
package sgxla

import (
	"context"
	"fmt"

	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/registry"
	la "github.com/inclavare/inclavare/tee/sgxla"
)

// Name is the instance name, as in the C Rats-TLS.
const Name = "sgx_la"

// Registration describes the sgx_la verifier. Its probe always fails: see
// the package doc.
var Registration = &registry.Registration{
	Descriptor: instance.Descriptor{Kind: instance.KindVerifier, Name: Name, Type: la.EvidenceType, Priority: 100},
	Probe: func(ctx context.Context) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return fmt.Errorf("%w: %s", instance.ErrUnavailable, la.ReasonNoEGETKEY)
	},
	New: func(_ context.Context, opts instance.Options) (instance.Instance, error) {
		return New(Config{Keys: la.HardwareKeySource{}, AllowDebug: opts.DebugEnclave}), nil
	},
}

func init() { registry.Register(Registration) }

// Config is a verifier's configuration.
type Config struct {
	// Keys gives REPORT keys; nil means la.HardwareKeySource, which always
	// fails outside an enclave.
	Keys la.KeySource
	// AllowDebug accepts reports from debug enclaves (-D).
	AllowDebug bool
}

// New returns a verifier with cfg.
func New(cfg Config) instance.Verifier { return &verifier{cfg: cfg} }

type verifier struct{ cfg Config }

// Descriptor says what the instance is.
func (*verifier) Descriptor() instance.Descriptor { return Registration.Descriptor }

// Close releases nothing: the instance holds no resources.
func (*verifier) Close() error { return nil }

// Verify checks the REPORT in ev: its REPORTDATA against reportData, its
// MAC with the REPORT key, then the debug policy.
func (v *verifier) Verify(ctx context.Context, ev instance.Evidence, reportData, _ []byte) (instance.Claims, error) {
	if ev.Type != la.EvidenceType {
		return nil, fmt.Errorf("the sgx_la verifier checks %q evidence, not %q", la.EvidenceType, ev.Type)
	}
	r, err := la.ParseReport(ev.Data)
	if err != nil {
		return nil, err
	}
	if err := la.Verify(ctx, r, reportData, v.cfg.Keys); err != nil {
		return nil, err
	}
	if r.Debug() && !v.cfg.AllowDebug {
		return nil, fmt.Errorf("sgx_la: the report comes from a debug enclave (ATTRIBUTES.FLAGS %#x), accepted only with --debug-enclave", r.AttributesFlags)
	}
	return la.Claims(r), nil
}
