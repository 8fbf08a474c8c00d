package serve

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/inclavare/inclavare/appraisal/ear"
)

// ParsePrivateKey reads the signing key from PEM: a PKCS #8 "PRIVATE KEY"
// or a SEC 1 "EC PRIVATE KEY" block (the first of either). The key must be
// one appraisal/ear can sign with: ECDSA P-256, P-384 or P-521, or Ed25519.
func ParsePrivateKey(b []byte) (crypto.Signer, error) {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, errors.New(`no PEM "PRIVATE KEY" or "EC PRIVATE KEY" block: want a PKCS #8 or SEC 1 ECDSA or Ed25519 key`)
		}
		var k any
		var err error
		switch blk.Type {
		case "PRIVATE KEY":
			k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
		case "EC PRIVATE KEY":
			k, err = x509.ParseECPrivateKey(blk.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("parsing the %s block: %w", blk.Type, err)
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("a %T cannot sign: want an ECDSA or Ed25519 key", k)
		}
		if _, err := ear.Algorithm(s.Public()); err != nil {
			return nil, fmt.Errorf("the signing key: %w", err)
		}
		return s, nil
	}
}

// GenerateKey returns a new ECDSA P-256 signing key.
func GenerateKey() (crypto.Signer, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating an ECDSA P-256 key: %w", err)
	}
	return k, nil
}

// WriteKeyFile writes key to path as a PKCS #8 PEM file with mode 0600. It
// refuses to replace an existing file, so that a key results were signed
// with is never lost; nothing is left behind on failure.
func WriteKeyFile(path string, key crypto.Signer) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("encoding the signing key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("writing the signing key: %s exists; load it with --key, or remove it: %w", path, err)
		}
		return fmt.Errorf("writing the signing key: %w", err)
	}
	err = pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("writing the signing key to %s: %w", path, err)
	}
	return nil
}

// PublicKeyPEM encodes pub as a PEM "PUBLIC KEY" (PKIX) block, the form
// GET /v1/key serves.
func PublicKeyPEM(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encoding the public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParsePublicKeyPEM reads a PEM "PUBLIC KEY" block, as GET /v1/key serves
// it, for ear.Verify.
func ParsePublicKeyPEM(b []byte) (crypto.PublicKey, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return nil, errors.New(`no PEM "PUBLIC KEY" block`)
	}
	pub, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing the public key: %w", err)
	}
	return pub, nil
}

// KeyID is the hex SHA-256 of the public key's PKIX encoding, as the status
// page shows it.
func KeyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("encoding the public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:]), nil
}
