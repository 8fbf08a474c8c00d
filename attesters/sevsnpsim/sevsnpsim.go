// Package sevsnpsim is the simulated AMD SEV-SNP attester, for development
// and tests on machines without SEV-SNP: it signs realistic SEV-SNP reports
// (version 3, a Milan-B0 guest) with the TEST-ONLY key hierarchy of
// tee/sevsnp/simulated and gives that hierarchy's certificate table as
// endorsements. Its evidence has the real type "sev_snp", so the sev_snp
// verifier checks it, and trusts it only with --allow-simulated
// (instance.Options.AllowSimulated), marking the claims "simulated": true.
//
// Its priority (-1) is below every real TEE and below the null attester (0),
// so it is used only when named (-a sev_snp_sim).
//
// The guest's MEASUREMENT is the launch digest: SHA-384 of a fixed string
// by default (sevsnp.DefaultLaunchDigest), or the 96 hex digits in the
// environment variable RATS_TLS_SEV_SNP_SIM_LAUNCH_DIGEST. With
// --debug-enclave (instance.Options.DebugEnclave) the guest policy has its
// DEBUG bit set.
package sevsnpsim

import (
	"context"
	"fmt"

	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/registry"
	"github.com/inclavare/inclavare/internal/envhex"
	snp "github.com/inclavare/inclavare/tee/sevsnp"
)

// Name is the instance name.
const Name = "sev_snp_sim"

// EnvLaunchDigest names the environment variable that sets the simulated
// guest's launch digest (96 hex digits).
const EnvLaunchDigest = "RATS_TLS_SEV_SNP_SIM_LAUNCH_DIGEST"

// Registration describes the simulated SEV-SNP attester. It works on any
// machine. Its priority is below the null attester's, so it is used only
// when named: a machine without a TEE never presents simulated evidence
// unless asked to.
var Registration = &registry.Registration{
	Descriptor: instance.Descriptor{Kind: instance.KindAttester, Name: Name, Type: snp.EvidenceType, Priority: -1},
	New: func(_ context.Context, opts instance.Options) (instance.Instance, error) {
		so := snp.SimulatorOptions{Debug: opts.DebugEnclave}
		if err := envhex.Read(EnvLaunchDigest, so.LaunchDigest[:]); err != nil {
			return nil, err
		}
		sim, err := snp.NewSimulator(so)
		if err != nil {
			return nil, err
		}
		end, err := snp.EncodeEndorsements(sim.Certificates().CertTable())
		if err != nil {
			return nil, fmt.Errorf("encoding the simulated endorsements: %w", err)
		}
		return &attester{sim: sim, endorsements: end}, nil
	},
}

func init() { registry.Register(Registration) }

type attester struct {
	sim          *snp.Simulator
	endorsements []byte
}

// Descriptor says what the instance is.
func (*attester) Descriptor() instance.Descriptor { return Registration.Descriptor }

// Close releases nothing: the instance holds no resources.
func (*attester) Close() error { return nil }

// Collect returns a simulated report over reportData.
func (a *attester) Collect(ctx context.Context, reportData []byte) (instance.Evidence, error) {
	if err := ctx.Err(); err != nil {
		return instance.Evidence{}, err
	}
	r, err := a.sim.Report(reportData)
	if err != nil {
		return instance.Evidence{}, fmt.Errorf("simulated SEV-SNP report: %w", err)
	}
	return instance.Evidence{Type: snp.EvidenceType, Data: r}, nil
}

// Endorsements returns the simulated VCEK, ASK and ARK as the sev_snp
// endorsements item.
func (a *attester) Endorsements(_ context.Context, ev instance.Evidence) ([]byte, error) {
	if ev.Type != snp.EvidenceType {
		return nil, fmt.Errorf("the sev_snp_sim attester has no endorsements for %q evidence", ev.Type)
	}
	return a.endorsements, nil
}
