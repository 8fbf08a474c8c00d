package ratstls_test

import (
	"bytes"
	"context"
	"io"
	"net"
	"testing"

	"github.com/inclavare/inclavare/framework/dice"
	"github.com/inclavare/inclavare/framework/ratstls"
)

// A client given a nonce by a third party handshakes in nonce mode with
// it, whatever its Config says: the server's evidence carries that nonce.
func TestUseNonce(t *testing.T) {
	ctx := context.Background()
	srv := &ratstls.Config{Attester: "sev_snp_sim"}
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
			go func() { defer c.Close(); io.Copy(io.Discard, c) }()
		}
	}()
	cli := &ratstls.Config{AllowSimulated: true, Freshness: ratstls.FreshnessExporter}
	defer cli.Close()
	nonce := bytes.Repeat([]byte{0x5a}, ratstls.NonceSize)
	raw, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := ratstls.Client(raw, cli)
	defer c.Close()
	if err := c.UseNonce(nonce[:5]); err == nil {
		t.Fatal("a short nonce accepted")
	}
	if err := c.UseNonce(nonce); err != nil {
		t.Fatal(err)
	}
	if err := c.HandshakeContext(ctx); err != nil {
		t.Fatal(err)
	}
	if c.Freshness() != ratstls.FreshnessNonce {
		t.Fatalf("freshness %s, want nonce", c.Freshness())
	}
	found, err := dice.Find(c.Peer().Certificate, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(found.Claims.Custom[ratstls.ClaimNonce], nonce) {
		t.Fatalf("the server's evidence carries nonce %x, want %x", found.Claims.Custom[ratstls.ClaimNonce], nonce)
	}
	if err := c.UseNonce(nonce); err == nil {
		t.Fatal("UseNonce after the handshake accepted")
	}
	if err := ratstls.Server(raw, srv).UseNonce(nonce); err == nil {
		t.Fatal("UseNonce on a server accepted")
	}
}
