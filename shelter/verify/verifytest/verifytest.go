// Package verifytest makes evidence-carrying certificates for tests of
// shelter's verification.
package verifytest

import (
	"context"
	"encoding/pem"
	"io"
	"testing"

	_ "github.com/inclavare/inclavare/framework/builtins"
	"github.com/inclavare/inclavare/framework/ratstls"
)

// PeerCertificate runs a Rats-TLS handshake (none mode) with a server
// attesting with attester and returns the server's leaf certificate as
// PEM: a certificate carrying evidence exactly as a peer presents it.
func PeerCertificate(t testing.TB, attester string) []byte {
	t.Helper()
	ctx := context.Background()
	srv := &ratstls.Config{Attester: attester, Freshness: ratstls.FreshnessNone}
	t.Cleanup(func() { srv.Close() })
	l, err := ratstls.Listen(ctx, "tcp", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { l.Close(); <-done })
	go func() {
		defer close(done)
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(io.Discard, c)
	}()
	cli := &ratstls.Config{AllowSimulated: true, Freshness: ratstls.FreshnessNone}
	t.Cleanup(func() { cli.Close() })
	c, err := ratstls.Dial(ctx, "tcp", l.Addr().String(), cli)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Peer().Certificate.Raw})
}
