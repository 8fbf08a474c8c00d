// Package ratstls is the Go API of Rats-TLS: TLS 1.3 connections whose peers
// prove, inside the handshake, what runs behind them.
//
// It mirrors crypto/tls. A [Config] names the four instances (attester,
// verifier, TLS wrapper, crypto wrapper) or leaves them to automatic
// selection; [Server] and [Client] wrap a net.Conn, [Listen] and [Dial] open
// sockets. The returned [Conn] exposes the peer's verified evidence and
// claims through [Conn.Peer].
//
// On first use a Config creates its instances, generates a key inside the
// crypto wrapper, collects evidence over that key's hash and issues the
// self-signed certificate that carries it (see framework/dice for the
// format). Every connection then presents that certificate; the peer's
// certificate is checked (validity, signature, critical extensions), its
// evidence is bound to its key and verified by a verifier chosen by name or by
// the evidence type, and finally the optional [Config.VerifyPeer] callback
// may refuse the peer. Any failure aborts the handshake, and the error says
// why.
//
// A peer that presents no evidence is accepted only when the verifier is
// explicitly "nullverifier": an unnamed verifier fails closed.
package ratstls

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/inclavare/inclavare/framework/dice"
	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/registry"
)

// Defaults.
const (
	// DefaultHandshakeTimeout bounds a handshake, verification included.
	DefaultHandshakeTimeout = 10 * time.Second
	// DefaultCertificateValidity is how long the self-signed certificate is valid.
	DefaultCertificateValidity = 365 * 24 * time.Hour
	// DefaultEvidenceTTL is how long none-mode evidence is reused.
	DefaultEvidenceTTL = time.Hour
)

// Config configures Rats-TLS endpoints. A Config may be shared by many
// connections at once; it must not be modified after its first use. Close
// releases its instances (and stops plugin processes).
type Config struct {
	// Attester, Verifier, TLS and Crypto name the instances to use; empty
	// means automatic selection (highest priority that works here; for the
	// verifier, by the evidence type the peer presents). The C Rats-TLS
	// name "openssl" selects gotls and gocrypto.
	Attester, Verifier, TLS, Crypto string
	// KeyAlgorithm is the certificate key type (default ECDSA P-256).
	KeyAlgorithm instance.KeyAlgorithm
	// Mutual: a server requires and verifies an attested client; a client
	// attests itself.
	Mutual bool
	// Endorsements embeds the attester's endorsements in the certificate.
	Endorsements bool
	// DebugEnclave runs a debug enclave where an attester cares, and lets
	// verifiers accept a debug TEE.
	DebugEnclave bool
	// AllowSimulated lets verifiers trust simulated TEEs (for machines
	// without TEE hardware); their claims are then marked "simulated".
	AllowSimulated bool
	// Freshness is the freshness mode (default FreshnessAuto); any mode
	// but auto is required of the peer.
	Freshness Freshness
	// RequireFreshness is the weakest mode auto settles for (default
	// FreshnessNone, so that C Rats-TLS peers are accepted).
	RequireFreshness Freshness
	// EvidenceTTL is how long none-mode evidence and its certificate are
	// reused before they are collected again (default DefaultEvidenceTTL);
	// exporter mode's certificate, which carries no evidence, is renewed
	// as often.
	EvidenceTTL time.Duration
	// CustomClaims are bound into the evidence next to the key. The names
	// "pubkey-hash", "nonce" and "exporter" are reserved.
	CustomClaims map[string][]byte
	// VerifyPeer, when set, is called after the peer's evidence verified;
	// an error refuses the peer (rats_tls_set_verification_callback).
	VerifyPeer func(ctx context.Context, p *Peer) error
	// ServerName is the SNI a client sends.
	ServerName string
	// Catalog is where instances come from; nil means the built-ins.
	Catalog *registry.Catalog
	// HandshakeTimeout bounds a handshake (default DefaultHandshakeTimeout).
	HandshakeTimeout time.Duration
	// MaxEvidenceSize caps the evidence and endorsements a peer may send
	// (default dice.DefaultMaxEvidenceSize).
	MaxEvidenceSize int
	// CertificateValidity is the lifetime of this side's certificate.
	CertificateValidity time.Duration
	// Time returns the current time for certificate checks (default time.Now).
	Time func() time.Time
	// Logger receives the framework's logs (default slog.Default()).
	Logger *slog.Logger

	mu    sync.Mutex
	state *endpoint
}

func (c *Config) handshakeTimeout() time.Duration {
	if c.HandshakeTimeout > 0 {
		return c.HandshakeTimeout
	}
	return DefaultHandshakeTimeout
}

func (c *Config) maxEvidenceSize() int {
	if c.MaxEvidenceSize > 0 {
		return c.MaxEvidenceSize
	}
	return dice.DefaultMaxEvidenceSize
}

func (c *Config) evidenceTTL() time.Duration {
	if c.EvidenceTTL > 0 {
		return c.EvidenceTTL
	}
	return DefaultEvidenceTTL
}

func (c *Config) now() time.Time {
	if c.Time != nil {
		return c.Time()
	}
	return time.Now()
}

func (c *Config) logger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	return slog.Default()
}

// Init creates the Config's instances and credentials now rather than on
// the first handshake, so that configuration errors show up early. role
// tells whether the certificate is needed: a client that does not attest
// itself (Mutual false) needs no attester.
func (c *Config) Init(ctx context.Context, role instance.Role) error {
	if _, err := c.modes(); err != nil {
		return err
	}
	_, err := c.endpoint(ctx, role)
	return err
}

// Close releases the instances. Connections already established keep
// working; new handshakes fail.
func (c *Config) Close() error {
	c.mu.Lock()
	st := c.state
	c.state = &endpoint{closed: true}
	c.mu.Unlock()
	if st == nil {
		return nil
	}
	return st.close()
}

// Selected reports the instances in use, by kind (after Init or a handshake).
func (c *Config) Selected() map[instance.Kind]Selection {
	c.mu.Lock()
	st := c.state
	c.mu.Unlock()
	if st == nil {
		return nil
	}
	return st.selected()
}

// Selection names an instance in use and where it comes from.
type Selection struct {
	// Name of the instance.
	Name string `json:"name"`
	// Type of the instance.
	Type string `json:"type"`
	// Source is "builtin" or the plugin path.
	Source string `json:"source"`
}
