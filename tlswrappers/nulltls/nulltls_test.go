package nulltls_test

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"

	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/tlswrappers/nulltls"
)

func newWrapper(t *testing.T) instance.TLSWrapper {
	t.Helper()
	inst, err := nulltls.Registration.New(context.Background(), instance.Options{})
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
	if d.Kind != instance.KindTLS || d.Name != nulltls.Name || d.Type != instance.ProtocolNone || d.Priority != 0 {
		t.Errorf("descriptor %v, want the lowest-priority tls %q of type none", d, nulltls.Name)
	}
	p, ok := w.(instance.TLSProfiler)
	if !ok {
		t.Fatal("nulltls is not a TLSProfiler")
	}
	prof, err := p.Profile(context.Background())
	if err != nil || prof.Protocol != instance.ProtocolNone {
		t.Errorf("Profile = %+v, %v; want protocol none", prof, err)
	}
	if err := p.CheckPeer(context.Background(), nil); err != nil {
		t.Errorf("CheckPeer: %v", err)
	}
}

func TestNegotiateInTheClear(t *testing.T) {
	w := newWrapper(t)
	cc, sc := net.Pipe()
	defer cc.Close()
	defer sc.Close()
	var verified bool
	s, err := w.Negotiate(context.Background(), cc, &instance.TLSConfig{
		Role: instance.RoleClient,
		VerifyPeer: func(ps instance.PeerState) error {
			raw := ps.Certificates
			verified = raw == nil
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !verified {
		t.Error("VerifyPeer was not called with no certificates")
	}
	if s.Version() != "none" || s.PeerCertificates() != nil {
		t.Errorf("session version %q, %d peer certificates; want none", s.Version(), len(s.PeerCertificates()))
	}
	if _, err := s.ExportKeyingMaterial("EXPORTER-rats-tls", nil, 32); !errors.Is(err, instance.ErrUnsupported) {
		t.Errorf("ExportKeyingMaterial error %v, want instance.ErrUnsupported", err)
	}
	go s.Write([]byte("plain"))
	buf := make([]byte, 5)
	if _, err := io.ReadFull(sc, buf); err != nil || string(buf) != "plain" {
		t.Errorf("the raw conn read %q, %v; want the bytes unchanged", buf, err)
	}
}
