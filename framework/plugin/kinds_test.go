package plugin

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inclavare/inclavare/cryptowrappers/gocrypto"
	"github.com/inclavare/inclavare/framework/instance"
	pb "github.com/inclavare/inclavare/framework/plugin/proto"
	"github.com/inclavare/inclavare/tlswrappers/gotls"
)

func TestVerifierPlugin(t *testing.T) {
	dir := pluginDir(t, nullVerifier)
	v := newInstance[instance.Verifier](t, testConfig(t), dir, nullVerifier)
	ctx := context.Background()
	claims, err := v.Verify(ctx, instance.Evidence{Type: instance.EvidenceTypeNull}, make([]byte, 64), nil)
	if err != nil {
		t.Fatal(err)
	}
	if claims == nil || len(claims) != 0 {
		t.Errorf("Verify(null evidence) = %#v, want empty claims", claims)
	}
	pid := v.(*verifier).p.cur.pid()
	_, err = v.Verify(ctx, instance.Evidence{Type: "sgx_ecdsa", Data: []byte("quote")}, make([]byte, 64), nil)
	// The refusal carries the verifier's own reason, and is no failure of
	// the plugin: the same process goes on.
	wantErr(t, err, nil, filepath.Join(dir, nullVerifier), `the null verifier cannot check 5 bytes of "sgx_ecdsa" evidence`)
	if _, err := v.Verify(ctx, instance.Evidence{Type: instance.EvidenceTypeNull}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if got := v.(*verifier).p.cur.pid(); got != pid {
		t.Errorf("a refusal restarted the plugin (pid %d, then %d)", pid, got)
	}
}

func TestDecodeClaims(t *testing.T) {
	for in, want := range map[string]instance.Claims{
		`{}`:   {},
		`null`: {},
		`{"s":"ab","b":true,"i":-3,"u":18446744073709551615,"e":1e3,"z":0}`: {
			"s": "ab", "b": true, "i": int64(-3), "u": uint64(18446744073709551615), "e": int64(1000), "z": int64(0),
		},
	} {
		got, err := decodeClaims([]byte(in))
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("decodeClaims(%s) = %#v, %v; want %#v", in, got, err, want)
		}
	}
	for _, in := range []string{`[]`, `{"f":1.5}`, `{"o":{}}`, `{"a":[1]}`, `{"n":null}`, `{"big":1e30}`, `{} {}`, `{`} {
		if got, err := decodeClaims([]byte(in)); err == nil {
			t.Errorf("decodeClaims(%s) = %#v, want an error", in, got)
		}
	}
	// Claims a verifier makes come back with the types instance.Claims
	// promises.
	out, err := encodeClaims(instance.Claims{"n": uint64(7), "h": "00ff", "d": false})
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeClaims(out)
	if want := (instance.Claims{"n": int64(7), "h": "00ff", "d": false}); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("round trip = %#v, %v; want %#v", got, err, want)
	}
}

func TestCryptoPlugin(t *testing.T) {
	dir := pluginDir(t, goCrypto, nullCrypto)
	cfg := testConfig(t)
	cw := newInstance[instance.CryptoWrapper](t, cfg, dir, goCrypto)
	ctx := context.Background()
	digest := func(h crypto.Hash, msg []byte) []byte {
		d := h.New()
		d.Write(msg)
		return d.Sum(nil)
	}
	msg := []byte("attested TLS")
	for _, alg := range []instance.KeyAlgorithm{instance.KeyECDSAP256, instance.KeyECDSAP384, instance.KeyRSA3072, instance.KeyEd25519} {
		t.Run(string(alg), func(t *testing.T) {
			key, err := cw.GenerateKey(ctx, alg)
			if err != nil {
				t.Fatal(err)
			}
			switch pub := key.Public().(type) {
			case *ecdsa.PublicKey:
				h := crypto.SHA256
				if pub.Curve == elliptic.P384() {
					h = crypto.SHA384
				}
				sig, err := key.Sign(rand.Reader, digest(h, msg), h)
				if err != nil || !ecdsa.VerifyASN1(pub, digest(h, msg), sig) {
					t.Fatalf("ECDSA signature %x, %v does not verify", sig, err)
				}
			case *rsa.PublicKey:
				sig, err := key.Sign(rand.Reader, digest(crypto.SHA256, msg), crypto.SHA256)
				if err != nil || rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest(crypto.SHA256, msg), sig) != nil {
					t.Fatalf("RSA PKCS#1 v1.5 signature %x, %v does not verify", sig, err)
				}
				pss := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA384}
				sig, err = key.Sign(rand.Reader, digest(crypto.SHA384, msg), pss)
				if err != nil || rsa.VerifyPSS(pub, crypto.SHA384, digest(crypto.SHA384, msg), sig, pss) != nil {
					t.Fatalf("RSA-PSS signature %x, %v does not verify", sig, err)
				}
			case ed25519.PublicKey:
				sig, err := key.Sign(rand.Reader, msg, crypto.Hash(0))
				if err != nil || !ed25519.Verify(pub, msg, sig) {
					t.Fatalf("Ed25519 signature %x, %v does not verify", sig, err)
				}
			default:
				t.Fatalf("GenerateKey(%s) made a %T", alg, pub)
			}

			tmpl := instance.CertificateTemplate{
				Subject: pkix.Name{
					CommonName:   "rats-tls",
					Organization: []string{"Inclavare"},
					ExtraNames:   []pkix.AttributeTypeAndValue{{Type: asn1.ObjectIdentifier{2, 5, 4, 46}, Value: "qualifier"}},
				},
				SerialNumber: big.NewInt(42),
				NotBefore:    time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC),
				NotAfter:     time.Date(2027, time.January, 1, 0, 0, 0, 0, time.UTC),
				Extensions: []pkix.Extension{
					{Id: asn1.ObjectIdentifier{2, 23, 133, 5, 4, 9}, Value: []byte{0x04, 0x02, 0xca, 0xfe}},
					{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}, Critical: false, Value: []byte{0x05, 0x00}},
				},
			}
			der, err := cw.SelfSignedCertificate(ctx, key, tmpl)
			if err != nil {
				t.Fatal(err)
			}
			cert, err := x509.ParseCertificate(der)
			if err != nil {
				t.Fatal(err)
			}
			wantSubject, _ := asn1.Marshal(tmpl.Subject.ToRDNSequence())
			if !bytes.Equal(cert.RawSubject, wantSubject) || !bytes.Equal(cert.RawIssuer, wantSubject) {
				t.Errorf("subject %q, issuer %q; want %q for both", cert.Subject, cert.Issuer, tmpl.Subject)
			}
			if cert.SerialNumber.Cmp(tmpl.SerialNumber) != 0 || !cert.NotBefore.Equal(tmpl.NotBefore) || !cert.NotAfter.Equal(tmpl.NotAfter) {
				t.Errorf("serial %v, validity %v to %v; want %v, %v to %v", cert.SerialNumber, cert.NotBefore, cert.NotAfter, tmpl.SerialNumber, tmpl.NotBefore, tmpl.NotAfter)
			}
			for _, want := range tmpl.Extensions {
				found := false
				for _, e := range cert.Extensions {
					found = found || e.Id.Equal(want.Id) && bytes.Equal(e.Value, want.Value) && e.Critical == want.Critical
				}
				if !found {
					t.Errorf("certificate lacks extension %v", want.Id)
				}
			}
			if eq := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !eq.Equal(key.Public()) {
				t.Error("certificate is for another key")
			}
		})
	}

	data := []byte("hash me")
	d, err := cw.Hash(ctx, instance.SHA256, data)
	if want := sha256.Sum256(data); err != nil || !bytes.Equal(d, want[:]) {
		t.Errorf("Hash(SHA256) = %x, %v; want %x", d, err, want)
	}
	key, err := cw.GenerateKey(ctx, instance.KeyECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	pubDER, _ := x509.MarshalPKIXPublicKey(key.Public())
	d, err = cw.PubKeyHash(ctx, instance.SHA384, key.Public())
	if want := sha512.Sum384(pubDER); err != nil || !bytes.Equal(d, want[:]) {
		t.Errorf("PubKeyHash(SHA384) = %x, %v; want %x", d, err, want)
	}
	_, err = cw.Hash(ctx, instance.HashAlgorithm(99), data)
	wantErr(t, err, instance.ErrUnsupported, "hash-alg(99)")

	// Keys that are not this instance's are refused.
	tmpl := instance.CertificateTemplate{SerialNumber: big.NewInt(1), NotAfter: time.Now().Add(time.Hour)}
	foreign, err := gocrypto.Wrapper{}.GenerateKey(ctx, instance.KeyECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	_, err = cw.SelfSignedCertificate(ctx, foreign, tmpl)
	wantErr(t, err, nil, "not made by this crypto wrapper instance")
	other := newInstance[instance.CryptoWrapper](t, cfg, dir, goCrypto)
	otherKey, err := other.GenerateKey(ctx, instance.KeyEd25519)
	if err != nil {
		t.Fatal(err)
	}
	_, err = cw.SelfSignedCertificate(ctx, otherKey, tmpl)
	wantErr(t, err, nil, "not made by this crypto wrapper instance")

	null := newInstance[instance.CryptoWrapper](t, cfg, dir, nullCrypto)
	_, err = null.GenerateKey(ctx, instance.KeyECDSAP256)
	wantErr(t, err, instance.ErrUnsupported, "nullcrypto cannot generate keys")
}

func TestCryptoKeyLostOnRestart(t *testing.T) {
	dir := pluginDir(t, goCrypto)
	cw := newInstance[instance.CryptoWrapper](t, testConfig(t), dir, goCrypto)
	ctx := context.Background()
	key, err := cw.GenerateKey(ctx, instance.KeyECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("x"))
	if _, err := key.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	// The plugin process dies between calls.
	s := cw.(*cryptoWrapper).p.cur
	if err := s.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if !s.waitExit(10 * time.Second) {
		t.Fatal("the killed plugin was not seen exiting")
	}
	_, err = key.Sign(rand.Reader, d[:], crypto.SHA256)
	wantErr(t, err, ErrKeyLost, filepath.Join(dir, goCrypto))
	// The next call restarts the plugin; the old key stays lost.
	key2, err := cw.GenerateKey(ctx, instance.KeyECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := key2.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	_, err = key.Sign(rand.Reader, d[:], crypto.SHA256)
	wantErr(t, err, ErrKeyLost)
	_, err = cw.SelfSignedCertificate(ctx, key, instance.CertificateTemplate{SerialNumber: big.NewInt(1)})
	wantErr(t, err, ErrKeyLost)
	if err := cw.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = key2.Sign(rand.Reader, d[:], crypto.SHA256)
	wantErr(t, err, ErrKeyLost, "closed")
	waitNoProcess(t, filepath.Join(dir, goCrypto), 10*time.Second)
}

// handshake negotiates a session over loopback TCP, server and client at
// once. (A net.Pipe would block the server's alert to a client that has
// finished its side of the handshake.)
func handshake(t *testing.T, server instance.TLSWrapper, scfg *instance.TLSConfig, client instance.TLSWrapper, ccfg *instance.TLSConfig) (ss, cs instance.Session, serr, cerr error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc, err := ln.Accept()
		if err != nil {
			serr = err
			return
		}
		t.Cleanup(func() { sc.Close() })
		ss, serr = server.Negotiate(ctx, sc, scfg)
	}()
	cc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	cs, cerr = client.Negotiate(ctx, cc, ccfg)
	<-done
	return ss, cs, serr, cerr
}

func selfSigned(t *testing.T, cw instance.CryptoWrapper, cn string) ([][]byte, crypto.Signer) {
	t.Helper()
	ctx := context.Background()
	key, err := cw.GenerateKey(ctx, instance.KeyECDSAP256)
	if err != nil {
		t.Fatal(err)
	}
	der, err := cw.SelfSignedCertificate(ctx, key, instance.CertificateTemplate{
		Subject:      pkix.Name{CommonName: cn},
		SerialNumber: big.NewInt(1),
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	return [][]byte{der}, key
}

func TestTLSPluginNegotiate(t *testing.T) {
	dir := pluginDir(t, goTLS, nullTLS, goCrypto)
	cfg := testConfig(t)
	ctx := context.Background()
	server := newInstance[instance.TLSWrapper](t, cfg, dir, goTLS)
	inst, err := gotls.Registration.New(ctx, instance.Options{})
	if err != nil {
		t.Fatal(err)
	}
	client := inst.(instance.TLSWrapper)
	// The server's key lives in the crypto plugin: every handshake signature
	// is one call to it.
	serverCert, serverKey := selfSigned(t, newInstance[instance.CryptoWrapper](t, cfg, dir, goCrypto), "server")
	clientCert, clientKey := selfSigned(t, gocrypto.Wrapper{}, "client")

	var serverChecked, clientChecked atomic.Int32
	scfg := &instance.TLSConfig{
		Role: instance.RoleServer, Certificate: serverCert, Key: serverKey, Mutual: true, NextProtos: []string{"rats"},
		VerifyPeer: func(ps instance.PeerState) error {
			raw := ps.Certificates
			serverChecked.Add(1)
			if len(raw) != 1 || !bytes.Equal(raw[0], clientCert[0]) {
				return errors.New("not the client's certificate")
			}
			return nil
		},
	}
	ccfg := &instance.TLSConfig{
		Role: instance.RoleClient, Certificate: clientCert, Key: clientKey, ServerName: "server", NextProtos: []string{"rats"},
		VerifyPeer: func(ps instance.PeerState) error {
			raw := ps.Certificates
			clientChecked.Add(1)
			if len(raw) != 1 || !bytes.Equal(raw[0], serverCert[0]) {
				return errors.New("not the server's certificate")
			}
			return nil
		},
	}
	ss, cs, serr, cerr := handshake(t, server, scfg, client, ccfg)
	if serr != nil || cerr != nil {
		t.Fatalf("handshake: server %v, client %v", serr, cerr)
	}
	if serverChecked.Load() != 1 || clientChecked.Load() != 1 {
		t.Errorf("peer checks ran %d (server) and %d (client) times, want once each", serverChecked.Load(), clientChecked.Load())
	}
	if ss.Version() != "TLS 1.3" || ss.NegotiatedProtocol() != "rats" {
		t.Errorf("server session %s with ALPN %q, want TLS 1.3 with rats", ss.Version(), ss.NegotiatedProtocol())
	}
	if got := ss.PeerCertificates(); len(got) != 1 || !bytes.Equal(got[0], clientCert[0]) {
		t.Error("the server did not see the client's certificate")
	}
	sk, err1 := ss.ExportKeyingMaterial("EXPORTER-test", nil, 32)
	ck, err2 := cs.ExportKeyingMaterial("EXPORTER-test", nil, 32)
	if err1 != nil || err2 != nil || !bytes.Equal(sk, ck) {
		t.Errorf("keying material differs: %x, %v and %x, %v", sk, err1, ck, err2)
	}
	go func() {
		cs.Write([]byte("ping"))
	}()
	buf := make([]byte, 4)
	if _, err := io.ReadFull(ss, buf); err != nil || string(buf) != "ping" {
		t.Errorf("server read %q, %v", buf, err)
	}

	// A TLS wrapper with no TLS at all, also from a plugin.
	none := newInstance[instance.TLSWrapper](t, cfg, dir, nullTLS)
	noneCfg := func(role instance.Role) *instance.TLSConfig {
		return &instance.TLSConfig{Role: role, VerifyPeer: func(instance.PeerState) error { return nil }}
	}
	ss, _, serr, cerr = handshake(t, none, noneCfg(instance.RoleServer), none, noneCfg(instance.RoleClient))
	if serr != nil || cerr != nil || ss.Version() != "none" {
		t.Fatalf("nulltls session: %v, %v", serr, cerr)
	}
}

func TestTLSPluginCheckPeerRunsFirst(t *testing.T) {
	dir := pluginDir(t, testPlugin+"=rats-tls-tls-testplugin")
	if err := os.WriteFile(filepath.Join(dir, "testplugin.mode"), []byte("refuse-peer"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t)
	server := newInstance[instance.TLSWrapper](t, cfg, dir, "rats-tls-tls-testplugin")
	inst, err := gotls.Registration.New(context.Background(), instance.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cert, key := selfSigned(t, gocrypto.Wrapper{}, "peer")
	var frameworkChecked atomic.Int32
	check := func(instance.PeerState) error { frameworkChecked.Add(1); return nil }
	scfg := &instance.TLSConfig{Role: instance.RoleServer, Certificate: cert, Key: key, Mutual: true, VerifyPeer: check}
	ccfg := &instance.TLSConfig{Role: instance.RoleClient, Certificate: cert, Key: key, VerifyPeer: func(instance.PeerState) error { return nil }}
	_, _, serr, _ := handshake(t, server, scfg, inst.(instance.TLSWrapper), ccfg)
	wantErr(t, serr, nil, "testplugin refuses this peer (1 certificates)")
	if n := frameworkChecked.Load(); n != 0 {
		t.Errorf("the framework's peer check ran %d times after the plugin refused the peer", n)
	}
}

func TestTLSProfileValidation(t *testing.T) {
	for _, bad := range []string{"tls1.2", "ssl3"} {
		var m *malformed
		if _, err := profileFromProto(&pbProfile{Protocol: bad}); !errors.As(err, &m) {
			t.Errorf("protocol %q: got %v, want a malformed answer", bad, err)
		}
	}
	var m *malformed
	if _, err := profileFromProto(&pbProfile{Protocol: "tls1.3", CurvePreferences: []uint32{0x10000}}); !errors.As(err, &m) {
		t.Errorf("a 17-bit curve id: got %v, want a malformed answer", err)
	}
	p, err := profileFromProto(&pbProfile{CipherSuites: []uint32{0x1301}})
	if err != nil || p.Protocol != instance.ProtocolTLS13 || len(p.CipherSuites) != 1 || p.CipherSuites[0] != 0x1301 {
		t.Errorf("profileFromProto = %+v, %v", p, err)
	}
}

type pbProfile = pb.ProfileResponse
