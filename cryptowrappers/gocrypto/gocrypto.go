// Package gocrypto is the crypto wrapper over Go's standard library: ECDSA
// P-256 (the default) and P-384, RSA-3072 and Ed25519 keys, SHA-2 hashes and
// self-signed X.509 certificates. It stands in for the C Rats-TLS "openssl"
// crypto wrapper, a name it also answers to.
//
// Private keys never leave the wrapper: GenerateKey returns a crypto.Signer
// that exposes only the public key and signing.
package gocrypto

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"io"

	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/registry"
)

// Name is the instance name.
const Name = "gocrypto"

// Registration describes the crypto wrapper.
var Registration = &registry.Registration{
	Descriptor: instance.Descriptor{Kind: instance.KindCrypto, Name: Name, Type: "go", Priority: 50},
	New: func(context.Context, instance.Options) (instance.Instance, error) {
		return Wrapper{}, nil
	},
}

func init() { registry.Register(Registration) }

// Wrapper implements instance.CryptoWrapper. Its zero value is ready.
type Wrapper struct{}

// Descriptor says what the wrapper is.
func (Wrapper) Descriptor() instance.Descriptor { return Registration.Descriptor }

// Close does nothing: keys are garbage-collected with their signers.
func (Wrapper) Close() error { return nil }

// GenerateKey makes a key of alg.
func (Wrapper) GenerateKey(_ context.Context, alg instance.KeyAlgorithm) (crypto.Signer, error) {
	var (
		k   crypto.Signer
		err error
	)
	switch alg {
	case instance.KeyECDSAP256, "":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case instance.KeyECDSAP384:
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case instance.KeyRSA3072:
		k, err = rsa.GenerateKey(rand.Reader, 3072)
	case instance.KeyEd25519:
		_, k, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, fmt.Errorf("gocrypto: key algorithm %q: %w", alg, instance.ErrUnsupported)
	}
	if err != nil {
		return nil, fmt.Errorf("gocrypto: generating %s key: %w", alg, err)
	}
	return signer{k}, nil
}

// Hash digests data with alg.
func (Wrapper) Hash(_ context.Context, alg instance.HashAlgorithm, data []byte) ([]byte, error) {
	return Digest(alg, data)
}

// PubKeyHash digests the DER SubjectPublicKeyInfo of pub.
func (Wrapper) PubKeyHash(_ context.Context, alg instance.HashAlgorithm, pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("gocrypto: encoding public key: %w", err)
	}
	return Digest(alg, der)
}

// SelfSignedCertificate issues a DER certificate for key.
func (Wrapper) SelfSignedCertificate(_ context.Context, key crypto.Signer, t instance.CertificateTemplate) ([]byte, error) {
	s, ok := key.(signer)
	if !ok {
		return nil, errors.New("gocrypto: the key was not made by this crypto wrapper")
	}
	tmpl := &x509.Certificate{
		SerialNumber:          t.SerialNumber,
		Subject:               t.Subject,
		NotBefore:             t.NotBefore,
		NotAfter:              t.NotAfter,
		ExtraExtensions:       t.Extensions,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, s.Public(), s.k)
	if err != nil {
		return nil, fmt.Errorf("gocrypto: issuing certificate: %w", err)
	}
	return der, nil
}

// Digest hashes data with alg; an unknown alg is an error.
func Digest(alg instance.HashAlgorithm, data []byte) ([]byte, error) {
	h := alg.CryptoHash()
	if h == 0 || !h.Available() {
		return nil, fmt.Errorf("hash algorithm %s: %w", alg, instance.ErrUnsupported)
	}
	d := h.New()
	d.Write(data)
	return d.Sum(nil), nil
}

// signer hides the private key behind crypto.Signer.
type signer struct{ k crypto.Signer }

func (s signer) Public() crypto.PublicKey { return s.k.Public() }

// Format prints the key type, never the key (an ed25519.PrivateKey prints as its bytes).
func (s signer) Format(f fmt.State, _ rune) { fmt.Fprintf(f, "gocrypto.signer(%T)", s.k) }

func (s signer) Sign(r io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	return s.k.Sign(r, digest, opts)
}
