package ratstls_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inclavare/inclavare/framework/dice"
	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/ratstls"
	"github.com/inclavare/inclavare/framework/ratstls/internal/testtee"
)

// maxEvidence is Config.MaxEvidenceSize on the verifying side of the
// bad-certificate tests: the test TEE's evidence extension is about 200
// bytes.
const maxEvidence = 4096

// badCert is a certificate wrong in one way, and what the side verifying it
// must say.
type badCert struct {
	name    string
	make    func(t *testing.T, key *ecdsa.PrivateKey) tls.Certificate
	targets []error
	texts   []string
}

// withExts is a self-signed certificate for key carrying exts.
func withExts(exts func(t *testing.T, key *ecdsa.PrivateKey) []pkix.Extension) func(*testing.T, *ecdsa.PrivateKey) tls.Certificate {
	return func(t *testing.T, key *ecdsa.PrivateKey) tls.Certificate {
		return makeCert(t, certSpec{key: key, exts: exts(t, key)})
	}
}

var unknownCritical = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}

func badCerts() []badCert {
	return []badCert{
		{
			name: "malformed evidence extension",
			make: withExts(func(*testing.T, *ecdsa.PrivateKey) []pkix.Extension {
				// 0xde is CBOR major type 6 with a reserved length.
				return []pkix.Extension{{Id: dice.OIDTaggedEvidence, Value: []byte{0xde, 0xad, 0xbe, 0xef}}}
			}),
			targets: []error{ratstls.ErrRefused, dice.ErrMalformed},
			texts:   []string{"not a tagged CBOR item"},
		},
		{
			name: "truncated evidence extension",
			make: withExts(func(t *testing.T, key *ecdsa.PrivateKey) []pkix.Extension {
				e := goodExt(t, key)
				e.Value = e.Value[:len(e.Value)/2]
				return []pkix.Extension{e}
			}),
			targets: []error{ratstls.ErrRefused, dice.ErrMalformed},
			texts:   []string{"not a tagged CBOR item", "unexpected EOF"},
		},
		{
			name: "empty evidence",
			make: withExts(func(t *testing.T, key *ecdsa.PrivateKey) []pkix.Extension {
				return []pkix.Extension{evidenceExt(t, nil, claimsFor(t, key.Public(), nil))}
			}),
			targets: []error{ratstls.ErrRefused, dice.ErrMalformed},
			texts:   []string{"empty evidence under tag 60002"},
		},
		{
			name: "pubkey-hash of another key",
			make: withExts(func(t *testing.T, _ *ecdsa.PrivateKey) []pkix.Extension {
				// Genuine evidence, over claims that bind someone else's key.
				claims := claimsFor(t, newKey(t).Public(), nil)
				return []pkix.Extension{evidenceExt(t, testtee.Evidence(dice.ReportData(claims)), claims)}
			}),
			targets: []error{ratstls.ErrRefused, dice.ErrKeyMismatch},
			texts:   []string{"sha-256 over the SubjectPublicKeyInfo"},
		},
		{
			name: "claims tampered after attestation",
			make: withExts(func(t *testing.T, key *ecdsa.PrivateKey) []pkix.Extension {
				attested := claimsFor(t, key.Public(), nil)
				tampered := claimsFor(t, key.Public(), map[string][]byte{"role": []byte("admin")})
				return []pkix.Extension{evidenceExt(t, testtee.Evidence(dice.ReportData(attested)), tampered)}
			}),
			targets: []error{ratstls.ErrRefused},
			texts:   []string{`verifier "testtee"`, "report data", "does not match the expected"},
		},
		{
			name: "evidence MAC flipped",
			make: withExts(func(t *testing.T, key *ecdsa.PrivateKey) []pkix.Extension {
				claims := claimsFor(t, key.Public(), nil)
				ev := testtee.Evidence(dice.ReportData(claims))
				ev[len(ev)-1] ^= 0x01
				return []pkix.Extension{evidenceExt(t, ev, claims)}
			}),
			targets: []error{ratstls.ErrRefused},
			texts:   []string{`verifier "testtee"`, "HMAC does not verify"},
		},
		{
			name: "unknown CBOR tag",
			make: withExts(func(t *testing.T, key *ecdsa.PrivateKey) []pkix.Extension {
				e := goodExt(t, key)
				// 60002 is encoded d9 ea 62: a tag with a 2-byte number.
				if !bytes.HasPrefix(e.Value, []byte{0xd9, 0xea, 0x62}) {
					t.Fatalf("tag 60002 encoded as % x", e.Value[:3])
				}
				e.Value[1], e.Value[2] = 0x10, 0x92 // tag 4242
				return []pkix.Extension{e}
			}),
			targets: []error{ratstls.ErrRefused, dice.ErrUnknownTag},
			texts:   []string{"4242"},
		},
		{
			name: "evidence type nobody here verifies",
			make: withExts(func(t *testing.T, key *ecdsa.PrivateKey) []pkix.Extension {
				claims := claimsFor(t, key.Public(), nil)
				// Hygon CSV: no usable verifier for it exists here.
				v, err := dice.EncodeEvidence(instance.Evidence{Type: "csv", Data: make([]byte, 64)}, claims)
				if err != nil {
					t.Fatal(err)
				}
				return []pkix.Extension{{Id: dice.OIDTaggedEvidence, Value: v}}
			}),
			targets: []error{ratstls.ErrRefused, instance.ErrUnavailable}, // the csv verifier's probe fails
			texts:   []string{`evidence type "csv"`},
		},
		{
			name: "oversized evidence",
			make: withExts(func(t *testing.T, key *ecdsa.PrivateKey) []pkix.Extension {
				claims := claimsFor(t, key.Public(), nil)
				ev := append(testtee.Evidence(dice.ReportData(claims)), make([]byte, 2*maxEvidence)...)
				return []pkix.Extension{evidenceExt(t, ev, claims)}
			}),
			targets: []error{ratstls.ErrRefused, dice.ErrTooLarge},
			texts:   []string{"the cap is 4096"},
		},
		{
			name:    "no evidence at all",
			make:    withExts(func(*testing.T, *ecdsa.PrivateKey) []pkix.Extension { return nil }),
			targets: []error{ratstls.ErrNoEvidence},
			texts:   []string{"no evidence extension"},
		},
		{
			name: "unknown critical extension",
			make: withExts(func(t *testing.T, key *ecdsa.PrivateKey) []pkix.Extension {
				return []pkix.Extension{goodExt(t, key), {Id: unknownCritical, Critical: true, Value: []byte{0x05, 0x00}}}
			}),
			targets: []error{ratstls.ErrBadCertificate},
			texts:   []string{"unknown critical extension 1.3.6.1.4.1.99999.1"},
		},
		{
			name: "expired",
			make: func(t *testing.T, key *ecdsa.PrivateKey) tls.Certificate {
				return makeCert(t, certSpec{key: key, exts: []pkix.Extension{goodExt(t, key)},
					notBefore: time.Now().Add(-48 * time.Hour), notAfter: time.Now().Add(-24 * time.Hour)})
			},
			targets: []error{ratstls.ErrBadCertificate},
			texts:   []string{"expired at"},
		},
		{
			name: "not yet valid",
			make: func(t *testing.T, key *ecdsa.PrivateKey) tls.Certificate {
				return makeCert(t, certSpec{key: key, exts: []pkix.Extension{goodExt(t, key)},
					notBefore: time.Now().Add(24 * time.Hour), notAfter: time.Now().Add(48 * time.Hour)})
			},
			targets: []error{ratstls.ErrBadCertificate},
			texts:   []string{"not valid before"},
		},
		{
			name: "signed by another key",
			make: func(t *testing.T, key *ecdsa.PrivateKey) tls.Certificate {
				return makeCert(t, certSpec{key: key, signer: newKey(t), exts: []pkix.Extension{goodExt(t, key)}})
			},
			targets: []error{ratstls.ErrBadCertificate},
			texts:   []string{"self-signature"},
		},
	}
}

// tlsServer is a crypto/tls TLS 1.3 server on a loopback port that presents
// whatever certificate cert holds, for a Rats-TLS client to refuse. It
// reports how each handshake ended on done.
type tlsServer struct {
	addr string
	cert atomic.Pointer[tls.Certificate]
	done chan error
	// hold, when set before the first connection, runs when a ClientHello
	// arrives, before the server answers.
	hold func()
}

func startTLSServer(t *testing.T, tc *tls.Config) *tlsServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &tlsServer{addr: l.Addr().String(), done: make(chan error, 16)}
	tc = tc.Clone()
	if tc.MinVersion == 0 {
		tc.MinVersion = tls.VersionTLS13
	}
	tc.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		if s.hold != nil {
			s.hold()
		}
		return s.cert.Load(), nil
	}
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			raw, err := l.Accept()
			if err != nil {
				return
			}
			func() {
				c := tls.Server(raw, tc)
				defer c.Close()
				c.SetDeadline(time.Now().Add(waitFor))
				err := c.Handshake()
				if err == nil {
					// The client may refuse after the server's last flight:
					// find out by reading.
					_, err = c.Read(make([]byte, 1))
				}
				s.done <- err
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-stopped
	})
	return s
}

// TestBadPeerCertificates presents each crafted certificate to a Rats-TLS
// client (from a crypto/tls server) and to a mutual Rats-TLS server (from a
// crypto/tls client). Each must fail the handshake saying why, and after
// each the same client Config and the same server still work.
func TestBadPeerCertificates(t *testing.T) {
	noLeak(t)
	verifying := func() *ratstls.Config { c := teeConfig(); c.MaxEvidenceSize = maxEvidence; return c }
	cli := verifying()
	mutualSrv := verifying()
	mutualSrv.Mutual = true
	goodCli := verifying()
	goodCli.Mutual = true
	goodSrvCfg := teeConfig()
	closeConfig(t, cli, mutualSrv, goodCli, goodSrvCfg)
	goodSrv := startServer(t, goodSrvCfg) // for cli to prove itself unharmed
	mutual := startServer(t, mutualSrv)   // the crafted clients' target
	bad := startTLSServer(t, &tls.Config{})

	// Crafted like the bad ones, but right: the harness is sound.
	cases := append([]badCert{{
		name: "crafted but correct",
		make: withExts(func(t *testing.T, key *ecdsa.PrivateKey) []pkix.Extension { return []pkix.Extension{goodExt(t, key)} }),
	}}, badCerts()...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cert := tc.make(t, newKey(t))
			ok := tc.targets == nil

			t.Run("server presents it", func(t *testing.T) {
				bad.cert.Store(&cert)
				c, err := dial(t, bad.addr, cli)
				if ok {
					if err != nil {
						t.Fatalf("client: %v", err)
					}
					checkTEEPeer(t, "client", c.Peer(), nil)
					c.Close()
				} else {
					wantErr(t, "client", err, tc.targets, tc.texts...)
				}
				select {
				case serr := <-bad.done:
					if !ok && serr == nil {
						t.Error("the crypto/tls server did not hear of the refusal")
					}
				case <-time.After(waitFor):
					t.Fatal("the crypto/tls server never finished")
				}
				goodSrv.good(t, cli)
			})

			t.Run("client presents it", func(t *testing.T) {
				raw, err := net.DialTimeout("tcp", mutual.addr, waitFor)
				if err != nil {
					t.Fatal(err)
				}
				defer raw.Close()
				raw.SetDeadline(time.Now().Add(waitFor))
				c := tls.Client(raw, &tls.Config{
					MinVersion:         tls.VersionTLS13,
					InsecureSkipVerify: true, // the Rats-TLS server's certificate is not what this tests
					Certificates:       []tls.Certificate{cert},
				})
				// TLS 1.3: the client's handshake ends before the server
				// has checked its certificate; the verdict comes as an
				// alert on the first read, or as the echo.
				cerr := c.Handshake()
				if cerr == nil {
					if _, cerr = c.Write([]byte{'x'}); cerr == nil {
						_, cerr = c.Read(make([]byte, 1))
					}
				}
				r := mutual.result(t, raw.LocalAddr().String())
				if ok {
					if cerr != nil || r.err != nil {
						t.Fatalf("client: %v; server: %v", cerr, r.err)
					}
					checkTEEPeer(t, "server", r.peer, nil)
				} else {
					wantErr(t, "server", r.err, tc.targets, tc.texts...)
					if cerr == nil {
						t.Error("the crypto/tls client was not told it was refused")
					}
				}
				mutual.good(t, goodCli)
			})
		})
	}
}

// TestBadClients sends a Rats-TLS server clients that are no TLS 1.3
// clients at all, or that stall; each fails saying why, the server keeps
// serving, and a stalled client costs no more than HandshakeTimeout.
func TestBadClients(t *testing.T) {
	noLeak(t)
	const timeout = 500 * time.Millisecond
	srvCfg, mutualCfg := teeConfig(), teeConfig()
	srvCfg.HandshakeTimeout, mutualCfg.HandshakeTimeout = timeout, timeout
	mutualCfg.Mutual = true
	cli, mutualCli := teeConfig(), teeConfig()
	mutualCli.Mutual = true
	closeConfig(t, srvCfg, mutualCfg, cli, mutualCli)
	s, mutual := startServer(t, srvCfg), startServer(t, mutualCfg)

	connect := func(t *testing.T, addr string) net.Conn {
		t.Helper()
		c, err := net.DialTimeout("tcp", addr, waitFor)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(waitFor))
		t.Cleanup(func() { c.Close() })
		return c
	}

	t.Run("TLS 1.2 only", func(t *testing.T) {
		raw := connect(t, s.addr)
		err := tls.Client(raw, &tls.Config{MaxVersion: tls.VersionTLS12, InsecureSkipVerify: true}).Handshake()
		wantErr(t, "TLS 1.2 client", err, nil, "protocol version not supported")
		r := s.result(t, raw.LocalAddr().String())
		wantErr(t, "server", r.err, nil, "client offered only unsupported versions")
		s.good(t, cli)
	})

	t.Run("garbage instead of a ClientHello", func(t *testing.T) {
		raw := connect(t, s.addr)
		if _, err := raw.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
			t.Fatal(err)
		}
		r := s.result(t, raw.LocalAddr().String())
		wantErr(t, "server", r.err, nil, "does not look like a TLS handshake")
		s.good(t, cli)
	})

	t.Run("stalls mid-handshake", func(t *testing.T) {
		raw := connect(t, s.addr)
		start := time.Now()
		// A handshake record header announcing 512 bytes, and 10 of them.
		if _, err := raw.Write(append([]byte{0x16, 0x03, 0x01, 0x02, 0x00}, make([]byte, 10)...)); err != nil {
			t.Fatal(err)
		}
		// While it stalls, others are served.
		s.good(t, cli)
		r := s.result(t, raw.LocalAddr().String())
		elapsed := time.Since(start)
		wantDeadline(t, "server", r.err)
		if elapsed > 5*time.Second || elapsed < timeout/2 {
			t.Errorf("a stalled handshake ended after %s; HandshakeTimeout is %s", elapsed, timeout)
		}
		if n, err := raw.Read(make([]byte, 1)); err == nil {
			t.Errorf("the server still talks to the stalled client (read %d bytes)", n)
		}
		s.good(t, cli)
	})

	t.Run("stalls before saying anything", func(t *testing.T) {
		raw := connect(t, s.addr)
		start := time.Now()
		r := s.result(t, raw.LocalAddr().String())
		if elapsed := time.Since(start); elapsed > 5*time.Second {
			t.Errorf("a silent client held the server %s; HandshakeTimeout is %s", elapsed, timeout)
		}
		wantDeadline(t, "server", r.err)
		s.good(t, cli)
	})

	t.Run("mutual server, client without certificate", func(t *testing.T) {
		// A crypto/tls client with no certificate.
		raw := connect(t, mutual.addr)
		c := tls.Client(raw, &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true})
		err := c.Handshake()
		if err == nil {
			_, err = c.Read(make([]byte, 1))
		}
		wantErr(t, "client", err, nil, "certificate required")
		r := mutual.result(t, raw.LocalAddr().String())
		wantErr(t, "server", r.err, nil, "didn't provide a certificate")
		mutual.good(t, mutualCli)

		// A Rats-TLS client that does not attest (Mutual false) presents
		// none either.
		rc, local, err := handshake(t, mutual.addr, cli)
		if err == nil {
			_, err = rc.Read(make([]byte, 1))
			rc.Close()
		}
		wantErr(t, "non-mutual Rats-TLS client", err, nil, "certificate required")
		r = mutual.result(t, local)
		wantErr(t, "server", r.err, nil, "didn't provide a certificate")
		mutual.good(t, mutualCli)
	})
}

// TestBadServers points a Rats-TLS client at servers that are no TLS 1.3
// servers, or that stall.
func TestBadServers(t *testing.T) {
	noLeak(t)
	const timeout = 500 * time.Millisecond
	cli := teeConfig()
	cli.HandshakeTimeout = timeout
	goodCfg := teeConfig()
	closeConfig(t, cli, goodCfg)
	good := startServer(t, goodCfg)

	// rawServer accepts one connection and hands it to serve.
	rawServer := func(t *testing.T, serve func(net.Conn)) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(waitFor))
			serve(c)
		}()
		t.Cleanup(func() { l.Close(); <-done })
		return l.Addr().String()
	}

	t.Run("TLS 1.2 only", func(t *testing.T) {
		key := newKey(t)
		s := startTLSServer(t, &tls.Config{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS12})
		cert := makeCert(t, certSpec{key: key, exts: []pkix.Extension{goodExt(t, key)}})
		s.cert.Store(&cert)
		_, err := dial(t, s.addr, cli)
		wantErr(t, "client", err, nil, "protocol version not supported")
		wantErr(t, "TLS 1.2 server", <-s.done, nil, "client offered only unsupported versions")
		good.good(t, cli)
	})

	t.Run("garbage instead of a ServerHello", func(t *testing.T) {
		addr := rawServer(t, func(c net.Conn) {
			io.ReadFull(c, make([]byte, 5))
			c.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
		})
		_, err := dial(t, addr, cli)
		wantErr(t, "client", err, nil, "rats-tls handshake as client: TLS 1.3")
		if err != nil && errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("garbage was taken for a stall: %v", err)
		}
		good.good(t, cli)
	})

	t.Run("stalls", func(t *testing.T) {
		release := make(chan struct{})
		addr := rawServer(t, func(c net.Conn) {
			io.ReadFull(c, make([]byte, 5)) // the ClientHello's header
			<-release
		})
		defer close(release)
		start := time.Now()
		_, err := ratstls.Dial(context.Background(), "tcp", addr, cli)
		elapsed := time.Since(start)
		wantDeadline(t, "client", err)
		if elapsed > 5*time.Second || elapsed < timeout/2 {
			t.Errorf("a stalled handshake ended after %s; HandshakeTimeout is %s", elapsed, timeout)
		}
		good.good(t, cli)
	})
}

// wantDeadline checks that a handshake error says it ran out of time.
func wantDeadline(t *testing.T, what string, err error) {
	t.Helper()
	wantErr(t, what, err, nil, "did not finish within 500ms")
	if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("%s: error %q wraps neither context.DeadlineExceeded nor os.ErrDeadlineExceeded", what, err)
	}
}

// TestCloseAbortsHandshake: closing a connection stops its handshake at
// once, as with crypto/tls, rather than after HandshakeTimeout; Peer and
// Session do not wait for the handshake either.
func TestCloseAbortsHandshake(t *testing.T) {
	noLeak(t)
	cfg := teeConfig()
	cfg.HandshakeTimeout = time.Minute
	closeConfig(t, cfg)
	if err := cfg.Init(context.Background(), instance.RoleServer); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	stalled, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	raw, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	c := ratstls.Server(raw, cfg)
	done := make(chan error, 1)
	go func() { done <- c.HandshakeContext(context.Background()) }()
	time.Sleep(50 * time.Millisecond) // let it block reading the ClientHello

	quick := func(what string, f func()) {
		t.Helper()
		ret := make(chan struct{})
		go func() { f(); close(ret) }()
		select {
		case <-ret:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s blocks while the handshake runs", what)
		}
	}
	quick("Peer", func() {
		if p := c.Peer(); p != nil {
			t.Errorf("Peer() = %+v during the handshake", p)
		}
	})
	quick("Session", func() { c.Session() })
	quick("Close", func() { c.Close() })
	select {
	case err := <-done:
		if err == nil {
			t.Error("the handshake succeeded over a closed connection")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the handshake")
	}
}
