// Package gotls is the TLS wrapper over Go's crypto/tls: TLS 1.3 only, with
// the hybrid post-quantum key exchange X25519MLKEM768 preferred. It stands in
// for the C Rats-TLS "openssl" TLS wrapper, a name it also answers to.
package gotls

import (
	"context"

	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/registry"
	"github.com/inclavare/inclavare/framework/tlsengine"
)

// Name is the instance name.
const Name = "gotls"

// Registration describes the TLS wrapper.
var Registration = &registry.Registration{
	Descriptor: descriptor,
	New: func(context.Context, instance.Options) (instance.Instance, error) {
		return tlsengine.Wrapper{Desc: descriptor, P: profile}, nil
	},
}

func init() { registry.Register(Registration) }

var descriptor = instance.Descriptor{Kind: instance.KindTLS, Name: Name, Type: "tls1.3", Priority: 50}

// profile is the whole of the wrapper: the session runs in tlsengine.
var profile = instance.TLSProfile{Protocol: instance.ProtocolTLS13}
