// Package nullcrypto is the crypto wrapper that holds no keys, for use with
// the nulltls wrapper where no certificate is exchanged. Every operation
// fails with instance.ErrUnsupported, saying which wrapper to use instead.
package nullcrypto

import (
	"context"
	"crypto"
	"fmt"

	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/registry"
)

// Name is the instance name, as in the C Rats-TLS.
const Name = "nullcrypto"

// Registration describes the null crypto wrapper.
var Registration = &registry.Registration{
	Descriptor: instance.Descriptor{Kind: instance.KindCrypto, Name: Name, Type: "none", Priority: 0},
	New: func(context.Context, instance.Options) (instance.Instance, error) {
		return wrapper{}, nil
	},
}

func init() { registry.Register(Registration) }

type wrapper struct{}

func unsupported(op string) error {
	return fmt.Errorf("nullcrypto cannot %s (use gocrypto): %w", op, instance.ErrUnsupported)
}

func (wrapper) Descriptor() instance.Descriptor { return Registration.Descriptor }

func (wrapper) Close() error { return nil }

func (wrapper) GenerateKey(context.Context, instance.KeyAlgorithm) (crypto.Signer, error) {
	return nil, unsupported("generate keys")
}

func (wrapper) Hash(context.Context, instance.HashAlgorithm, []byte) ([]byte, error) {
	return nil, unsupported("hash")
}

func (wrapper) PubKeyHash(context.Context, instance.HashAlgorithm, crypto.PublicKey) ([]byte, error) {
	return nil, unsupported("hash public keys")
}

func (wrapper) SelfSignedCertificate(context.Context, crypto.Signer, instance.CertificateTemplate) ([]byte, error) {
	return nil, unsupported("issue certificates")
}
