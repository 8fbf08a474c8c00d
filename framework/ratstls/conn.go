package ratstls

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"github.com/inclavare/inclavare/framework/instance"
)

// Conn is a Rats-TLS connection. Like a crypto/tls Conn, it runs its
// handshake on the first Read or Write, or when HandshakeContext is called.
type Conn struct {
	raw  net.Conn
	cfg  *Config
	role instance.Role

	hmu   sync.Mutex // held for a whole handshake
	done  bool
	hsErr error

	// mu guards what a handshake produced; it is never held across I/O,
	// so that Close, Peer and Session do not wait for a handshake.
	mu      sync.Mutex
	session instance.Session
	peer    *Peer
}

// Server returns the server side of a Rats-TLS connection over conn.
func Server(conn net.Conn, cfg *Config) *Conn {
	return &Conn{raw: conn, cfg: cfg, role: instance.RoleServer}
}

// Client returns the client side of a Rats-TLS connection over conn.
func Client(conn net.Conn, cfg *Config) *Conn {
	return &Conn{raw: conn, cfg: cfg, role: instance.RoleClient}
}

// HandshakeContext runs the handshake, bounded by ctx and by the Config's
// HandshakeTimeout. It is a no-op after the first call, returning its
// result. On failure the connection should be closed.
func (c *Conn) HandshakeContext(ctx context.Context) error {
	c.hmu.Lock()
	defer c.hmu.Unlock()
	if c.done {
		return c.hsErr
	}
	c.done = true
	c.hsErr = c.handshake(ctx)
	return c.hsErr
}

func (c *Conn) handshake(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.handshakeTimeout())
	defer cancel()
	st, err := c.cfg.endpoint(ctx, c.role)
	if err != nil {
		return err
	}
	tw := st.tls.Instance.(instance.TLSWrapper)
	var peer *Peer
	tc := &instance.TLSConfig{
		Role:        c.role,
		Certificate: st.cert,
		Key:         st.key,
		Mutual:      c.cfg.Mutual,
		ServerName:  c.cfg.ServerName,
		VerifyPeer: func(raw [][]byte) error {
			if c.role == instance.RoleServer && !c.cfg.Mutual {
				return nil // the client is not asked to attest
			}
			p, err := c.cfg.verifyPeer(ctx, st, raw)
			peer = p
			return err
		},
	}
	if c.role == instance.RoleServer && len(st.cert) == 0 && tw.Descriptor().Type != instance.ProtocolNone {
		// Caught here for a clearer error than crypto/tls's.
		return fmt.Errorf("%s %q needs a certificate, and crypto wrapper %q made none; use gocrypto",
			instance.KindTLS, tw.Descriptor().Name, st.crypto.Instance.Descriptor().Name)
	}
	// A stalled peer must not outlive the deadline, whatever the wrapper does.
	if d, ok := ctx.Deadline(); ok {
		c.raw.SetDeadline(d)
		defer c.raw.SetDeadline(time.Time{})
	}
	s, err := tw.Negotiate(ctx, c.raw, tc)
	if err != nil {
		// The socket deadline and ctx expire together; either may be seen first.
		if (ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded)) && !errors.Is(err, ErrRefused) {
			err = fmt.Errorf("handshake did not finish within %s: %w", c.cfg.handshakeTimeout(), err)
		}
		c.cfg.logger().Debug("rats-tls handshake failed", "role", c.role, "remote", c.raw.RemoteAddr(), "err", err)
		return fmt.Errorf("rats-tls handshake as %s: %w", c.role, err)
	}
	if peer == nil && (c.role == instance.RoleClient || c.cfg.Mutual) {
		// The wrapper never asked for the peer check: fail closed.
		s.Close()
		return fmt.Errorf("rats-tls handshake as %s: TLS wrapper %q completed without checking the peer", c.role, tw.Descriptor().Name)
	}
	c.mu.Lock()
	c.session, c.peer = s, peer
	c.mu.Unlock()
	return nil
}

func (c *Conn) ready() (instance.Session, error) {
	if err := c.HandshakeContext(context.Background()); err != nil {
		return nil, err
	}
	return c.Session(), nil
}

// Peer returns what the handshake proved about the peer: nil before the
// handshake, and on a server that does not require mutual attestation.
func (c *Conn) Peer() *Peer {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.peer
}

// Session returns the negotiated session (nil before the handshake).
func (c *Conn) Session() instance.Session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.session
}

// Read reads application data, running the handshake first if needed.
func (c *Conn) Read(b []byte) (int, error) {
	s, err := c.ready()
	if err != nil {
		return 0, err
	}
	return s.Read(b)
}

// Write writes application data, running the handshake first if needed.
func (c *Conn) Write(b []byte) (int, error) {
	s, err := c.ready()
	if err != nil {
		return 0, err
	}
	return s.Write(b)
}

// Close closes the connection. During a handshake it closes the underlying
// connection, which aborts the handshake.
func (c *Conn) Close() error {
	if s := c.Session(); s != nil {
		return s.Close()
	}
	return c.raw.Close()
}

// LocalAddr returns the local address.
func (c *Conn) LocalAddr() net.Addr { return c.raw.LocalAddr() }

// RemoteAddr returns the remote address.
func (c *Conn) RemoteAddr() net.Addr { return c.raw.RemoteAddr() }

// SetDeadline sets the read and write deadlines.
func (c *Conn) SetDeadline(t time.Time) error { return c.raw.SetDeadline(t) }

// SetReadDeadline sets the read deadline.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.raw.SetReadDeadline(t) }

// SetWriteDeadline sets the write deadline.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.raw.SetWriteDeadline(t) }

type listener struct {
	net.Listener
	cfg *Config
}

func (l listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return Server(c, l.cfg), nil
}

// NewListener wraps inner so that Accept returns server-side *Conn values.
func NewListener(inner net.Listener, cfg *Config) net.Listener {
	return listener{inner, cfg}
}

// Listen listens on the network address and returns a listener whose
// connections are Rats-TLS servers. It creates cfg's instances first, so a
// configuration error is reported here rather than at the first client.
func Listen(ctx context.Context, network, addr string, cfg *Config) (net.Listener, error) {
	if err := cfg.Init(ctx, instance.RoleServer); err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return NewListener(l, cfg), nil
}

// Dial connects to addr and completes a Rats-TLS client handshake, bounded
// by ctx.
func Dial(ctx context.Context, network, addr string, cfg *Config) (*Conn, error) {
	var d net.Dialer
	raw, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	c := Client(raw, cfg)
	if err := c.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, err
	}
	return c, nil
}
