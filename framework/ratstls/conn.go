package ratstls

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"slices"
	"strings"

	"errors"
	"fmt"
	"github.com/inclavare/inclavare/framework/dice"
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
	mode    Freshness

	relayed []byte // a client's nonce chosen by a third party (UseNonce)
}

// NonceSize is the size of a freshness nonce.
const NonceSize = nonceSize

// UseNonce makes a client handshake in nonce mode with nonce (NonceSize
// bytes) instead of a random nonce of its own, whatever its Config's
// Freshness: the peer's evidence is then bound to a nonce that whoever
// chose it can check. inclavared relays shelter's nonce this way, so that
// shelter checks the workload's evidence for freshness itself. Call it
// before the handshake.
func (c *Conn) UseNonce(nonce []byte) error {
	if c.role != instance.RoleClient {
		return errors.New("rats-tls: only a client sends a nonce")
	}
	if len(nonce) != nonceSize {
		return fmt.Errorf("rats-tls: a nonce is %d bytes, not %d", nonceSize, len(nonce))
	}
	c.hmu.Lock()
	defer c.hmu.Unlock()
	if c.done {
		return errors.New("rats-tls: UseNonce after the handshake")
	}
	c.relayed = bytes.Clone(nonce)
	return nil
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
	err := c.negotiate(ctx)
	if err != nil {
		// The socket deadline and ctx expire together; either may be seen first.
		if (ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded)) && !errors.Is(err, ErrRefused) {
			err = fmt.Errorf("handshake did not finish within %s: %w", c.cfg.handshakeTimeout(), err)
		}
		c.cfg.logger().Debug("rats-tls handshake failed", "role", c.role, "remote", c.raw.RemoteAddr(), "err", err)
		return fmt.Errorf("rats-tls handshake as %s: %w", c.role, err)
	}
	return nil
}

// negotiate runs the TLS handshake with the freshness mode's credentials
// and peer checks, then, in exporter mode, the evidence exchange.
func (c *Conn) negotiate(ctx context.Context) error {
	st, err := c.cfg.endpoint(ctx, c.role)
	if err != nil {
		return err
	}
	id := st.identity() // this handshake's key, even if another replaces it

	modes, err := c.cfg.modes()
	if err != nil {
		return err
	}
	if c.relayed != nil {
		modes = []Freshness{FreshnessNonce}
	}
	attests := c.role == instance.RoleServer || c.cfg.Mutual
	verifies := c.role == instance.RoleClient || c.cfg.Mutual
	tw := st.tls.Instance.(instance.TLSWrapper)
	var (
		mode       Freshness // agreed mode (the server decides)
		myNonce    []byte    // the nonce this side sent its peer
		peer       *Peer
		checkedTLS bool
		asked      bool // (client) the server asked for evidence after the handshake
	)
	tc := &instance.TLSConfig{
		Role:       c.role,
		Mutual:     c.cfg.Mutual,
		ServerName: c.cfg.ServerName,
		VerifyPeer: func(ps instance.PeerState) error {
			checkedTLS = true
			if c.role == instance.RoleClient {
				m, err := clientMode(modes, ps.NegotiatedProtocol)
				if err != nil {
					return err
				}
				mode = m
			}
			if !verifies {
				return nil // the client is not asked to attest
			}
			p, err := c.cfg.verifyPeer(ctx, st, ps, mode, myNonce)
			peer = p
			return err
		},
	}
	if c.role == instance.RoleClient {
		if c.relayed != nil {
			myNonce = c.relayed
		} else if slices.Contains(modes, FreshnessNonce) {
			if myNonce, err = newNonce(); err != nil {
				return err
			}
		}
		tc.NextProtos = clientOffer(modes, myNonce)
		if attests {
			tc.GetCredentials = func(h instance.Hello) (*instance.Credentials, error) {
				m, nonce, ours, err := parseRequest(h.AcceptableCAs)
				if err != nil {
					return nil, err
				}
				if !ours {
					m = FreshnessNone // a C Rats-TLS server
				}
				asked = m == FreshnessExporter
				return st.credentials(ctx, c.cfg, id, m, nonce)
			}
		}
	} else {
		if id.key == nil && tw.Descriptor().Type != instance.ProtocolNone {
			// Caught here for a clearer error than crypto/tls's.
			return fmt.Errorf("%s %q needs a certificate, and crypto wrapper %q made none; use gocrypto",
				instance.KindTLS, tw.Descriptor().Name, st.crypto.Instance.Descriptor().Name)
		}
		tc.GetCredentials = func(h instance.Hello) (*instance.Credentials, error) {
			m, legacy, nonce, err := serverChoice(modes, h.NextProtos)
			if err != nil {
				return nil, err
			}
			mode = m
			cr, err := st.credentials(ctx, c.cfg, id, m, nonce)
			if err != nil {
				return nil, err
			}
			if !legacy {
				cr.NextProto = alpnMarker(m)
			}
			if c.cfg.Mutual && m != FreshnessNone {
				if m == FreshnessNonce {
					if myNonce, err = newNonce(); err != nil {
						return nil, err
					}
				}
				name, err := requestName(m, myNonce)
				if err != nil {
					return nil, err
				}
				cr.RequestNames = [][]byte{name}
			}
			return cr, nil
		}
		if tw.Descriptor().Type == instance.ProtocolNone {
			// No hello to choose from: plain TCP is none mode at best.
			if !slices.Contains(modes, FreshnessNone) {
				return fmt.Errorf("%w: TLS wrapper %q carries no handshake, so only none mode is possible, and this side requires %s", ErrFreshness, tw.Descriptor().Name, modes[len(modes)-1])
			}
			mode = FreshnessNone
		}
	}
	if c.role == instance.RoleClient && tw.Descriptor().Type == instance.ProtocolNone {
		if !slices.Contains(modes, FreshnessNone) {
			return fmt.Errorf("%w: TLS wrapper %q carries no handshake, so only none mode is possible, and this side requires %s", ErrFreshness, tw.Descriptor().Name, modes[len(modes)-1])
		}
	}
	stop := bound(ctx, c.raw)
	defer stop()
	s, err := tw.Negotiate(ctx, c.raw, tc)
	if err != nil {
		// crypto/tls reports a peer's alert only as text.
		if c.role == instance.RoleClient && strings.Contains(err.Error(), "tls: no application protocol") {
			err = fmt.Errorf("%w: the server accepts none of the freshness modes offered %v: %w", ErrFreshness, modes, err)
		}
		return err
	}
	if !checkedTLS {
		// The wrapper never asked for the peer check: fail closed.
		s.Close()
		return fmt.Errorf("TLS wrapper %q completed without checking the peer", tw.Descriptor().Name)
	}
	if mode == "" {
		mode = FreshnessNone
	}
	if mode == FreshnessExporter {
		if c.role == instance.RoleClient {
			// A mutual client attests only to a server that asked: to
			// another, its message would be application data.
			attests = asked
		}
		if peer, err = c.exchange(ctx, st, id, s, peer, attests, verifies); err != nil {
			s.Close()
			return err
		}
	}
	c.mu.Lock()
	c.session, c.peer, c.mode = s, peer, mode
	c.mu.Unlock()
	return nil
}

// exchange sends this side's evidence over the session's exporter value
// and checks the peer's, in exporter mode. Both directions run at once so
// that large evidence cannot deadlock two writers.
func (c *Conn) exchange(ctx context.Context, st *endpoint, id *identity, s instance.Session, peer *Peer, attests, verifies bool) (*Peer, error) {
	ekm, err := s.ExportKeyingMaterial(exporterLabel, nil, nonceSize)
	if err != nil {
		return nil, fmt.Errorf("exporter mode: %w", err)
	}
	sent := make(chan error, 1)
	if attests {
		go func() {
			ev, endorse, err := st.attest(ctx, c.cfg, id, map[string][]byte{ClaimExporter: ekm})
			if err == nil {
				var msg []byte
				if msg, err = dice.EncodeMessage(ev, endorse); err == nil {
					err = writeFrame(s, msg)
				}
			}
			sent <- err
		}()
	} else {
		sent <- nil
	}
	if verifies {
		// On failure the session is closed, which ends a send still under
		// way, and the sender is waited for: nothing outlives the handshake.
		fail := func(err error) (*Peer, error) {
			s.Close()
			<-sent
			return nil, err
		}
		msg, err := readFrame(s, c.cfg.maxEvidenceSize()*2+64)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				// A stall: handshake reports it as a timeout.
				return fail(fmt.Errorf("reading the peer's evidence: %w", err))
			}
			return fail(fmt.Errorf("%w: reading the peer's evidence: %w", ErrRefused, err))
		}
		if peer, err = c.cfg.verifyMessage(ctx, st, peer, msg, ekm); err != nil {
			return fail(err)
		}
	}
	if err := <-sent; err != nil {
		return nil, fmt.Errorf("sending evidence: %w", err)
	}
	return peer, nil
}

// bound makes conn's I/O end when ctx does, without closing conn.
func bound(ctx context.Context, conn net.Conn) (stop func()) {
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	cancel := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	return func() {
		cancel()
		conn.SetDeadline(time.Time{})
	}
}

// writeFrame writes a length-prefixed message.
func writeFrame(w io.Writer, msg []byte) error {
	buf := make([]byte, 4+len(msg))
	binary.BigEndian.PutUint32(buf, uint32(len(msg)))
	copy(buf[4:], msg)
	_, err := w.Write(buf)
	return err
}

// readFrame reads a length-prefixed message of at most max bytes.
func readFrame(r io.Reader, max int) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if int64(n) > int64(max) {
		return nil, fmt.Errorf("%w: a %d-byte attestation message, the cap is %d", dice.ErrTooLarge, n, max)
	}
	msg := make([]byte, n)
	if _, err := io.ReadFull(r, msg); err != nil {
		return nil, err
	}
	return msg, nil
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

// Freshness returns the mode that protected the connection ("" before
// the handshake).
func (c *Conn) Freshness() Freshness {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.mode
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
