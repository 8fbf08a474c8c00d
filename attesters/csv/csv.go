// Package csv is the Hygon CSV attester ("csv"). It is never usable here:
// outside a CSV guest there is no /dev/csv-guest, and inside one its report
// ABI is not implemented (see tee/csv for what is missing). Its probe and
// constructor say why.
package csv

import (
	"context"

	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/registry"
	hygon "github.com/inclavare/inclavare/tee/csv"
)

// Name is the instance name, as in the C Rats-TLS.
const Name = "csv"

// Registration describes the csv attester. Its probe always fails.
var Registration = &registry.Registration{
	Descriptor: instance.Descriptor{Kind: instance.KindAttester, Name: Name, Type: hygon.EvidenceType, Priority: 100},
	Probe:      hygon.Probe,
	New: func(ctx context.Context, _ instance.Options) (instance.Instance, error) {
		// Probe never succeeds: there is no attester to make.
		return nil, hygon.Probe(ctx)
	},
}

func init() { registry.Register(Registration) }
