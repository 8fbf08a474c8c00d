package intel

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Errors about certificates and CRLs, each wrapped with the details.
var (
	// ErrMissingPCK: the quote carries no PCK certificate (its
	// certification data is an encrypted PPID, for example) and the
	// collateral supplies none.
	ErrMissingPCK = errors.New("no PCK certificate for the Intel quote")
	// ErrPCKChain: the PCK certificate chain is malformed, does not lead
	// to a trusted root, or is not valid at the time of verification.
	ErrPCKChain = errors.New("Intel PCK certificate chain refused")
	// ErrPCKExtensions: the PCK certificate's SGX extensions are missing
	// or malformed.
	ErrPCKExtensions = errors.New("malformed Intel SGX PCK certificate extensions")
	// ErrRevoked: a certificate is listed in a CRL of the collateral.
	ErrRevoked = errors.New("Intel certificate revoked")
	// ErrCRL: a CRL is malformed, not signed by its issuer, not valid at
	// the time of verification, or not the CRL of the PCK certificate's
	// issuer.
	ErrCRL = errors.New("Intel CRL refused")
	// ErrExpired is wrapped (besides the category) when a certificate,
	// CRL, TCB info or QE identity is past its validity at the time of
	// verification.
	ErrExpired = errors.New("expired")
	// ErrNotYetValid is wrapped (besides the category) when a
	// certificate, CRL, TCB info or QE identity is not valid yet.
	ErrNotYetValid = errors.New("not yet valid")
)

// Common names of Intel's certificates.
const (
	cnRoot        = "Intel SGX Root CA"
	cnPCK         = "Intel SGX PCK Certificate"
	cnPlatformCA  = "Intel SGX PCK Platform CA"
	cnProcessorCA = "Intel SGX PCK Processor CA"
	cnTCBSigning  = "Intel SGX TCB Signing"
)

// OIDs of the SGX extensions of PCK certificates (Intel SGX PCK
// Certificate and CRL Profile).
var (
	OIDSGXExtensions      = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1}
	oidPPID               = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 1}
	oidTCB                = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 2}
	oidPCEID              = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 3}
	oidFMSPC              = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 4}
	oidSGXType            = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 5}
	oidPlatformInstanceID = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 6}
	oidConfiguration      = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 7}
)

// PCKExtensions are the SGX extensions of a PCK certificate.
type PCKExtensions struct {
	// PPID is the platform provisioning ID (16 bytes).
	PPID []byte
	// Components are the 16 CPUSVN components (SGX TCB comp01svn to
	// comp16svn) and PCESVN the PCE's SVN of the TCB the certificate is
	// issued for; CPUSVN is the raw CPUSVN.
	Components [16]uint8
	PCESVN     uint16
	CPUSVN     [16]byte
	// PCEID names the PCE (2 bytes), FMSPC the platform family (6 bytes).
	PCEID [2]byte
	FMSPC [6]byte
	// SGXType is 0 (Standard), 1 (Scalable) or 2 (Scalable with
	// integrity).
	SGXType int
	// PlatformInstanceID and Configuration are present in certificates
	// of the Platform CA only.
	PlatformInstanceID []byte
	Configuration      *PCKConfiguration
}

// PCKConfiguration is the platform configuration extension of a
// certificate issued by the Platform CA; a nil field was absent.
type PCKConfiguration struct {
	DynamicPlatform, CachedKeys, SMTEnabled *bool
}

type asn1Entry struct {
	ID    asn1.ObjectIdentifier
	Value asn1.RawValue
}

// ParsePCKExtensions reads the SGX extensions (OID 1.2.840.113741.1.13.1)
// of a PCK certificate. FMSPC, PCE-ID, PPID and the TCB (16 components,
// PCESVN and CPUSVN) are required.
func ParsePCKExtensions(cert *x509.Certificate) (*PCKExtensions, error) {
	var val []byte
	for _, e := range cert.Extensions {
		if e.Id.Equal(OIDSGXExtensions) {
			if val != nil {
				return nil, fmt.Errorf("%w: two SGX extensions", ErrPCKExtensions)
			}
			val = e.Value
		}
	}
	if val == nil {
		return nil, fmt.Errorf("%w: the certificate %q has no SGX extension %v", ErrPCKExtensions, cert.Subject.CommonName, OIDSGXExtensions)
	}
	var entries []asn1Entry
	if rest, err := asn1.Unmarshal(val, &entries); err != nil || len(rest) > 0 {
		return nil, fmt.Errorf("%w: the SGX extension is not a SEQUENCE of (OID, value): %v", ErrPCKExtensions, errOrRest(err, rest))
	}
	x := &PCKExtensions{}
	seen := map[string]bool{}
	for _, e := range entries {
		id := e.ID.String()
		if seen[id] {
			return nil, fmt.Errorf("%w: %v appears twice", ErrPCKExtensions, e.ID)
		}
		seen[id] = true
		var err error
		switch {
		case e.ID.Equal(oidPPID):
			x.PPID, err = octets(e.Value, "PPID", 16)
		case e.ID.Equal(oidTCB):
			err = x.parseTCB(e.Value)
		case e.ID.Equal(oidPCEID):
			var b []byte
			if b, err = octets(e.Value, "PCE-ID", 2); err == nil {
				copy(x.PCEID[:], b)
			}
		case e.ID.Equal(oidFMSPC):
			var b []byte
			if b, err = octets(e.Value, "FMSPC", 6); err == nil {
				copy(x.FMSPC[:], b)
			}
		case e.ID.Equal(oidSGXType):
			var t asn1.Enumerated
			if rest, uerr := asn1.Unmarshal(e.Value.FullBytes, &t); uerr != nil || len(rest) > 0 {
				err = fmt.Errorf("%w: SGX Type is not an ENUMERATED: %v", ErrPCKExtensions, errOrRest(uerr, rest))
			}
			x.SGXType = int(t)
		case e.ID.Equal(oidPlatformInstanceID):
			x.PlatformInstanceID, err = octets(e.Value, "PlatformInstanceID", 16)
		case e.ID.Equal(oidConfiguration):
			x.Configuration, err = parseConfiguration(e.Value)
		}
		if err != nil {
			return nil, err
		}
	}
	for _, need := range []struct {
		oid  asn1.ObjectIdentifier
		name string
	}{{oidPPID, "PPID"}, {oidTCB, "TCB"}, {oidPCEID, "PCE-ID"}, {oidFMSPC, "FMSPC"}} {
		if !seen[need.oid.String()] {
			return nil, fmt.Errorf("%w: no %s (%v)", ErrPCKExtensions, need.name, need.oid)
		}
	}
	return x, nil
}

func (x *PCKExtensions) parseTCB(v asn1.RawValue) error {
	var entries []asn1Entry
	if rest, err := asn1.Unmarshal(v.FullBytes, &entries); err != nil || len(rest) > 0 {
		return fmt.Errorf("%w: TCB is not a SEQUENCE of (OID, value): %v", ErrPCKExtensions, errOrRest(err, rest))
	}
	var have [19]bool
	for _, e := range entries {
		if len(e.ID) != len(oidTCB)+1 || !e.ID[:len(oidTCB)].Equal(oidTCB) {
			continue // not a TCB component: ignored
		}
		n := e.ID[len(oidTCB)]
		if n < 1 || n > 18 {
			continue
		}
		if have[n] {
			return fmt.Errorf("%w: TCB component %v appears twice", ErrPCKExtensions, e.ID)
		}
		have[n] = true
		switch {
		case n <= 16:
			var svn int
			if rest, err := asn1.Unmarshal(e.Value.FullBytes, &svn); err != nil || len(rest) > 0 || svn < 0 || svn > 255 {
				return fmt.Errorf("%w: TCB comp%02dsvn is not an INTEGER from 0 to 255: %v", ErrPCKExtensions, n, errOrValue(err, rest, svn))
			}
			x.Components[n-1] = uint8(svn)
		case n == 17:
			var svn int
			if rest, err := asn1.Unmarshal(e.Value.FullBytes, &svn); err != nil || len(rest) > 0 || svn < 0 || svn > 65535 {
				return fmt.Errorf("%w: TCB PCESVN is not an INTEGER from 0 to 65535: %v", ErrPCKExtensions, errOrValue(err, rest, svn))
			}
			x.PCESVN = uint16(svn)
		case n == 18:
			b, err := octets(e.Value, "CPUSVN", 16)
			if err != nil {
				return err
			}
			copy(x.CPUSVN[:], b)
		}
	}
	for n := 1; n <= 18; n++ {
		if !have[n] {
			return fmt.Errorf("%w: TCB has no component %v.%d", ErrPCKExtensions, oidTCB, n)
		}
	}
	return nil
}

func parseConfiguration(v asn1.RawValue) (*PCKConfiguration, error) {
	var entries []asn1Entry
	if rest, err := asn1.Unmarshal(v.FullBytes, &entries); err != nil || len(rest) > 0 {
		return nil, fmt.Errorf("%w: Configuration is not a SEQUENCE of (OID, value): %v", ErrPCKExtensions, errOrRest(err, rest))
	}
	c := &PCKConfiguration{}
	for _, e := range entries {
		if len(e.ID) != len(oidConfiguration)+1 || !e.ID[:len(oidConfiguration)].Equal(oidConfiguration) {
			continue
		}
		var b bool
		if rest, err := asn1.Unmarshal(e.Value.FullBytes, &b); err != nil || len(rest) > 0 {
			return nil, fmt.Errorf("%w: Configuration %v is not a BOOLEAN: %v", ErrPCKExtensions, e.ID, errOrRest(err, rest))
		}
		switch e.ID[len(oidConfiguration)] {
		case 1:
			c.DynamicPlatform = &b
		case 2:
			c.CachedKeys = &b
		case 3:
			c.SMTEnabled = &b
		}
	}
	return c, nil
}

func octets(v asn1.RawValue, name string, n int) ([]byte, error) {
	if v.Class != asn1.ClassUniversal || v.Tag != asn1.TagOctetString || v.IsCompound {
		return nil, fmt.Errorf("%w: %s is not an OCTET STRING (class %d, tag %d)", ErrPCKExtensions, name, v.Class, v.Tag)
	}
	if len(v.Bytes) != n {
		return nil, fmt.Errorf("%w: %s is %d bytes, want %d", ErrPCKExtensions, name, len(v.Bytes), n)
	}
	return bytes.Clone(v.Bytes), nil
}

func errOrRest(err error, rest []byte) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%d trailing bytes", len(rest))
}

func errOrValue(err error, rest []byte, v int) string {
	if err != nil || len(rest) > 0 {
		return errOrRest(err, rest)
	}
	return fmt.Sprintf("value %d", v)
}

// FMSPCHex is the FMSPC as Intel writes it: 12 uppercase hex digits.
func (x *PCKExtensions) FMSPCHex() string { return strings.ToUpper(hex.EncodeToString(x.FMSPC[:])) }

// pemCerts splits a PEM chain into DER certificates, refusing anything but
// CERTIFICATE blocks and white space (C strings may end in NUL bytes).
func pemCerts(what string, b []byte) ([][]byte, error) {
	var out [][]byte
	rest := bytes.TrimSpace(bytes.TrimRight(b, "\x00"))
	for len(rest) > 0 {
		der, next, ok := certBlock(rest)
		if !ok {
			// Not the plain layout: let encoding/pem say what it is.
			var blk *pem.Block
			if blk, next = pem.Decode(rest); blk == nil {
				return nil, fmt.Errorf("the %s has %d bytes that are not PEM certificates", what, len(rest))
			}
			if blk.Type != "CERTIFICATE" {
				return nil, fmt.Errorf("the %s holds a PEM block of type %q, want CERTIFICATE", what, blk.Type)
			}
			der = blk.Bytes
		}
		out = append(out, der)
		rest = bytes.TrimSpace(next)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the %s holds no PEM certificate", what)
	}
	return out, nil
}

const (
	pemBegin = "-----BEGIN CERTIFICATE-----"
	pemEnd   = "-----END CERTIFICATE-----"
)

// certBlock decodes the CERTIFICATE block at the start of b in the layout
// Intel's PCK chains and collateral use (no headers, base64 in lines) and
// returns the DER and what follows the block. It exists because
// encoding/pem, which handles headers and searches for the end line from
// the back of the input, costs as much per quote as parsing the three
// certificates; anything it does not recognise (ok false) goes to
// encoding/pem.
func certBlock(b []byte) (der, rest []byte, ok bool) {
	body, found := bytes.CutPrefix(b, []byte(pemBegin))
	if !found {
		return nil, nil, false
	}
	end := bytes.Index(body, []byte(pemEnd))
	if end < 0 || bytes.IndexByte(body[:end], ':') >= 0 {
		return nil, nil, false
	}
	// base64 skips line breaks itself; anything else odd goes to encoding/pem.
	der = make([]byte, base64.StdEncoding.DecodedLen(end))
	n, err := base64.StdEncoding.Decode(der, body[:end])
	if err != nil {
		return nil, nil, false
	}
	return der[:n], body[end+len(pemEnd):], true
}

// chainOf parses a PEM chain of want certificates: an end entity, an
// intermediate, and optionally the root (which must then be one of roots,
// byte for byte). It returns the end entity, the intermediate and the
// trusted root the intermediate's signature verifies under.
func chainOf(what string, b []byte, roots []*x509.Certificate) (leaf, ca, root *x509.Certificate, err error) {
	ders, err := pemCerts(what, b)
	if err != nil {
		return nil, nil, nil, err
	}
	if len(ders) != 2 && len(ders) != 3 {
		return nil, nil, nil, fmt.Errorf("the %s has %d certificates, want 3 (leaf, intermediate, root) or 2", what, len(ders))
	}
	if leaf, err = x509.ParseCertificate(ders[0]); err != nil {
		return nil, nil, nil, fmt.Errorf("parsing the %s leaf certificate: %w", what, err)
	}
	if ca, err = x509.ParseCertificate(ders[1]); err != nil {
		return nil, nil, nil, fmt.Errorf("parsing the %s intermediate certificate: %w", what, err)
	}
	cands := roots
	if len(ders) == 3 {
		cands = nil
		for _, r := range roots {
			if bytes.Equal(r.Raw, ders[2]) {
				cands = []*x509.Certificate{r}
				break
			}
		}
		if cands == nil {
			subject := "unparsable"
			if c, err := x509.ParseCertificate(ders[2]); err == nil {
				subject = fmt.Sprintf("%q", c.Subject.CommonName)
			}
			return nil, nil, nil, fmt.Errorf("the %s ends at the root %s, which is not a trusted root (%s)", what, subject, rootNames(roots))
		}
	}
	var errs []error
	for _, r := range cands {
		if err := ca.CheckSignatureFrom(r); err != nil {
			errs = append(errs, fmt.Errorf("the %s intermediate %q is not signed by the root %q: %w", what, ca.Subject.CommonName, r.Subject.CommonName, err))
			continue
		}
		root = r
		break
	}
	if root == nil {
		return nil, nil, nil, errors.Join(errs...)
	}
	if err := leaf.CheckSignatureFrom(ca); err != nil {
		return nil, nil, nil, fmt.Errorf("the %s leaf %q is not signed by the intermediate %q: %w", what, leaf.Subject.CommonName, ca.Subject.CommonName, err)
	}
	return leaf, ca, root, nil
}

func rootNames(roots []*x509.Certificate) string {
	names := make([]string, len(roots))
	for i, r := range roots {
		names[i] = fmt.Sprintf("%q", r.Subject.CommonName)
	}
	return "trusted: " + strings.Join(names, ", ")
}

// validity is a time window.
type validity struct{ notBefore, notAfter time.Time }

func (v *validity) narrow(nb, na time.Time) {
	if v.notBefore.IsZero() || nb.After(v.notBefore) {
		v.notBefore = nb
	}
	if v.notAfter.IsZero() || na.Before(v.notAfter) {
		v.notAfter = na
	}
}

func (v validity) contains(t time.Time) bool { return !t.Before(v.notBefore) && !t.After(v.notAfter) }

// checkTime tells whether what, valid from nb to na, is valid at now; the
// error wraps ErrExpired or ErrNotYetValid.
func checkTime(what string, nb, na, now time.Time) error {
	if now.Before(nb) {
		return fmt.Errorf("%w: %s is valid from %s, after the time of verification %s", ErrNotYetValid, what, rfc(nb), rfc(now))
	}
	if now.After(na) {
		return fmt.Errorf("%w: %s expired at %s, before the time of verification %s", ErrExpired, what, rfc(na), rfc(now))
	}
	return nil
}

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func checkCerts(what string, now time.Time, v *validity, certs ...*x509.Certificate) error {
	for _, c := range certs {
		if err := checkTime(fmt.Sprintf("the %s certificate %q", what, c.Subject.CommonName), c.NotBefore, c.NotAfter, now); err != nil {
			return err
		}
		v.narrow(c.NotBefore, c.NotAfter)
	}
	return nil
}

// p256Key returns c's key if it is an ECDSA P-256 key.
func p256Key(c *x509.Certificate) (*ecdsa.PublicKey, error) {
	pub, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("the certificate %q has a %T key, want ECDSA P-256", c.Subject.CommonName, c.PublicKey)
	}
	return pub, nil
}

// pckEntry is a verified PCK chain.
type pckEntry struct {
	leaf, ca, root *x509.Certificate
	pub            *ecdsa.PublicKey
	ext            *PCKExtensions
	validity
}

// verifyPCKChain is the cold path of PCK chain verification: it parses
// chain (PEM), checks names, signatures up to one of roots, the SGX
// extensions, and validity at now.
func verifyPCKChain(chain []byte, roots []*x509.Certificate, now time.Time) (*pckEntry, error) {
	leaf, ca, root, err := chainOf("PCK certificate chain", chain, roots)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPCKChain, err)
	}
	if leaf.Subject.CommonName != cnPCK {
		return nil, fmt.Errorf("%w: the PCK certificate's subject common name is %q, want %q", ErrPCKChain, leaf.Subject.CommonName, cnPCK)
	}
	if leaf.IsCA {
		return nil, fmt.Errorf("%w: the PCK certificate %q is a CA certificate", ErrPCKChain, leaf.Subject.CommonName)
	}
	if cn := ca.Subject.CommonName; cn != cnPlatformCA && cn != cnProcessorCA {
		return nil, fmt.Errorf("%w: the PCK certificate's issuer common name is %q, want %q or %q", ErrPCKChain, cn, cnPlatformCA, cnProcessorCA)
	}
	e := &pckEntry{leaf: leaf, ca: ca, root: root}
	if err := checkCerts("PCK chain", now, &e.validity, root, ca, leaf); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPCKChain, err)
	}
	if e.pub, err = p256Key(leaf); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPCKChain, err)
	}
	if e.ext, err = ParsePCKExtensions(leaf); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrPCKChain, err)
	}
	return e, nil
}
