package ratstls_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"github.com/fxamacker/cbor/v2"
	"io"
	"log/slog"
	"math/big"
	"net"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/inclavare/inclavare/framework/builtins"
	"github.com/inclavare/inclavare/framework/dice"
	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/ratstls"
	"github.com/inclavare/inclavare/framework/ratstls/internal/testtee"
)

// quiet drops the framework's logs; failures are asserted, not logged.
var quiet = slog.New(slog.DiscardHandler)

// waitFor bounds every wait in these tests, so a bug shows as a failure
// rather than a hung test binary.
const waitFor = 5 * time.Second

// teeConfig is a Config whose catalog holds the test TEE: it attests with
// it (its priority beats the null attester) and verifies sgx_la evidence
// with it, both chosen automatically.
func teeConfig() *ratstls.Config {
	return &ratstls.Config{Catalog: testtee.Catalog(quiet), Logger: quiet}
}

// nullConfig is a Config with only the built-ins: it attests with the null
// attester.
func nullConfig() *ratstls.Config {
	return &ratstls.Config{Logger: quiet}
}

// closeConfig closes cfg when the test ends.
func closeConfig(t testing.TB, cfgs ...*ratstls.Config) {
	t.Helper()
	for _, c := range cfgs {
		t.Cleanup(func() {
			if err := c.Close(); err != nil {
				t.Errorf("Config.Close: %v", err)
			}
		})
	}
}

// result is how a server-side handshake ended.
type result struct {
	peer *ratstls.Peer
	mode ratstls.Freshness // the server's Conn.Freshness()
	err  error
}

// server is a Rats-TLS server on a loopback port that echoes what each
// client sends after the handshake, and records how each handshake ended,
// by the client's address.
type server struct {
	cfg  *ratstls.Config
	l    net.Listener
	addr string

	mu      sync.Mutex
	cond    *sync.Cond
	results map[string]result
	conns   map[net.Conn]bool
	wg      sync.WaitGroup
}

func startServer(t testing.TB, cfg *ratstls.Config) *server {
	t.Helper()
	l, err := ratstls.Listen(context.Background(), "tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatalf("Listen: %v", err)
	}
	s := &server{cfg: cfg, l: l, addr: l.Addr().String(), results: map[string]result{}, conns: map[net.Conn]bool{}}
	s.cond = sync.NewCond(&s.mu)
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.stop)
	return s
}

func (s *server) serve() {
	defer s.wg.Done()
	for {
		c, err := s.l.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns[c] = true
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer func() {
				c.Close()
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
			}()
			rc := c.(*ratstls.Conn)
			err := rc.HandshakeContext(context.Background())
			s.mu.Lock()
			s.results[c.RemoteAddr().String()] = result{rc.Peer(), rc.Freshness(), err}
			s.cond.Broadcast()
			s.mu.Unlock()
			if err == nil {
				io.Copy(rc, rc)
			}
		}()
	}
}

// result waits for the handshake of the client at addr to end.
func (s *server) result(t testing.TB, addr string) result {
	t.Helper()
	timer := time.AfterFunc(waitFor, func() {
		s.mu.Lock()
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	defer timer.Stop()
	deadline := time.Now().Add(waitFor)
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if r, ok := s.results[addr]; ok {
			delete(s.results, addr)
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server never finished the handshake with %s", addr)
		}
		s.cond.Wait()
	}
}

// stop closes the listener and every connection, and waits for the
// server's goroutines.
func (s *server) stop() {
	s.l.Close()
	s.mu.Lock()
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// dial is ratstls.Dial to s, bounded by waitFor.
func dial(t testing.TB, addr string, cfg *ratstls.Config) (*ratstls.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	return ratstls.Dial(ctx, "tcp", addr, cfg)
}

// handshake runs a client handshake with cfg over a new connection to
// addr and returns the client's address whatever happens, so that the
// server's side of a failed handshake can be looked up. On failure the
// connection is closed.
func handshake(t testing.TB, addr string, cfg *ratstls.Config) (*ratstls.Conn, string, error) {
	t.Helper()
	raw, err := net.DialTimeout("tcp", addr, waitFor)
	if err != nil {
		t.Fatalf("dialing %s: %v", addr, err)
	}
	c := ratstls.Client(raw, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := c.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, raw.LocalAddr().String(), err
	}
	return c, raw.LocalAddr().String(), nil
}

// echo checks that what is written through c comes back unchanged.
func echo(t testing.TB, c net.Conn, msg []byte) {
	t.Helper()
	c.SetDeadline(time.Now().Add(waitFor))
	defer c.SetDeadline(time.Time{})
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(msg)
		errc <- err
	}()
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("reading the echo: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("writing: %v", err)
	}
	if !bytes.Equal(got, msg) {
		t.Fatalf("echo of %d bytes came back different", len(msg))
	}
}

// good is one client that must succeed against s: it dials with cfg,
// echoes, and returns what both sides learnt of each other.
func (s *server) good(t testing.TB, cfg *ratstls.Config) (client, server *ratstls.Peer) {
	t.Helper()
	c, err := dial(t, s.addr, cfg)
	if err != nil {
		t.Fatalf("a good client failed: %v", err)
	}
	defer c.Close()
	echo(t, c, []byte("ping"))
	r := s.result(t, c.LocalAddr().String())
	if r.err != nil {
		t.Fatalf("the server refused a good client: %v", r.err)
	}
	return c.Peer(), r.peer
}

// wantErr checks that err wraps every one of targets and mentions every
// one of texts.
func wantErr(t testing.TB, what string, err error, targets []error, texts ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error; want one wrapping %v mentioning %q", what, targets, texts)
		return
	}
	for _, target := range targets {
		if !errors.Is(err, target) {
			t.Errorf("%s: error %q does not wrap %q", what, err, target)
		}
	}
	for _, s := range texts {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("%s: error %q does not mention %q", what, err, s)
		}
	}
	t.Logf("%s: %v", what, err)
}

// noLeak fails the test if, once every cleanup registered after it has
// run, more goroutines are left than when it was called. Call it first.
func noLeak(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(3 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= before {
				return
			}
			if time.Now().After(deadline) {
				var b strings.Builder
				pprof.Lookup("goroutine").WriteTo(&b, 1)
				t.Errorf("%d goroutines before, %d after:\n%s", before, n, b.String())
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// newKey makes an ECDSA P-256 key.
func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// certSpec describes a crafted certificate.
type certSpec struct {
	key       crypto.Signer // in the certificate, and used for TLS
	signer    crypto.Signer // signs it; nil means key (self-signed)
	notBefore time.Time
	notAfter  time.Time
	exts      []pkix.Extension
}

// makeCert issues a certificate from spec with x509.CreateCertificate.
func makeCert(t testing.TB, spec certSpec) tls.Certificate {
	t.Helper()
	if spec.signer == nil {
		spec.signer = spec.key
	}
	if spec.notBefore.IsZero() {
		spec.notBefore = time.Now().Add(-time.Hour)
	}
	if spec.notAfter.IsZero() {
		spec.notAfter = time.Now().Add(time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber:    big.NewInt(1),
		Subject:         pkix.Name{CommonName: "crafted"},
		NotBefore:       spec.notBefore,
		NotAfter:        spec.notAfter,
		ExtraExtensions: spec.exts,
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtKeyUsage:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, spec.key.Public(), spec.signer)
	if err != nil {
		t.Fatalf("crafting a certificate: %v", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: spec.key}
}

// claimsFor encodes claims binding pub, as the framework does.
func claimsFor(t testing.TB, pub crypto.PublicKey, custom map[string][]byte) []byte {
	t.Helper()
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(spki)
	b, err := dice.EncodeClaims(dice.Claims{PubKeyHash: dice.PubKeyHash{Alg: instance.SHA256, Hash: h[:]}, Custom: custom})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// evidenceExt is the tagged evidence extension holding evidence and claims.
func evidenceExt(t testing.TB, evidence, claims []byte) pkix.Extension {
	t.Helper()
	if len(evidence) == 0 {
		// dice.EncodeEvidence refuses to write this; a hostile peer would.
		v, err := cbor.Marshal(cbor.Tag{Number: dice.TagSGXLegacyReport, Content: [][]byte{{}, claims}})
		if err != nil {
			t.Fatal(err)
		}
		return pkix.Extension{Id: dice.OIDTaggedEvidence, Value: v}
	}
	v, err := dice.EncodeEvidence(instance.Evidence{Type: testtee.EvidenceType, Data: evidence}, claims)
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: dice.OIDTaggedEvidence, Value: v}
}

// goodExt is the evidence extension the test TEE would make for key.
func goodExt(t testing.TB, key crypto.Signer) pkix.Extension {
	t.Helper()
	claims := claimsFor(t, key.Public(), nil)
	return evidenceExt(t, testtee.Evidence(dice.ReportData(claims)), claims)
}
