// Package nullverifier accepts peers that present no evidence. It is chosen
// only by name: a verifier that is not named is chosen by the evidence type
// in the peer's certificate, and a certificate without evidence is refused
// unless this verifier was asked for. It refuses any peer that does present
// evidence, since it cannot check it.
package nullverifier

import (
	"context"
	"fmt"

	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/registry"
)

// Name is the instance name, as in the C Rats-TLS.
const Name = instance.NullVerifierName

// Registration describes the null verifier.
var Registration = &registry.Registration{
	Descriptor: instance.Descriptor{Kind: instance.KindVerifier, Name: Name, Type: instance.EvidenceTypeNull, Priority: 0},
	New: func(context.Context, instance.Options) (instance.Instance, error) {
		return verifier{}, nil
	},
}

func init() { registry.Register(Registration) }

type verifier struct{}

func (verifier) Descriptor() instance.Descriptor { return Registration.Descriptor }

func (verifier) Close() error { return nil }

// Verify accepts only the absence of evidence and vouches for nothing.
func (verifier) Verify(_ context.Context, ev instance.Evidence, _, _ []byte) (instance.Claims, error) {
	if ev.Type != instance.EvidenceTypeNull || len(ev.Data) != 0 {
		return nil, fmt.Errorf("the null verifier cannot check %d bytes of %q evidence; choose a verifier for that type", len(ev.Data), ev.Type)
	}
	return instance.Claims{}, nil
}
