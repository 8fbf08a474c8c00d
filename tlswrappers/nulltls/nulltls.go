// Package nulltls is the TLS wrapper that does no TLS: bytes travel in the
// clear and no certificate is exchanged, so the peer cannot be attested. It
// has the lowest priority and is meant to be named, for debugging.
package nulltls

import (
	"context"

	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/registry"
	"github.com/inclavare/inclavare/framework/tlsengine"
)

// Name is the instance name, as in the C Rats-TLS.
const Name = "nulltls"

// Registration describes the null TLS wrapper.
var Registration = &registry.Registration{
	Descriptor: descriptor,
	New: func(context.Context, instance.Options) (instance.Instance, error) {
		return tlsengine.Wrapper{Desc: descriptor, P: profile}, nil
	},
}

func init() { registry.Register(Registration) }

var descriptor = instance.Descriptor{Kind: instance.KindTLS, Name: Name, Type: "none", Priority: 0}

// profile is the whole of the wrapper: the session runs in tlsengine.
var profile = instance.TLSProfile{Protocol: instance.ProtocolNone}
