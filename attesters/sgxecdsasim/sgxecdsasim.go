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

	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/registry"
	"github.com/inclavare/inclavare/internal/envhex"
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
		if err := envhex.Read(EnvMREnclave, so.MREnclave[:]); err != nil {
			return nil, err
		}
		return simulated.NewAttester(descriptor, so)
	},
}

var descriptor = instance.Descriptor{Kind: instance.KindAttester, Name: Name, Type: intel.EvidenceTypeSGX, Priority: -1}

func init() { registry.Register(Registration) }
