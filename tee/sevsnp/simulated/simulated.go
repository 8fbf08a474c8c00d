// Package simulated holds the TEST-ONLY key hierarchy of the simulated
// SEV-SNP TEE (the sev_snp_sim attester): an ARK, an ASK and a VCEK in AMD's
// certificate format, and the VCEK's private key. (The ARK and ASK private
// keys are committed beside them, testonly_ark_key.pem and
// testonly_ask_key.pem, but not embedded: only the generator reads them.)
//
// # Never trust this hierarchy in production
//
// The private keys are committed in this directory, so anyone can sign an
// SEV-SNP report with the VCEK below. A verifier recognises a chain ending at
// [ARKPEM] and trusts it only when told to (instance.Options.AllowSimulated,
// --allow-simulated); it then marks its claims "simulated": true. The AMD
// roots never accept this chain, and this root never accepts an AMD chain.
//
// # Why the keys are fixed
//
// The attester and the verifier usually run in different processes (either
// may be a subprocess plugin), so both must agree on the simulated root
// without talking to each other: the hierarchy was generated once and is
// embedded here. The certificates were made with go-sev-guest's fake AMD
// signer (testing.AmdSignerBuilder), so they have the shape AMD's Key
// Distribution Service gives its certificates (names, RSASSA-PSS signatures,
// the VCEK extensions carrying product name, HWID and TCB) and go-sev-guest's
// own verify package accepts them under this root.
//
// The generator is TestRegenerate in generate_test.go:
//
//	go test ./tee/sevsnp/simulated -run TestRegenerate -regenerate
//
// reissues the certificates from the committed keys; add -regenerate-keys
// to make new keys as well (every old simulated report then stops
// verifying).
package simulated

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha512"
	"crypto/x509"
	_ "embed"
	"encoding/pem"
	"fmt"
	"sync"
)

// The embedded test-only material, PEM encoded.
var (
	// ARKPEM is the self-signed simulated AMD Root Key certificate.
	//
	//go:embed testonly_ark.pem
	ARKPEM []byte
	// ASKPEM is the simulated AMD SEV Key certificate, signed by the ARK.
	//
	//go:embed testonly_ask.pem
	ASKPEM []byte
	// VCEKPEM is the simulated Versioned Chip Endorsement Key certificate,
	// signed by the ASK. Its HWID and TCB extensions are [ChipID] and
	// [TCB].
	//
	//go:embed testonly_vcek.pem
	VCEKPEM []byte
	// VCEKKeyPEM is the VCEK's PKCS #8 private key (ECDSA P-384): it signs
	// simulated reports.
	//
	//go:embed testonly_vcek_key.pem
	VCEKKeyPEM []byte
)

// ProductName is the AMD product the simulated chip claims to be: the VCEK
// certificate's product name. Simulated reports carry the matching
// CPUID family, model and stepping.
const ProductName = "Milan-B0"

// ProductLine is the product line of [ProductName]; the simulated ARK and
// ASK are named after it (ARK-Milan, SEV-Milan) as AMD's are.
const ProductLine = "Milan"

// TCB is the TCB the simulated VCEK is issued for, as the components of an
// SEV-SNP TCB_VERSION.
var TCB = struct {
	Bootloader, TEE, SNP, Microcode uint8
}{Bootloader: 3, TEE: 0, SNP: 8, Microcode: 115}

// ChipIDSeed is hashed with SHA-512 into [ChipID].
const ChipIDSeed = "inclavare rats-tls simulated SEV-SNP chip, TEST ONLY"

// Material is the parsed hierarchy.
type Material struct {
	// ARK, ASK and VCEK are the certificates.
	ARK, ASK, VCEK *x509.Certificate
	// VCEKKey signs simulated reports.
	VCEKKey *ecdsa.PrivateKey
}

// Load parses the embedded hierarchy (once).
var Load = sync.OnceValues(func() (*Material, error) {
	var m Material
	var err error
	if m.ARK, err = parseCert("ARK", ARKPEM); err != nil {
		return nil, err
	}
	if m.ASK, err = parseCert("ASK", ASKPEM); err != nil {
		return nil, err
	}
	if m.VCEK, err = parseCert("VCEK", VCEKPEM); err != nil {
		return nil, err
	}
	b, _ := pem.Decode(VCEKKeyPEM)
	if b == nil || b.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("simulated VCEK key: no PRIVATE KEY PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("simulated VCEK key: %w", err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok || ek.Curve != elliptic.P384() {
		return nil, fmt.Errorf("simulated VCEK key is a %T, want an ECDSA P-384 key", k)
	}
	if !ek.PublicKey.Equal(m.VCEK.PublicKey) {
		return nil, fmt.Errorf("simulated VCEK key does not match the VCEK certificate")
	}
	m.VCEKKey = ek
	return &m, nil
})

func parseCert(what string, p []byte) (*x509.Certificate, error) {
	b, _ := pem.Decode(p)
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("simulated %s: no CERTIFICATE PEM block", what)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("simulated %s: %w", what, err)
	}
	return c, nil
}

// ChipID is the simulated chip's CHIP_ID: SHA-512 of [ChipIDSeed]. It is the
// HWID extension of the simulated VCEK.
func ChipID() [64]byte { return sha512.Sum512([]byte(ChipIDSeed)) }
