package ratstls

import (
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/inclavare/inclavare/framework/instance"
)

// Freshness is how evidence is tied to the present.
//
//   - FreshnessNone: evidence is bound to the certificate key only, and is
//     reused (up to Config.EvidenceTTL). It can be replayed by whoever holds
//     the key; it is what the C Rats-TLS speaks.
//   - FreshnessNonce: the verifier sends a fresh random nonce inside the
//     handshake (a client as an ALPN entry, a server as a name in its
//     certificate request) and the attester's evidence carries it in the
//     signed claims ("nonce"). Evidence from another handshake is refused.
//   - FreshnessExporter: after the handshake each attesting side sends
//     evidence whose claims carry this session's TLS exporter value
//     ("exporter"); the peer checks it before the application reads or
//     writes a byte. Evidence is bound to this very session, so an attested
//     endpoint cannot be relayed through another TLS session.
//   - FreshnessAuto (the default): two peers of this project negotiate the
//     strongest mode both allow (through ALPN, so the choice is covered by
//     the handshake transcript); against a C Rats-TLS peer it settles for
//     none, but only if Config.RequireFreshness permits.
//
// Every mode uses the same claims map and the same verifier path.
type Freshness string

// The freshness modes.
const (
	FreshnessAuto     Freshness = "auto"
	FreshnessNone     Freshness = "none"
	FreshnessNonce    Freshness = "nonce"
	FreshnessExporter Freshness = "exporter"
)

// Reserved claims carrying freshness.
const (
	ClaimNonce    = "nonce"
	ClaimExporter = "exporter"
)

// exporterLabel labels this project's TLS exporter (RFC 8446 7.5).
const exporterLabel = "EXPORTER-inclavare-rats-tls-attestation"

const nonceSize = 32

// strength orders the modes; auto has none.
func (f Freshness) strength() int {
	switch f {
	case FreshnessNone:
		return 1
	case FreshnessNonce:
		return 2
	case FreshnessExporter:
		return 3
	}
	return 0
}

// ParseFreshness validates s ("" means auto).
func ParseFreshness(s string) (Freshness, error) {
	switch f := Freshness(s); f {
	case "":
		return FreshnessAuto, nil
	case FreshnessAuto, FreshnessNone, FreshnessNonce, FreshnessExporter:
		return f, nil
	}
	return "", fmt.Errorf("freshness %q: want auto, none, nonce or exporter", s)
}

// modes returns the modes this side accepts, strongest first.
func (c *Config) modes() ([]Freshness, error) {
	f, err := ParseFreshness(string(c.Freshness))
	if err != nil {
		return nil, err
	}
	if f != FreshnessAuto {
		return []Freshness{f}, nil
	}
	min, err := ParseFreshness(string(c.RequireFreshness))
	if err != nil {
		return nil, fmt.Errorf("required %w", err)
	}
	var out []Freshness
	for _, m := range []Freshness{FreshnessExporter, FreshnessNonce, FreshnessNone} {
		if m.strength() >= min.strength() {
			out = append(out, m)
		}
	}
	return out, nil
}

// ALPN entries: a mode marker per acceptable mode, and the client's nonce.
const (
	alpnModePrefix  = "inclavare-ratstls/"
	alpnNoncePrefix = "inclavare-ratstls-nonce/"
)

func alpnMarker(m Freshness) string { return alpnModePrefix + string(m) }

// clientOffer is the ALPN list of a client accepting modes.
func clientOffer(modes []Freshness, nonce []byte) []string {
	var out []string
	for _, m := range modes {
		out = append(out, alpnMarker(m))
	}
	if nonce != nil {
		out = append(out, alpnNoncePrefix+hex.EncodeToString(nonce))
	}
	return out
}

// ErrFreshness is wrapped when the peers cannot agree on freshness, or
// evidence is not as fresh as the mode demands.
var ErrFreshness = errors.New("freshness refused")

// serverChoice picks the mode for a client's ALPN offer. legacy means the
// client did not negotiate at all (a C Rats-TLS peer).
func serverChoice(modes []Freshness, offered []string) (mode Freshness, legacy bool, nonce []byte, err error) {
	var theirs []Freshness
	for _, p := range offered {
		switch {
		case strings.HasPrefix(p, alpnModePrefix):
			if m, err := ParseFreshness(strings.TrimPrefix(p, alpnModePrefix)); err == nil && m != FreshnessAuto {
				theirs = append(theirs, m)
			}
		case strings.HasPrefix(p, alpnNoncePrefix):
			n, err := hex.DecodeString(strings.TrimPrefix(p, alpnNoncePrefix))
			if err != nil || len(n) != nonceSize {
				return "", false, nil, fmt.Errorf("%w: the client's nonce is not %d hex-encoded bytes", ErrFreshness, nonceSize)
			}
			nonce = n
		}
	}
	if len(theirs) == 0 {
		if slices.Contains(modes, FreshnessNone) {
			return FreshnessNone, true, nil, nil
		}
		return "", true, nil, fmt.Errorf("%w: %w: the client does not negotiate freshness (a C Rats-TLS peer?), and this side requires %s", ErrFreshness, instance.ErrNoApplicationProtocol, modes[len(modes)-1])
	}
	for _, m := range modes {
		if !slices.Contains(theirs, m) {
			continue
		}
		if m == FreshnessNonce && nonce == nil {
			return "", false, nil, fmt.Errorf("%w: the client offers nonce mode but sent no nonce", ErrFreshness)
		}
		return m, false, nonce, nil
	}
	return "", false, nil, fmt.Errorf("%w: %w: no common mode: the client accepts %v, this side %v", ErrFreshness, instance.ErrNoApplicationProtocol, theirs, modes)
}

// clientMode reads the mode the server selected.
func clientMode(modes []Freshness, negotiated string) (Freshness, error) {
	if negotiated == "" {
		if slices.Contains(modes, FreshnessNone) {
			return FreshnessNone, nil
		}
		return "", fmt.Errorf("%w: the server does not negotiate freshness (a C Rats-TLS peer?), and this side requires %s", ErrFreshness, modes[len(modes)-1])
	}
	m, err := ParseFreshness(strings.TrimPrefix(negotiated, alpnModePrefix))
	if err != nil || !strings.HasPrefix(negotiated, alpnModePrefix) || !slices.Contains(modes, m) {
		return "", fmt.Errorf("%w: the server selected %q, which this side did not offer", ErrFreshness, negotiated)
	}
	return m, nil
}

// A mutual server asks for the client's evidence through a distinguished
// name in its certificate request: CN=inclavare-ratstls, OU=<mode>, and
// for nonce mode serialNumber=<hex nonce>.
const requestCN = "inclavare-ratstls"

func requestName(mode Freshness, nonce []byte) ([]byte, error) {
	n := pkix.Name{CommonName: requestCN, OrganizationalUnit: []string{string(mode)}}
	if nonce != nil {
		n.SerialNumber = hex.EncodeToString(nonce)
	}
	return asn1.Marshal(n.ToRDNSequence())
}

// parseRequest finds this project's request among a server's acceptable
// CA names; ok is false when there is none (a C Rats-TLS server).
func parseRequest(names [][]byte) (mode Freshness, nonce []byte, ok bool, err error) {
	for _, der := range names {
		var rdn pkix.RDNSequence
		if rest, err := asn1.Unmarshal(der, &rdn); err != nil || len(rest) != 0 {
			continue
		}
		var n pkix.Name
		n.FillFromRDNSequence(&rdn)
		if n.CommonName != requestCN || len(n.OrganizationalUnit) != 1 {
			continue
		}
		m, err := ParseFreshness(n.OrganizationalUnit[0])
		if err != nil || m == FreshnessAuto {
			return "", nil, false, fmt.Errorf("%w: the server asks for evidence in mode %q", ErrFreshness, n.OrganizationalUnit[0])
		}
		if m == FreshnessNonce {
			if nonce, err = hex.DecodeString(n.SerialNumber); err != nil || len(nonce) != nonceSize {
				return "", nil, false, fmt.Errorf("%w: the server's nonce is not %d hex-encoded bytes", ErrFreshness, nonceSize)
			}
		}
		return m, nonce, true, nil
	}
	return "", nil, false, nil
}

func newNonce() ([]byte, error) {
	n := make([]byte, nonceSize)
	if _, err := rand.Read(n); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	return n, nil
}
