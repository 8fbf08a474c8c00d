package ratstls_test

import (
	"context"
	"crypto"
	"io"
	"sync/atomic"
	"testing"

	"github.com/inclavare/inclavare/cryptowrappers/gocrypto"
	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/ratstls"
	"github.com/inclavare/inclavare/framework/registry"
)

// losableKey is a key whose loss the test controls.
type losableKey struct {
	crypto.Signer
	lost *atomic.Bool
}

func (k losableKey) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	if k.lost.Load() {
		return nil, instance.ErrKeyLost
	}
	return k.Signer.Sign(r, d, o)
}

// A key the crypto wrapper lost fails the handshake under way, and the
// next handshake makes a new key and succeeds.
func TestKeyLostIsReplaced(t *testing.T) {
	ctx := context.Background()
	var made atomic.Int32
	var current *atomic.Bool
	reg := &registry.Registration{
		Descriptor: instance.Descriptor{Kind: instance.KindCrypto, Name: "losing", Type: "go", Priority: 1},
		New: func(context.Context, instance.Options) (instance.Instance, error) {
			return &losingWrapper{made: &made, current: &current}, nil
		},
	}
	cat := registry.NewCatalog(false, []*registry.Registration{reg}, quiet)
	srv := &ratstls.Config{Catalog: cat, Crypto: "losing", Attester: "nullattester", Freshness: ratstls.FreshnessNone, Logger: quiet}
	defer srv.Close()
	l, err := ratstls.Listen(ctx, "tcp", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); c.(*ratstls.Conn).HandshakeContext(ctx); io.Copy(io.Discard, c) }()
		}
	}()
	cli := &ratstls.Config{Verifier: instance.NullVerifierName, Freshness: ratstls.FreshnessNone, Logger: quiet}
	defer cli.Close()
	dial := func() error {
		c, err := ratstls.Dial(ctx, "tcp", l.Addr().String(), cli)
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := dial(); err != nil {
		t.Fatal(err)
	}
	current.Store(true) // the wrapper loses the key
	if err := dial(); err == nil {
		t.Fatal("a handshake signed with a lost key succeeded")
	}
	if err := dial(); err != nil {
		t.Fatalf("after the key was lost: %v", err)
	}
	if n := made.Load(); n != 2 {
		t.Fatalf("%d keys made, want 2", n)
	}
}

// losingWrapper hands out keys whose loss the test controls.
type losingWrapper struct {
	gocrypto.Wrapper
	made    *atomic.Int32
	current **atomic.Bool
}

func (w *losingWrapper) GenerateKey(ctx context.Context, alg instance.KeyAlgorithm) (crypto.Signer, error) {
	k, err := w.Wrapper.GenerateKey(ctx, alg)
	if err != nil {
		return nil, err
	}
	w.made.Add(1)
	lost := new(atomic.Bool)
	*w.current = lost
	return losableKey{k, lost}, nil
}

func (w *losingWrapper) SelfSignedCertificate(ctx context.Context, key crypto.Signer, t instance.CertificateTemplate) ([]byte, error) {
	k := key.(losableKey)
	if k.lost.Load() {
		return nil, instance.ErrKeyLost
	}
	return w.Wrapper.SelfSignedCertificate(ctx, k.Signer, t)
}
