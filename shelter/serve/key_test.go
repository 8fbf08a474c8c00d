package serve

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inclavare/inclavare/appraisal/ear"
)

// A generated key written with WriteKeyFile reads back as the same key,
// from a 0600 file that is never overwritten.
func TestKeyFile(t *testing.T) {
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := WriteKeyFile(path, k); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParsePrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	if !back.(*ecdsa.PrivateKey).Equal(k) {
		t.Error("the key read back differs")
	}
	other, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteKeyFile(path, other); !errors.Is(err, os.ErrExist) || !strings.Contains(err.Error(), "--key") {
		t.Errorf("overwriting: %v", err)
	}
	if b2, _ := os.ReadFile(path); string(b2) != string(b) {
		t.Error("the key file was changed")
	}
	if err := WriteKeyFile(filepath.Join(t.TempDir(), "no", "dir", "key.pem"), k); err == nil {
		t.Error("writing into a missing directory succeeded")
	}

	pubPEM, err := PublicKeyPEM(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublicKeyPEM(pubPEM)
	if err != nil || !pub.(*ecdsa.PublicKey).Equal(k.Public()) {
		t.Errorf("public key round trip: %v", err)
	}
	if _, err := ParsePublicKeyPEM(b); err == nil {
		t.Error("a private key read as a public key")
	}
}

func TestParsePrivateKey(t *testing.T) {
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sec1, err := x509.MarshalECPrivateKey(p384)
	if err != nil {
		t.Fatal(err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ed, err := x509.MarshalPKCS8PrivateKey(edKey)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaDER, err := x509.MarshalPKCS8PrivateKey(rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	enc := func(typ string, der []byte) []byte { return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}) }

	for name, b := range map[string][]byte{
		"SEC 1 P-384":         enc("EC PRIVATE KEY", sec1),
		"PKCS 8 Ed25519":      enc("PRIVATE KEY", ed),
		"after a certificate": append(enc("CERTIFICATE", []byte{1}), enc("PRIVATE KEY", ed)...),
	} {
		k, err := ParsePrivateKey(b)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if _, err := ear.Algorithm(k.Public()); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, tc := range map[string]struct {
		b    []byte
		want string
	}{
		"RSA":       {enc("PRIVATE KEY", rsaDER), "unsupported key type"},
		"not PEM":   {[]byte("key"), "no PEM"},
		"bad DER":   {enc("PRIVATE KEY", []byte{1, 2, 3}), "parsing the PRIVATE KEY block"},
		"public":    {enc("PUBLIC KEY", []byte{1}), "no PEM"},
		"RSA SEC 1": {enc("EC PRIVATE KEY", rsaDER), "parsing"},
	} {
		if _, err := ParsePrivateKey(tc.b); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}
