// Package sgxecdsasim is the simulated Intel SGX ECDSA attester, for
// development and tests on machines without SGX: it makes real-format SGX
// quotes (version 3, the PCK chain in the certification data) with the
// TEST-ONLY hierarchy of tee/intel/simulated and gives that hierarchy's
// collateral as endorsements. Its evidence has the real type "sgx_ecdsa", so
// the sgx_ecdsa verifier checks it, and trusts it only with
// --allow-simulated (instance.Options.AllowSimulated), marking the claims
// "simulated": true.
//
// Its priority (-1) is below every real TEE and below the null attester (0),
// so it is used only when named (-a sgx_ecdsa_sim).
//
// The enclave's MRENCLAVE is SHA-256 of a fixed string by default
// (simulated.DefaultMREnclave), or the 64 hex digits in the environment
// variable RATS_TLS_SGX_ECDSA_SIM_MRENCLAVE; MRSIGNER is
// simulated.DefaultMRSigner. With --debug-enclave
// (instance.Options.DebugEnclave) the enclave has its DEBUG attribute set.
package sgxecdsasim

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"

	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/registry"
	"github.com/inclavare/inclavare/tee/intel"
	"github.com/inclavare/inclavare/tee/intel/simulated"
)

// Name is the instance name.
const Name = "sgx_ecdsa_sim"

// EnvMREnclave names the environment variable that sets the simulated
// enclave's MRENCLAVE (64 hex digits).
const EnvMREnclave = "RATS_TLS_SGX_ECDSA_SIM_MRENCLAVE"

// Registration describes the simulated SGX ECDSA attester. It works on any
// machine and is used only when named.
var Registration = &registry.Registration{
	Descriptor: descriptor,
	New: func(_ context.Context, opts instance.Options) (instance.Instance, error) {
		so := simulated.Options{Debug: opts.DebugEnclave}
		if s := os.Getenv(EnvMREnclave); s != "" {
			d, err := hex.DecodeString(s)
			if err != nil || len(d) != len(so.MREnclave) {
				return nil, fmt.Errorf("%s=%q is not %d bytes in hex", EnvMREnclave, s, len(so.MREnclave))
			}
			copy(so.MREnclave[:], d)
		}
		sim, err := simulated.NewSimulator(so)
		if err != nil {
			return nil, err
		}
		end, err := sim.Endorsements(false)
		if err != nil {
			return nil, fmt.Errorf("encoding the simulated endorsements: %w", err)
		}
		return &attester{sim: sim, endorsements: end}, nil
	},
}

var descriptor = instance.Descriptor{Kind: instance.KindAttester, Name: Name, Type: intel.EvidenceTypeSGX, Priority: -1}

func init() { registry.Register(Registration) }

type attester struct {
	sim          *simulated.Simulator
	endorsements []byte
}

// Descriptor says what the instance is.
func (*attester) Descriptor() instance.Descriptor { return descriptor }

// Close releases nothing: the instance holds no resources.
func (*attester) Close() error { return nil }

// Collect returns a simulated SGX quote over reportData.
func (a *attester) Collect(ctx context.Context, reportData []byte) (instance.Evidence, error) {
	if err := ctx.Err(); err != nil {
		return instance.Evidence{}, err
	}
	q, err := a.sim.SGXQuote(reportData)
	if err != nil {
		return instance.Evidence{}, fmt.Errorf("simulated SGX quote: %w", err)
	}
	return instance.Evidence{Type: intel.EvidenceTypeSGX, Data: q}, nil
}

// Endorsements returns the simulated collateral as the sgx_ecdsa
// endorsements item.
func (a *attester) Endorsements(_ context.Context, ev instance.Evidence) ([]byte, error) {
	if ev.Type != intel.EvidenceTypeSGX {
		return nil, fmt.Errorf("the %s attester has no endorsements for %q evidence", Name, ev.Type)
	}
	return a.endorsements, nil
}
