package nullcrypto_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/inclavare/inclavare/cryptowrappers/nullcrypto"
	"github.com/inclavare/inclavare/framework/instance"
)

func TestEveryOperationUnsupported(t *testing.T) {
	ctx := context.Background()
	inst, err := nullcrypto.Registration.New(ctx, instance.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	w, ok := inst.(instance.CryptoWrapper)
	if !ok {
		t.Fatalf("New returned %T, not a CryptoWrapper", inst)
	}
	if d := w.Descriptor(); d.Kind != instance.KindCrypto || d.Name != nullcrypto.Name {
		t.Errorf("descriptor %v", d)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]func() error{
		"GenerateKey": func() error {
			k, err := w.GenerateKey(ctx, instance.KeyECDSAP256)
			if k != nil {
				t.Error("GenerateKey returned a key with its error")
			}
			return err
		},
		"Hash": func() error {
			_, err := w.Hash(ctx, instance.SHA256, []byte("x"))
			return err
		},
		"PubKeyHash": func() error {
			_, err := w.PubKeyHash(ctx, instance.SHA256, key.Public())
			return err
		},
		"SelfSignedCertificate": func() error {
			_, err := w.SelfSignedCertificate(ctx, key, instance.CertificateTemplate{})
			return err
		},
	}
	for name, op := range ops {
		err := op()
		if !errors.Is(err, instance.ErrUnsupported) {
			t.Errorf("%s error %v, want instance.ErrUnsupported", name, err)
			continue
		}
		if !strings.Contains(err.Error(), "gocrypto") {
			t.Errorf("%s error %q does not point to gocrypto", name, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
