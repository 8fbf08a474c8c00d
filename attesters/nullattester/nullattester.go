// Package nullattester is the attester for peers that do not attest: it
// produces no evidence, so the certificate carries no evidence extension.
// Only a verifier that is explicitly the null verifier accepts such a peer.
package nullattester

import (
	"context"

	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/registry"
)

// Name is the instance name, as in the C Rats-TLS.
const Name = "nullattester"

// Registration describes the null attester.
var Registration = &registry.Registration{
	Descriptor: instance.Descriptor{Kind: instance.KindAttester, Name: Name, Type: instance.EvidenceTypeNull, Priority: 0},
	New: func(context.Context, instance.Options) (instance.Instance, error) {
		return attester{}, nil
	},
}

func init() { registry.Register(Registration) }

type attester struct{}

func (attester) Descriptor() instance.Descriptor { return Registration.Descriptor }

func (attester) Close() error { return nil }

// Collect returns empty evidence of type null.
func (attester) Collect(context.Context, []byte) (instance.Evidence, error) {
	return instance.Evidence{Type: instance.EvidenceTypeNull}, nil
}

// Endorsements returns none.
func (attester) Endorsements(context.Context, instance.Evidence) ([]byte, error) { return nil, nil }
