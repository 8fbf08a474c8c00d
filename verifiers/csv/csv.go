// Package csv is the Hygon CSV verifier ("csv"). It is never usable here:
// the Hygon Root Key and the HRK -> HSK -> CEK certificate chain format are
// missing (see tee/csv). Its probe says so, and its Verify refuses every
// report with that reason; it exists so that csv evidence is refused with a
// precise explanation rather than as an unknown type.
package csv

import (
	"context"
	"fmt"

	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/registry"
	hygon "github.com/inclavare/inclavare/tee/csv"
)

// Name is the instance name, as in the C Rats-TLS.
const Name = "csv"

// Registration describes the csv verifier. Its probe always fails.
var Registration = &registry.Registration{
	Descriptor: instance.Descriptor{Kind: instance.KindVerifier, Name: Name, Type: hygon.EvidenceType, Priority: 100},
	Probe:      hygon.ProbeVerifier,
	New: func(context.Context, instance.Options) (instance.Instance, error) {
		return &verifier{}, nil
	},
}

func init() { registry.Register(Registration) }

type verifier struct{}

// Descriptor says what the instance is.
func (*verifier) Descriptor() instance.Descriptor { return Registration.Descriptor }

// Close releases nothing: the instance holds no resources.
func (*verifier) Close() error { return nil }

// Verify refuses every report: see the package doc.
func (*verifier) Verify(ctx context.Context, ev instance.Evidence, _, _ []byte) (instance.Claims, error) {
	if ev.Type != hygon.EvidenceType {
		return nil, fmt.Errorf("the csv verifier checks %q evidence, not %q", hygon.EvidenceType, ev.Type)
	}
	return nil, hygon.Verify(ctx, ev.Data)
}
