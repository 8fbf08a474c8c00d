package ratstls_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/inclavare/inclavare/framework/dice"
	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/ratstls"
	"github.com/inclavare/inclavare/framework/ratstls/internal/testtee"
	"github.com/inclavare/inclavare/framework/registry"
)

// checkTEEPeer checks what a verified test TEE peer looks like, custom
// claims included.
func checkTEEPeer(t *testing.T, side string, p *ratstls.Peer, custom map[string][]byte) {
	t.Helper()
	if p == nil {
		t.Fatalf("%s: Peer() is nil after a verified handshake", side)
	}
	if !p.Attested || p.Format != dice.FormatDICE || p.EvidenceType != testtee.EvidenceType || p.Verifier != testtee.Name {
		t.Errorf("%s: peer is attested=%v format=%s type=%q verifier=%q; want true, dice, %q, %q",
			side, p.Attested, p.Format, p.EvidenceType, p.Verifier, testtee.EvidenceType, testtee.Name)
	}
	if p.Certificate == nil {
		t.Fatalf("%s: peer certificate missing", side)
	}
	// The claim the verifier vouches for is the report data bound to the
	// peer's own certificate (in exporter mode, to the evidence sent after
	// the handshake, which the certificate then does not carry).
	found, err := dice.Find(p.Certificate, 0)
	if err != nil {
		t.Fatalf("%s: the accepted certificate does not decode: %v", side, err)
	}
	if p.Freshness == ratstls.FreshnessExporter {
		if found.Format != dice.FormatNone {
			t.Errorf("%s: exporter mode, yet the certificate carries %s evidence", side, found.Format)
		}
		found.Evidence.Data, found.ReportData = p.Evidence, p.Evidence[:instance.ReportDataSize]
	}
	if got, want := p.Claims["report_data"], hex.EncodeToString(found.ReportData); got != want {
		t.Errorf("%s: report_data claim = %v, want %s", side, got, want)
	}
	if !bytes.Equal(p.Evidence, found.Evidence.Data) || len(p.Evidence) != testtee.EvidenceSize {
		t.Errorf("%s: Peer.Evidence has %d bytes, not the certificate's %d-byte evidence", side, len(p.Evidence), testtee.EvidenceSize)
	}
	if len(p.CustomClaims) != len(custom) {
		t.Errorf("%s: custom claims %q, want %q", side, p.CustomClaims, custom)
	}
	for k, v := range custom {
		if !bytes.Equal(p.CustomClaims[k], v) {
			t.Errorf("%s: custom claim %q = %q, want %q", side, k, p.CustomClaims[k], v)
		}
	}
}

func TestNullAttesterNullVerifier(t *testing.T) {
	noLeak(t)
	srv, cli := nullConfig(), nullConfig()
	cli.Verifier = instance.NullVerifierName
	closeConfig(t, srv, cli)
	s := startServer(t, srv)

	p, sp := s.good(t, cli)
	if p == nil || p.Attested || p.Format != dice.FormatNone || p.EvidenceType != instance.EvidenceTypeNull || p.Verifier != instance.NullVerifierName {
		t.Errorf("client Peer() = %+v; want unattested, format none, type null, verifier nullverifier", p)
	}
	if p != nil && p.Certificate == nil {
		t.Error("client Peer().Certificate is nil over TLS")
	}
	if sp != nil {
		t.Errorf("a server that does not require attestation has Peer() = %+v, want nil", sp)
	}
	if got := srv.Selected()[instance.KindAttester].Name; got != "nullattester" {
		t.Errorf("server attester = %q, want nullattester", got)
	}
}

func TestTEEAutomaticVerifier(t *testing.T) {
	noLeak(t)
	srv, cli := teeConfig(), teeConfig()
	srv.CustomClaims = map[string][]byte{"workload": []byte("db"), "version": {1, 2}}
	closeConfig(t, srv, cli)
	s := startServer(t, srv)

	p, sp := s.good(t, cli)
	checkTEEPeer(t, "client", p, srv.CustomClaims)
	if sp != nil {
		t.Errorf("server Peer() = %+v without Mutual, want nil", sp)
	}

	want := map[instance.Kind]ratstls.Selection{
		instance.KindAttester: {Name: testtee.Name, Type: testtee.EvidenceType, Source: testtee.Source},
		instance.KindTLS:      {Name: "gotls", Type: "tls1.3", Source: registry.SourceBuiltin},
		instance.KindCrypto:   {Name: "gocrypto", Type: "go", Source: registry.SourceBuiltin},
	}
	checkSelected(t, "server", srv.Selected(), want)
	delete(want, instance.KindAttester) // the client does not attest
	want[instance.KindVerifier] = ratstls.Selection{Name: testtee.Name, Type: testtee.EvidenceType, Source: testtee.Source}
	checkSelected(t, "client", cli.Selected(), want)
}

func checkSelected(t *testing.T, side string, got, want map[instance.Kind]ratstls.Selection) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s Selected() = %v, want %v", side, got, want)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s Selected()[%s] = %+v, want %+v", side, k, got[k], w)
		}
	}
}

func TestMutual(t *testing.T) {
	noLeak(t)
	srv, cli := teeConfig(), teeConfig()
	srv.Mutual, cli.Mutual = true, true
	srv.CustomClaims = map[string][]byte{"side": []byte("server")}
	cli.CustomClaims = map[string][]byte{"side": []byte("client")}
	closeConfig(t, srv, cli)
	s := startServer(t, srv)

	p, sp := s.good(t, cli)
	checkTEEPeer(t, "client", p, srv.CustomClaims)
	checkTEEPeer(t, "server", sp, cli.CustomClaims)
	if p != nil && sp != nil && bytes.Equal(p.Certificate.Raw, sp.Certificate.Raw) {
		t.Error("both sides saw the same certificate")
	}
	if got := cli.Selected()[instance.KindAttester].Name; got != testtee.Name {
		t.Errorf("a mutual client's attester = %q, want %q", got, testtee.Name)
	}
	if got := srv.Selected()[instance.KindVerifier].Name; got != testtee.Name {
		t.Errorf("a mutual server's verifier = %q, want %q", got, testtee.Name)
	}
}

func TestKeyAlgorithms(t *testing.T) {
	noLeak(t)
	for _, tc := range []struct {
		alg  instance.KeyAlgorithm
		want x509.PublicKeyAlgorithm
		ok   func(any) bool
	}{
		{instance.KeyECDSAP256, x509.ECDSA, func(k any) bool { return k.(*ecdsa.PublicKey).Curve.Params().BitSize == 256 }},
		{instance.KeyECDSAP384, x509.ECDSA, func(k any) bool { return k.(*ecdsa.PublicKey).Curve.Params().BitSize == 384 }},
		{instance.KeyRSA3072, x509.RSA, func(k any) bool { return k.(*rsa.PublicKey).N.BitLen() == 3072 }},
		{instance.KeyEd25519, x509.Ed25519, func(k any) bool { _, ok := k.(ed25519.PublicKey); return ok }},
	} {
		t.Run(string(tc.alg), func(t *testing.T) {
			srv, cli := teeConfig(), teeConfig()
			srv.Mutual, cli.Mutual = true, true
			srv.KeyAlgorithm, cli.KeyAlgorithm = tc.alg, tc.alg
			closeConfig(t, srv, cli)
			s := startServer(t, srv)
			p, sp := s.good(t, cli)
			checkTEEPeer(t, "client", p, nil)
			checkTEEPeer(t, "server", sp, nil)
			for side, peer := range map[string]*ratstls.Peer{"client": p, "server": sp} {
				if c := peer.Certificate; c.PublicKeyAlgorithm != tc.want || !tc.ok(c.PublicKey) {
					t.Errorf("%s: peer key is %s %T, want %s", side, c.PublicKeyAlgorithm, c.PublicKey, tc.alg)
				}
			}
		})
	}
}

func TestNullTLS(t *testing.T) {
	noLeak(t)
	plain := func() *ratstls.Config {
		c := nullConfig()
		c.TLS, c.Crypto = "nulltls", "nullcrypto"
		return c
	}
	srv, cli := plain(), plain()
	cli.Verifier = instance.NullVerifierName
	closeConfig(t, srv, cli)
	s := startServer(t, srv)

	c, err := dial(t, s.addr, cli)
	if err != nil {
		t.Fatalf("nulltls client: %v", err)
	}
	defer c.Close()
	echo(t, c, bytes.Repeat([]byte("clear text "), 1000))
	if r := s.result(t, c.LocalAddr().String()); r.err != nil {
		t.Fatalf("nulltls server: %v", r.err)
	}
	if v := c.Session().Version(); v != "none" {
		t.Errorf("nulltls session version %q, want none", v)
	}
	if p := c.Peer(); p == nil || p.Attested || p.Certificate != nil || p.Verifier != instance.NullVerifierName {
		t.Errorf("nulltls Peer() = %+v; want unattested without certificate", p)
	}
	if got := srv.Selected(); got[instance.KindTLS].Name != "nulltls" || got[instance.KindCrypto].Name != "nullcrypto" {
		t.Errorf("server Selected() = %v, want nulltls and nullcrypto", got)
	}

	// Without the null verifier named, plain TCP fails closed.
	closed := plain()
	closeConfig(t, closed)
	_, err = dial(t, s.addr, closed)
	wantErr(t, "nulltls client without a verifier", err, []error{ratstls.ErrNoEvidence}, "no certificate", instance.NullVerifierName)
}

func TestVerifyPeerCallback(t *testing.T) {
	noLeak(t)
	srv := teeConfig()
	closeConfig(t, srv)
	s := startServer(t, srv)

	var seen *ratstls.Peer
	accept := teeConfig()
	accept.VerifyPeer = func(ctx context.Context, p *ratstls.Peer) error {
		if _, ok := ctx.Deadline(); !ok {
			return errors.New("the callback runs without a deadline")
		}
		seen = p
		return nil
	}
	closeConfig(t, accept)
	p, _ := s.good(t, accept)
	if seen == nil || seen != p {
		t.Errorf("the accepting callback saw %p, Peer() is %p", seen, p)
	}
	checkTEEPeer(t, "callback", seen, nil)

	refuse := teeConfig()
	reason := errors.New("measurement is not on the allow list")
	refuse.VerifyPeer = func(_ context.Context, p *ratstls.Peer) error {
		if !p.Attested {
			return errors.New("the callback ran before verification")
		}
		return reason
	}
	closeConfig(t, refuse)
	_, err := dial(t, s.addr, refuse)
	wantErr(t, "refusing callback", err, []error{ratstls.ErrRefused, reason}, "verification callback", reason.Error())

	// The server keeps serving, and the refusing Config is not poisoned
	// for the next peer it likes: a plain accept after the refusal.
	s.good(t, accept)
}

func TestFailClosed(t *testing.T) {
	noLeak(t)
	nullSrv, teeSrv := nullConfig(), teeConfig()
	closeConfig(t, nullSrv, teeSrv)
	null, tee := startServer(t, nullSrv), startServer(t, teeSrv)

	for _, tc := range []struct {
		name    string
		server  *server
		client  func() *ratstls.Config
		targets []error
		texts   []string
	}{
		{
			name:    "no verifier named, null-attester server",
			server:  null,
			client:  nullConfig,
			targets: []error{ratstls.ErrNoEvidence},
			texts:   []string{"sent no evidence after the handshake", instance.NullVerifierName},
		},
		{
			name:    "test TEE verifier named, null-attester server",
			server:  null,
			client:  func() *ratstls.Config { c := teeConfig(); c.Verifier = testtee.Name; return c },
			targets: []error{ratstls.ErrNoEvidence},
			texts:   []string{"sent no evidence after the handshake"},
		},
		{
			name:    "null verifier named, attesting server",
			server:  tee,
			client:  func() *ratstls.Config { c := teeConfig(); c.Verifier = instance.NullVerifierName; return c },
			targets: []error{ratstls.ErrRefused},
			texts:   []string{`"nullverifier"`, `"sgx_la"`},
		},
		{
			name:    "no verifier for the evidence type",
			server:  tee,
			client:  nullConfig, // built-ins only: the sgx_la verifier's probe fails
			targets: []error{ratstls.ErrRefused, instance.ErrUnavailable},
			texts:   []string{`evidence type "sgx_la"`},
		},
		{
			name:    "named verifier that does not exist",
			server:  tee,
			client:  func() *ratstls.Config { c := teeConfig(); c.Verifier = "nosuchverifier"; return c },
			targets: []error{ratstls.ErrRefused, registry.ErrNotFound},
			texts:   []string{`"nosuchverifier"`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.client()
			closeConfig(t, cfg)
			c, err := dial(t, tc.server.addr, cfg)
			if err == nil {
				c.Close()
			}
			wantErr(t, "client", err, tc.targets, tc.texts...)
		})
	}

	// Both servers saw their clients go and still serve.
	good := nullConfig()
	good.Verifier = instance.NullVerifierName
	closeConfig(t, good)
	null.good(t, good)
	tee.good(t, teeConfig())
}

// A mutual server refuses a client that attests with the null attester
// unless it names the null verifier.
func TestMutualFailClosed(t *testing.T) {
	noLeak(t)
	srv := teeConfig()
	srv.Mutual = true
	closeConfig(t, srv)
	s := startServer(t, srv)

	cli := teeConfig()
	cli.Mutual, cli.Attester = true, "nullattester"
	closeConfig(t, cli)
	c, local, err := handshake(t, s.addr, cli)
	if err == nil {
		// TLS 1.3: the client finishes first and hears of the refusal
		// on its first read.
		_, err = c.Read(make([]byte, 1))
		c.Close()
	}
	if err == nil {
		t.Error("a null-attester client was accepted by a mutual server")
	}
	r := s.result(t, local)
	wantErr(t, "server", r.err, []error{ratstls.ErrNoEvidence}, "sent no evidence after the handshake")
	s.good(t, func() *ratstls.Config { c := teeConfig(); c.Mutual = true; closeConfig(t, c); return c }())

	// A mutual server that names the null verifier accepts it.
	open := teeConfig()
	open.Mutual, open.Verifier = true, instance.NullVerifierName
	closeConfig(t, open)
	_, sp := startServer(t, open).good(t, cli)
	if sp == nil || sp.Attested || sp.Verifier != instance.NullVerifierName {
		t.Errorf("server Peer() = %+v; want the unattested client", sp)
	}
}

func TestEcho(t *testing.T) {
	noLeak(t)
	srv, cli := teeConfig(), teeConfig()
	closeConfig(t, srv, cli)
	s := startServer(t, srv)
	c, err := dial(t, s.addr, cli)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, n := range []int{1, 100, 16 << 10, 1 << 20} {
		msg := make([]byte, n)
		for i := range msg {
			msg[i] = byte(i * 7)
		}
		echo(t, c, msg)
	}
	if v := c.Session().Version(); v != "TLS 1.3" {
		t.Errorf("session version %q, want TLS 1.3", v)
	}
}

func TestConcurrentClients(t *testing.T) {
	noLeak(t)
	srv, cli := teeConfig(), teeConfig()
	srv.Mutual, cli.Mutual = true, true
	closeConfig(t, srv, cli)
	s := startServer(t, srv)

	const n = 32
	var wg sync.WaitGroup
	errs := make(chan error, n)
	addrs := make(chan string, n)
	for i := range n {
		wg.Go(func() {
			c, err := dial(t, s.addr, cli)
			if err != nil {
				errs <- fmt.Errorf("client %d: %w", i, err)
				return
			}
			defer c.Close()
			addrs <- c.LocalAddr().String()
			msg := []byte(fmt.Sprintf("client %d", i))
			if _, err := c.Write(msg); err != nil {
				errs <- fmt.Errorf("client %d writing: %w", i, err)
				return
			}
			got := make([]byte, len(msg))
			if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
				errs <- fmt.Errorf("client %d: echo %q, %v", i, got, err)
				return
			}
			if p := c.Peer(); p == nil || !p.Attested {
				errs <- fmt.Errorf("client %d: peer %+v not attested", i, p)
			}
		})
	}
	wg.Wait()
	close(errs)
	close(addrs)
	for err := range errs {
		t.Error(err)
	}
	for a := range addrs {
		if r := s.result(t, a); r.err != nil || r.peer == nil || !r.peer.Attested {
			t.Errorf("server, client %s: peer %+v, %v", a, r.peer, r.err)
		}
	}
}

func TestConfigClose(t *testing.T) {
	noLeak(t)
	srv, cli := teeConfig(), teeConfig()
	closeConfig(t, cli)
	s := startServer(t, srv)

	c, err := dial(t, s.addr, cli)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	echo(t, c, []byte("before"))
	if err := srv.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := srv.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if got := srv.Selected(); len(got) != 0 {
		t.Errorf("Selected() after Close = %v, want nothing", got)
	}
	echo(t, c, []byte("established connections survive Close"))

	late, local, err := handshake(t, s.addr, cli)
	if err == nil {
		late.Close()
		t.Error("a handshake succeeded against a closed Config")
	}
	if r := s.result(t, local); !errors.Is(r.err, ratstls.ErrClosed) {
		t.Errorf("server handshake after Close: %v, want %v", r.err, ratstls.ErrClosed)
	}

	if err := cli.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = dial(t, s.addr, cli)
	wantErr(t, "client on a closed Config", err, []error{ratstls.ErrClosed})
	if err := cli.Init(context.Background(), instance.RoleClient); !errors.Is(err, ratstls.ErrClosed) {
		t.Errorf("Init after Close: %v, want %v", err, ratstls.ErrClosed)
	}
}

// Closing a Config while one of its handshakes waits for the peer's
// certificate fails that handshake with ErrClosed, rather than creating a
// verifier nobody will close (or panicking).
func TestConfigCloseDuringHandshake(t *testing.T) {
	noLeak(t)
	key := newKey(t)
	cert := makeCert(t, certSpec{key: key, exts: []pkix.Extension{goodExt(t, key)}})
	hello, release := make(chan struct{}), make(chan struct{})
	s := startTLSServer(t, &tls.Config{})
	s.hold = func() { close(hello); <-release }
	s.cert.Store(&cert)

	cli := teeConfig()
	errc := make(chan error, 1)
	go func() {
		c, err := dial(t, s.addr, cli)
		if err == nil {
			c.Close()
		}
		errc <- err
	}()
	select {
	case <-hello:
	case <-time.After(waitFor):
		t.Fatal("the client never sent its ClientHello")
	}
	if err := cli.Close(); err != nil {
		t.Fatal(err)
	}
	close(release)
	select {
	case err := <-errc:
		wantErr(t, "handshake across Close", err, []error{ratstls.ErrClosed})
	case <-time.After(waitFor):
		t.Fatal("the handshake never ended")
	}
	<-s.done
	if got := cli.Selected(); len(got) != 0 {
		t.Errorf("Selected() after Close = %v", got)
	}
}
