package tlsengine_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/tlsengine"
)

// waitFor bounds every wait, so that a bug shows as a failure rather than a
// hung test binary.
const waitFor = 5 * time.Second

var tls13 = instance.TLSProfile{Protocol: instance.ProtocolTLS13}

// cert is a self-signed ECDSA certificate, as a crypto wrapper issues.
type cert struct {
	der []byte
	key crypto.Signer
}

var certs = sync.OnceValue(func() [2]cert {
	var out [2]cert
	for i, cn := range []string{"server", "client"} {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(int64(i + 1)),
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    time.Date(2024, time.January, 1, 0, 0, 0, 0, time.UTC),
			NotAfter:     time.Date(2124, time.January, 1, 0, 0, 0, 0, time.UTC),
			KeyUsage:     x509.KeyUsageDigitalSignature,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
		if err != nil {
			panic(err)
		}
		out[i] = cert{der, key}
	}
	return out
})

// peerCheck records the chains VerifyPeer is called with.
type peerCheck struct {
	mu    sync.Mutex
	calls [][][]byte
	err   error
}

func (p *peerCheck) verify(ps instance.PeerState) error {
	raw := ps.Certificates
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, raw)
	return p.err
}

func (p *peerCheck) chains() [][][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls
}

func serverConfig(check *peerCheck, mutual bool) *instance.TLSConfig {
	c := certs()[0]
	return &instance.TLSConfig{
		Role:        instance.RoleServer,
		Certificate: [][]byte{c.der},
		Key:         c.key,
		Mutual:      mutual,
		NextProtos:  []string{"rats", "h2"},
		VerifyPeer:  check.verify,
	}
}

func clientConfig(check *peerCheck, withCert bool) *instance.TLSConfig {
	cfg := &instance.TLSConfig{
		Role:       instance.RoleClient,
		ServerName: "server",
		NextProtos: []string{"rats"},
		VerifyPeer: check.verify,
	}
	if withCert {
		c := certs()[1]
		cfg.Certificate, cfg.Key = [][]byte{c.der}, c.key
	}
	return cfg
}

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	client, err = net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.FailNow()
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

type outcome struct {
	s   instance.Session
	err error
}

// negotiate runs both sides with profile p and returns their outcomes.
func negotiate(t *testing.T, ccfg, scfg *instance.TLSConfig, p instance.TLSProfile) (client, server outcome) {
	t.Helper()
	cc, sc := tcpPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	done := make(chan outcome, 1)
	go func() {
		s, err := tlsengine.Negotiate(ctx, sc, scfg, p)
		if err != nil {
			sc.Close() // the caller owns the conn; unblock the client
		}
		done <- outcome{s, err}
	}()
	s, err := tlsengine.Negotiate(ctx, cc, ccfg, p)
	if err != nil {
		cc.Close()
	}
	client = outcome{s, err}
	server = <-done
	for _, o := range []outcome{client, server} {
		if o.s != nil {
			t.Cleanup(func() { o.s.Close() })
		}
	}
	return client, server
}

// connectionState reaches the crypto/tls state behind a TLS session.
func connectionState(t *testing.T, s instance.Session) tls.ConnectionState {
	t.Helper()
	cs, ok := s.(interface{ ConnectionState() tls.ConnectionState })
	if !ok {
		t.Fatalf("session %T has no ConnectionState", s)
	}
	return cs.ConnectionState()
}

func TestNegotiateMutual(t *testing.T) {
	var cchk, schk peerCheck
	c, s := negotiate(t, clientConfig(&cchk, true), serverConfig(&schk, true), tls13)
	if c.err != nil || s.err != nil {
		t.Fatalf("Negotiate: client %v, server %v", c.err, s.err)
	}
	sc, cc := certs()[0], certs()[1]
	for _, tc := range []struct {
		side  string
		check *peerCheck
		sess  instance.Session
		peer  []byte
	}{
		{"client", &cchk, c.s, sc.der},
		{"server", &schk, s.s, cc.der},
	} {
		calls := tc.check.chains()
		if len(calls) != 1 || len(calls[0]) != 1 || !bytes.Equal(calls[0][0], tc.peer) {
			t.Errorf("%s: VerifyPeer calls %d, want one with the peer's certificate", tc.side, len(calls))
		}
		if got := tc.sess.PeerCertificates(); len(got) != 1 || !bytes.Equal(got[0], tc.peer) {
			t.Errorf("%s: PeerCertificates is not the peer's certificate", tc.side)
		}
		if v := tc.sess.Version(); v != "TLS 1.3" {
			t.Errorf("%s: Version = %q, want TLS 1.3", tc.side, v)
		}
		if p := tc.sess.NegotiatedProtocol(); p != "rats" {
			t.Errorf("%s: NegotiatedProtocol = %q, want rats", tc.side, p)
		}
		st := connectionState(t, tc.sess)
		if st.DidResume {
			t.Errorf("%s: resumed a session", tc.side)
		}
		if st.CurveID != tls.X25519MLKEM768 {
			t.Errorf("%s: key exchange %v, want X25519MLKEM768 by default", tc.side, st.CurveID)
		}
	}

	ekmC, err := c.s.ExportKeyingMaterial("EXPORTER-rats-tls", []byte("ctx"), 32)
	if err != nil {
		t.Fatalf("client ExportKeyingMaterial: %v", err)
	}
	ekmS, err := s.s.ExportKeyingMaterial("EXPORTER-rats-tls", []byte("ctx"), 32)
	if err != nil {
		t.Fatalf("server ExportKeyingMaterial: %v", err)
	}
	if len(ekmC) != 32 || !bytes.Equal(ekmC, ekmS) {
		t.Errorf("keying material differs: client %x, server %x", ekmC, ekmS)
	}
	other, _ := c.s.ExportKeyingMaterial("EXPORTER-other", []byte("ctx"), 32)
	if bytes.Equal(other, ekmC) {
		t.Error("keying material does not depend on the label")
	}

	// Records flow both ways.
	go func() { c.s.Write([]byte("ping")) }()
	buf := make([]byte, 4)
	s.s.SetReadDeadline(time.Now().Add(waitFor))
	if _, err := io.ReadFull(s.s, buf); err != nil || string(buf) != "ping" {
		t.Errorf("server read %q, %v; want ping", buf, err)
	}
}

func TestNegotiateServerOnly(t *testing.T) {
	var cchk, schk peerCheck
	c, s := negotiate(t, clientConfig(&cchk, false), serverConfig(&schk, false), tls13)
	if c.err != nil || s.err != nil {
		t.Fatalf("Negotiate: client %v, server %v", c.err, s.err)
	}
	if n := len(cchk.chains()); n != 1 {
		t.Errorf("client VerifyPeer called %d times, want 1", n)
	}
	if got := s.s.PeerCertificates(); len(got) != 0 {
		t.Errorf("server saw %d client certificates, want none", len(got))
	}
}

func TestMutualServerRequiresClientCertificate(t *testing.T) {
	var cchk, schk peerCheck
	_, s := negotiate(t, clientConfig(&cchk, false), serverConfig(&schk, true), tls13)
	if s.err == nil {
		t.Fatal("a mutual server accepted a client without a certificate")
	}
}

func TestVerifyPeerRefusal(t *testing.T) {
	refused := errors.New("evidence refused")
	for _, side := range []string{"client", "server"} {
		t.Run(side, func(t *testing.T) {
			cchk, schk := &peerCheck{}, &peerCheck{}
			if side == "client" {
				cchk.err = refused
			} else {
				schk.err = refused
			}
			c, s := negotiate(t, clientConfig(cchk, true), serverConfig(schk, true), tls13)
			got := c.err
			if side == "server" {
				got = s.err
			}
			if !errors.Is(got, refused) {
				t.Errorf("%s error %v, want the VerifyPeer error", side, got)
			}
			if c.err == nil && s.err == nil {
				t.Error("both sides completed the handshake")
			}
		})
	}
}

// TestNegotiateFailureLeavesConnOpen checks the TLSWrapper contract: on a
// failed handshake the caller still owns, and closes, the connection.
func TestNegotiateFailureLeavesConnOpen(t *testing.T) {
	cc, sc := tcpPair(t)
	go func() {
		// A peer that speaks something else entirely.
		sc.Write([]byte("SSH-2.0-OpenSSH_9.6\r\n"))
	}()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	var chk peerCheck
	if _, err := tlsengine.Negotiate(ctx, cc, clientConfig(&chk, false), tls13); err == nil {
		t.Fatal("handshake with a non-TLS peer succeeded")
	}
	if err := cc.Close(); err != nil {
		t.Errorf("closing the conn after a failed handshake: %v (Negotiate closed it)", err)
	}
}

// plainTLS12 returns a crypto/tls config that speaks at most TLS 1.2.
func plainTLS12(role instance.Role) *tls.Config {
	c := &tls.Config{MaxVersion: tls.VersionTLS12, InsecureSkipVerify: true}
	if role == instance.RoleServer {
		sc := certs()[0]
		c.Certificates = []tls.Certificate{{Certificate: [][]byte{sc.der}, PrivateKey: sc.key}}
	}
	return c
}

func TestTLS12PeerRefused(t *testing.T) {
	for _, role := range []instance.Role{instance.RoleClient, instance.RoleServer} {
		t.Run("engine "+role.String(), func(t *testing.T) {
			cc, sc := tcpPair(t)
			mine, theirs := cc, sc
			cfg := clientConfig(&peerCheck{}, false)
			if role == instance.RoleServer {
				mine, theirs = sc, cc
				cfg = serverConfig(&peerCheck{}, false)
			}
			peerErr := make(chan error, 1)
			go func() {
				var pc *tls.Conn
				if role == instance.RoleServer {
					pc = tls.Client(theirs, plainTLS12(instance.RoleClient))
				} else {
					pc = tls.Server(theirs, plainTLS12(instance.RoleServer))
				}
				err := pc.Handshake()
				theirs.Close()
				peerErr <- err
			}()
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			_, err := tlsengine.Negotiate(ctx, mine, cfg, tls13)
			mine.Close()
			if err == nil {
				t.Error("the engine completed a handshake with a TLS 1.2-only peer")
			}
			if err := <-peerErr; err == nil {
				t.Error("the TLS 1.2-only peer completed its handshake")
			}
		})
	}
}

func TestNoResumption(t *testing.T) {
	tc, err := tlsengine.Config(serverConfig(&peerCheck{}, false), tls13)
	if err != nil {
		t.Fatal(err)
	}
	if !tc.SessionTicketsDisabled || tc.ClientSessionCache != nil {
		t.Errorf("Config: SessionTicketsDisabled %v, ClientSessionCache %v; want no resumption", tc.SessionTicketsDisabled, tc.ClientSessionCache)
	}
	if tc.MinVersion != tls.VersionTLS13 || tc.MaxVersion != tls.VersionTLS13 {
		t.Errorf("Config versions %#x..%#x, want TLS 1.3 only", tc.MinVersion, tc.MaxVersion)
	}

	// A crypto/tls client that would resume does not get to.
	cache := tls.NewLRUClientSessionCache(4)
	var schk peerCheck
	for i := range 2 {
		cc, sc := tcpPair(t)
		done := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			s, err := tlsengine.Negotiate(ctx, sc, serverConfig(&schk, false), tls13)
			if err == nil {
				// Echo a byte: the client reads any ticket sent before it.
				b := make([]byte, 1)
				io.ReadFull(s, b)
				s.Write(b)
				s.Close()
			}
			done <- err
		}()
		c := tls.Client(cc, &tls.Config{InsecureSkipVerify: true, ClientSessionCache: cache, ServerName: "server"})
		c.SetDeadline(time.Now().Add(waitFor))
		if err := c.Handshake(); err != nil {
			t.Fatalf("handshake %d: %v", i, err)
		}
		c.Write([]byte("x"))
		if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
			t.Fatalf("reading the echo %d: %v", i, err)
		}
		if c.ConnectionState().DidResume {
			t.Errorf("handshake %d resumed a session", i)
		}
		c.Close()
		if err := <-done; err != nil {
			t.Fatalf("server %d: %v", i, err)
		}
	}

	// An engine client against a crypto/tls server that issues tickets
	// verifies the server's certificate on every handshake.
	var cchk peerCheck
	sc0 := certs()[0]
	srvCfg := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{sc0.der}, PrivateKey: sc0.key}}}
	for i := range 2 {
		cc, sc := tcpPair(t)
		go func() {
			s := tls.Server(sc, srvCfg)
			if s.Handshake() == nil {
				s.Write([]byte("x")) // tickets go out with the first write
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		s, err := tlsengine.Negotiate(ctx, cc, clientConfig(&cchk, false), tls13)
		cancel()
		if err != nil {
			t.Fatalf("handshake %d: %v", i, err)
		}
		io.ReadFull(s, make([]byte, 1))
		if connectionState(t, s).DidResume {
			t.Errorf("engine client resumed on handshake %d", i)
		}
		s.Close()
	}
	if n := len(cchk.chains()); n != 2 {
		t.Errorf("engine client checked the server %d times in 2 handshakes", n)
	}
}

func TestConfigRefusals(t *testing.T) {
	var chk peerCheck
	noVerify := clientConfig(&chk, false)
	noVerify.VerifyPeer = nil
	noKey := serverConfig(&chk, false)
	noKey.Key = nil

	tests := map[string]struct {
		cfg     *instance.TLSConfig
		profile instance.TLSProfile
		wantErr string
	}{
		"unknown protocol": {
			cfg:     clientConfig(&chk, false),
			profile: instance.TLSProfile{Protocol: "tls1.2"},
			wantErr: `"tls1.2"`,
		},
		"TLS 1.2 cipher suite": {
			cfg:     clientConfig(&chk, false),
			profile: instance.TLSProfile{Protocol: instance.ProtocolTLS13, CipherSuites: []uint16{tls.TLS_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}},
			wantErr: "0xc02b",
		},
		"missing VerifyPeer": {
			cfg:     noVerify,
			profile: tls13,
			wantErr: "VerifyPeer",
		},
		"certificate without key": {
			cfg:     noKey,
			profile: tls13,
			wantErr: "no key",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cc, sc := net.Pipe()
			defer cc.Close()
			defer sc.Close()
			ctx, cancel := context.WithTimeout(context.Background(), waitFor)
			defer cancel()
			// Nothing reads the other end: a refusal must come before any
			// byte is written.
			s, err := tlsengine.Negotiate(ctx, cc, tc.cfg, tc.profile)
			if err == nil {
				s.Close()
				t.Fatal("Negotiate succeeded")
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Negotiate error %q does not mention %s", err, tc.wantErr)
			}
		})
	}
}

func TestConfigProfile(t *testing.T) {
	var chk peerCheck
	tc, err := tlsengine.Config(clientConfig(&chk, false), instance.TLSProfile{
		Protocol:     instance.ProtocolTLS13,
		CipherSuites: []uint16{tls.TLS_AES_128_GCM_SHA256, tls.TLS_AES_256_GCM_SHA384, tls.TLS_CHACHA20_POLY1305_SHA256},
	})
	if err != nil {
		t.Fatalf("Config with the TLS 1.3 suites: %v", err)
	}
	if len(tc.CurvePreferences) == 0 || tc.CurvePreferences[0] != tls.X25519MLKEM768 {
		t.Errorf("default curves %v, want X25519MLKEM768 first", tc.CurvePreferences)
	}
	if tc.ClientAuth != tls.NoClientCert {
		t.Errorf("client config has ClientAuth %v", tc.ClientAuth)
	}
	mutual, err := tlsengine.Config(serverConfig(&chk, true), tls13)
	if err != nil {
		t.Fatal(err)
	}
	if mutual.ClientAuth != tls.RequireAnyClientCert {
		t.Errorf("mutual server ClientAuth %v, want RequireAnyClientCert", mutual.ClientAuth)
	}
	// The empty protocol means TLS 1.3.
	if _, err := tlsengine.Config(clientConfig(&chk, false), instance.TLSProfile{}); err != nil {
		t.Errorf("Config with an empty profile: %v", err)
	}
}

func TestCurvePreference(t *testing.T) {
	p := instance.TLSProfile{Protocol: instance.ProtocolTLS13, CurvePreferences: []uint16{uint16(tls.X25519)}}
	var cchk, schk peerCheck
	c, s := negotiate(t, clientConfig(&cchk, false), serverConfig(&schk, false), p)
	if c.err != nil || s.err != nil {
		t.Fatalf("Negotiate: client %v, server %v", c.err, s.err)
	}
	if got := connectionState(t, c.s).CurveID; got != tls.X25519 {
		t.Errorf("key exchange %v, want X25519 as the profile asks", got)
	}
	// An empty profile negotiates the hybrid key exchange.
	c, s = negotiate(t, clientConfig(&cchk, false), serverConfig(&schk, false), instance.TLSProfile{})
	if c.err != nil || s.err != nil {
		t.Fatalf("Negotiate: client %v, server %v", c.err, s.err)
	}
	if got := connectionState(t, s.s).CurveID; got != tls.X25519MLKEM768 {
		t.Errorf("key exchange %v, want X25519MLKEM768", got)
	}
}

func TestProtocolNone(t *testing.T) {
	none := instance.TLSProfile{Protocol: instance.ProtocolNone}
	var cchk, schk peerCheck
	c, s := negotiate(t, clientConfig(&cchk, false), serverConfig(&schk, true), none)
	if c.err != nil || s.err != nil {
		t.Fatalf("Negotiate: client %v, server %v", c.err, s.err)
	}
	for side, chk := range map[string]*peerCheck{"client": &cchk, "server": &schk} {
		calls := chk.chains()
		if len(calls) != 1 || calls[0] != nil {
			t.Errorf("%s: VerifyPeer calls %v, want one with nil", side, calls)
		}
	}
	for side, sess := range map[string]instance.Session{"client": c.s, "server": s.s} {
		if v := sess.Version(); v != "none" {
			t.Errorf("%s: Version = %q, want none", side, v)
		}
		if pc := sess.PeerCertificates(); pc != nil {
			t.Errorf("%s: PeerCertificates = %v, want none", side, pc)
		}
		if p := sess.NegotiatedProtocol(); p != "" {
			t.Errorf("%s: NegotiatedProtocol = %q, want none", side, p)
		}
		if _, err := sess.ExportKeyingMaterial("EXPORTER-rats-tls", nil, 32); !errors.Is(err, instance.ErrUnsupported) {
			t.Errorf("%s: ExportKeyingMaterial error %v, want instance.ErrUnsupported", side, err)
		}
	}
	// Bytes go through as they are.
	go func() { c.s.Write([]byte("clear")) }()
	buf := make([]byte, 5)
	s.s.SetReadDeadline(time.Now().Add(waitFor))
	if _, err := io.ReadFull(s.s, buf); err != nil || string(buf) != "clear" {
		t.Errorf("server read %q, %v", buf, err)
	}

	// A refusal from VerifyPeer is returned as is.
	refused := errors.New("no peers without evidence")
	cc, sc := net.Pipe()
	defer cc.Close()
	defer sc.Close()
	cfg := clientConfig(&peerCheck{err: refused}, false)
	if _, err := tlsengine.Negotiate(context.Background(), cc, cfg, none); !errors.Is(err, refused) {
		t.Errorf("Negotiate error %v, want the VerifyPeer error", err)
	}
}

// TestNegotiateHonoursContext checks that a peer that never answers does
// not hold Negotiate past ctx's deadline.
func TestNegotiateHonoursContext(t *testing.T) {
	for _, role := range []instance.Role{instance.RoleClient, instance.RoleServer} {
		t.Run(role.String(), func(t *testing.T) {
			cc, sc := tcpPair(t) // the far end is never read from or written to
			conn, cfg := cc, clientConfig(&peerCheck{}, false)
			if role == instance.RoleServer {
				conn, cfg = sc, serverConfig(&peerCheck{}, false)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			returned := make(chan struct{})
			go func() {
				select {
				case <-time.After(waitFor):
					conn.Close() // unblock a hung Negotiate
				case <-returned:
				}
			}()
			start := time.Now()
			_, err := tlsengine.Negotiate(ctx, conn, cfg, tls13)
			close(returned)
			elapsed := time.Since(start)
			if err == nil {
				t.Fatal("Negotiate succeeded with a silent peer")
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Negotiate error %v, want context.DeadlineExceeded", err)
			}
			if elapsed > 2*time.Second {
				t.Errorf("Negotiate returned after %v, with a 200ms deadline", elapsed)
			}
		})
	}
}

// TestNegotiateCancelLeavesConnOpen checks the TLSWrapper contract ("must
// not close conn on failure") when the failure is ctx ending. crypto/tls's
// HandshakeContext closes the conn to interrupt a blocked read, so today
// the conn is closed; honouring the contract needs conn deadlines (and
// context.AfterFunc) in place of HandshakeContext.
func TestNegotiateCancelLeavesConnOpen(t *testing.T) {
	t.Skip("known: Negotiate closes conn when ctx ends (crypto/tls HandshakeContext); see the TLSWrapper contract in framework/instance")
	cc, _ := tcpPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := tlsengine.Negotiate(ctx, cc, clientConfig(&peerCheck{}, false), tls13); err == nil {
		t.Fatal("Negotiate succeeded with a silent peer")
	}
	if err := cc.Close(); err != nil {
		t.Errorf("closing the conn after ctx ended: %v (Negotiate closed it)", err)
	}
}
