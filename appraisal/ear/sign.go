package ear

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/veraison/go-cose"
)

// ContentType is the COSE content type of a signed result.
const ContentType = "application/eat-ucs+json"

// ErrSignature is wrapped by Verify when the message is not signed by the
// given key (bad signature, other key, other algorithm).
var ErrSignature = errors.New("ear: signature refused")

// Algorithm returns the COSE algorithm for a key: ES256 for P-256, ES384
// for P-384, ES512 for P-521 and EdDSA for Ed25519.
func Algorithm(pub crypto.PublicKey) (cose.Algorithm, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return cose.AlgorithmES256, nil
		case elliptic.P384():
			return cose.AlgorithmES384, nil
		case elliptic.P521():
			return cose.AlgorithmES512, nil
		}
		return 0, fmt.Errorf("ear: unsupported ECDSA curve %s (want P-256, P-384 or P-521)", k.Curve.Params().Name)
	case ed25519.PublicKey:
		return cose.AlgorithmEdDSA, nil
	}
	return 0, fmt.Errorf("ear: unsupported key type %T (want ECDSA P-256/P-384/P-521 or Ed25519)", pub)
}

// Sign encodes r as JSON (see [Result.MarshalJSON]) and signs it as a
// tagged COSE_Sign1 message with key, whose algorithm is chosen by
// [Algorithm]. The protected header carries the algorithm and the content
// type [ContentType].
func Sign(r Result, key crypto.Signer) ([]byte, error) {
	alg, err := Algorithm(key.Public())
	if err != nil {
		return nil, err
	}
	signer, err := cose.NewSigner(alg, key)
	if err != nil {
		return nil, fmt.Errorf("ear: %w", err)
	}
	payload, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	h := cose.Headers{Protected: cose.ProtectedHeader{
		cose.HeaderLabelAlgorithm:   alg,
		cose.HeaderLabelContentType: ContentType,
	}}
	msg, err := cose.Sign1(rand.Reader, signer, h, payload, nil)
	if err != nil {
		return nil, fmt.Errorf("ear: signing: %w", err)
	}
	return msg, nil
}

// Verify checks that msg is a COSE_Sign1 message signed by pub with the
// algorithm [Algorithm] gives for it, and returns the result it carries.
func Verify(msg []byte, pub crypto.PublicKey) (Result, error) {
	want, err := Algorithm(pub)
	if err != nil {
		return Result{}, err
	}
	var m cose.Sign1Message
	if err := m.UnmarshalCBOR(msg); err != nil {
		return Result{}, fmt.Errorf("ear: decoding COSE_Sign1: %w", err)
	}
	alg, err := m.Headers.Protected.Algorithm()
	if err != nil {
		return Result{}, fmt.Errorf("%w: protected header algorithm: %w", ErrSignature, err)
	}
	if alg != want {
		return Result{}, fmt.Errorf("%w: algorithm %s, but the key is for %s", ErrSignature, alg, want)
	}
	v, err := cose.NewVerifier(alg, pub)
	if err != nil {
		return Result{}, fmt.Errorf("ear: %w", err)
	}
	if err := m.Verify(nil, v); err != nil {
		return Result{}, fmt.Errorf("%w: %w", ErrSignature, err)
	}
	if ct, ok := m.Headers.Protected[cose.HeaderLabelContentType]; !ok || ct != ContentType {
		return Result{}, fmt.Errorf("ear: content type %v is not %q", ct, ContentType)
	}
	var r Result
	if err := json.Unmarshal(m.Payload, &r); err != nil {
		return Result{}, err
	}
	return r, nil
}
