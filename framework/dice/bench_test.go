package dice_test

import (
	"testing"

	"github.com/inclavare/inclavare/framework/dice"
	"github.com/inclavare/inclavare/framework/instance"
)

// BenchmarkFind reads and binds the C Rats-TLS fakesgx certificate.
func BenchmarkFind(b *testing.B) {
	cert := vectorCert(b, vectorFakeSGX)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dice.Find(cert, 0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeEvidence encodes a TDX-quote-sized evidence (about 5 KiB,
// as with an embedded PCK chain) and claims with two custom claims.
func BenchmarkEncodeEvidence(b *testing.B) {
	claims := mustClaims(b, dice.Claims{PubKeyHash: pubKeyHash(b, fixedKey(), instance.SHA256), Custom: map[string][]byte{"key_0": []byte("value_0"), "key_1": []byte("value_1")}})
	ev := makeEvidence("tdx_ecdsa", dice.ReportData(claims))
	ev.Data = append(ev.Data, make([]byte, 4400)...)
	b.SetBytes(int64(len(ev.Data) + len(claims)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := dice.EncodeEvidence(ev, claims); err != nil {
			b.Fatal(err)
		}
	}
}
