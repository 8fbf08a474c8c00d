// Package instance defines the four kinds of Rats-TLS instances and the
// contract every implementation meets, built in or behind a subprocess
// plugin.
//
// An instance is described by a [Descriptor] (kind, name, type, priority),
// can say whether it is usable on this machine (a probe, see
// registry.Registration), is created ready to use (the C Rats-TLS "init"),
// and is released with Close (the C "cleanup"). Each kind adds its own
// operations:
//
//   - [Attester] collects evidence over 64 bytes of report data.
//   - [Verifier] checks evidence of its type against the expected report data
//     and returns the claims it vouches for.
//   - [CryptoWrapper] generates keys that never leave it (the framework only
//     sees a crypto.Signer), hashes, and issues self-signed certificates.
//   - [TLSWrapper] negotiates a secure session over a net.Conn.
//
// Every blocking operation takes a context.Context: plugin instances honour
// its deadline, and the framework bounds every call with one.
package instance

import (
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"time"
)

// Kind is one of the four instance kinds.
type Kind string

// The four kinds, spelled as in plugin binary names
// (rats-tls-<kind>-<name>).
const (
	KindAttester Kind = "attester"
	KindVerifier Kind = "verifier"
	KindTLS      Kind = "tls"
	KindCrypto   Kind = "crypto"
)

// Kinds lists every kind in a stable order.
var Kinds = []Kind{KindAttester, KindVerifier, KindTLS, KindCrypto}

// ParseKind returns the Kind spelled s.
func ParseKind(s string) (Kind, error) {
	for _, k := range Kinds {
		if string(k) == s {
			return k, nil
		}
	}
	return "", fmt.Errorf("unknown instance kind %q (want attester, verifier, tls or crypto)", s)
}

// Descriptor says what an instance is.
type Descriptor struct {
	// Kind is the instance kind.
	Kind Kind `json:"kind"`
	// Name selects the instance (for example "nullattester", "gotls").
	Name string `json:"name"`
	// Type is, for attesters and verifiers, the evidence type produced or
	// accepted (for example "sgx_ecdsa", "sev_snp", or "null"); for TLS and
	// crypto wrappers it names the implementation family.
	Type string `json:"type"`
	// Priority orders automatic selection: the highest usable one wins.
	Priority int `json:"priority"`
}

// String formats the descriptor for logs and errors.
func (d Descriptor) String() string {
	return fmt.Sprintf("%s %q (type %s, priority %d)", d.Kind, d.Name, d.Type, d.Priority)
}

// ErrUnavailable is wrapped by a probe or constructor that cannot work on
// this machine (missing device, missing hardware feature). The wrapping
// error says why.
var ErrUnavailable = errors.New("instance unavailable on this machine")

// ErrUnsupported is wrapped by an operation an instance does not offer (for
// example key generation in nullcrypto).
var ErrUnsupported = errors.New("operation not supported by this instance")

// ErrKeyLost is wrapped when a crypto wrapper is asked to use a key it no
// longer holds (a crypto plugin whose process was restarted since it made
// the key). The framework then makes a new key for the next handshake.
var ErrKeyLost = errors.New("key lost with its plugin process")

// ErrNoApplicationProtocol is wrapped by a server's GetCredentials that
// refuses every application protocol (ALPN) the client offered; the TLS
// wrapper then tells the client with a no_application_protocol alert.
var ErrNoApplicationProtocol = errors.New("no application protocol in common")

// EvidenceTypeNull is the evidence type of the null attester and verifier: no
// evidence at all.
const EvidenceTypeNull = "null"

// NullVerifierName is the verifier that accepts peers without evidence. It
// is never chosen automatically: a peer without evidence is accepted only
// when this verifier is named.
const NullVerifierName = "nullverifier"

// ReportDataSize is the size of the report data bound into evidence.
const ReportDataSize = 64

// Evidence is attestation evidence as an attester produced it.
type Evidence struct {
	// Type is the evidence type, for example "sgx_ecdsa" or "sev_snp".
	Type string
	// Data is the raw evidence (a quote, a report).
	Data []byte
}

// Options are given to every instance when it is created.
type Options struct {
	// DebugEnclave asks attesters to run a debug enclave, and verifiers to
	// accept evidence from a debug TEE (-D). Verifiers refuse debug TEEs
	// without it.
	DebugEnclave bool
	// AllowSimulated lets verifiers trust evidence from a simulated TEE
	// (signed by a test key hierarchy, not by a hardware vendor). Without
	// it, such evidence is refused with a reason that says so; with it, the
	// verifier marks its claims "simulated": true.
	AllowSimulated bool
	// Endorsements asks attesters to collect endorsements (-e).
	Endorsements bool
}

// Instance is what every kind implements.
type Instance interface {
	// Descriptor says what the instance is.
	Descriptor() Descriptor
	// Close releases the instance. It is safe to call more than once.
	io.Closer
}

// Attester collects evidence.
type Attester interface {
	Instance
	// Collect returns evidence binding reportData (ReportDataSize bytes).
	Collect(ctx context.Context, reportData []byte) (Evidence, error)
	// Endorsements returns endorsements for ev (for SGX and TDX, the
	// collateral), or nil when the attester has none.
	Endorsements(ctx context.Context, ev Evidence) ([]byte, error)
}

// Claims are what a verifier vouches for, by name. Values are strings
// (binary values hex-encoded), booleans, or numbers (int64 or uint64), so
// they carry through JSON unchanged.
type Claims map[string]any

// Verifier checks evidence.
type Verifier interface {
	Instance
	// Verify checks ev against the expected reportData and returns the
	// verified claims, or an error that says why the evidence is refused.
	// endorsements may be nil.
	Verify(ctx context.Context, ev Evidence, reportData, endorsements []byte) (Claims, error)
}

// KeyAlgorithm names a key type for the certificate key.
type KeyAlgorithm string

// Key algorithms every crypto wrapper that makes keys should support.
const (
	KeyECDSAP256 KeyAlgorithm = "ecdsa-p256"
	KeyECDSAP384 KeyAlgorithm = "ecdsa-p384"
	KeyRSA3072   KeyAlgorithm = "rsa-3072"
	KeyEd25519   KeyAlgorithm = "ed25519"
)

// DefaultKeyAlgorithm is used when none is configured.
const DefaultKeyAlgorithm = KeyECDSAP256

// ParseKeyAlgorithm validates s.
func ParseKeyAlgorithm(s string) (KeyAlgorithm, error) {
	switch k := KeyAlgorithm(s); k {
	case KeyECDSAP256, KeyECDSAP384, KeyRSA3072, KeyEd25519:
		return k, nil
	case "":
		return DefaultKeyAlgorithm, nil
	}
	return "", fmt.Errorf("unknown key algorithm %q (want ecdsa-p256, ecdsa-p384, rsa-3072 or ed25519)", s)
}

// HashAlgorithm is a hash identified as in the Interoperable RA-TLS
// pubkey-hash claim (IANA named information hash algorithm registry).
type HashAlgorithm uint64

// Hash algorithm identifiers.
const (
	SHA256 HashAlgorithm = 1
	SHA384 HashAlgorithm = 7
	SHA512 HashAlgorithm = 8
)

// CryptoHash maps h to the Go hash, or 0 when unknown.
func (h HashAlgorithm) CryptoHash() crypto.Hash {
	switch h {
	case SHA256:
		return crypto.SHA256
	case SHA384:
		return crypto.SHA384
	case SHA512:
		return crypto.SHA512
	}
	return 0
}

// String names h.
func (h HashAlgorithm) String() string {
	switch h {
	case SHA256:
		return "sha-256"
	case SHA384:
		return "sha-384"
	case SHA512:
		return "sha-512"
	}
	return fmt.Sprintf("hash-alg(%d)", uint64(h))
}

// CertificateTemplate is what the framework asks a crypto wrapper to sign.
type CertificateTemplate struct {
	// Subject of the self-signed certificate (also its issuer).
	Subject pkix.Name
	// SerialNumber of the certificate.
	SerialNumber *big.Int
	// NotBefore and NotAfter bound its validity.
	NotBefore, NotAfter time.Time
	// Extensions are added as given (evidence, endorsements).
	Extensions []pkix.Extension
}

// CryptoWrapper owns keys and issues certificates.
type CryptoWrapper interface {
	Instance
	// GenerateKey makes a new key. The private key stays in the wrapper;
	// the returned Signer signs with it.
	GenerateKey(ctx context.Context, alg KeyAlgorithm) (crypto.Signer, error)
	// Hash digests data.
	Hash(ctx context.Context, alg HashAlgorithm, data []byte) ([]byte, error)
	// PubKeyHash digests the DER SubjectPublicKeyInfo of pub.
	PubKeyHash(ctx context.Context, alg HashAlgorithm, pub crypto.PublicKey) ([]byte, error)
	// SelfSignedCertificate issues a DER certificate for key, which must
	// come from this wrapper's GenerateKey.
	SelfSignedCertificate(ctx context.Context, key crypto.Signer, tmpl CertificateTemplate) ([]byte, error)
}

// Role is the side of a TLS session.
type Role int

// The two roles.
const (
	RoleClient Role = iota
	RoleServer
)

// String names r.
func (r Role) String() string {
	if r == RoleServer {
		return "server"
	}
	return "client"
}

// TLSConfig is what the framework gives a TLS wrapper for one session.
type TLSConfig struct {
	// Role is this side's role.
	Role Role
	// Certificate is this side's DER certificate chain (leaf first), empty
	// when this side presents none. GetCredentials, when set, replaces it.
	Certificate [][]byte
	// Key signs for Certificate.
	Key crypto.Signer
	// GetCredentials, when set, chooses this side's credentials during the
	// handshake from what the peer said so far: a server sees the client's
	// hello, a client the server's certificate request. This is how fresh
	// evidence over the peer's nonce gets into the certificate.
	GetCredentials func(Hello) (*Credentials, error)
	// Mutual, on a server, requires a client certificate.
	Mutual bool
	// ServerName is sent as SNI by a client.
	ServerName string
	// NextProtos are the ALPN protocols a client offers, or a server
	// accepts when GetCredentials does not choose one.
	NextProtos []string
	// VerifyPeer is called once per handshake, before it completes, with
	// the peer's DER chain (possibly empty) and the negotiated protocol; an
	// error aborts the handshake.
	VerifyPeer func(PeerState) error
}

// PeerState is what a peer check sees.
type PeerState struct {
	// Certificates is the peer's DER chain, leaf first (empty: none).
	Certificates [][]byte
	// NegotiatedProtocol is the ALPN protocol agreed ("" for none).
	NegotiatedProtocol string
	// Leaf is Certificates[0] parsed, when the TLS engine has it (nil
	// otherwise: parse Certificates[0]).
	Leaf *x509.Certificate
}

// Hello is what one side knows of the other when it must choose its
// credentials.
type Hello struct {
	// NextProtos (on a server) are the ALPN protocols the client offered.
	NextProtos []string
	// ServerName (on a server) is the SNI the client sent.
	ServerName string
	// AcceptableCAs (on a client) are the DER distinguished names the
	// server sent in its certificate request.
	AcceptableCAs [][]byte
}

// Credentials are one side's choice for one session.
type Credentials struct {
	// Certificate and Key are as in TLSConfig.
	Certificate [][]byte
	Key         crypto.Signer
	// NextProto (on a server) is the ALPN protocol to select, "" for none.
	NextProto string
	// RequestNames (on a mutual server) are DER distinguished names sent
	// in the certificate request.
	RequestNames [][]byte
}

// Session is a negotiated secure session.
type Session interface {
	net.Conn
	// PeerCertificates are the DER certificates the peer presented.
	PeerCertificates() [][]byte
	// ExportKeyingMaterial derives keying material bound to this session
	// (RFC 8446 section 7.5); ErrUnsupported without TLS.
	ExportKeyingMaterial(label string, context []byte, length int) ([]byte, error)
	// NegotiatedProtocol is the ALPN protocol agreed, if any.
	NegotiatedProtocol() string
	// Version is the protocol spoken, for example "TLS 1.3" or "none".
	Version() string
}

// TLSWrapper negotiates sessions. Negotiate must honour ctx's deadline and
// must not close conn on failure (the caller owns it).
type TLSWrapper interface {
	Instance
	Negotiate(ctx context.Context, conn net.Conn, cfg *TLSConfig) (Session, error)
}

// TLS protocols a TLSProfile can name.
const (
	// ProtocolTLS13 is TLS 1.3 through crypto/tls, the only TLS version
	// Rats-TLS speaks.
	ProtocolTLS13 = "tls1.3"
	// ProtocolNone is plain TCP with no protection at all (nulltls).
	ProtocolNone = "none"
)

// TLSProfile is the configuration of a TLS session: what a TLS wrapper
// decides. The record layer itself always runs in the host process (see
// framework/tlsengine), so that a TLS wrapper behind a subprocess plugin
// supplies configuration and peer checks, never every record.
type TLSProfile struct {
	// Protocol is ProtocolTLS13 or ProtocolNone.
	Protocol string
	// CipherSuites restricts the TLS 1.3 suites (empty: Go's defaults).
	CipherSuites []uint16
	// CurvePreferences orders key exchanges (empty: X25519MLKEM768 first,
	// then X25519, P-256, P-384).
	CurvePreferences []uint16
	// ChecksPeer tells whether the wrapper's CheckPeer does anything. When
	// false, a host running the wrapper as a plugin skips that call (one
	// round trip per handshake).
	ChecksPeer bool
}

// TLSProfiler is implemented by TLS wrappers that can be served as
// subprocess plugins: the plugin sends its profile, the host runs it.
type TLSProfiler interface {
	// Profile returns the wrapper's session configuration.
	Profile(ctx context.Context) (TLSProfile, error)
	// CheckPeer lets the wrapper refuse a peer chain before the framework's
	// own attestation checks; return nil to accept.
	CheckPeer(ctx context.Context, rawCerts [][]byte) error
}
