package gotls_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/registry"
	"github.com/inclavare/inclavare/tlswrappers/gotls"
)

func newWrapper(t *testing.T) instance.TLSWrapper {
	t.Helper()
	inst, err := gotls.Registration.New(context.Background(), instance.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Close() })
	w, ok := inst.(instance.TLSWrapper)
	if !ok {
		t.Fatalf("New returned %T, not a TLSWrapper", inst)
	}
	return w
}

func TestDescriptorAndProfile(t *testing.T) {
	w := newWrapper(t)
	d := w.Descriptor()
	if d.Kind != instance.KindTLS || d.Name != gotls.Name {
		t.Errorf("descriptor %v", d)
	}
	if to, alias := registry.Canonical(instance.KindTLS, "openssl"); !alias || to != gotls.Name {
		t.Errorf("openssl tls maps to %q, want %q", to, gotls.Name)
	}
	p, ok := w.(instance.TLSProfiler)
	if !ok {
		t.Fatal("gotls is not a TLSProfiler, so it cannot be served as a plugin")
	}
	prof, err := p.Profile(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if prof.Protocol != instance.ProtocolTLS13 || len(prof.CipherSuites) != 0 || len(prof.CurvePreferences) != 0 {
		t.Errorf("profile %+v, want TLS 1.3 with the engine's defaults", prof)
	}
	if prof.ChecksPeer {
		t.Error("profile says CheckPeer does something; it accepts every chain")
	}
	if err := p.CheckPeer(context.Background(), [][]byte{[]byte("anything")}); err != nil {
		t.Errorf("CheckPeer: %v", err)
	}
}

func TestNegotiate(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "gotls"},
		NotBefore:    time.Date(2024, time.January, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     time.Date(2124, time.January, 1, 0, 0, 0, 0, time.UTC),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	w := newWrapper(t)
	cc, sc := net.Pipe()
	defer cc.Close()
	defer sc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	var checked [][]byte
	type result struct {
		s   instance.Session
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := w.Negotiate(ctx, sc, &instance.TLSConfig{
			Role: instance.RoleServer, Certificate: [][]byte{der}, Key: key,
			VerifyPeer: func(instance.PeerState) error { return nil },
		})
		if err != nil {
			sc.Close()
		}
		done <- result{s, err}
	}()
	cs, err := w.Negotiate(ctx, cc, &instance.TLSConfig{
		Role:       instance.RoleClient,
		VerifyPeer: func(ps instance.PeerState) error { checked = ps.Certificates; return nil },
	})
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	defer cs.Close()
	r := <-done
	if r.err != nil {
		t.Fatalf("server: %v", r.err)
	}
	defer r.s.Close()
	if cs.Version() != "TLS 1.3" || r.s.Version() != "TLS 1.3" {
		t.Errorf("versions %q, %q; want TLS 1.3", cs.Version(), r.s.Version())
	}
	if len(checked) != 1 || string(checked[0]) != string(der) {
		t.Error("the client did not check the server's certificate")
	}
	// Nobody reads a net.Pipe now: close it before the sessions, whose
	// close_notify would otherwise wait out crypto/tls's 5s write deadline.
	cc.Close()
	sc.Close()
}
