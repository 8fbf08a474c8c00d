package gocrypto_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inclavare/inclavare/cryptowrappers/gocrypto"
	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/registry"
)

var w instance.CryptoWrapper = gocrypto.Wrapper{}

// keys generates one key per algorithm once: RSA-3072 takes a while.
var keys = sync.OnceValues(func() (map[instance.KeyAlgorithm]crypto.Signer, error) {
	out := map[instance.KeyAlgorithm]crypto.Signer{}
	for _, alg := range []instance.KeyAlgorithm{instance.KeyECDSAP256, instance.KeyECDSAP384, instance.KeyRSA3072, instance.KeyEd25519} {
		k, err := w.GenerateKey(context.Background(), alg)
		if err != nil {
			return nil, fmt.Errorf("GenerateKey(%s): %w", alg, err)
		}
		out[alg] = k
	}
	return out, nil
})

func key(t *testing.T, alg instance.KeyAlgorithm) crypto.Signer {
	t.Helper()
	ks, err := keys()
	if err != nil {
		t.Fatal(err)
	}
	return ks[alg]
}

func digest(h crypto.Hash, msg []byte) []byte {
	d := h.New()
	d.Write(msg)
	return d.Sum(nil)
}

func TestGenerateKeyAndSign(t *testing.T) {
	msg := []byte("rats-tls handshake transcript")
	tests := []struct {
		alg instance.KeyAlgorithm
		// check signs msg with k and verifies the signature with the
		// public key.
		check func(t *testing.T, k crypto.Signer)
	}{
		{instance.KeyECDSAP256, func(t *testing.T, k crypto.Signer) {
			pub, ok := k.Public().(*ecdsa.PublicKey)
			if !ok || pub.Curve != elliptic.P256() {
				t.Fatalf("public key %T, want ECDSA P-256", k.Public())
			}
			for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384} {
				d := digest(h, msg)
				sig, err := k.Sign(rand.Reader, d, h)
				if err != nil {
					t.Fatalf("Sign(%v): %v", h, err)
				}
				if !ecdsa.VerifyASN1(pub, d, sig) {
					t.Errorf("ECDSA P-256 signature over %v does not verify", h)
				}
			}
		}},
		{instance.KeyECDSAP384, func(t *testing.T, k crypto.Signer) {
			pub, ok := k.Public().(*ecdsa.PublicKey)
			if !ok || pub.Curve != elliptic.P384() {
				t.Fatalf("public key %T, want ECDSA P-384", k.Public())
			}
			d := digest(crypto.SHA384, msg)
			sig, err := k.Sign(rand.Reader, d, crypto.SHA384)
			if err != nil {
				t.Fatal(err)
			}
			if !ecdsa.VerifyASN1(pub, d, sig) {
				t.Error("ECDSA P-384 signature does not verify")
			}
		}},
		{instance.KeyRSA3072, func(t *testing.T, k crypto.Signer) {
			pub, ok := k.Public().(*rsa.PublicKey)
			if !ok || pub.N.BitLen() != 3072 {
				t.Fatalf("public key %T, want RSA-3072", k.Public())
			}
			d := digest(crypto.SHA256, msg)
			pss := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
			sig, err := k.Sign(rand.Reader, d, pss)
			if err != nil {
				t.Fatalf("Sign(PSS): %v", err)
			}
			if err := rsa.VerifyPSS(pub, crypto.SHA256, d, sig, pss); err != nil {
				t.Errorf("RSA-PSS signature: %v", err)
			}
			sig, err = k.Sign(rand.Reader, d, crypto.SHA256)
			if err != nil {
				t.Fatalf("Sign(PKCS1v15): %v", err)
			}
			if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, d, sig); err != nil {
				t.Errorf("RSA PKCS #1 v1.5 signature: %v", err)
			}
		}},
		{instance.KeyEd25519, func(t *testing.T, k crypto.Signer) {
			pub, ok := k.Public().(ed25519.PublicKey)
			if !ok {
				t.Fatalf("public key %T, want Ed25519", k.Public())
			}
			sig, err := k.Sign(rand.Reader, msg, crypto.Hash(0))
			if err != nil {
				t.Fatal(err)
			}
			if !ed25519.Verify(pub, msg, sig) {
				t.Error("Ed25519 signature does not verify")
			}
		}},
	}
	for _, tc := range tests {
		t.Run(string(tc.alg), func(t *testing.T) {
			tc.check(t, key(t, tc.alg))
		})
	}
}

func TestGenerateKeyDefaultAndUnknown(t *testing.T) {
	ctx := context.Background()
	k, err := w.GenerateKey(ctx, "")
	if err != nil {
		t.Fatalf("GenerateKey(\"\"): %v", err)
	}
	if pub, ok := k.Public().(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Errorf("default key %T, want ECDSA P-256", k.Public())
	}
	_, err = w.GenerateKey(ctx, "rsa-1024")
	if !errors.Is(err, instance.ErrUnsupported) || !strings.Contains(err.Error(), "rsa-1024") {
		t.Errorf("GenerateKey(rsa-1024) error %v, want ErrUnsupported naming the algorithm", err)
	}
}

// TestSignerHidesPrivateKey checks that the private key does not leave the
// wrapper: not by a type assertion, and not by formatting the signer (an
// ed25519.PrivateKey prints as its bytes).
func TestSignerHidesPrivateKey(t *testing.T) {
	for _, alg := range []instance.KeyAlgorithm{instance.KeyECDSAP256, instance.KeyECDSAP384, instance.KeyRSA3072, instance.KeyEd25519} {
		t.Run(string(alg), func(t *testing.T) {
			k := key(t, alg)
			switch p := any(k).(type) {
			case *ecdsa.PrivateKey, ecdsa.PrivateKey, *rsa.PrivateKey, rsa.PrivateKey, ed25519.PrivateKey, *ed25519.PrivateKey:
				t.Fatalf("GenerateKey returned the private key itself (%T)", p)
			}
			if _, ok := k.(interface{ Seed() []byte }); ok {
				t.Error("the signer exposes Seed")
			}
			if _, ok := k.(interface{ ECDH() (any, error) }); ok {
				t.Error("the signer exposes ECDH")
			}
			// An Ed25519 private key ends with its public key, so a signer
			// that prints its key prints the public key's bytes.
			var pubBytes []byte
			if alg == instance.KeyEd25519 {
				pubBytes = k.Public().(ed25519.PublicKey)
			}
			for _, verb := range []string{"%v", "%+v", "%#v", "%x", "%s"} {
				out := fmt.Sprintf(verb, k)
				if pubBytes != nil {
					inner := strings.Trim(fmt.Sprintf(verb, pubBytes), "[]{}")
					inner = inner[strings.LastIndexAny(inner, "{[")+1:]
					if strings.Contains(out, inner) {
						t.Errorf("fmt %s of the signer prints the key bytes: %.80s…", verb, out)
					}
				}
				if len(out) > 100 {
					t.Errorf("fmt %s of the signer prints %d characters, want only its type: %.80s…", verb, len(out), out)
				}
			}
		})
	}
}

func TestHash(t *testing.T) {
	ctx := context.Background()
	data := []byte("report data")
	s256 := sha256.Sum256(data)
	s384 := sha512.Sum384(data)
	s512 := sha512.Sum512(data)
	for _, tc := range []struct {
		alg  instance.HashAlgorithm
		want []byte
	}{
		{1, s256[:]},
		{7, s384[:]},
		{8, s512[:]},
	} {
		got, err := w.Hash(ctx, tc.alg, data)
		if err != nil {
			t.Errorf("Hash(%d): %v", tc.alg, err)
			continue
		}
		if !bytes.Equal(got, tc.want) {
			t.Errorf("Hash(%d) = %x, want %x", tc.alg, got, tc.want)
		}
	}
	for _, alg := range []instance.HashAlgorithm{0, 2, 6, 9, 1 << 40} {
		if _, err := w.Hash(ctx, alg, data); !errors.Is(err, instance.ErrUnsupported) {
			t.Errorf("Hash(%d) error %v, want instance.ErrUnsupported", alg, err)
		}
		if _, err := w.PubKeyHash(ctx, alg, key(t, instance.KeyECDSAP256).Public()); !errors.Is(err, instance.ErrUnsupported) {
			t.Errorf("PubKeyHash(%d) error %v, want instance.ErrUnsupported", alg, err)
		}
	}
}

func TestPubKeyHash(t *testing.T) {
	ctx := context.Background()
	for _, alg := range []instance.KeyAlgorithm{instance.KeyECDSAP256, instance.KeyECDSAP384, instance.KeyRSA3072, instance.KeyEd25519} {
		pub := key(t, alg).Public()
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range []instance.HashAlgorithm{instance.SHA256, instance.SHA384, instance.SHA512} {
			got, err := w.PubKeyHash(ctx, h, pub)
			if err != nil {
				t.Errorf("PubKeyHash(%s, %s): %v", h, alg, err)
				continue
			}
			if want := digest(h.CryptoHash(), der); !bytes.Equal(got, want) {
				t.Errorf("PubKeyHash(%s, %s) = %x, want %x", h, alg, got, want)
			}
		}
	}
	if _, err := w.PubKeyHash(ctx, instance.SHA256, "not a key"); err == nil {
		t.Error("PubKeyHash of a string succeeded")
	}
}

func template(exts ...pkix.Extension) instance.CertificateTemplate {
	return instance.CertificateTemplate{
		Subject:      pkix.Name{CommonName: "rats-tls", Organization: []string{"Inclavare Containers"}},
		SerialNumber: big.NewInt(42),
		NotBefore:    time.Date(2024, time.May, 3, 0, 0, 0, 0, time.UTC),
		NotAfter:     time.Date(2034, time.May, 3, 0, 0, 0, 0, time.UTC),
		Extensions:   exts,
	}
}

func TestSelfSignedCertificate(t *testing.T) {
	evidence := pkix.Extension{Id: asn1.ObjectIdentifier{2, 23, 133, 5, 4, 9}, Value: []byte("evidence")}
	endorsements := pkix.Extension{Id: asn1.ObjectIdentifier{2, 23, 133, 5, 4, 2}, Critical: false, Value: []byte("endorsements")}
	for _, alg := range []instance.KeyAlgorithm{instance.KeyECDSAP256, instance.KeyECDSAP384, instance.KeyRSA3072, instance.KeyEd25519} {
		t.Run(string(alg), func(t *testing.T) {
			k := key(t, alg)
			der, err := w.SelfSignedCertificate(context.Background(), k, template(evidence, endorsements))
			if err != nil {
				t.Fatalf("SelfSignedCertificate: %v", err)
			}
			c, err := x509.ParseCertificate(der)
			if err != nil {
				t.Fatalf("ParseCertificate: %v", err)
			}
			if err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil {
				t.Errorf("self-signature: %v", err)
			}
			if c.IsCA {
				t.Error("the certificate is a CA; it should be an end-entity certificate")
			}
			pkDER, _ := x509.MarshalPKIXPublicKey(k.Public())
			if !bytes.Equal(c.RawSubjectPublicKeyInfo, pkDER) {
				t.Error("the certificate is not for the signer's public key")
			}
			if c.Subject.CommonName != "rats-tls" || !bytes.Equal(c.RawIssuer, c.RawSubject) {
				t.Errorf("subject %q issuer %q, want the same rats-tls name", c.Subject, c.Issuer)
			}
			if c.SerialNumber.Cmp(big.NewInt(42)) != 0 {
				t.Errorf("serial %v, want 42", c.SerialNumber)
			}
			if !c.NotBefore.Equal(template().NotBefore) || !c.NotAfter.Equal(template().NotAfter) {
				t.Errorf("validity %v..%v, want the template's", c.NotBefore, c.NotAfter)
			}
			for _, want := range []pkix.Extension{evidence, endorsements} {
				found := false
				for _, e := range c.Extensions {
					if e.Id.Equal(want.Id) {
						found = true
						if !bytes.Equal(e.Value, want.Value) || e.Critical != want.Critical {
							t.Errorf("extension %v = %q (critical %v), want %q", want.Id, e.Value, e.Critical, want.Value)
						}
					}
				}
				if !found {
					t.Errorf("extension %v missing", want.Id)
				}
			}
		})
	}
}

func TestSelfSignedCertificateRefusesForeignKey(t *testing.T) {
	foreign, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.SelfSignedCertificate(context.Background(), foreign, template()); err == nil {
		t.Error("SelfSignedCertificate accepted a key this wrapper did not make")
	}
}

func TestRegistration(t *testing.T) {
	d := gocrypto.Registration.Descriptor
	if d.Kind != instance.KindCrypto || d.Name != gocrypto.Name {
		t.Errorf("descriptor %v", d)
	}
	inst, err := gocrypto.Registration.New(context.Background(), instance.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	if _, ok := inst.(instance.CryptoWrapper); !ok {
		t.Fatalf("New returned %T, not a CryptoWrapper", inst)
	}
	if inst.Descriptor() != d {
		t.Errorf("instance descriptor %v, want %v", inst.Descriptor(), d)
	}
	if to, alias := registry.Canonical(instance.KindCrypto, "openssl"); !alias || to != gocrypto.Name {
		t.Errorf("openssl crypto maps to %q, want %q", to, gocrypto.Name)
	}
}
