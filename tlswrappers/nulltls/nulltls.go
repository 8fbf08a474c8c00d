// Package nulltls is the TLS wrapper that does no TLS: bytes travel in the
// clear and no certificate is exchanged, so the peer cannot be attested. It
// has the lowest priority and is meant to be named, for debugging.
package nulltls

import (
	"context"
	"net"

	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/registry"
	"github.com/inclavare/inclavare/framework/tlsengine"
)

// Name is the instance name, as in the C Rats-TLS.
const Name = "nulltls"

// Registration describes the null TLS wrapper.
var Registration = &registry.Registration{
	Descriptor: instance.Descriptor{Kind: instance.KindTLS, Name: Name, Type: "none", Priority: 0},
	New: func(context.Context, instance.Options) (instance.Instance, error) {
		return wrapper{}, nil
	},
}

func init() { registry.Register(Registration) }

var profile = instance.TLSProfile{Protocol: instance.ProtocolNone}

type wrapper struct{}

func (wrapper) Descriptor() instance.Descriptor { return Registration.Descriptor }

func (wrapper) Close() error { return nil }

func (wrapper) Profile(context.Context) (instance.TLSProfile, error) { return profile, nil }

func (wrapper) CheckPeer(context.Context, [][]byte) error { return nil }

func (wrapper) Negotiate(ctx context.Context, conn net.Conn, cfg *instance.TLSConfig) (instance.Session, error) {
	return tlsengine.Negotiate(ctx, conn, cfg, profile)
}
