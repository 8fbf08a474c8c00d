package simulated

import (
	"context"
	"fmt"

	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/tee/intel"
)

// Attester is the simulated SGX or TDX attester: desc.Type (sgx_ecdsa or
// tdx_ecdsa) decides which quotes it makes. The sgx_ecdsa_sim and
// tdx_ecdsa_sim instances are this, under their own names.
type Attester struct {
	desc         instance.Descriptor
	sim          *Simulator
	tdx          bool
	endorsements []byte
}

// NewAttester makes the simulated attester described by desc.
func NewAttester(desc instance.Descriptor, o Options) (*Attester, error) {
	a := &Attester{desc: desc}
	switch desc.Type {
	case intel.EvidenceTypeSGX:
	case intel.EvidenceTypeTDX:
		a.tdx = true
	default:
		return nil, fmt.Errorf("simulated Intel attester of evidence type %q: want %s or %s", desc.Type, intel.EvidenceTypeSGX, intel.EvidenceTypeTDX)
	}
	var err error
	if a.sim, err = NewSimulator(o); err != nil {
		return nil, err
	}
	if a.endorsements, err = a.sim.Endorsements(a.tdx); err != nil {
		return nil, fmt.Errorf("encoding the simulated endorsements: %w", err)
	}
	return a, nil
}

// Descriptor says what the instance is.
func (a *Attester) Descriptor() instance.Descriptor { return a.desc }

// Close releases nothing: the instance holds no resources.
func (*Attester) Close() error { return nil }

// Collect returns a simulated quote over reportData.
func (a *Attester) Collect(ctx context.Context, reportData []byte) (instance.Evidence, error) {
	if err := ctx.Err(); err != nil {
		return instance.Evidence{}, err
	}
	quote := a.sim.SGXQuote
	if a.tdx {
		quote = a.sim.TDXQuote
	}
	q, err := quote(reportData)
	if err != nil {
		return instance.Evidence{}, fmt.Errorf("simulated %s quote: %w", a.desc.Type, err)
	}
	return instance.Evidence{Type: a.desc.Type, Data: q}, nil
}

// Endorsements returns the simulated collateral as the endorsements item.
func (a *Attester) Endorsements(_ context.Context, ev instance.Evidence) ([]byte, error) {
	if ev.Type != a.desc.Type {
		return nil, fmt.Errorf("the %s attester has no endorsements for %q evidence", a.desc.Name, ev.Type)
	}
	return a.endorsements, nil
}
