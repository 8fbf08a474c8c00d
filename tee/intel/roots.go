package intel

import (
	"crypto/sha256"
	"crypto/x509"
	_ "embed"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"sync"
)

// intelRootPEM is the Intel SGX Root CA: the root of PCK certificates, of
// the TCB signing certificate (TCB info, QE identity) and of the CRLs. It
// is self-signed, valid from 2018-05-21 to 2049-12-31, and the same
// certificate ends every PCK chain Intel issues.
//
//go:embed intel_sgx_root_ca.pem
var intelRootPEM []byte

// IntelRootCAFingerprint is SHA-256 of the DER of the Intel SGX Root CA
// embedded in this package.
const IntelRootCAFingerprint = "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3"

// IntelRootCA returns the embedded Intel SGX Root CA, checked against
// IntelRootCAFingerprint.
var IntelRootCA = sync.OnceValues(func() (*x509.Certificate, error) {
	b, _ := pem.Decode(intelRootPEM)
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("the embedded Intel SGX Root CA is not a PEM certificate")
	}
	if sum := sha256.Sum256(b.Bytes); hex.EncodeToString(sum[:]) != IntelRootCAFingerprint {
		return nil, fmt.Errorf("the embedded Intel SGX Root CA has SHA-256 %x, want %s", sum, IntelRootCAFingerprint)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing the embedded Intel SGX Root CA: %w", err)
	}
	return c, nil
})

// IntelRootCADER returns the DER of the embedded Intel SGX Root CA.
func IntelRootCADER() []byte {
	c, err := IntelRootCA()
	if err != nil {
		panic(err) // the embedded file is checked by the package's tests
	}
	return c.Raw
}
