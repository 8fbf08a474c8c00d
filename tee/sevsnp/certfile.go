package sevsnp

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
)

// ParseCertificates reads the certificates that verify a report from a
// file: PEM certificates in any order, or one DER certificate, as AMD's
// Key Distribution Service serves them (the VCEK in DER; "cert_chain", the
// ASK and ARK, in PEM). Each certificate's role comes from its subject:
// "SEV-VCEK" and "SEV-VLEK" sign reports, "SEV-<line>" and
// "SEV-VLEK-<line>" (the ASVK) are intermediates, "ARK-<line>" is the root.
// Only the signing key's certificate is needed: the intermediate and the
// root are embedded for every product line. Nothing is verified here.
func ParseCertificates(b []byte) (Certificates, error) {
	var c Certificates
	var ders [][]byte
	if rest := bytes.TrimSpace(b); bytes.HasPrefix(rest, []byte("-----BEGIN")) {
		for {
			var blk *pem.Block
			if blk, rest = pem.Decode(rest); blk == nil {
				break
			}
			if blk.Type != "CERTIFICATE" {
				return c, fmt.Errorf("%w: a PEM block of type %q, want CERTIFICATE", ErrMalformedEndorsements, blk.Type)
			}
			ders = append(ders, blk.Bytes)
		}
		if len(bytes.TrimSpace(rest)) > 0 {
			return c, fmt.Errorf("%w: %d bytes after the PEM certificates", ErrMalformedEndorsements, len(bytes.TrimSpace(rest)))
		}
	} else {
		ders = [][]byte{b}
	}
	for i, der := range ders {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return c, fmt.Errorf("%w: certificate %d: %w", ErrMalformedEndorsements, i+1, err)
		}
		cn := cert.Subject.CommonName
		var slot *[]byte
		switch {
		case cn == "SEV-VCEK":
			slot = &c.VCEK
		case cn == "SEV-VLEK":
			slot = &c.VLEK
		case strings.HasPrefix(cn, "ARK-"):
			slot = &c.ARK
		case strings.HasPrefix(cn, "SEV-"):
			slot = &c.ASK
		default:
			return c, fmt.Errorf("%w: certificate %d (%q) is not an AMD SEV certificate (SEV-VCEK, SEV-VLEK, SEV-<line>, ARK-<line>)", ErrMalformedEndorsements, i+1, cn)
		}
		if *slot != nil {
			return c, fmt.Errorf("%w: certificate %d: two certificates named %q", ErrMalformedEndorsements, i+1, cn)
		}
		*slot = der
	}
	if c.VCEK == nil && c.VLEK == nil {
		return c, fmt.Errorf("%w: no SEV-VCEK or SEV-VLEK certificate among the %d given", ErrMalformedEndorsements, len(ders))
	}
	return c, nil
}
