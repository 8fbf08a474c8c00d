// Package tdxecdsa is the Intel TDX ECDSA (DCAP) verifier: it checks a TDX
// quote (version 4 or 5) with Intel's collateral, then the policy, and
// vouches for the quote's fields (see tee/intel.Claims) and "simulated". It
// is the sgx_ecdsa verifier's instance (verifiers/sgxecdsa) with its own
// descriptor: the same configuration (RATS_TLS_INTEL_COLLATERAL,
// RATS_TLS_INTEL_TCB_STATUSES), the same roots (the simulated one only with
// --allow-simulated) and the same debug rule (-D).
package tdxecdsa

import (
	"context"

	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/registry"
	"github.com/inclavare/inclavare/tee/intel"
	"github.com/inclavare/inclavare/verifiers/sgxecdsa"
)

// Name is the instance name, as in the C Rats-TLS.
const Name = "tdx_ecdsa"

// Registration describes the TDX ECDSA verifier. It works on any machine.
var Registration = &registry.Registration{
	Descriptor: descriptor,
	New: func(_ context.Context, opts instance.Options) (instance.Instance, error) {
		cfg, err := sgxecdsa.ConfigFromEnv(opts)
		if err != nil {
			return nil, err
		}
		return sgxecdsa.New(descriptor, cfg)
	},
}

var descriptor = instance.Descriptor{Kind: instance.KindVerifier, Name: Name, Type: intel.EvidenceTypeTDX, Priority: 100}

func init() { registry.Register(Registration) }
