// Package tdxecdsasim is the simulated Intel TDX ECDSA attester, for
// development and tests on machines without TDX: it makes real-format TDX
// quotes (version 4, the PCK chain in the QE report certification data) with
// the TEST-ONLY hierarchy of tee/intel/simulated and gives that hierarchy's
// collateral as endorsements. Its evidence has the real type "tdx_ecdsa", so
// the tdx_ecdsa verifier checks it, and trusts it only with
// --allow-simulated (instance.Options.AllowSimulated), marking the claims
// "simulated": true.
//
// Its priority (-1) is below every real TEE and below the null attester (0),
// so it is used only when named (-a tdx_ecdsa_sim).
//
// The TD's MRTD is SHA-384 of a fixed string by default
// (simulated.DefaultMRTD), or the 96 hex digits in the environment variable
// RATS_TLS_TDX_ECDSA_SIM_MRTD; RTMR0-3 are simulated.DefaultRTMR. With
// --debug-enclave (instance.Options.DebugEnclave) the TD has its DEBUG
// attribute set.
package tdxecdsasim

import (
	"context"

	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/registry"
	"github.com/inclavare/inclavare/internal/envhex"
	"github.com/inclavare/inclavare/tee/intel"
	"github.com/inclavare/inclavare/tee/intel/simulated"
)

// Name is the instance name.
const Name = "tdx_ecdsa_sim"

// EnvMRTD names the environment variable that sets the simulated TD's
// MRTD (96 hex digits).
const EnvMRTD = "RATS_TLS_TDX_ECDSA_SIM_MRTD"

// Registration describes the simulated TDX ECDSA attester. It works on any
// machine and is used only when named.
var Registration = &registry.Registration{
	Descriptor: descriptor,
	New: func(_ context.Context, opts instance.Options) (instance.Instance, error) {
		so := simulated.Options{Debug: opts.DebugEnclave}
		if err := envhex.Read(EnvMRTD, so.MRTD[:]); err != nil {
			return nil, err
		}
		return simulated.NewAttester(descriptor, so)
	},
}

var descriptor = instance.Descriptor{Kind: instance.KindAttester, Name: Name, Type: intel.EvidenceTypeTDX, Priority: -1}

func init() { registry.Register(Registration) }
