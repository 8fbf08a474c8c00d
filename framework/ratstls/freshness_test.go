package ratstls_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inclavare/inclavare/framework/dice"
	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/ratstls"
	"github.com/inclavare/inclavare/framework/ratstls/internal/testtee"
	"github.com/inclavare/inclavare/framework/registry"
)

// The wire constants of the freshness modes, spelt out here rather than
// taken from the package, so that a change to them fails these tests: a C
// or older Go peer would no longer understand this one.
const (
	markerNone     = "inclavare-ratstls/none"
	markerNonce    = "inclavare-ratstls/nonce"
	markerExporter = "inclavare-ratstls/exporter"
	noncePrefix    = "inclavare-ratstls-nonce/"
	exporterLabel  = "EXPORTER-inclavare-rats-tls-attestation"
)

const (
	auto     = ratstls.FreshnessAuto
	none     = ratstls.FreshnessNone
	nonce    = ratstls.FreshnessNonce
	exporter = ratstls.FreshnessExporter
)

// teeMode is a teeConfig in freshness mode f.
func teeMode(f ratstls.Freshness) *ratstls.Config {
	c := teeConfig()
	c.Freshness = f
	return c
}

// outcome is what both sides made of one connection.
type outcome struct {
	mode   ratstls.Freshness // the client's Conn.Freshness()
	peer   *ratstls.Peer     // the client's Conn.Peer()
	server result
}

// try runs one client with cfg against s. After a handshake the client
// echoes a few bytes, which also tells it whether the server (whose
// verdict on a client may come after the client's handshake ended)
// accepted it. Either way it returns the server's side too.
func (s *server) try(t *testing.T, cfg *ratstls.Config) (outcome, error) {
	t.Helper()
	c, local, err := handshake(t, s.addr, cfg)
	var o outcome
	if err == nil {
		o.mode, o.peer = c.Freshness(), c.Peer()
		err = roundTrip(c, []byte("ping"))
		c.Close()
	}
	o.server = s.result(t, local)
	return o, err
}

// roundTrip writes msg through c and reads it back.
func roundTrip(c net.Conn, msg []byte) error {
	c.SetDeadline(time.Now().Add(waitFor))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write(msg); err != nil {
		return err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if !bytes.Equal(got, msg) {
		return fmt.Errorf("echo %q, want %q", got, msg)
	}
	return nil
}

// wantMode checks the mode each side reports.
func wantMode(t *testing.T, o outcome, want ratstls.Freshness, mutual bool) {
	t.Helper()
	if o.mode != want || o.server.mode != want {
		t.Errorf("client Freshness() = %q, server Freshness() = %q; want %q", o.mode, o.server.mode, want)
	}
	if o.peer == nil || o.peer.Freshness != want {
		t.Errorf("client Peer() = %+v; want Freshness %q", o.peer, want)
	}
	switch {
	case mutual && (o.server.peer == nil || o.server.peer.Freshness != want):
		t.Errorf("mutual server Peer() = %+v; want Freshness %q", o.server.peer, want)
	case !mutual && o.server.peer != nil:
		t.Errorf("one-way server Peer() = %+v; want nil", o.server.peer)
	}
}

// TestFreshnessNegotiation runs Rats-TLS clients against Rats-TLS servers
// in every combination of modes, one-way and mutual: auto with auto is
// exporter, auto with an explicit mode is that mode, RequireFreshness
// bounds what auto settles for, and peers without a common mode fail with
// ErrFreshness while the server goes on serving.
func TestFreshnessNegotiation(t *testing.T) {
	noLeak(t)
	// The servers, by name; "nonce+" is auto requiring at least nonce.
	serverModes := map[string]func(*ratstls.Config){
		"auto":      func(c *ratstls.Config) {},
		"none":      func(c *ratstls.Config) { c.Freshness = none },
		"nonce":     func(c *ratstls.Config) { c.Freshness = nonce },
		"exporter":  func(c *ratstls.Config) { c.Freshness = exporter },
		"nonce+":    func(c *ratstls.Config) { c.RequireFreshness = nonce },
		"exporter+": func(c *ratstls.Config) { c.RequireFreshness = exporter },
	}
	clientModes := map[string]func(*ratstls.Config){}
	for k, v := range serverModes {
		clientModes[k] = v
	}
	clientModes[`""`] = func(c *ratstls.Config) { c.Freshness = "" } // the zero Config is auto
	clientModes["explicit auto"] = func(c *ratstls.Config) { c.Freshness, c.RequireFreshness = auto, none }

	type pair struct{ server, client string }
	agree := []struct {
		pair
		want ratstls.Freshness
	}{
		{pair{"auto", "auto"}, exporter},
		{pair{"auto", `""`}, exporter},
		{pair{"auto", "explicit auto"}, exporter},
		{pair{"none", "none"}, none},
		{pair{"nonce", "nonce"}, nonce},
		{pair{"exporter", "exporter"}, exporter},
		{pair{"auto", "none"}, none},
		{pair{"auto", "nonce"}, nonce},
		{pair{"auto", "exporter"}, exporter},
		{pair{"none", "auto"}, none},
		{pair{"nonce", "auto"}, nonce},
		{pair{"exporter", "auto"}, exporter},
		{pair{"nonce+", "auto"}, exporter},
		{pair{"nonce+", "nonce"}, nonce},
		{pair{"exporter+", "auto"}, exporter},
		{pair{"auto", "nonce+"}, exporter},
		{pair{"nonce", "nonce+"}, nonce},
		{pair{"exporter", "exporter+"}, exporter},
		{pair{"nonce+", "exporter+"}, exporter},
	}
	disagree := []struct {
		pair
		reason string
	}{
		{pair{"none", "exporter"}, "no common mode: the client accepts [exporter], this side [none]"},
		{pair{"exporter", "none"}, "no common mode: the client accepts [none], this side [exporter]"},
		{pair{"none", "nonce"}, "no common mode: the client accepts [nonce], this side [none]"},
		{pair{"nonce", "none"}, "no common mode: the client accepts [none], this side [nonce]"},
		{pair{"nonce", "exporter"}, "no common mode: the client accepts [exporter], this side [nonce]"},
		{pair{"exporter", "nonce"}, "no common mode: the client accepts [nonce], this side [exporter]"},
		{pair{"nonce+", "none"}, "no common mode: the client accepts [none], this side [exporter nonce]"},
		{pair{"exporter+", "nonce"}, "no common mode: the client accepts [nonce], this side [exporter]"},
		{pair{"none", "nonce+"}, "no common mode: the client accepts [exporter nonce], this side [none]"},
		{pair{"nonce", "exporter+"}, "no common mode: the client accepts [exporter], this side [nonce]"},
	}

	for _, mutual := range []bool{false, true} {
		t.Run(map[bool]string{false: "one-way", true: "mutual"}[mutual], func(t *testing.T) {
			client := func(t *testing.T, name string) *ratstls.Config {
				c := teeConfig()
				clientModes[name](c)
				c.Mutual = mutual
				c.CustomClaims = map[string][]byte{"side": []byte("client")}
				closeConfig(t, c)
				return c
			}
			servers := map[string]*server{}
			for name, set := range serverModes {
				c := teeConfig()
				set(c)
				c.Mutual = mutual
				c.CustomClaims = map[string][]byte{"side": []byte("server")}
				closeConfig(t, c)
				servers[name] = startServer(t, c)
			}
			goodCli := client(t, "auto")

			for _, tc := range agree {
				t.Run(tc.server+" server, "+tc.client+" client", func(t *testing.T) {
					s := servers[tc.server]
					cli := client(t, tc.client)
					var evidence, certs [][]byte
					for range 2 {
						o, err := s.try(t, cli)
						if err != nil || o.server.err != nil {
							t.Fatalf("client: %v; server: %v", err, o.server.err)
						}
						wantMode(t, o, tc.want, mutual)
						checkTEEPeer(t, "client", o.peer, s.cfg.CustomClaims)
						if mutual {
							checkTEEPeer(t, "server", o.server.peer, cli.CustomClaims)
						}
						evidence = append(evidence, o.peer.Evidence)
						certs = append(certs, o.peer.Certificate.Raw)
					}
					// Evidence is reused in none mode only; the certificate
					// changes per session in nonce mode only (exporter
					// mode's carries no evidence).
					if same := bytes.Equal(evidence[0], evidence[1]); same != (tc.want == none) {
						t.Errorf("%s mode: two sessions saw the same evidence: %v", tc.want, same)
					}
					if same := bytes.Equal(certs[0], certs[1]); same != (tc.want != nonce) {
						t.Errorf("%s mode: two sessions saw the same certificate: %v", tc.want, same)
					}
				})
			}

			for _, tc := range disagree {
				t.Run(tc.server+" server, "+tc.client+" client", func(t *testing.T) {
					s := servers[tc.server]
					o, err := s.try(t, client(t, tc.client))
					wantErr(t, "server", o.server.err, []error{ratstls.ErrFreshness}, tc.reason)
					// The client learns from the no_application_protocol
					// alert that no mode it offered is accepted.
					wantErr(t, "client", err, []error{ratstls.ErrFreshness}, "accepts none of the freshness modes offered", "no application protocol")
					s.good(t, goodCli)
				})
			}
		})
	}

	t.Run("bad mode names", func(t *testing.T) {
		s := autoServer(t)
		for _, tc := range []struct {
			name   string
			set    func(*ratstls.Config)
			reason string
		}{
			{"Freshness", func(c *ratstls.Config) { c.Freshness = "fresh" }, `freshness "fresh": want auto, none, nonce or exporter`},
			{"RequireFreshness", func(c *ratstls.Config) { c.RequireFreshness = "strong" }, `required freshness "strong": want auto, none, nonce or exporter`},
		} {
			cli := teeConfig()
			tc.set(cli)
			closeConfig(t, cli)
			_, err := dial(t, s.addr, cli)
			wantErr(t, "client with a bad "+tc.name, err, nil, tc.reason)

			srv := teeConfig()
			tc.set(srv)
			closeConfig(t, srv)
			l, err := ratstls.Listen(context.Background(), "tcp", "127.0.0.1:0", srv)
			if err == nil {
				l.Close()
			}
			wantErr(t, "Listen with a bad "+tc.name, err, nil, tc.reason)
		}
		s.good(t, teeConfig())
	})
}

// autoServer starts a test TEE server in auto mode.
func autoServer(t *testing.T) *server {
	c := teeConfig()
	closeConfig(t, c)
	return startServer(t, c)
}

// TestFreshnessMutualClientOneWayServer: a client ready to attest itself
// (Mutual) against a server that does not ask it to, in every mode, is not
// attested, and sends nothing the server's application would read.
func TestFreshnessMutualClientOneWayServer(t *testing.T) {
	noLeak(t)
	for _, m := range []ratstls.Freshness{none, nonce, exporter} {
		t.Run(string(m), func(t *testing.T) {
			srv, cli := teeMode(m), teeMode(m)
			cli.Mutual = true
			closeConfig(t, srv, cli)
			s := startServer(t, srv)
			o, err := s.try(t, cli)
			if err != nil || o.server.err != nil {
				t.Fatalf("client: %v; server: %v", err, o.server.err)
			}
			wantMode(t, o, m, false)
			checkTEEPeer(t, "client", o.peer, nil)
		})
	}
}

// TestFreshnessLegacyPeers puts a Rats-TLS endpoint against a stand-in for
// the C Rats-TLS: crypto/tls without ALPN, presenting none-mode evidence.
// Auto settles for none only if RequireFreshness allows it; an endpoint
// that requires more refuses the downgrade.
func TestFreshnessLegacyPeers(t *testing.T) {
	noLeak(t)
	t.Run("legacy server", func(t *testing.T) {
		key := newKey(t)
		cert := makeCert(t, certSpec{key: key, exts: []pkix.Extension{goodExt(t, key)}})
		legacy := startTLSServer(t, &tls.Config{})
		legacy.cert.Store(&cert)
		goodCli := teeConfig()
		closeConfig(t, goodCli)

		accept := func(t *testing.T, cli *ratstls.Config) {
			t.Helper()
			c, err := dial(t, legacy.addr, cli)
			if err != nil {
				t.Fatalf("client: %v", err)
			}
			if c.Freshness() != none || c.Peer().Freshness != none {
				t.Errorf("Freshness() = %q, Peer().Freshness = %q; want none", c.Freshness(), c.Peer().Freshness)
			}
			checkTEEPeer(t, "client", c.Peer(), nil)
			if p := c.Session().NegotiatedProtocol(); p != "" {
				t.Errorf("negotiated %q with a server without ALPN", p)
			}
			c.Close()
			<-legacy.done
		}
		for _, tc := range []struct {
			name   string
			set    func(*ratstls.Config)
			reason string // "" when accepted
		}{
			{"auto", func(*ratstls.Config) {}, ""},
			{"auto requiring none", func(c *ratstls.Config) { c.RequireFreshness = none }, ""},
			{"none", func(c *ratstls.Config) { c.Freshness = none }, ""},
			{"exporter", func(c *ratstls.Config) { c.Freshness = exporter }, "this side requires exporter"},
			{"nonce", func(c *ratstls.Config) { c.Freshness = nonce }, "this side requires nonce"},
			{"auto requiring nonce", func(c *ratstls.Config) { c.RequireFreshness = nonce }, "this side requires nonce"},
			{"auto requiring exporter", func(c *ratstls.Config) { c.RequireFreshness = exporter }, "this side requires exporter"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				cli := teeConfig()
				tc.set(cli)
				closeConfig(t, cli)
				if tc.reason == "" {
					accept(t, cli)
					return
				}
				_, err := dial(t, legacy.addr, cli)
				wantErr(t, "client", err, []error{ratstls.ErrFreshness}, "the server does not negotiate freshness", tc.reason)
				if serr := <-legacy.done; serr == nil {
					t.Error("the legacy server did not hear of the refusal")
				}
				accept(t, goodCli)
			})
		}
	})

	t.Run("legacy client", func(t *testing.T) {
		key := newKey(t)
		cert := makeCert(t, certSpec{key: key, exts: []pkix.Extension{goodExt(t, key)}})
		// legacyClient is crypto/tls without ALPN, presenting cert if asked.
		legacyClient := func(t *testing.T, addr string) (*tls.ConnectionState, string, error) {
			t.Helper()
			raw, err := net.DialTimeout("tcp", addr, waitFor)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			c := tls.Client(raw, &tls.Config{MinVersion: tls.VersionTLS13, InsecureSkipVerify: true, Certificates: []tls.Certificate{cert}})
			err = c.Handshake()
			if err == nil {
				err = roundTrip(c, []byte("ping"))
			}
			cs := c.ConnectionState()
			return &cs, raw.LocalAddr().String(), err
		}
		for _, tc := range []struct {
			name   string
			set    func(*ratstls.Config)
			reason string
		}{
			{"auto", func(*ratstls.Config) {}, ""},
			{"mutual auto", func(c *ratstls.Config) { c.Mutual = true }, ""},
			{"none", func(c *ratstls.Config) { c.Freshness = none }, ""},
			{"exporter", func(c *ratstls.Config) { c.Freshness = exporter }, "this side requires exporter"},
			{"auto requiring exporter", func(c *ratstls.Config) { c.RequireFreshness = exporter }, "this side requires exporter"},
			{"mutual auto requiring nonce", func(c *ratstls.Config) { c.Mutual, c.RequireFreshness = true, nonce }, "this side requires nonce"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				srv := teeConfig()
				tc.set(srv)
				closeConfig(t, srv)
				s := startServer(t, srv)
				cs, local, err := legacyClient(t, s.addr)
				r := s.result(t, local)
				if tc.reason != "" {
					wantErr(t, "server", r.err, []error{ratstls.ErrFreshness}, "the client does not negotiate freshness", tc.reason)
					if err == nil {
						t.Error("the legacy client was not told it was refused")
					}
				} else {
					if err != nil || r.err != nil {
						t.Fatalf("client: %v; server: %v", err, r.err)
					}
					if r.mode != none {
						t.Errorf("server Freshness() = %q, want none", r.mode)
					}
					if srv.Mutual {
						if r.peer == nil || r.peer.Freshness != none {
							t.Fatalf("server Peer() = %+v, want Freshness none", r.peer)
						}
						checkTEEPeer(t, "server", r.peer, nil)
					}
					// What the legacy client got is none-mode evidence
					// over the server's key, with no freshness claim.
					found, err := dice.Find(cs.PeerCertificates[0], 0)
					if err != nil || found.Format != dice.FormatDICE {
						t.Fatalf("the server's certificate: %+v, %v", found, err)
					}
					for _, k := range []string{ratstls.ClaimNonce, ratstls.ClaimExporter} {
						if _, ok := found.Claims.Custom[k]; ok {
							t.Errorf("none-mode evidence carries a %q claim", k)
						}
					}
				}
				good := teeConfig()
				good.Mutual = srv.Mutual
				closeConfig(t, good)
				s.good(t, good)
			})
		}
	})
}

// selfSigned is a certificate for key carrying exts; unlike makeCert it
// may run outside the test's goroutine.
func selfSigned(key crypto.Signer, exts ...pkix.Extension) (tls.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:    serial,
		Subject:         pkix.Name{CommonName: "crafted"},
		NotBefore:       time.Now().Add(-time.Hour),
		NotAfter:        time.Now().Add(time.Hour),
		ExtraExtensions: exts,
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtKeyUsage:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// teeEvidence is the tagged evidence value the test TEE makes over claims
// binding pub and custom, as a certificate extension or an exporter-mode
// message carries it.
func teeEvidence(pub crypto.PublicKey, custom map[string][]byte) ([]byte, error) {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	h := instance.SHA256.CryptoHash().New()
	h.Write(spki)
	claims, err := dice.EncodeClaims(dice.Claims{PubKeyHash: dice.PubKeyHash{Alg: instance.SHA256, Hash: h.Sum(nil)}, Custom: custom})
	if err != nil {
		return nil, err
	}
	return dice.EncodeEvidence(instance.Evidence{Type: testtee.EvidenceType, Data: testtee.Evidence(dice.ReportData(claims))}, claims)
}

// teeCert is a certificate for key with test TEE evidence over custom
// claims: none mode's when custom is nil, nonce mode's with a nonce claim.
func teeCert(key crypto.Signer, custom map[string][]byte) (tls.Certificate, error) {
	ev, err := teeEvidence(key.Public(), custom)
	if err != nil {
		return tls.Certificate{}, err
	}
	return selfSigned(key, pkix.Extension{Id: dice.OIDTaggedEvidence, Value: ev})
}

// header is the 4-byte big-endian length that precedes an n-byte
// exporter-mode message.
func header(n int) []byte {
	return binary.BigEndian.AppendUint32(nil, uint32(n))
}

// exporterFrame is what an exporter-mode attester holding key sends on c,
// header included: test TEE evidence over claims binding key, custom and,
// unless drop, c's exporter value.
func exporterFrame(c *tls.Conn, key crypto.Signer, custom map[string][]byte, drop bool) ([]byte, error) {
	claims := map[string][]byte{}
	for k, v := range custom {
		claims[k] = v
	}
	if !drop {
		cs := c.ConnectionState()
		ekm, err := cs.ExportKeyingMaterial(exporterLabel, nil, 32)
		if err != nil {
			return nil, err
		}
		claims[ratstls.ClaimExporter] = ekm
	}
	ev, err := teeEvidence(key.Public(), claims)
	if err != nil {
		return nil, err
	}
	msg, err := dice.EncodeMessage(ev, nil)
	if err != nil {
		return nil, err
	}
	return append(header(len(msg)), msg...), nil
}

// readFrame reads one length-prefixed message.
func readFrame(r io.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	msg := make([]byte, binary.BigEndian.Uint32(hdr[:]))
	_, err := io.ReadFull(r, msg)
	return msg, err
}

// clientNonce is the nonce a Rats-TLS client offers in its ALPN list.
func clientNonce(protos []string) []byte {
	for _, p := range protos {
		if h, ok := strings.CutPrefix(p, noncePrefix); ok {
			n, _ := hex.DecodeString(h)
			return n
		}
	}
	return nil
}

// serverRequest is a Rats-TLS server's request among the acceptable CA
// names of its certificate request: the mode and, in nonce mode, nonce.
func serverRequest(names [][]byte) (mode string, nonce []byte, err error) {
	for _, der := range names {
		var rdn pkix.RDNSequence
		if _, err := asn1.Unmarshal(der, &rdn); err != nil {
			continue
		}
		var n pkix.Name
		n.FillFromRDNSequence(&rdn)
		if n.CommonName == "inclavare-ratstls" && len(n.OrganizationalUnit) == 1 {
			nonce, err := hex.DecodeString(n.SerialNumber)
			return n.OrganizationalUnit[0], nonce, err
		}
	}
	return "", nil, fmt.Errorf("no Rats-TLS request among %d acceptable CA names", len(names))
}

// craftedServer is a crypto/tls TLS 1.3 server on a loopback port standing
// in for a peer that gets freshness wrong on purpose: choose picks its
// configuration (certificate and ALPN choice) for each ClientHello, and
// after, when not nil, runs once the handshake is done.
type craftedServer struct {
	addr string
}

func startCrafted(t *testing.T, choose func(*tls.ClientHelloInfo) (*tls.Config, error), after func(*tls.Conn) error) *craftedServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := &tls.Config{MinVersion: tls.VersionTLS13, GetConfigForClient: choose}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns = map[net.Conn]bool{}
	)
	wg.Go(func() {
		for {
			raw, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns[raw] = true
			mu.Unlock()
			wg.Go(func() {
				defer func() {
					raw.Close()
					mu.Lock()
					delete(conns, raw)
					mu.Unlock()
				}()
				raw.SetDeadline(time.Now().Add(waitFor))
				c := tls.Server(raw, base)
				err := c.Handshake()
				if err == nil && after != nil {
					err = after(c)
				}
				if err == nil {
					// Hold the connection until the client is done with it.
					io.Copy(io.Discard, c)
				}
			})
		}
	})
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return &craftedServer{addr: l.Addr().String()}
}

// selecting is a server configuration that presents cert and selects the
// ALPN protocol proto.
func selecting(proto string, cert tls.Certificate) *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS13, NextProtos: []string{proto}, Certificates: []tls.Certificate{cert}}
}

// craftedClient is a crypto/tls TLS 1.3 client that offers protos to the
// Rats-TLS server at addr, answers its certificate request with cert, runs
// after (when not nil) once its handshake is done, and then echoes a byte
// to learn the server's verdict. It returns its local address, for
// server.result.
func craftedClient(t *testing.T, addr string, protos []string, cert func(*tls.CertificateRequestInfo) (*tls.Certificate, error), after func(*tls.Conn) error) (string, error) {
	t.Helper()
	raw, err := net.DialTimeout("tcp", addr, waitFor)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(waitFor))
	c := tls.Client(raw, &tls.Config{
		MinVersion:           tls.VersionTLS13,
		InsecureSkipVerify:   true, // the server's evidence is not what these tests are about
		NextProtos:           protos,
		GetClientCertificate: cert,
	})
	err = c.Handshake()
	if err == nil && after != nil {
		err = after(c)
	}
	if err == nil {
		err = roundTrip(c, []byte{'x'})
	}
	return raw.LocalAddr().String(), err
}

// TestNonceReplay: in nonce mode, evidence must carry the nonce the
// verifier sent in this handshake. Crafted peers holding a genuine test
// TEE attester omit it, use another, or replay a certificate from an
// earlier connection; each is refused with ErrFreshness.
func TestNonceReplay(t *testing.T) {
	noLeak(t)
	badNonces := []struct {
		name   string
		claims func(nonce, previous []byte) map[string][]byte // previous: the nonce of the last good connection
		reason string
	}{
		{"no nonce claim", func(_, _ []byte) map[string][]byte { return nil },
			`nonce mode, but the evidence carries no "nonce" claim`},
		{"empty nonce", func(_, _ []byte) map[string][]byte { return map[string][]byte{ratstls.ClaimNonce: {}} },
			`the evidence's "nonce" claim is not this session's (replayed evidence?)`},
		{"random nonce", func(_, _ []byte) map[string][]byte {
			n := make([]byte, 32)
			rand.Read(n)
			return map[string][]byte{ratstls.ClaimNonce: n}
		}, `the evidence's "nonce" claim is not this session's (replayed evidence?)`},
		{"nonce in the wrong claim", func(n, _ []byte) map[string][]byte { return map[string][]byte{"nonce ": n} },
			`nonce mode, but the evidence carries no "nonce" claim`},
		{"previous connection's nonce", func(_, prev []byte) map[string][]byte { return map[string][]byte{ratstls.ClaimNonce: prev} },
			`the evidence's "nonce" claim is not this session's (replayed evidence?)`},
	}

	t.Run("server attests", func(t *testing.T) {
		key := newKey(t)
		// What the next connection gets, and the last good certificate.
		var (
			mu        sync.Mutex
			behave    func(nonce []byte) (tls.Certificate, error)
			lastGood  tls.Certificate
			lastNonce []byte
		)
		correct := func(n []byte) (tls.Certificate, error) {
			c, err := teeCert(key, map[string][]byte{ratstls.ClaimNonce: n})
			lastGood, lastNonce = c, n
			return c, err
		}
		set := func(f func([]byte) (tls.Certificate, error)) { mu.Lock(); behave = f; mu.Unlock() }
		s := startCrafted(t, func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			mu.Lock()
			defer mu.Unlock()
			n := clientNonce(h.SupportedProtos)
			if n == nil {
				return nil, errors.New("the client sent no nonce")
			}
			cert, err := behave(n)
			if err != nil {
				return nil, err
			}
			return selecting(markerNonce, cert), nil
		}, nil)
		cli, autoCli := teeMode(nonce), teeConfig()
		closeConfig(t, cli, autoCli)
		good := func(t *testing.T, cfg *ratstls.Config) *ratstls.Peer {
			t.Helper()
			set(correct)
			c, err := dial(t, s.addr, cfg)
			if err != nil {
				t.Fatalf("a correct nonce-mode server was refused: %v", err)
			}
			defer c.Close()
			if c.Freshness() != nonce {
				t.Errorf("Freshness() = %q, want nonce", c.Freshness())
			}
			checkTEEPeer(t, "client", c.Peer(), nil)
			return c.Peer()
		}
		good(t, cli)
		good(t, autoCli) // auto takes the server's choice of nonce

		for _, tc := range badNonces {
			t.Run(tc.name, func(t *testing.T) {
				good(t, cli)
				mu.Lock()
				prev := lastNonce
				mu.Unlock()
				set(func(n []byte) (tls.Certificate, error) { return teeCert(key, tc.claims(n, prev)) })
				_, err := dial(t, s.addr, cli)
				wantErr(t, "client", err, []error{ratstls.ErrFreshness}, tc.reason)
				good(t, cli)
			})
		}

		t.Run("previous connection's certificate", func(t *testing.T) {
			first := good(t, cli)
			mu.Lock()
			replay := lastGood
			mu.Unlock()
			set(func([]byte) (tls.Certificate, error) { return replay, nil })
			for _, cfg := range []*ratstls.Config{cli, autoCli} {
				_, err := dial(t, s.addr, cfg)
				wantErr(t, "client", err, []error{ratstls.ErrFreshness}, `the evidence's "nonce" claim is not this session's (replayed evidence?)`)
			}
			// The same bytes that were accepted a moment ago.
			if !bytes.Equal(replay.Certificate[0], first.Certificate.Raw) {
				t.Error("the replayed certificate is not the one the first connection accepted")
			}
			good(t, cli)
		})
	})

	t.Run("client attests", func(t *testing.T) {
		srv := teeMode(nonce)
		srv.Mutual = true
		goodCli := teeConfig()
		goodCli.Mutual = true
		closeConfig(t, srv, goodCli)
		s := startServer(t, srv)
		key := newKey(t)
		offer := func() []string {
			n := make([]byte, 32)
			rand.Read(n)
			return []string{markerNonce, noncePrefix + hex.EncodeToString(n)}
		}
		var lastGood *tls.Certificate
		var lastNonce []byte
		// attest answers the server's request with evidence over claims.
		attest := func(claims func(n []byte) map[string][]byte) func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return func(req *tls.CertificateRequestInfo) (*tls.Certificate, error) {
				mode, n, err := serverRequest(req.AcceptableCAs)
				if err != nil {
					return nil, err
				}
				if mode != "nonce" || len(n) != 32 {
					return nil, fmt.Errorf("the server asks for %q evidence over %x", mode, n)
				}
				cert, err := teeCert(key, claims(n))
				return &cert, err
			}
		}
		good := func(t *testing.T) {
			t.Helper()
			var n []byte
			local, err := craftedClient(t, s.addr, offer(), attest(func(sn []byte) map[string][]byte {
				n = sn
				return map[string][]byte{ratstls.ClaimNonce: sn, "who": []byte("crafted")}
			}), nil)
			r := s.result(t, local)
			if err != nil || r.err != nil {
				t.Fatalf("a correct nonce-mode client: %v; server: %v", err, r.err)
			}
			if r.mode != nonce || r.peer == nil || r.peer.Freshness != nonce {
				t.Errorf("server Freshness() = %q, Peer() = %+v; want nonce", r.mode, r.peer)
			}
			checkTEEPeer(t, "server", r.peer, map[string][]byte{"who": []byte("crafted")})
			lastNonce = n
			lastGood = &tls.Certificate{Certificate: [][]byte{r.peer.Certificate.Raw}, PrivateKey: key}
			s.good(t, goodCli)
		}
		good(t)

		for _, tc := range badNonces {
			t.Run(tc.name, func(t *testing.T) {
				good(t)
				prev := lastNonce
				local, err := craftedClient(t, s.addr, offer(), attest(func(n []byte) map[string][]byte { return tc.claims(n, prev) }), nil)
				wantErr(t, "server", s.result(t, local).err, []error{ratstls.ErrFreshness}, tc.reason)
				if err == nil {
					t.Error("the crafted client was not told it was refused")
				}
				s.good(t, goodCli)
			})
		}

		t.Run("previous connection's certificate", func(t *testing.T) {
			good(t)
			replay := lastGood
			local, err := craftedClient(t, s.addr, offer(), func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return replay, nil }, nil)
			wantErr(t, "server", s.result(t, local).err, []error{ratstls.ErrFreshness}, `the evidence's "nonce" claim is not this session's (replayed evidence?)`)
			if err == nil {
				t.Error("the crafted client was not told it was refused")
			}
			s.good(t, goodCli)
		})

		t.Run("bad offers", func(t *testing.T) {
			for _, tc := range []struct {
				name   string
				protos []string
				reason string
			}{
				{"nonce mode without a nonce", []string{markerNonce}, "the client offers nonce mode but sent no nonce"},
				{"nonce not hex", []string{markerNonce, noncePrefix + strings.Repeat("zz", 32)}, "the client's nonce is not 32 hex-encoded bytes"},
				{"nonce too short", []string{markerNonce, noncePrefix + "00"}, "the client's nonce is not 32 hex-encoded bytes"},
			} {
				local, err := craftedClient(t, s.addr, tc.protos, attest(func(n []byte) map[string][]byte { return map[string][]byte{ratstls.ClaimNonce: n} }), nil)
				wantErr(t, tc.name+": server", s.result(t, local).err, []error{ratstls.ErrFreshness}, tc.reason)
				if err == nil {
					t.Errorf("%s: the crafted client was not refused", tc.name)
				}
			}
			s.good(t, goodCli)
		})
	})
}

// TestExporterReplay: in exporter mode the evidence sent after the
// handshake must carry this session's exporter value. A crafted peer
// sends a correct message on one connection and replays its exact bytes
// on the next; that, a message without the claim, and broken frames are
// refused, and a peer that never sends its message costs no more than
// HandshakeTimeout.
func TestExporterReplay(t *testing.T) {
	noLeak(t)
	const timeout = 500 * time.Millisecond

	t.Run("server attests", func(t *testing.T) {
		key, other := newKey(t), newKey(t)
		bare, err := selfSigned(key)
		if err != nil {
			t.Fatal(err)
		}
		var (
			mu       sync.Mutex
			behave   func(c *tls.Conn) error
			captured []byte // the last correct frame
		)
		correct := func(c *tls.Conn) error {
			f, err := exporterFrame(c, key, map[string][]byte{"who": []byte("crafted")}, false)
			if err != nil {
				return err
			}
			mu.Lock()
			captured = f
			mu.Unlock()
			_, err = c.Write(f)
			return err
		}
		set := func(f func(*tls.Conn) error) { mu.Lock(); behave = f; mu.Unlock() }
		send := func(b []byte) func(*tls.Conn) error {
			return func(c *tls.Conn) error { _, err := c.Write(b); return err }
		}
		s := startCrafted(t, func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return selecting(markerExporter, bare), nil
		}, func(c *tls.Conn) error {
			mu.Lock()
			f := behave
			mu.Unlock()
			return f(c)
		})

		cli := teeMode(exporter)
		cli.MaxEvidenceSize = maxEvidence
		autoCli := teeConfig()
		slow := teeMode(exporter)
		slow.HandshakeTimeout = timeout
		closeConfig(t, cli, autoCli, slow)
		frameCap := 2*maxEvidence + 64 // the cap on the message: evidence and endorsements, and CBOR's framing
		good := func(t *testing.T, cfg *ratstls.Config) []byte {
			t.Helper()
			set(correct)
			c, err := dial(t, s.addr, cfg)
			if err != nil {
				t.Fatalf("a correct exporter-mode server was refused: %v", err)
			}
			defer c.Close()
			if c.Freshness() != exporter {
				t.Errorf("Freshness() = %q, want exporter", c.Freshness())
			}
			checkTEEPeer(t, "client", c.Peer(), map[string][]byte{"who": []byte("crafted")})
			mu.Lock()
			defer mu.Unlock()
			return captured
		}
		good(t, cli)
		good(t, autoCli)

		t.Run("previous connection's message", func(t *testing.T) {
			first := good(t, cli)
			set(send(first))
			for _, cfg := range []*ratstls.Config{cli, autoCli} {
				_, err := dial(t, s.addr, cfg)
				wantErr(t, "client", err, []error{ratstls.ErrFreshness}, `the evidence's "exporter" claim is not this session's (replayed evidence?)`)
			}
			good(t, cli)
		})

		for _, tc := range []struct {
			name    string
			behave  func(c *tls.Conn) error
			targets []error
			texts   []string
		}{
			{"no exporter claim", func(c *tls.Conn) error {
				f, err := exporterFrame(c, key, nil, true)
				if err == nil {
					_, err = c.Write(f)
				}
				return err
			}, []error{ratstls.ErrFreshness}, []string{`exporter mode, but the evidence carries no "exporter" claim`}},
			{"evidence bound to another key", func(c *tls.Conn) error {
				f, err := exporterFrame(c, other, nil, false)
				if err == nil {
					_, err = c.Write(f)
				}
				return err
			}, []error{ratstls.ErrRefused, dice.ErrKeyMismatch}, []string{"sha-256 over the SubjectPublicKeyInfo"}},
			{"no evidence in the message", func(c *tls.Conn) error {
				msg, err := dice.EncodeMessage(nil, nil)
				if err == nil {
					_, err = c.Write(append(header(len(msg)), msg...))
				}
				return err
			}, []error{ratstls.ErrNoEvidence}, []string{"the peer sent no evidence after the handshake"}},
			{"truncated frame", func(c *tls.Conn) error {
				f, err := exporterFrame(c, key, nil, false)
				if err == nil {
					_, err = c.Write(f[:len(f)-10])
				}
				c.Close()
				return err
			}, []error{ratstls.ErrRefused, io.ErrUnexpectedEOF}, []string{"reading the peer's evidence"}},
			{"truncated length", func(c *tls.Conn) error {
				c.Write([]byte{0, 0})
				return c.Close()
			}, []error{ratstls.ErrRefused, io.ErrUnexpectedEOF}, []string{"reading the peer's evidence"}},
			{"oversized frame length", send(header(frameCap + 1)),
				[]error{ratstls.ErrRefused, dice.ErrTooLarge}, []string{fmt.Sprintf("a %d-byte attestation message, the cap is %d", frameCap+1, frameCap)}},
			{"largest frame, garbage", send(append(header(frameCap), bytes.Repeat([]byte{0xff}, frameCap)...)),
				[]error{ratstls.ErrRefused, dice.ErrMalformed}, []string{"attestation message is not [evidence, endorsements]"}},
			{"garbage message", send(append(header(7), "garbage"...)),
				[]error{ratstls.ErrRefused, dice.ErrMalformed}, []string{"attestation message is not [evidence, endorsements]"}},
			{"stray bytes after the message", func(c *tls.Conn) error {
				f, err := exporterFrame(c, key, nil, false)
				if err != nil {
					return err
				}
				f = append(f, 0x00)
				binary.BigEndian.PutUint32(f, uint32(len(f)-4))
				_, err = c.Write(f)
				return err
			}, []error{ratstls.ErrRefused, dice.ErrMalformed}, []string{"1 stray bytes after the attestation message"}},
			{"bare evidence value instead of a message", func(c *tls.Conn) error {
				// Right claims, wrong carrier: the tagged evidence value
				// itself rather than [evidence, endorsements].
				cs := c.ConnectionState()
				ekm, err := cs.ExportKeyingMaterial(exporterLabel, nil, 32)
				if err != nil {
					return err
				}
				ev, err := teeEvidence(key.Public(), map[string][]byte{ratstls.ClaimExporter: ekm})
				if err == nil {
					_, err = c.Write(append(header(len(ev)), ev...))
				}
				return err
			}, []error{ratstls.ErrRefused, dice.ErrMalformed}, []string{"not an untagged array"}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				set(tc.behave)
				_, err := dial(t, s.addr, cli)
				wantErr(t, "client", err, tc.targets, tc.texts...)
				good(t, cli)
			})
		}

		t.Run("never sends its message", func(t *testing.T) {
			set(func(*tls.Conn) error { return nil }) // and then waits for the client to go
			start := time.Now()
			_, err := dial(t, s.addr, slow)
			elapsed := time.Since(start)
			wantDeadline(t, "client", err)
			wantErr(t, "client", err, nil, "reading the peer's evidence")
			if elapsed > 5*time.Second || elapsed < timeout/2 {
				t.Errorf("a silent exporter-mode server held the client %s; HandshakeTimeout is %s", elapsed, timeout)
			}
			good(t, slow)
		})
	})

	t.Run("client attests", func(t *testing.T) {
		srv := teeMode(exporter)
		srv.Mutual = true
		goodCli := teeConfig()
		goodCli.Mutual = true
		closeConfig(t, srv, goodCli)
		s := startServer(t, srv)
		key := newKey(t)
		bare, err := selfSigned(key)
		if err != nil {
			t.Fatal(err)
		}
		present := func(req *tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if mode, _, err := serverRequest(req.AcceptableCAs); err != nil || mode != "exporter" {
				return nil, fmt.Errorf("the server asks for %q evidence (%v)", mode, err)
			}
			return &bare, nil
		}
		// exchange sends f (made for the session) and reads the server's
		// message, as an exporter-mode client does.
		exchange := func(f func(*tls.Conn) ([]byte, error)) func(*tls.Conn) error {
			return func(c *tls.Conn) error {
				b, err := f(c)
				if err != nil {
					return err
				}
				if _, err := c.Write(b); err != nil {
					return err
				}
				_, err = readFrame(c)
				return err
			}
		}
		var first []byte
		local, err := craftedClient(t, s.addr, []string{markerExporter}, present, exchange(func(c *tls.Conn) ([]byte, error) {
			f, err := exporterFrame(c, key, nil, false)
			first = f
			return f, err
		}))
		r := s.result(t, local)
		if err != nil || r.err != nil {
			t.Fatalf("a correct exporter-mode client: %v; server: %v", err, r.err)
		}
		if r.mode != exporter || r.peer == nil || r.peer.Freshness != exporter {
			t.Errorf("server Freshness() = %q, Peer() = %+v; want exporter", r.mode, r.peer)
		}
		checkTEEPeer(t, "server", r.peer, nil)
		s.good(t, goodCli)

		local, err = craftedClient(t, s.addr, []string{markerExporter}, present, exchange(func(*tls.Conn) ([]byte, error) { return first, nil }))
		wantErr(t, "server", s.result(t, local).err, []error{ratstls.ErrFreshness}, `the evidence's "exporter" claim is not this session's (replayed evidence?)`)
		if err == nil {
			t.Error("the replaying client was not told it was refused")
		}
		s.good(t, goodCli)

		// Evidence over the exporter value of a session to another server
		// (a relay): bound to that session, not this one.
		relay := startServer(t, srv)
		local, err = craftedClient(t, relay.addr, []string{markerExporter}, present, exchange(func(c *tls.Conn) ([]byte, error) {
			f, err := exporterFrame(c, key, nil, false)
			if err != nil {
				return nil, err
			}
			// Forward it on a session to s, made at the same time.
			l2, err2 := craftedClient(t, s.addr, []string{markerExporter}, present, exchange(func(*tls.Conn) ([]byte, error) { return f, nil }))
			wantErr(t, "server behind the relay", s.result(t, l2).err, []error{ratstls.ErrFreshness}, `"exporter" claim is not this session's`)
			if err2 == nil {
				t.Error("the relayed session was not refused")
			}
			return f, nil
		}))
		if r := relay.result(t, local); err != nil || r.err != nil {
			t.Errorf("the session the evidence was made for: client %v, server %v", err, r.err)
		}
		s.good(t, goodCli)
	})
}

// countingCatalog is testtee.Catalog with an attester that counts in n
// the evidence it collects.
func countingCatalog(n *atomic.Int32) *registry.Catalog {
	reg := &registry.Registration{
		Descriptor: testtee.Attester.Descriptor,
		Source:     testtee.Source,
		New: func(ctx context.Context, o instance.Options) (instance.Instance, error) {
			inner, err := testtee.Attester.New(ctx, o)
			if err != nil {
				return nil, err
			}
			return counting{inner.(instance.Attester), n}, nil
		},
	}
	return registry.NewCatalog(false, []*registry.Registration{reg, testtee.Verifier}, quiet)
}

type counting struct {
	instance.Attester
	n *atomic.Int32
}

func (c counting) Collect(ctx context.Context, reportData []byte) (instance.Evidence, error) {
	c.n.Add(1)
	return c.Attester.Collect(ctx, reportData)
}

// clock is a Config.Time that moves only when told.
type clock struct{ now atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.now.Store(time.Now().UnixNano())
	return c
}

func (c *clock) Now() time.Time          { return time.Unix(0, c.now.Load()) }
func (c *clock) Advance(d time.Duration) { c.now.Add(int64(d)) }

// TestEvidenceTTL: none-mode evidence and its certificate are reused for
// EvidenceTTL and collected again after it, by the Config's clock; nonce
// and exporter sessions collect evidence each time without touching that
// cache.
func TestEvidenceTTL(t *testing.T) {
	noLeak(t)
	const ttl = 50 * time.Millisecond
	var collects atomic.Int32
	clk := newClock()
	srv := &ratstls.Config{Catalog: countingCatalog(&collects), Logger: quiet, EvidenceTTL: ttl, Time: clk.Now}
	cli, nonceCli, exporterCli := teeMode(none), teeMode(nonce), teeMode(exporter)
	closeConfig(t, srv, cli, nonceCli, exporterCli)
	s := startServer(t, srv)

	cert := func(t *testing.T, cfg *ratstls.Config) []byte {
		t.Helper()
		p, _ := s.good(t, cfg)
		return p.Certificate.Raw
	}
	wantCollects := func(t *testing.T, want int32) {
		t.Helper()
		if got := collects.Load(); got != want {
			t.Errorf("the attester collected %d times, want %d", got, want)
		}
	}
	wantCollects(t, 1) // Listen issued the first certificate
	first := cert(t, cli)
	if !bytes.Equal(cert(t, cli), first) {
		t.Fatal("none mode issued a new certificate within the TTL")
	}
	clk.Advance(ttl)
	if !bytes.Equal(cert(t, cli), first) {
		t.Error("none mode issued a new certificate at exactly the TTL")
	}
	wantCollects(t, 1)

	// Nonce and exporter sessions collect every time, and leave the
	// none-mode certificate alone.
	cert(t, nonceCli)
	cert(t, exporterCli)
	wantCollects(t, 3)
	if !bytes.Equal(cert(t, cli), first) {
		t.Error("a nonce or exporter session replaced the none-mode certificate")
	}

	clk.Advance(time.Nanosecond)
	second := cert(t, cli)
	if bytes.Equal(second, first) {
		t.Fatal("none mode kept its certificate past the TTL")
	}
	wantCollects(t, 4)
	clk.Advance(ttl / 2)
	if !bytes.Equal(cert(t, cli), second) {
		t.Error("the renewed certificate was not reused within the TTL")
	}
	wantCollects(t, 4)
}

// TestCertificateRenewal: certificates are renewed as the Config's clock
// moves on, whatever the mode, so that a long-running server never
// presents an expired one.
func TestCertificateRenewal(t *testing.T) {
	noLeak(t)
	clk := newClock()
	for _, m := range []ratstls.Freshness{none, nonce, exporter} {
		t.Run(string(m), func(t *testing.T) {
			srv, cli := teeMode(m), teeMode(m)
			srv.Time, cli.Time = clk.Now, clk.Now
			srv.CertificateValidity, srv.EvidenceTTL = 2*time.Hour, time.Hour
			closeConfig(t, srv, cli)
			s := startServer(t, srv)
			s.good(t, cli)
			clk.Advance(3 * time.Hour)
			p, _ := s.good(t, cli)
			if p.Certificate.NotAfter.Before(clk.Now()) {
				t.Errorf("the server presented a certificate that expired at %s", p.Certificate.NotAfter)
			}
		})
	}
}

// TestFreshnessNullAttester: a null attester in every mode, verified by a
// client naming the null verifier: nothing is attested, and the mode is
// reported. Without the null verifier named, each mode fails closed.
func TestFreshnessNullAttester(t *testing.T) {
	noLeak(t)
	for _, tc := range []struct {
		mode, want ratstls.Freshness
		absent     string // why a client not naming the null verifier refuses
	}{
		{auto, exporter, "the peer sent no evidence after the handshake"},
		{none, none, "the certificate has no evidence extension"},
		{nonce, nonce, "the certificate has no evidence extension"},
		{exporter, exporter, "the peer sent no evidence after the handshake"},
	} {
		for _, mutual := range []bool{false, true} {
			name := string(tc.mode)
			if mutual {
				name += " mutual"
			}
			t.Run(name, func(t *testing.T) {
				srv, cli := nullConfig(), nullConfig()
				// Named, so that no TEE that happens to be usable here wins.
				srv.Attester, cli.Attester = "nullattester", "nullattester"
				srv.Freshness, cli.Freshness = tc.mode, tc.mode
				srv.Mutual, cli.Mutual = mutual, mutual
				cli.Verifier = instance.NullVerifierName
				if mutual {
					srv.Verifier = instance.NullVerifierName
				}
				closeConfig(t, srv, cli)
				s := startServer(t, srv)
				o, err := s.try(t, cli)
				if err != nil || o.server.err != nil {
					t.Fatalf("client: %v; server: %v", err, o.server.err)
				}
				wantMode(t, o, tc.want, mutual)
				peers := map[string]*ratstls.Peer{"client": o.peer}
				if mutual {
					peers["server"] = o.server.peer
				}
				for side, p := range peers {
					if p.Attested || p.Format != dice.FormatNone || p.EvidenceType != instance.EvidenceTypeNull || p.Verifier != instance.NullVerifierName || p.Certificate == nil || p.Evidence != nil {
						t.Errorf("%s: Peer() = %+v; want unattested, format none, type null, verifier nullverifier, a certificate", side, p)
					}
				}

				strict := nullConfig()
				strict.Freshness, strict.Mutual, strict.Attester = tc.mode, mutual, "nullattester"
				closeConfig(t, strict)
				o, err = s.try(t, strict)
				wantErr(t, "client not naming the null verifier", err, []error{ratstls.ErrNoEvidence}, tc.absent)
				s.good(t, cli)
			})
		}
	}
}
