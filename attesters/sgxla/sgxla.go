// Package sgxla is the SGX local attestation attester ("sgx_la"): inside a
// Gramine SGX enclave it gets an SGX REPORT over the report data, targeted
// at the enclave itself, through /dev/attestation. Such a report can only
// be checked by that same enclave on the same platform (see tee/sgxla);
// everywhere else the probe says what is missing. Everything sgx_la lives in
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

// Registration describes the sgx_la attester. It is usable only inside a
// Gramine SGX enclave.
var Registration = &registry.Registration{
	Descriptor: instance.Descriptor{Kind: instance.KindAttester, Name: Name, Type: la.EvidenceType, Priority: 100},
	Probe:      la.Probe,
	New: func(ctx context.Context, _ instance.Options) (instance.Instance, error) {
		d, err := la.OpenDevice(ctx)
		if err != nil {
			return nil, err
		}
		return &attester{dev: d}, nil
	},
}

func init() { registry.Register(Registration) }

type attester struct{ dev *la.Device }

// Descriptor says what the instance is.
func (*attester) Descriptor() instance.Descriptor { return Registration.Descriptor }

// Close releases nothing: the instance holds no resources.
func (*attester) Close() error { return nil }

// Collect returns the raw REPORT over reportData.
func (a *attester) Collect(ctx context.Context, reportData []byte) (instance.Evidence, error) {
	rep, err := a.dev.Report(ctx, reportData)
	if err != nil {
		return instance.Evidence{}, err
	}
	return instance.Evidence{Type: la.EvidenceType, Data: rep}, nil
}

// Endorsements returns nil: a local report has none.
func (*attester) Endorsements(_ context.Context, ev instance.Evidence) ([]byte, error) {
	if ev.Type != la.EvidenceType {
		return nil, fmt.Errorf("the sgx_la attester has no endorsements for %q evidence", ev.Type)
	}
	return nil, nil
}
