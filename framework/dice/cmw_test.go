package dice_test

import (
	"bytes"
	"crypto/x509/pkix"
	"github.com/fxamacker/cbor/v2"
	"testing"

	"github.com/inclavare/inclavare/framework/dice"
	"github.com/inclavare/inclavare/framework/instance"
)

// TestCMW: the id-pe-cmw extension, as a CMW record [type, value, ?ind]
// whose value is the tagged evidence, or as the tagged evidence itself,
// finds what the DICE extension would.
func TestCMW(t *testing.T) {
	p := pieces{t}
	key := fixedKey()
	claims := mustClaims(t, dice.Claims{PubKeyHash: pubKeyHash(t, key, instance.SHA384), Custom: map[string][]byte{"nonce": {9}}})
	for _, evType := range evidenceTypes {
		ext := diceExt(t, evType, claims)
		endorse, err := dice.EncodeEndorsements(evType, []byte{0x80})
		if err != nil {
			t.Fatal(err)
		}
		want, err := dice.Find(makeCert(t, key, pkixExt(dice.OIDTaggedEvidence, ext), pkixExt(dice.OIDEndorsementManifest, endorse)), 0)
		if err != nil {
			t.Fatalf("Find(DICE %s): %v", evType, err)
		}
		forms := []struct {
			name string
			cmw  []byte
		}{
			{"tagged", ext},
			{"tagged with stray bytes", append(bytes.Clone(ext), 0xff, 0x00)},
			{"record with media type", p.arr(p.text(`application/vnd.tcg.dice.tagged-evidence`), p.bstr(ext))},
			{"record with content format", p.arr(p.item(10571), p.bstr(ext))},
			{"record with indicator", p.arr(p.text(`application/cbor`), p.bstr(ext), p.item(4))},
			{"record with stray bytes", append(p.arr(p.item(10571), p.bstr(ext)), 0x00)},
			{"record whose value has stray bytes", p.arr(p.item(10571), p.bstr(append(bytes.Clone(ext), 1, 2, 3)))},
		}
		for _, form := range forms {
			t.Run(evType+"/"+form.name, func(t *testing.T) {
				cert := makeCert(t, key, pkixExt(dice.OIDCMW, form.cmw), pkixExt(dice.OIDEndorsementManifest, endorse))
				got, err := dice.Find(cert, 0)
				if err != nil {
					t.Fatalf("Find: %v", err)
				}
				if got.Format != dice.FormatCMW {
					t.Errorf("Format = %q, want %q", got.Format, dice.FormatCMW)
				}
				if got.Tag != want.Tag || got.Evidence.Type != want.Evidence.Type || !bytes.Equal(got.Evidence.Data, want.Evidence.Data) ||
					!bytes.Equal(got.ClaimsBytes, want.ClaimsBytes) || !bytes.Equal(got.ReportData, want.ReportData) ||
					!bytes.Equal(got.Endorsements, want.Endorsements) || !equalCustom(got.Claims.Custom, want.Claims.Custom) {
					t.Errorf("Find(CMW) = %+v, want as DICE %+v", got, want)
				}
			})
		}
	}
}

func TestCMWBad(t *testing.T) {
	p := pieces{t}
	key := fixedKey()
	claims := mustClaims(t, dice.Claims{PubKeyHash: pubKeyHash(t, key, instance.SHA256)})
	ext := diceExt(t, "sgx_ecdsa", claims)
	const cf = 10571
	tests := []struct {
		name    string
		cmw     []byte
		want    error
		reasons []string
	}{
		{"not CBOR", []byte{0xff}, dice.ErrMalformed, []string{"CMW extension is not CBOR"}},
		{"empty", []byte{}, dice.ErrMalformed, []string{"CMW extension is not CBOR", "EOF"}},
		{"truncated record", p.arr(p.item(cf), p.bstr(ext))[:20], dice.ErrMalformed, []string{"CMW extension is not CBOR", "unexpected EOF"}},
		{"an integer", p.item(7), dice.ErrMalformed, []string{"neither a record [type, value, ?ind] nor tagged evidence"}},
		{"a byte string", p.bstr(ext), dice.ErrMalformed, []string{"neither a record"}},
		{"a text string", p.text("cmw"), dice.ErrMalformed, []string{"neither a record"}},
		{"a map", rawMap(p.item(cf), p.bstr(ext)), dice.ErrMalformed, []string{"neither a record"}},
		{"null", []byte{0xf6}, dice.ErrMalformed, []string{"neither a record"}},
		{"record of 0", p.arr(), dice.ErrMalformed, []string{"neither a record"}},
		{"record of 1", p.arr(p.bstr(ext)), dice.ErrMalformed, []string{"neither a record"}},
		{"record of 4", p.arr(p.item(cf), p.bstr(ext), p.item(4), p.item(0)), dice.ErrMalformed, []string{"neither a record"}},
		{"value text", p.arr(p.item(cf), p.text(string(ext))), dice.ErrMalformed, []string{"CMW value is not a byte string"}},
		{"value int", p.arr(p.item(cf), p.item(1)), dice.ErrMalformed, []string{"CMW value is not a byte string"}},
		{"value null", p.arr(p.item(cf), []byte{0xf6}), dice.ErrMalformed, []string{"CMW value is not a byte string"}},
		{"value an array of bytes", p.arr(p.item(cf), p.item(toUints(ext))), dice.ErrMalformed, []string{"CMW value is not a byte string"}},
		{"value the tagged evidence unwrapped", p.arr(p.item(cf), ext), dice.ErrMalformed, []string{"CMW value is not a byte string"}},
		{"value empty", p.arr(p.item(cf), p.bstr(nil)), dice.ErrMalformed, []string{"evidence extension is not a tagged CBOR item"}},
		{"value garbage", p.arr(p.item(cf), p.bstr([]byte{0xff, 0x00})), dice.ErrMalformed, []string{"evidence extension is not a tagged CBOR item"}},
		{"value untagged", p.arr(p.item(cf), p.bstr(p.arr(p.bstr([]byte("q")), p.bstr(claims)))), dice.ErrMalformed, []string{"evidence extension is not a tagged CBOR item"}},
		{"value a nested record", p.arr(p.item(cf), p.bstr(p.arr(p.item(cf), p.bstr(ext)))), dice.ErrMalformed, []string{"evidence extension is not a tagged CBOR item"}},
		{"tagged, unknown tag", tagged(t, 1668576818, p.bstr(ext)), dice.ErrMalformed, []string{"tag 1668576818 does not hold [evidence, claims]"}},
		{"tagged, unknown tag over the array", p.ev(4242, p.bstr([]byte("q")), p.bstr(claims)), dice.ErrUnknownTag, []string{"4242"}},
		{"record whose evidence is bound to another key", p.arr(p.item(cf), p.bstr(diceExt(t, "sev", mustClaims(t, dice.Claims{PubKeyHash: pubKeyHash(t, p384Key(), instance.SHA256)})))), dice.ErrKeyMismatch, []string{"sha-256"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := dice.Find(withExts(baseCert(), pkix.Extension{Id: dice.OIDCMW, Value: tc.cmw}), 0)
			if f != nil {
				t.Errorf("Find = %+v, want nil", f)
			}
			checkErr(t, err, tc.want, tc.reasons...)
		})
	}
}

// TestNilBytesEncodeEmpty: nil evidence, claims and claim values encode as
// empty byte strings, which decode, never as null, which does not.
func TestNilBytesEncodeEmpty(t *testing.T) {
	pk := dice.PubKeyHash{Alg: instance.SHA256, Hash: make([]byte, 32)}
	b, err := dice.EncodeClaims(dice.Claims{PubKeyHash: pk, Custom: map[string][]byte{"nil": nil, "empty": {}}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := dice.DecodeClaims(b)
	if err != nil {
		t.Fatalf("DecodeClaims(EncodeClaims(nil claim value)): %v", err)
	}
	if v, ok := c.Custom["nil"]; !ok || len(v) != 0 {
		t.Errorf(`custom claim "nil" = %x (present %v), want empty`, v, ok)
	}
	ext, err := dice.EncodeEvidence(instance.Evidence{Type: "sev", Data: []byte{1}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tag, ev, claims, err := dice.DecodeEvidence(ext)
	if err != nil || tag != dice.TagSEV || !bytes.Equal(ev, []byte{1}) || len(claims) != 0 {
		t.Errorf("DecodeEvidence(EncodeEvidence(nil claims)) = %d, %x, %x, %v", tag, ev, claims, err)
	}
	// Empty evidence is refused on the way out, and on the way in.
	_, err = dice.EncodeEvidence(instance.Evidence{Type: "sev"}, b)
	checkErr(t, err, dice.ErrMalformed, "empty sev evidence")
	ext, err = cbor.Marshal(cbor.Tag{Number: dice.TagSEV, Content: [][]byte{{}, b}})
	if err != nil {
		t.Fatal(err)
	}
	_, _, _, err = dice.DecodeEvidence(ext)
	checkErr(t, err, dice.ErrMalformed, "empty evidence under tag 1733893")
}
