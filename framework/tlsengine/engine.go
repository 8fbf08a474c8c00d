// Package tlsengine runs a TLS session described by an instance.TLSProfile
// inside the calling process. Every TLS wrapper uses it: the built-in gotls
// and nulltls directly, and a TLS wrapper behind a subprocess plugin through
// the plugin proxy, which fetches the plugin's profile once and forwards only
// the peer check (one call per handshake) across the process boundary. No
// record ever crosses it.
//
// TLS 1.3 is the only version offered or accepted. Session resumption is off:
// every handshake presents and verifies a certificate, because the
// attestation travels in it.
package tlsengine

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/inclavare/inclavare/framework/instance"
)

// DefaultCurves is the key-exchange preference: hybrid post-quantum first.
var DefaultCurves = []tls.CurveID{tls.X25519MLKEM768, tls.X25519, tls.CurveP256, tls.CurveP384}

// Negotiate runs the handshake for cfg with profile p over conn. On failure
// conn is left open for the caller to close.
func Negotiate(ctx context.Context, conn net.Conn, cfg *instance.TLSConfig, p instance.TLSProfile) (instance.Session, error) {
	switch p.Protocol {
	case instance.ProtocolNone:
		if cfg.VerifyPeer != nil {
			if err := cfg.VerifyPeer(instance.PeerState{}); err != nil {
				return nil, err
			}
		}
		return plainSession{conn}, nil
	case instance.ProtocolTLS13, "":
	default:
		return nil, fmt.Errorf("TLS profile names protocol %q; only %q and %q exist", p.Protocol, instance.ProtocolTLS13, instance.ProtocolNone)
	}
	var refusal atomic.Pointer[error]
	tc, err := build(cfg, p, &refusal)
	if err != nil {
		return nil, err
	}
	var c *tls.Conn
	if cfg.Role == instance.RoleServer {
		c = tls.Server(conn, tc)
	} else {
		c = tls.Client(conn, tc)
	}
	// crypto/tls's HandshakeContext closes conn when ctx ends; the contract
	// leaves conn to the caller, so ctx interrupts I/O through a deadline.
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	err = c.Handshake()
	stop()
	conn.SetDeadline(time.Time{})
	if r := refusal.Load(); r != nil && err != nil {
		err = *r // the server's own reason, not crypto/tls's
	}
	if err != nil {
		// The deadline may fire on the socket before ctx notices.
		if d, ok := ctx.Deadline(); ctx.Err() != nil || ok && !time.Now().Before(d) {
			cause := ctx.Err()
			if cause == nil {
				cause = context.DeadlineExceeded
			}
			err = fmt.Errorf("%w (%w)", cause, err)
		}
		return nil, fmt.Errorf("TLS 1.3: %w", err)
	}
	return tlsSession{c}, nil
}

// Config builds the crypto/tls configuration for cfg and p. It is exported
// for benchmarks that compare against plain crypto/tls with the same
// settings.
func Config(cfg *instance.TLSConfig, p instance.TLSProfile) (*tls.Config, error) {
	return build(cfg, p, new(atomic.Pointer[error]))
}

// refusedProtocol is the ALPN protocol a refusing server offers (see
// instance.ErrNoApplicationProtocol).
const refusedProtocol = "inclavare-refused"

// build is Config; refusal receives a server's refusal of every offered
// application protocol.
func build(cfg *instance.TLSConfig, p instance.TLSProfile, refusal *atomic.Pointer[error]) (*tls.Config, error) {
	tc := &tls.Config{
		MinVersion:             tls.VersionTLS13,
		MaxVersion:             tls.VersionTLS13,
		SessionTicketsDisabled: true,
		NextProtos:             cfg.NextProtos,
		ServerName:             cfg.ServerName,
		// The peer's certificate is self-signed and carries evidence; it is
		// checked by VerifyPeer, which the framework always sets.
		InsecureSkipVerify: true,
	}
	if cfg.VerifyPeer == nil {
		return nil, errors.New("TLS session without a peer check: the framework must set VerifyPeer")
	}
	verify := cfg.VerifyPeer
	tc.VerifyConnection = func(cs tls.ConnectionState) error {
		raw := make([][]byte, len(cs.PeerCertificates))
		for i, c := range cs.PeerCertificates {
			raw[i] = c.Raw
		}
		ps := instance.PeerState{Certificates: raw, NegotiatedProtocol: cs.NegotiatedProtocol}
		if len(cs.PeerCertificates) > 0 {
			ps.Leaf = cs.PeerCertificates[0]
		}
		return verify(ps)
	}
	if len(p.CurvePreferences) > 0 {
		for _, c := range p.CurvePreferences {
			tc.CurvePreferences = append(tc.CurvePreferences, tls.CurveID(c))
		}
	} else {
		tc.CurvePreferences = DefaultCurves
	}
	if len(p.CipherSuites) > 0 {
		// crypto/tls does not let TLS 1.3 suites be restricted; refuse a
		// profile that asks for something we could not honour.
		for _, s := range p.CipherSuites {
			switch s {
			case tls.TLS_AES_128_GCM_SHA256, tls.TLS_AES_256_GCM_SHA384, tls.TLS_CHACHA20_POLY1305_SHA256:
			default:
				return nil, fmt.Errorf("TLS profile names cipher suite %#04x, which is not a TLS 1.3 suite", s)
			}
		}
	}
	if len(cfg.Certificate) > 0 {
		if cfg.Key == nil {
			return nil, errors.New("TLS session with a certificate but no key")
		}
		tc.Certificates = []tls.Certificate{{Certificate: cfg.Certificate, PrivateKey: cfg.Key}}
	}
	if cfg.Role == instance.RoleServer && cfg.Mutual {
		tc.ClientAuth = tls.RequireAnyClientCert
	}
	if get := cfg.GetCredentials; get != nil {
		if cfg.Role == instance.RoleServer {
			tc.GetConfigForClient = func(hello *tls.ClientHelloInfo) (*tls.Config, error) {
				c, err := serverConfig(tc, get, hello)
				if errors.Is(err, instance.ErrNoApplicationProtocol) && len(hello.SupportedProtos) > 0 {
					// Offer a protocol no client offers: crypto/tls then
					// sends no_application_protocol, which tells the client
					// more than internal_error would.
					r := tc.Clone()
					r.GetConfigForClient, r.NextProtos = nil, []string{refusedProtocol}
					refusal.Store(&err)
					return r, nil
				}
				return c, err
			}
		} else {
			tc.GetClientCertificate = func(req *tls.CertificateRequestInfo) (*tls.Certificate, error) {
				cr, err := get(instance.Hello{AcceptableCAs: req.AcceptableCAs})
				if err != nil {
					return nil, err
				}
				return credentials(cr)
			}
		}
	}
	return tc, nil
}

// serverConfig is base with the credentials chosen for one client hello.
func serverConfig(base *tls.Config, get func(instance.Hello) (*instance.Credentials, error), hello *tls.ClientHelloInfo) (*tls.Config, error) {
	cr, err := get(instance.Hello{NextProtos: hello.SupportedProtos, ServerName: hello.ServerName})
	if err != nil {
		return nil, err
	}
	cert, err := credentials(cr)
	if err != nil {
		return nil, err
	}
	tc := base.Clone()
	tc.GetConfigForClient = nil
	tc.Certificates = []tls.Certificate{*cert}
	if cr.NextProto != "" {
		tc.NextProtos = []string{cr.NextProto}
	}
	if len(cr.RequestNames) > 0 && tc.ClientAuth != tls.NoClientCert {
		// crypto/tls sends the subjects of ClientCAs as the certificate
		// request's certificate_authorities; with RequireAnyClientCert it
		// verifies nothing against them.
		pool := x509.NewCertPool()
		for _, n := range cr.RequestNames {
			pool.AddCert(&x509.Certificate{Raw: n, RawSubject: n})
		}
		tc.ClientCAs = pool
	}
	return tc, nil
}

func credentials(cr *instance.Credentials) (*tls.Certificate, error) {
	if cr == nil || len(cr.Certificate) == 0 {
		return &tls.Certificate{}, nil // present none
	}
	if cr.Key == nil {
		return nil, errors.New("credentials with a certificate but no key")
	}
	return &tls.Certificate{Certificate: cr.Certificate, PrivateKey: cr.Key}, nil
}

type tlsSession struct{ *tls.Conn }

func (s tlsSession) PeerCertificates() [][]byte {
	st := s.ConnectionState()
	out := make([][]byte, len(st.PeerCertificates))
	for i, c := range st.PeerCertificates {
		out[i] = c.Raw
	}
	return out
}

func (s tlsSession) ExportKeyingMaterial(label string, context []byte, length int) ([]byte, error) {
	st := s.ConnectionState()
	return st.ExportKeyingMaterial(label, context, length)
}

func (s tlsSession) NegotiatedProtocol() string { return s.ConnectionState().NegotiatedProtocol }

func (s tlsSession) Version() string { return tls.VersionName(s.ConnectionState().Version) }

type plainSession struct{ net.Conn }

func (plainSession) PeerCertificates() [][]byte { return nil }

func (plainSession) ExportKeyingMaterial(string, []byte, int) ([]byte, error) {
	return nil, fmt.Errorf("keying material export without TLS: %w", instance.ErrUnsupported)
}

func (plainSession) NegotiatedProtocol() string { return "" }

func (plainSession) Version() string { return "none" }

// Wrapper is a TLS wrapper that is nothing but a profile run by this
// engine: gotls and nulltls are two values of it.
type Wrapper struct {
	// Desc describes the wrapper.
	Desc instance.Descriptor
	// P is the profile every session runs with.
	P instance.TLSProfile
}

// Descriptor says what the wrapper is.
func (w Wrapper) Descriptor() instance.Descriptor { return w.Desc }

// Close does nothing.
func (Wrapper) Close() error { return nil }

// Profile returns P.
func (w Wrapper) Profile(context.Context) (instance.TLSProfile, error) { return w.P, nil }

// CheckPeer accepts every peer: the framework's own checks follow.
func (Wrapper) CheckPeer(context.Context, [][]byte) error { return nil }

// Negotiate runs a session with P.
func (w Wrapper) Negotiate(ctx context.Context, conn net.Conn, cfg *instance.TLSConfig) (instance.Session, error) {
	return Negotiate(ctx, conn, cfg, w.P)
}
