package server

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"encoding/json"
	"io"
	"testing"

	"github.com/inclavare/inclavare/framework/dice"
	"github.com/inclavare/inclavare/framework/ratstls"
	"github.com/inclavare/inclavare/inclavared/api"
)

// With a nonce in shelter's request, the workload is attested in nonce
// mode with that nonce, whatever inclavared's own freshness setting: the
// certificate shelter gets carries evidence over shelter's nonce.
func TestRequestWithNonce(t *testing.T) {
	noLeak(t)
	s := start(t, workload(t, "tcp", "127.0.0.1:0", echo), nil) // workload channel: auto (exporter)
	c := s.shelter(t)
	if _, err := io.WriteString(c, nonceLine+"ping\n"); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(c)
	line, err := r.ReadBytes('\n')
	if err != nil {
		t.Fatal(err)
	}
	var info api.EnclaveInfo
	if err := json.Unmarshal(line, &info); err != nil {
		t.Fatal(err)
	}
	if info.MsgType != api.MsgEnclaveInfo || info.Freshness != string(ratstls.FreshnessNonce) {
		t.Fatalf("answer %s %q, freshness %q; want ENCLAVEINFO in nonce mode", info.MsgType, info.Error, info.Freshness)
	}
	cert, err := x509.ParseCertificate(info.Certificate)
	if err != nil {
		t.Fatal(err)
	}
	found, err := dice.Find(cert, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(found.Claims.Custom[ratstls.ClaimNonce], testNonce[:]) {
		t.Fatalf("the workload's evidence carries nonce %x, want shelter's %x", found.Claims.Custom[ratstls.ClaimNonce], testNonce)
	}
	if echoed, err := r.ReadString('\n'); err != nil || echoed != "ping\n" {
		t.Fatalf("echo %q, %v", echoed, err)
	}
	halfClose(t, c)
	io.ReadAll(r)
}
