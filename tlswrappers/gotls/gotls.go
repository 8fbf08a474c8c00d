// Package gotls is the TLS wrapper over Go's crypto/tls: TLS 1.3 only, with
// the hybrid post-quantum key exchange X25519MLKEM768 preferred. It stands in
// for the C Rats-TLS "openssl" TLS wrapper, a name it also answers to.
package gotls

import (
	"context"
	"net"

	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/registry"
	"github.com/inclavare/inclavare/framework/tlsengine"
)

// Name is the instance name.
const Name = "gotls"

// Registration describes the TLS wrapper.
var Registration = &registry.Registration{
	Descriptor: instance.Descriptor{Kind: instance.KindTLS, Name: Name, Type: "tls1.3", Priority: 50},
	New: func(context.Context, instance.Options) (instance.Instance, error) {
		return wrapper{}, nil
	},
}

func init() { registry.Register(Registration) }

var profile = instance.TLSProfile{Protocol: instance.ProtocolTLS13}

type wrapper struct{}

func (wrapper) Descriptor() instance.Descriptor { return Registration.Descriptor }

func (wrapper) Close() error { return nil }

func (wrapper) Profile(context.Context) (instance.TLSProfile, error) { return profile, nil }

func (wrapper) CheckPeer(context.Context, [][]byte) error { return nil }

func (wrapper) Negotiate(ctx context.Context, conn net.Conn, cfg *instance.TLSConfig) (instance.Session, error) {
	return tlsengine.Negotiate(ctx, conn, cfg, profile)
}
