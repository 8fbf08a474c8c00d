package dice_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/inclavare/inclavare/framework/dice"
	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/internal/testvectors"
)

// The shared vectors made by the C Rats-TLS 0.6.x.
const (
	vectorNull    = "ratstls-c/server-cert-nullattester.pem"
	vectorFakeSGX = "ratstls-c/server-cert-fakesgx-dice.pem"
)

// SGX quote v3 layout: a 48-byte header, then the 384-byte report body
// whose report data sits at offset 320. TDX quote v4: the same header, then
// a 584-byte TD report body whose report data sits at offset 520.
const (
	quoteHeaderSize    = 48
	sgxReportBodySize  = 384
	sgxReportDataOff   = quoteHeaderSize + 320
	tdxReportBodySize  = 584
	tdxReportDataOff   = quoteHeaderSize + 520
	sevSNPReportSize   = 0x4a0
	sevSNPReportDataAt = 0x50
)

// fixedKeyPEM is a P-256 key made for these tests only, so that the fuzz
// inputs the fuzzer stores stay bound to the same certificate key.
const fixedKeyPEM = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgEd0g7euarI5AhGKG
5hZiQSMgWc8B+NYO6GmC8VDDCkehRANCAATTsf+vByUN0s5Q9FjQKpIbBYzTJrEO
st+eCP6ffNXr4iN4jEKYpN9oIkeHxP56IFWjA8qDzy4FgZEVGYls22GD
-----END PRIVATE KEY-----
`

// The legacy Rats-TLS extensions, each with its evidence type.
var legacyOIDs = []struct {
	oid    asn1.ObjectIdentifier
	evType string
}{
	{asn1.ObjectIdentifier{1, 2, 840, 113741, 1337, 6}, "sgx_ecdsa"},
	{asn1.ObjectIdentifier{1, 2, 840, 113741, 1337, 8}, "tdx_ecdsa"},
	{asn1.ObjectIdentifier{1, 2, 840, 113741, 1337, 14}, "sgx_la"},
	{asn1.ObjectIdentifier{1, 2, 840, 113741, 1337, 20}, "sev_snp"},
	{asn1.ObjectIdentifier{1, 2, 840, 113741, 1337, 22}, "sev"},
	{asn1.ObjectIdentifier{1, 2, 840, 113741, 1337, 24}, "csv"},
}

// evidenceTypes are every type with an Interoperable RA-TLS tag.
var evidenceTypes = []string{"sgx_ecdsa", "tdx_ecdsa", "sgx_la", "sev_snp", "sev", "csv"}

// sentinels are the errors Find and the decoders wrap.
var sentinels = []struct {
	name string
	err  error
}{
	{"ErrMalformed", dice.ErrMalformed},
	{"ErrUnknownTag", dice.ErrUnknownTag},
	{"ErrTooLarge", dice.ErrTooLarge},
	{"ErrKeyMismatch", dice.ErrKeyMismatch},
}

// checkErr fails unless err wraps want (and no other sentinel) and its
// message contains every one of reasons.
func checkErr(tb testing.TB, err, want error, reasons ...string) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("got no error, want %v", want)
	}
	for _, s := range sentinels {
		if got := errors.Is(err, s.err); got != (s.err == want) {
			tb.Errorf("errors.Is(%q, %s) = %v, want %v", err, s.name, got, !got)
		}
	}
	for _, r := range reasons {
		if !strings.Contains(err.Error(), r) {
			tb.Errorf("error %q does not name the reason %q", err, r)
		}
	}
}

// vectorCert parses a PEM certificate from the shared vectors.
func vectorCert(tb testing.TB, rel string) *x509.Certificate {
	tb.Helper()
	blk, _ := pem.Decode(testvectors.Read(tb, rel))
	if blk == nil || blk.Type != "CERTIFICATE" {
		tb.Fatalf("%s holds no PEM certificate", rel)
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		tb.Fatalf("parsing %s: %v", rel, err)
	}
	return cert
}

// extValue returns the value of cert's extension oid, or nil.
func extValue(cert *x509.Certificate, oid asn1.ObjectIdentifier) []byte {
	for _, e := range cert.Extensions {
		if e.Id.Equal(oid) {
			return e.Value
		}
	}
	return nil
}

var (
	fixedKey = sync.OnceValue(func() crypto.Signer {
		blk, _ := pem.Decode([]byte(fixedKeyPEM))
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			panic(err)
		}
		return k.(crypto.Signer)
	})
	// rsaKey is made once: RSA-3072 generation is slow.
	rsaKey = sync.OnceValue(func() crypto.Signer {
		k, err := rsa.GenerateKey(rand.Reader, 3072)
		if err != nil {
			panic(err)
		}
		return k
	})
	p384Key = sync.OnceValue(func() crypto.Signer {
		k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		if err != nil {
			panic(err)
		}
		return k
	})
	ed25519Key = sync.OnceValue(func() crypto.Signer {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			panic(err)
		}
		return k
	})
)

// testKeys are the certificate keys every crypto wrapper offers.
var testKeys = []struct {
	alg instance.KeyAlgorithm
	key func() crypto.Signer
}{
	{instance.KeyECDSAP256, fixedKey},
	{instance.KeyECDSAP384, p384Key},
	{instance.KeyRSA3072, rsaKey},
	{instance.KeyEd25519, ed25519Key},
}

// makeCert issues a self-signed certificate for key carrying exts.
func makeCert(tb testing.TB, key crypto.Signer, exts ...pkix.Extension) *x509.Certificate {
	tb.Helper()
	cert, err := newCert(key, exts...)
	if err != nil {
		tb.Fatal(err)
	}
	return cert
}

// newCert issues a self-signed certificate for key carrying exts.
func newCert(key crypto.Signer, exts ...pkix.Extension) (*x509.Certificate, error) {
	tmpl := &x509.Certificate{
		SerialNumber:    big.NewInt(1),
		Subject:         pkix.Name{Organization: []string{"Inclavare Containers"}, CommonName: "RATS-TLS"},
		NotBefore:       time.Date(2026, time.January, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:        time.Date(2027, time.January, 1, 0, 0, 0, 0, time.UTC),
		ExtraExtensions: exts,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("creating certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

// withExts returns a copy of base whose extensions are base's plus exts, as
// Find reads them; unlike a parsed certificate it may hold an extension twice.
func withExts(base *x509.Certificate, exts ...pkix.Extension) *x509.Certificate {
	c := *base
	c.Extensions = append(slices.Clip(base.Extensions), exts...)
	return &c
}

// spki returns the DER SubjectPublicKeyInfo of key.
func spki(tb testing.TB, key crypto.Signer) []byte {
	tb.Helper()
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		tb.Fatal(err)
	}
	return der
}

// pubKeyHash is the pubkey-hash claim of key under alg.
func pubKeyHash(tb testing.TB, key crypto.Signer, alg instance.HashAlgorithm) dice.PubKeyHash {
	tb.Helper()
	h := alg.CryptoHash().New()
	h.Write(spki(tb, key))
	return dice.PubKeyHash{Alg: alg, Hash: h.Sum(nil)}
}

// makeEvidence returns evidence of evType shaped as the real thing, with
// reportData where that type keeps it.
func makeEvidence(evType string, reportData []byte) instance.Evidence {
	var data []byte
	switch evType {
	case "sgx_ecdsa":
		data = intelQuote(3, 0x00, sgxReportBodySize, sgxReportDataOff, reportData)
	case "tdx_ecdsa":
		data = intelQuote(4, 0x81, tdxReportBodySize, tdxReportDataOff, reportData)
	case "sev_snp":
		data = make([]byte, sevSNPReportSize)
		binary.LittleEndian.PutUint32(data, 2)
		copy(data[sevSNPReportDataAt:], reportData)
	default:
		data = append([]byte(evType+" report:"), reportData...)
	}
	return instance.Evidence{Type: evType, Data: data}
}

// intelQuote returns an unsigned quote: header, body, a zero-length
// signature data field.
func intelQuote(version uint16, tee uint32, bodySize, rdOff int, reportData []byte) []byte {
	q := make([]byte, quoteHeaderSize+bodySize+4)
	binary.LittleEndian.PutUint16(q[0:], version)
	binary.LittleEndian.PutUint16(q[2:], 2) // ECDSA-256-with-P-256
	binary.LittleEndian.PutUint32(q[4:], tee)
	copy(q[rdOff:], reportData)
	return q
}

// diceExt encodes evidence of evType over claims as the DICE extension, the
// evidence carrying the claims' report data.
func diceExt(tb testing.TB, evType string, claims []byte) []byte {
	tb.Helper()
	ext, err := dice.EncodeEvidence(makeEvidence(evType, dice.ReportData(claims)), claims)
	if err != nil {
		tb.Fatal(err)
	}
	return ext
}

// mustClaims encodes claims or fails.
func mustClaims(tb testing.TB, c dice.Claims) []byte {
	tb.Helper()
	b, err := dice.EncodeClaims(c)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// enc encodes v with the default CBOR options, for hand-made inputs.
func enc(tb testing.TB, v any) []byte {
	tb.Helper()
	b, err := cbor.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// rawMap returns a definite CBOR map of raw, already encoded keys and
// values (alternating), in the order given, duplicates allowed.
func rawMap(kv ...[]byte) []byte {
	n := len(kv) / 2
	var m []byte
	switch {
	case n < 24:
		m = []byte{0xa0 | byte(n)}
	case n < 256:
		m = []byte{0xb8, byte(n)}
	default:
		m = []byte{0xb9, byte(n >> 8), byte(n)}
	}
	for _, x := range kv {
		m = append(m, x...)
	}
	return m
}

// tagged returns tag(content) with content already encoded.
func tagged(tb testing.TB, tag uint64, content []byte) []byte {
	tb.Helper()
	return enc(tb, cbor.RawTag{Number: tag, Content: content})
}

// sha256Padded is SHA-256 of b zero-padded to the report data size.
func sha256Padded(b []byte) []byte {
	rd := make([]byte, instance.ReportDataSize)
	h := sha256.Sum256(b)
	copy(rd, h[:])
	return rd
}

// firstItemLen returns the length of the first CBOR item of b and of what
// follows it.
func firstItemLen(tb testing.TB, b []byte) (item, rest int) {
	tb.Helper()
	var raw cbor.RawMessage
	r, err := cbor.UnmarshalFirst(b, &raw)
	if err != nil {
		tb.Fatalf("no CBOR item at the start of %x: %v", b, err)
	}
	return len(b) - len(r), len(r)
}

// pkixExt is a non-critical extension.
func pkixExt(oid asn1.ObjectIdentifier, value []byte) pkix.Extension {
	return pkix.Extension{Id: oid, Value: value}
}

// The certificate the bad inputs are put into: the fixed P-256 key and no
// evidence.
var baseCert = sync.OnceValue(func() *x509.Certificate {
	cert, err := newCert(fixedKey())
	if err != nil {
		panic(err)
	}
	return cert
})

// pieces make CBOR by hand, for inputs the package would never encode.
type pieces struct {
	t testing.TB
}

// text is a text string.
func (p pieces) text(s string) []byte { return enc(p.t, s) }

// bstr is a byte string (empty for nil, never null).
func (p pieces) bstr(b []byte) []byte {
	if b == nil {
		b = []byte{}
	}
	return enc(p.t, b)
}

// key is a claim name.
func (p pieces) key(s string) []byte { return enc(p.t, s) }

// item is v encoded with the default options.
func (p pieces) item(v any) []byte { return enc(p.t, v) }

// arr is a definite array of fewer than 24 raw items.
func (p pieces) arr(items ...[]byte) []byte {
	a := []byte{0x80 | byte(len(items))}
	for _, x := range items {
		a = append(a, x...)
	}
	return a
}

// pk is the raw pubkey-hash value [alg, hash].
func (p pieces) pk(alg instance.HashAlgorithm, hash []byte) []byte {
	return p.item(dice.PubKeyHash{Alg: alg, Hash: hash})
}

// claims is a claims map with the right pubkey-hash for baseCert plus kv.
func (p pieces) claims(kv ...[]byte) []byte {
	h := sha256.Sum256(baseCert().RawSubjectPublicKeyInfo)
	return rawMap(append([][]byte{p.key(dice.ClaimPubKeyHash), p.bstr(p.pk(instance.SHA256, h[:]))}, kv...)...)
}

// ev is tag([evidence, claims]) from raw items.
func (p pieces) ev(tag uint64, evidence, claims []byte) []byte {
	return tagged(p.t, tag, p.arr(evidence, claims))
}

// quote is an SGX quote v3 byte string whose header names TEE type tee.
func (p pieces) quote(tee uint32) []byte {
	return p.bstr(intelQuote(3, tee, sgxReportBodySize, sgxReportDataOff, nil))
}
