package dice_test

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509/pkix"
	"fmt"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/inclavare/inclavare/framework/dice"
	"github.com/inclavare/inclavare/framework/instance"
)

func TestTagOfTypeOf(t *testing.T) {
	tests := []struct {
		evType string
		tag    uint64
	}{
		{"sgx_ecdsa", 60000},
		{"tdx_ecdsa", 60000},
		{"sgx_la", 60002},
		{"sev_snp", 0x1a7504},
		{"sev", 0x1a7505},
		{"csv", 0x1a7506},
	}
	for _, tc := range tests {
		tag, err := dice.TagOf(tc.evType)
		if err != nil || tag != tc.tag {
			t.Errorf("TagOf(%q) = %d, %v; want %d", tc.evType, tag, err, tc.tag)
		}
		ev := makeEvidence(tc.evType, nil)
		if got, err := dice.TypeOf(tc.tag, ev.Data); err != nil || got != tc.evType {
			t.Errorf("TypeOf(%d, %s evidence) = %q, %v; want %q", tc.tag, tc.evType, got, err, tc.evType)
		}
	}
	for _, evType := range []string{"", "null", "nullattester", "SGX_ECDSA", "tdx", "sev-snp"} {
		if tag, err := dice.TagOf(evType); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", evType)) {
			t.Errorf("TagOf(%q) = %d, %v; want an error naming the type", evType, tag, err)
		}
	}

	bad := []struct {
		name     string
		tag      uint64
		evidence []byte
		want     error
		reasons  []string
	}{
		{"no header", 60000, []byte{3, 0, 2, 0, 0, 0, 0}, dice.ErrMalformed, []string{"7 bytes", "no header"}},
		{"nil quote", 60000, nil, dice.ErrMalformed, []string{"0 bytes"}},
		{"TEE type 0x7f", 60000, intelQuote(3, 0x7f, 0, 0, nil), dice.ErrMalformed, []string{"TEE type 0x7f"}},
		{"TEE type 0x181", 60000, intelQuote(4, 0x181, 0, 0, nil), dice.ErrMalformed, []string{"TEE type 0x181"}},
		{"TEE type 1", 60000, intelQuote(3, 1, 0, 0, nil), dice.ErrMalformed, []string{"TEE type 0x1"}},
		{"unknown tag", 60001, []byte("x"), dice.ErrUnknownTag, []string{"60001", "0xea61"}},
		{"tag 0", 0, []byte("x"), dice.ErrUnknownTag, []string{"0 (0x0)"}},
		{"tag 0x1a7503", 0x1a7503, []byte("x"), dice.ErrUnknownTag, []string{"1733891"}},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			typ, err := dice.TypeOf(tc.tag, tc.evidence)
			if typ != "" {
				t.Errorf("TypeOf = %q, want none", typ)
			}
			checkErr(t, err, tc.want, tc.reasons...)
		})
	}
}

func TestReportData(t *testing.T) {
	for _, b := range [][]byte{nil, {}, []byte("claims"), bytes.Repeat([]byte{7}, 1000)} {
		rd := dice.ReportData(b)
		h := sha256.Sum256(b)
		if len(rd) != instance.ReportDataSize || !bytes.Equal(rd[:32], h[:]) || !bytes.Equal(rd[32:], make([]byte, 32)) {
			t.Errorf("ReportData(%q) = %x, want SHA-256 zero-padded to 64 bytes", b, rd)
		}
	}
}

func TestClaimsRoundTrip(t *testing.T) {
	hash := func(n int) []byte { return bytes.Repeat([]byte{0xab}, n) }
	many := make(map[string][]byte)
	for i := range 63 {
		many[fmt.Sprintf("claim-%02d", i)] = []byte{byte(i)}
	}
	tests := []struct {
		name   string
		claims dice.Claims
	}{
		{"sha-256 only", dice.Claims{PubKeyHash: dice.PubKeyHash{Alg: instance.SHA256, Hash: hash(32)}}},
		{"sha-384", dice.Claims{PubKeyHash: dice.PubKeyHash{Alg: instance.SHA384, Hash: hash(48)}, Custom: map[string][]byte{"a": []byte("1")}}},
		{"sha-512", dice.Claims{PubKeyHash: dice.PubKeyHash{Alg: instance.SHA512, Hash: hash(64)}, Custom: map[string][]byte{"": {}, "\x00": {0}, "ü": bytes.Repeat([]byte{1}, 300)}}},
		{"63 custom claims", dice.Claims{PubKeyHash: dice.PubKeyHash{Alg: instance.SHA256, Hash: hash(32)}, Custom: many}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := dice.EncodeClaims(tc.claims)
			if err != nil {
				t.Fatalf("EncodeClaims: %v", err)
			}
			if again, _ := dice.EncodeClaims(tc.claims); !bytes.Equal(b, again) {
				t.Errorf("EncodeClaims is not deterministic: %x then %x", b, again)
			}
			if _, rest := firstItemLen(t, b); rest != 0 {
				t.Errorf("EncodeClaims left %d bytes after the map", rest)
			}
			var m map[string]cbor.RawMessage
			if err := cbor.Unmarshal(b, &m); err != nil {
				t.Fatalf("claims are not a CBOR map: %v", err)
			}
			if len(m) != len(tc.claims.Custom)+1 {
				t.Errorf("map has %d entries, want %d", len(m), len(tc.claims.Custom)+1)
			}
			var pk []byte
			if err := cbor.Unmarshal(m[dice.ClaimPubKeyHash], &pk); err != nil {
				t.Fatalf("pubkey-hash is not a byte string: %v", err)
			}
			var arr []any
			if err := cbor.Unmarshal(pk, &arr); err != nil || len(arr) != 2 || arr[0] != uint64(tc.claims.PubKeyHash.Alg) || !bytes.Equal(arr[1].([]byte), tc.claims.PubKeyHash.Hash) {
				t.Errorf("pubkey-hash holds %v, %v; want [%d, hash]", arr, err, tc.claims.PubKeyHash.Alg)
			}

			got, err := dice.DecodeClaims(b)
			if err != nil {
				t.Fatalf("DecodeClaims: %v", err)
			}
			if got.PubKeyHash.Alg != tc.claims.PubKeyHash.Alg || !bytes.Equal(got.PubKeyHash.Hash, tc.claims.PubKeyHash.Hash) || !equalCustom(got.Custom, tc.claims.Custom) {
				t.Errorf("DecodeClaims = %+v, want %+v", got, tc.claims)
			}
			// Stray bytes after the map are ignored, as libcbor < 0.10 leaves them.
			got, err = dice.DecodeClaims(append(bytes.Clone(b), 0, 0, 0xff, 0x13))
			if err != nil || !equalCustom(got.Custom, tc.claims.Custom) {
				t.Errorf("DecodeClaims with stray bytes = %+v, %v", got, err)
			}
		})
	}
}

func TestEncodeClaimsErrors(t *testing.T) {
	pk := dice.PubKeyHash{Alg: instance.SHA256, Hash: make([]byte, 32)}
	many := make(map[string][]byte)
	for i := range 64 {
		many[fmt.Sprint(i)] = nil
	}
	tests := []struct {
		name    string
		custom  map[string][]byte
		reasons []string
	}{
		{"reserved name", map[string][]byte{"key_0": {1}, dice.ClaimPubKeyHash: {1}}, []string{`"pubkey-hash"`, "reserved"}},
		{"64 custom claims", many, []string{"64 custom claims", "at most 63"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := dice.EncodeClaims(dice.Claims{PubKeyHash: pk, Custom: tc.custom})
			if err == nil {
				t.Fatalf("EncodeClaims = %x, want an error", b)
			}
			for _, r := range tc.reasons {
				if !strings.Contains(err.Error(), r) {
					t.Errorf("error %q does not name the reason %q", err, r)
				}
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	if b, err := dice.EncodeEvidence(instance.Evidence{Type: "null", Data: []byte{1}}, []byte{0xa0}); err == nil || !strings.Contains(err.Error(), `"null"`) {
		t.Errorf("EncodeEvidence(null) = %x, %v; want an error naming the type", b, err)
	}
	tests := []struct {
		name, evType string
		item         []byte
		reason       string
	}{
		{"unknown type", "tpm", []byte{0x01}, `"tpm"`},
		{"empty item", "sgx_ecdsa", nil, "not one CBOR item"},
		{"two items", "sgx_ecdsa", []byte{0x01, 0x02}, "not one CBOR item"},
		{"truncated item", "sev_snp", []byte{0x82, 0x01}, "not one CBOR item"},
		{"not CBOR", "csv", []byte{0xff}, "not one CBOR item"},
		// Deterministic encoding has no indefinite lengths.
		{"indefinite-length item", "sgx_ecdsa", []byte{0x9f, 0x01, 0xff}, "indefinite-length"},
		// Found by FuzzDecodeEndorsements: well-formed, so decoded, but tag 0
		// must hold a text string.
		{"tag 0 over a number", "sgx_la", []byte{0x82, 0x30, 0xc0, 0x30}, "tag number 0 must be followed by text string"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := dice.EncodeEndorsements(tc.evType, tc.item)
			if err == nil || !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("EncodeEndorsements = %x, %v; want an error naming %q", b, err, tc.reason)
			}
		})
	}
}

func TestEndorsementsRoundTrip(t *testing.T) {
	items := [][]byte{{0x00}, {0xf6}, {0x40}, {0x80}, enc(t, map[string]string{"tcb_info": "{}"}), tagged(t, 1, []byte{0x01})}
	for _, evType := range evidenceTypes {
		for _, item := range items {
			ext, err := dice.EncodeEndorsements(evType, item)
			if err != nil {
				t.Errorf("EncodeEndorsements(%s, %x): %v", evType, item, err)
				continue
			}
			tag, got, err := dice.DecodeEndorsements(append(ext, 0xff)) // stray bytes are ignored
			if wantTag, _ := dice.TagOf(evType); err != nil || tag != wantTag || !bytes.Equal(got, item) {
				t.Errorf("DecodeEndorsements(%x) = %d, %x, %v; want %d, %x", ext, tag, got, err, wantTag, item)
			}
		}
	}
	// null and undefined included: cbor.RawTag alone takes them for an empty tag 0.
	for _, ext := range [][]byte{nil, {0xff}, {0x01}, {0x82, 0x01, 0x02}, {0xd9, 0xea}, {0xd9, 0xea, 0x60}, {0xf6}, {0xf7}, {0xd9, 0xd9, 0xf7, 0xf6}} {
		_, _, err := dice.DecodeEndorsements(ext)
		checkErr(t, err, dice.ErrMalformed, "endorsements extension is not a tagged CBOR item")
	}
}

func TestFindBad(t *testing.T) {
	p := pieces{t}
	good := p.claims(p.key("key_0"), p.bstr([]byte("value_0")))
	sgx := p.quote(0)
	dc := func(ext []byte) pkix.Extension { return pkixExt(dice.OIDTaggedEvidence, ext) }
	goodExt := p.ev(60000, sgx, p.bstr(good))
	withClaims := func(c []byte) []pkix.Extension { return []pkix.Extension{dc(p.ev(60000, sgx, p.bstr(c)))} }
	withPK := func(pk []byte) []pkix.Extension {
		return withClaims(rawMap(p.key(dice.ClaimPubKeyHash), p.bstr(pk)))
	}
	ownSPKI := baseCert().RawSubjectPublicKeyInfo
	otherSPKI := spki(t, p384Key())
	sum := func(alg instance.HashAlgorithm, b []byte) []byte {
		h := alg.CryptoHash().New()
		h.Write(b)
		return h.Sum(nil)
	}
	tooMany := [][]byte{}
	for i := range 64 {
		tooMany = append(tooMany, p.key(fmt.Sprint("k", i)), p.bstr(nil))
	}
	endorse := func(tag uint64) pkix.Extension {
		return pkixExt(dice.OIDEndorsementManifest, tagged(t, tag, []byte{0xa0}))
	}
	big := make([]byte, dice.DefaultMaxEvidenceSize+1)

	tests := []struct {
		name    string
		exts    []pkix.Extension
		maxSize int
		want    error
		reasons []string
	}{
		// The tag.
		{"unknown tag", []pkix.Extension{dc(p.ev(12345, sgx, p.bstr(good)))}, 0, dice.ErrUnknownTag, []string{"12345"}},
		{"tag 60001", []pkix.Extension{dc(p.ev(60001, sgx, p.bstr(good)))}, 0, dice.ErrUnknownTag, []string{"60001"}},
		{"tag 60000 TEE type 0x7f", []pkix.Extension{dc(p.ev(60000, p.quote(0x7f), p.bstr(good)))}, 0, dice.ErrMalformed, []string{"TEE type 0x7f"}},
		{"tag 60000 TEE type 0x80", []pkix.Extension{dc(p.ev(60000, p.quote(0x80), p.bstr(good)))}, 0, dice.ErrMalformed, []string{"TEE type 0x80"}},
		{"tag 60000 short quote", []pkix.Extension{dc(p.ev(60000, p.bstr([]byte{3, 0, 2, 0}), p.bstr(good)))}, 0, dice.ErrMalformed, []string{"4 bytes has no header"}},
		{"not tagged", []pkix.Extension{dc(p.arr(sgx, p.bstr(good)))}, 0, dice.ErrMalformed, []string{"not a tagged CBOR item"}},
		{"not CBOR", []pkix.Extension{dc([]byte{0xff})}, 0, dice.ErrMalformed, []string{"not a tagged CBOR item"}},
		{"empty extension", []pkix.Extension{dc([]byte{})}, 0, dice.ErrMalformed, []string{"not a tagged CBOR item", "EOF"}},
		{"null", []pkix.Extension{dc([]byte{0xf6})}, 0, dice.ErrMalformed, []string{"not a tagged CBOR item but null or undefined"}},
		{"undefined", []pkix.Extension{dc([]byte{0xf7})}, 0, dice.ErrMalformed, []string{"not a tagged CBOR item but null or undefined"}},
		{"self-described null", []pkix.Extension{dc([]byte{0xd9, 0xd9, 0xf7, 0xf6})}, 0, dice.ErrMalformed, []string{"not a tagged CBOR item but null or undefined"}},
		{"truncated", []pkix.Extension{dc(goodExt[:len(goodExt)-1])}, 0, dice.ErrMalformed, []string{"not a tagged CBOR item", "unexpected EOF"}},

		// The array.
		{"array of 0", []pkix.Extension{dc(tagged(t, 60000, p.arr()))}, 0, dice.ErrMalformed, []string{"tag 60000 does not hold [evidence, claims]"}},
		{"array of 1", []pkix.Extension{dc(tagged(t, 60000, p.arr(sgx)))}, 0, dice.ErrMalformed, []string{"tag 60000 does not hold [evidence, claims]"}},
		{"array of 3", []pkix.Extension{dc(tagged(t, 60000, p.arr(sgx, p.bstr(good), p.bstr(nil))))}, 0, dice.ErrMalformed, []string{"tag 60000 does not hold [evidence, claims]"}},
		{"tag over a map", []pkix.Extension{dc(tagged(t, 60000, rawMap(sgx, p.bstr(good))))}, 0, dice.ErrMalformed, []string{"does not hold [evidence, claims]"}},
		{"tag over a bstr", []pkix.Extension{dc(tagged(t, 60000, sgx))}, 0, dice.ErrMalformed, []string{"does not hold [evidence, claims]"}},

		// The evidence.
		{"evidence text", []pkix.Extension{dc(p.ev(60000, p.text("quote"), p.bstr(good)))}, 0, dice.ErrMalformed, []string{"does not hold [evidence, claims]", "text string"}},
		{"evidence int", []pkix.Extension{dc(p.ev(60000, p.item(3), p.bstr(good)))}, 0, dice.ErrMalformed, []string{"does not hold [evidence, claims]"}},
		{"evidence array", []pkix.Extension{dc(p.ev(60000, p.arr(sgx), p.bstr(good)))}, 0, dice.ErrMalformed, []string{"does not hold [evidence, claims]"}},
		{"evidence map", []pkix.Extension{dc(p.ev(60000, good, p.bstr(good)))}, 0, dice.ErrMalformed, []string{"does not hold [evidence, claims]"}},
		{"evidence null", []pkix.Extension{dc(p.ev(60000, []byte{0xf6}, p.bstr(good)))}, 0, dice.ErrMalformed, []string{"does not hold [evidence, claims]", "a CBOR simple value or float where a byte string is required"}},
		{"evidence undefined", []pkix.Extension{dc(p.ev(60000, []byte{0xf7}, p.bstr(good)))}, 0, dice.ErrMalformed, []string{"does not hold [evidence, claims]", "where a byte string is required"}},
		{"evidence an array of bytes", []pkix.Extension{dc(p.ev(dice.TagSEV, p.item([]uint{1, 2, 3}), p.bstr(good)))}, 0, dice.ErrMalformed, []string{"does not hold [evidence, claims]", "a CBOR array where a byte string is required"}},
		{"evidence a tagged bstr", []pkix.Extension{dc(p.ev(60000, tagged(t, 24, sgx), p.bstr(good)))}, 0, dice.ErrMalformed, []string{"does not hold [evidence, claims]", "a CBOR tag where a byte string is required"}},
		{"empty evidence", []pkix.Extension{dc(p.ev(dice.TagSEVSNP, p.bstr([]byte{}), p.bstr(good)))}, 0, dice.ErrMalformed, []string{"empty evidence under tag 1733892"}},

		// The claims.
		{"claims a map, not a bstr", []pkix.Extension{dc(p.ev(60000, sgx, good))}, 0, dice.ErrMalformed, []string{"does not hold [evidence, claims]"}},
		{"claims text", []pkix.Extension{dc(p.ev(60000, sgx, p.text(string(good))))}, 0, dice.ErrMalformed, []string{"does not hold [evidence, claims]"}},
		{"claims null", []pkix.Extension{dc(p.ev(60000, sgx, []byte{0xf6}))}, 0, dice.ErrMalformed, []string{"does not hold [evidence, claims]", "where a byte string is required"}},
		{"claims an array of bytes", []pkix.Extension{dc(p.ev(60000, sgx, p.item([]uint{0xa0})))}, 0, dice.ErrMalformed, []string{"does not hold [evidence, claims]", "a CBOR array where a byte string is required"}},
		{"claims empty", withClaims([]byte{}), 0, dice.ErrMalformed, []string{"claims are not a CBOR map", "EOF"}},
		{"claims an array", withClaims(p.arr(p.key(dice.ClaimPubKeyHash), p.bstr(nil))), 0, dice.ErrMalformed, []string{"claims are not a CBOR map"}},
		{"claims an int", withClaims(p.item(1)), 0, dice.ErrMalformed, []string{"claims are not a CBOR map"}},
		{"claims not CBOR", withClaims([]byte{0xff, 0xa1}), 0, dice.ErrMalformed, []string{"claims are not a CBOR map"}},
		{"claims truncated", withClaims(good[:len(good)-1]), 0, dice.ErrMalformed, []string{"claims are not a CBOR map", "unexpected EOF"}},
		{"claims null map", withClaims([]byte{0xf6}), 0, dice.ErrMalformed, []string{`claims lack "pubkey-hash"`}},
		{"int key", withClaims(p.claims(p.item(1), p.bstr(nil))), 0, dice.ErrMalformed, []string{"claims are not a CBOR map of text to bytes"}},
		{"bstr key", withClaims(p.claims(p.bstr([]byte("key_0")), p.bstr(nil))), 0, dice.ErrMalformed, []string{"claims are not a CBOR map of text to bytes"}},
		{"value text", withClaims(p.claims(p.key("key_0"), p.text("value_0"))), 0, dice.ErrMalformed, []string{"claims are not a CBOR map of text to bytes", "where a byte string is required"}},
		{"value int", withClaims(p.claims(p.key("key_0"), p.item(7))), 0, dice.ErrMalformed, []string{"claims are not a CBOR map of text to bytes", "where a byte string is required"}},
		{"value array", withClaims(p.claims(p.key("key_0"), p.arr(p.bstr(nil)))), 0, dice.ErrMalformed, []string{"claims are not a CBOR map of text to bytes", "where a byte string is required"}},
		{"value map", withClaims(p.claims(p.key("key_0"), rawMap())), 0, dice.ErrMalformed, []string{"claims are not a CBOR map of text to bytes", "where a byte string is required"}},
		{"value true", withClaims(p.claims(p.key("key_0"), []byte{0xf5})), 0, dice.ErrMalformed, []string{"claims are not a CBOR map of text to bytes", "where a byte string is required"}},
		{"value null", withClaims(p.claims(p.key("key_0"), []byte{0xf6})), 0, dice.ErrMalformed, []string{"claims are not a CBOR map of text to bytes", "where a byte string is required"}},
		{"value undefined", withClaims(p.claims(p.key("key_0"), []byte{0xf7})), 0, dice.ErrMalformed, []string{"claims are not a CBOR map of text to bytes", "where a byte string is required"}},
		{"value float", withClaims(p.claims(p.key("key_0"), p.item(1.5))), 0, dice.ErrMalformed, []string{"claims are not a CBOR map of text to bytes", "where a byte string is required"}},
		{"value an array of bytes", withClaims(p.claims(p.key("key_0"), p.item([]uint{1, 2}))), 0, dice.ErrMalformed, []string{"a CBOR array where a byte string is required"}},
		{"value tagged bstr", withClaims(p.claims(p.key("key_0"), tagged(t, 2, p.bstr([]byte{1})))), 0, dice.ErrMalformed, []string{"claims are not a CBOR map of text to bytes", "where a byte string is required"}},
		{"pubkey-hash not a bstr", withClaims(rawMap(p.key(dice.ClaimPubKeyHash), p.pk(instance.SHA256, sum(instance.SHA256, ownSPKI)))), 0, dice.ErrMalformed, []string{"a CBOR array where a byte string is required"}},
		{"pubkey-hash null", withClaims(rawMap(p.key(dice.ClaimPubKeyHash), []byte{0xf6})), 0, dice.ErrMalformed, []string{"where a byte string is required"}},
		{"pubkey-hash hash an array of bytes", withPK(p.arr(p.item(1), p.item(toUints(sum(instance.SHA256, ownSPKI))))), 0, dice.ErrMalformed, []string{`"pubkey-hash" is not [alg, hash]`, "a CBOR array where a byte string is required"}},
		{"pubkey-hash hash null", withPK(p.arr(p.item(1), []byte{0xf6})), 0, dice.ErrMalformed, []string{`"pubkey-hash" is not [alg, hash]`, "where a byte string is required"}},
		{"duplicate pubkey-hash", withClaims(p.claims(p.key(dice.ClaimPubKeyHash), p.bstr(p.pk(instance.SHA256, sum(instance.SHA256, ownSPKI))))), 0, dice.ErrMalformed, []string{"duplicate map key"}},
		{"duplicate custom key", withClaims(p.claims(p.key("key_0"), p.bstr(nil), p.key("key_0"), p.bstr([]byte{1}))), 0, dice.ErrMalformed, []string{"duplicate map key"}},
		{"65 claims", withClaims(p.claims(tooMany...)), 0, dice.ErrMalformed, []string{"claims are not a CBOR map", "max number of key-value pairs 64"}},
		{"missing pubkey-hash", withClaims(rawMap(p.key("key_0"), p.bstr([]byte("value_0")))), 0, dice.ErrMalformed, []string{`claims lack "pubkey-hash"`}},
		{"empty claims map", withClaims(rawMap()), 0, dice.ErrMalformed, []string{`claims lack "pubkey-hash"`}},
		{"pubkey-hash key differs in case", withClaims(rawMap(p.key("Pubkey-Hash"), p.bstr(p.pk(instance.SHA256, sum(instance.SHA256, ownSPKI))))), 0, dice.ErrMalformed, []string{`claims lack "pubkey-hash"`}},

		// pubkey-hash.
		{"pubkey-hash alg 0", withPK(p.pk(0, sum(instance.SHA256, ownSPKI))), 0, dice.ErrMalformed, []string{"hash-alg(0) with a 32-byte hash"}},
		{"pubkey-hash alg 2", withPK(p.pk(2, sum(instance.SHA256, ownSPKI))), 0, dice.ErrMalformed, []string{"hash-alg(2) with a 32-byte hash"}},
		{"pubkey-hash alg sha-1 (6)", withPK(p.pk(6, make([]byte, 20))), 0, dice.ErrMalformed, []string{"hash-alg(6)"}},
		{"pubkey-hash sha-256 of 48 bytes", withPK(p.pk(instance.SHA256, sum(instance.SHA384, ownSPKI))), 0, dice.ErrMalformed, []string{"sha-256 with a 48-byte hash"}},
		{"pubkey-hash sha-384 of 32 bytes", withPK(p.pk(instance.SHA384, sum(instance.SHA256, ownSPKI))), 0, dice.ErrMalformed, []string{"sha-384 with a 32-byte hash"}},
		{"pubkey-hash sha-512 empty", withPK(p.pk(instance.SHA512, []byte{})), 0, dice.ErrMalformed, []string{"sha-512 with a 0-byte hash"}},
		{"pubkey-hash sha-256 of 33 bytes", withPK(p.pk(instance.SHA256, append(sum(instance.SHA256, ownSPKI), 0))), 0, dice.ErrMalformed, []string{"sha-256 with a 33-byte hash"}},
		{"pubkey-hash [alg]", withPK(p.arr(p.item(1))), 0, dice.ErrMalformed, []string{`"pubkey-hash" is not [alg, hash]`}},
		{"pubkey-hash [alg, hash, x]", withPK(p.arr(p.item(1), p.bstr(sum(instance.SHA256, ownSPKI)), p.item(0))), 0, dice.ErrMalformed, []string{`"pubkey-hash" is not [alg, hash]`}},
		{"pubkey-hash [-1, hash]", withPK(p.arr(p.item(-1), p.bstr(sum(instance.SHA256, ownSPKI)))), 0, dice.ErrMalformed, []string{`"pubkey-hash" is not [alg, hash]`}},
		{"pubkey-hash [name, hash]", withPK(p.arr(p.text("sha-256"), p.bstr(sum(instance.SHA256, ownSPKI)))), 0, dice.ErrMalformed, []string{`"pubkey-hash" is not [alg, hash]`}},
		{"pubkey-hash [alg, text]", withPK(p.arr(p.item(1), p.text(string(sum(instance.SHA256, ownSPKI))))), 0, dice.ErrMalformed, []string{`"pubkey-hash" is not [alg, hash]`}},
		{"pubkey-hash a map", withPK(rawMap(p.item(1), p.bstr(sum(instance.SHA256, ownSPKI)))), 0, dice.ErrMalformed, []string{`"pubkey-hash" is not [alg, hash]`}},
		{"pubkey-hash the bare hash", withPK(sum(instance.SHA256, ownSPKI)), 0, dice.ErrMalformed, []string{`"pubkey-hash"`}},
		{"pubkey-hash empty", withPK([]byte{}), 0, dice.ErrMalformed, []string{`"pubkey-hash" is not [alg, hash]`, "EOF"}},
		{"pubkey-hash truncated", withPK(p.pk(instance.SHA256, sum(instance.SHA256, ownSPKI))[:20]), 0, dice.ErrMalformed, []string{`"pubkey-hash" is not [alg, hash]`, "EOF"}},

		// The key binding.
		{"pubkey-hash of another key", withPK(p.pk(instance.SHA256, sum(instance.SHA256, otherSPKI))), 0, dice.ErrKeyMismatch, []string{"sha-256 over the SubjectPublicKeyInfo"}},
		{"pubkey-hash sha-384 of another key", withPK(p.pk(instance.SHA384, sum(instance.SHA384, otherSPKI))), 0, dice.ErrKeyMismatch, []string{"sha-384"}},
		{"pubkey-hash sha-512 of another key", withPK(p.pk(instance.SHA512, sum(instance.SHA512, otherSPKI))), 0, dice.ErrKeyMismatch, []string{"sha-512"}},
		{"pubkey-hash labelled sha-384, sha-512 truncated", withPK(p.pk(instance.SHA384, sum(instance.SHA512, ownSPKI)[:48])), 0, dice.ErrKeyMismatch, []string{"sha-384"}},
		{"pubkey-hash of the whole certificate", withPK(p.pk(instance.SHA256, sum(instance.SHA256, baseCert().Raw))), 0, dice.ErrKeyMismatch, []string{"sha-256"}},
		{"pubkey-hash of the bare EC point", withPK(p.pk(instance.SHA256, sum(instance.SHA256, ownSPKI[len(ownSPKI)-65:]))), 0, dice.ErrKeyMismatch, []string{"sha-256"}},
		{"pubkey-hash zero", withPK(p.pk(instance.SHA256, make([]byte, 32))), 0, dice.ErrKeyMismatch, []string{"sha-256"}},

		// Size caps.
		{"above the cap given", []pkix.Extension{dc(goodExt)}, len(goodExt) - 1, dice.ErrTooLarge, []string{fmt.Sprintf("has %d bytes, the cap is %d", len(goodExt), len(goodExt)-1)}},
		{"garbage above the default cap", []pkix.Extension{dc(big)}, 0, dice.ErrTooLarge, []string{fmt.Sprintf("the cap is %d", dice.DefaultMaxEvidenceSize)}},
		{"CMW above the cap", []pkix.Extension{pkixExt(dice.OIDCMW, goodExt)}, 10, dice.ErrTooLarge, []string{"1.3.6.1.5.5.7.1.35", "the cap is 10"}},
		{"endorsements above the cap", []pkix.Extension{dc(goodExt), pkixExt(dice.OIDEndorsementManifest, make([]byte, len(goodExt)+1))}, len(goodExt), dice.ErrTooLarge, []string{"2.23.133.5.4.2"}},
		{"legacy above the cap", []pkix.Extension{pkixExt(legacyOIDs[4].oid, make([]byte, 101))}, 100, dice.ErrTooLarge, []string{"legacy sev extension has 101 bytes, the cap is 100"}},
		{"legacy above the default cap", []pkix.Extension{pkixExt(legacyOIDs[0].oid, big)}, 0, dice.ErrTooLarge, []string{"legacy sgx_ecdsa"}},

		// Carriers.
		{"DICE twice", []pkix.Extension{dc(goodExt), dc(goodExt)}, 0, dice.ErrMalformed, []string{"2.23.133.5.4.9 appears twice"}},
		{"CMW twice", []pkix.Extension{pkixExt(dice.OIDCMW, goodExt), pkixExt(dice.OIDCMW, goodExt)}, 0, dice.ErrMalformed, []string{"1.3.6.1.5.5.7.1.35 appears twice"}},
		{"endorsements twice", []pkix.Extension{dc(goodExt), endorse(60000), endorse(60000)}, 0, dice.ErrMalformed, []string{"2.23.133.5.4.2 appears twice"}},
		{"DICE and CMW", []pkix.Extension{dc(goodExt), pkixExt(dice.OIDCMW, goodExt)}, 0, dice.ErrMalformed, []string{"2 evidence extensions"}},
		{"DICE and legacy", []pkix.Extension{dc(goodExt), pkixExt(legacyOIDs[0].oid, []byte("quote"))}, 0, dice.ErrMalformed, []string{"2 evidence extensions"}},
		{"legacy and DICE", []pkix.Extension{pkixExt(legacyOIDs[3].oid, []byte("report")), dc(goodExt)}, 0, dice.ErrMalformed, []string{"2 evidence extensions"}},
		{"two legacy", []pkix.Extension{pkixExt(legacyOIDs[0].oid, []byte("q")), pkixExt(legacyOIDs[1].oid, []byte("q"))}, 0, dice.ErrMalformed, []string{"2 evidence extensions"}},
		{"legacy twice", []pkix.Extension{pkixExt(legacyOIDs[2].oid, []byte("q")), pkixExt(legacyOIDs[2].oid, []byte("q"))}, 0, dice.ErrMalformed, []string{"2 evidence extensions"}},
		{"all three", []pkix.Extension{dc(goodExt), pkixExt(dice.OIDCMW, goodExt), pkixExt(legacyOIDs[5].oid, []byte("q"))}, 0, dice.ErrMalformed, []string{"3 evidence extensions"}},
		{"empty legacy", []pkix.Extension{pkixExt(legacyOIDs[0].oid, []byte{})}, 0, dice.ErrMalformed, []string{"empty legacy sgx_ecdsa extension"}},

		// Endorsements.
		{"endorsements tag 60002 for tag 60000", []pkix.Extension{dc(goodExt), endorse(60002)}, 0, dice.ErrMalformed, []string{"endorsements tagged 60002 but evidence tagged 60000"}},
		{"endorsements sev_snp tag for sev evidence", []pkix.Extension{dc(p.ev(dice.TagSEV, p.bstr([]byte("r")), p.bstr(good))), endorse(dice.TagSEVSNP)}, 0, dice.ErrMalformed, []string{"endorsements tagged 1733892 but evidence tagged 1733893"}},
		{"endorsements untagged", []pkix.Extension{dc(goodExt), pkixExt(dice.OIDEndorsementManifest, []byte{0xa0})}, 0, dice.ErrMalformed, []string{"endorsements extension is not a tagged CBOR item"}},
		{"endorsements null", []pkix.Extension{dc(goodExt), pkixExt(dice.OIDEndorsementManifest, []byte{0xf6})}, 0, dice.ErrMalformed, []string{"endorsements extension is not a tagged CBOR item but null or undefined"}},
		{"endorsements undefined", []pkix.Extension{dc(goodExt), pkixExt(dice.OIDEndorsementManifest, []byte{0xf7})}, 0, dice.ErrMalformed, []string{"endorsements extension is not a tagged CBOR item but null or undefined"}},
		{"endorsements empty", []pkix.Extension{dc(goodExt), pkixExt(dice.OIDEndorsementManifest, []byte{})}, 0, dice.ErrMalformed, []string{"endorsements extension is not a tagged CBOR item"}},
		{"endorsements truncated", []pkix.Extension{dc(goodExt), pkixExt(dice.OIDEndorsementManifest, tagged(t, 60000, p.bstr(make([]byte, 10)))[:8])}, 0, dice.ErrMalformed, []string{"endorsements extension is not a tagged CBOR item", "EOF"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cert := withExts(baseCert(), tc.exts...)
			f, err := dice.Find(cert, tc.maxSize)
			if f != nil {
				t.Errorf("Find = %+v, want nil", f)
			}
			checkErr(t, err, tc.want, tc.reasons...)
		})
	}

	// The good extension the bad ones were made from is accepted.
	if f, err := dice.Find(withExts(baseCert(), dc(goodExt), endorse(60000)), 0); err != nil || f.Evidence.Type != "sgx_ecdsa" || !bytes.Equal(f.Endorsements, []byte{0xa0}) {
		t.Errorf("Find(good) = %+v, %v", f, err)
	}
}

// toUints spells b as a CBOR array of integers, which a lax decoder would
// take for a byte string.
func toUints(b []byte) []uint {
	u := make([]uint, len(b))
	for i, x := range b {
		u[i] = uint(x)
	}
	return u
}
