package dice_test

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"testing"

	"github.com/inclavare/inclavare/framework/dice"
	"github.com/inclavare/inclavare/framework/instance"
)

var hashAlgs = []instance.HashAlgorithm{instance.SHA256, instance.SHA384, instance.SHA512}

// TestRoundTrip issues real certificates for every key type, pubkey-hash
// algorithm and evidence type, and reads them back with Find.
func TestRoundTrip(t *testing.T) {
	custom := map[string][]byte{"key_0": []byte("value_0"), "nonce": {0, 1, 2, 0xff}, "empty": {}}
	for _, k := range testKeys {
		for _, alg := range hashAlgs {
			for i, evType := range evidenceTypes {
				// Every other certificate carries endorsements.
				withEndorse := (i+int(alg))%2 == 0
				t.Run(fmt.Sprintf("%s/%s/%s/endorsements=%v", k.alg, alg, evType, withEndorse), func(t *testing.T) {
					key := k.key()
					claims := mustClaims(t, dice.Claims{PubKeyHash: pubKeyHash(t, key, alg), Custom: custom})
					ev := makeEvidence(evType, dice.ReportData(claims))
					ext, err := dice.EncodeEvidence(ev, claims)
					if err != nil {
						t.Fatalf("EncodeEvidence: %v", err)
					}
					exts := []pkix.Extension{pkixExt(dice.OIDTaggedEvidence, ext)}
					endorseItem := enc(t, []any{"collateral of " + evType, []byte{1, 2, 3}, map[string]uint64{"v": 3}})
					if withEndorse {
						e, err := dice.EncodeEndorsements(evType, endorseItem)
						if err != nil {
							t.Fatalf("EncodeEndorsements: %v", err)
						}
						exts = append(exts, pkixExt(dice.OIDEndorsementManifest, e))
					}
					cert := makeCert(t, key, exts...)

					f, err := dice.Find(cert, 0)
					if err != nil {
						t.Fatalf("Find: %v", err)
					}
					wantTag, _ := dice.TagOf(evType)
					if f.Format != dice.FormatDICE || f.Tag != wantTag || f.Evidence.Type != evType {
						t.Errorf("Find = format %q, tag %d, type %q; want dice, %d, %q", f.Format, f.Tag, f.Evidence.Type, wantTag, evType)
					}
					if !bytes.Equal(f.Evidence.Data, ev.Data) {
						t.Errorf("Evidence.Data differs from what was encoded")
					}
					if !bytes.Equal(f.ClaimsBytes, claims) {
						t.Errorf("ClaimsBytes = %x, want %x", f.ClaimsBytes, claims)
					}
					if want := sha256Padded(claims); !bytes.Equal(f.ReportData, want) {
						t.Errorf("ReportData = %x, want %x", f.ReportData, want)
					}
					h := alg.CryptoHash().New()
					h.Write(cert.RawSubjectPublicKeyInfo)
					if f.Claims.PubKeyHash.Alg != alg || !bytes.Equal(f.Claims.PubKeyHash.Hash, h.Sum(nil)) {
						t.Errorf("pubkey-hash = [%s, %x], want [%s, hash of the certificate SPKI]", f.Claims.PubKeyHash.Alg, f.Claims.PubKeyHash.Hash, alg)
					}
					if !equalCustom(f.Claims.Custom, custom) {
						t.Errorf("Custom = %q, want %q", f.Claims.Custom, custom)
					}
					switch {
					case withEndorse && !bytes.Equal(f.Endorsements, endorseItem):
						t.Errorf("Endorsements = %x, want %x", f.Endorsements, endorseItem)
					case !withEndorse && f.Endorsements != nil:
						t.Errorf("Endorsements = %x, want none", f.Endorsements)
					}
					// The evidence carries the report data where its type
					// keeps it; Find's ReportData is what it must match.
					if off := reportDataOffset(evType); off >= 0 && !bytes.Equal(f.Evidence.Data[off:off+instance.ReportDataSize], f.ReportData) {
						t.Errorf("evidence report data differs from Find's ReportData")
					}
				})
			}
		}
	}
}

// reportDataOffset is where makeEvidence puts the report data, or -1.
func reportDataOffset(evType string) int {
	switch evType {
	case "sgx_ecdsa":
		return sgxReportDataOff
	case "tdx_ecdsa":
		return tdxReportDataOff
	case "sev_snp":
		return sevSNPReportDataAt
	}
	return -1
}

func equalCustom(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}

// TestRoundTripNoCustom: claims with only pubkey-hash.
func TestRoundTripNoCustom(t *testing.T) {
	key := fixedKey()
	claims := mustClaims(t, dice.Claims{PubKeyHash: pubKeyHash(t, key, instance.SHA256)})
	cert := makeCert(t, key, pkixExt(dice.OIDTaggedEvidence, diceExt(t, "sev_snp", claims)))
	f, err := dice.Find(cert, 0)
	if err != nil {
		t.Fatalf("Find: %v", err)
	}
	if len(f.Claims.Custom) != 0 {
		t.Errorf("Custom = %q, want none", f.Claims.Custom)
	}
}

// TestRoundTripMaxSize: an extension of exactly the cap is accepted, one
// byte over is not, for DefaultMaxEvidenceSize and for a cap given to Find.
func TestRoundTripMaxSize(t *testing.T) {
	key := fixedKey()
	claims := mustClaims(t, dice.Claims{PubKeyHash: pubKeyHash(t, key, instance.SHA256)})
	// ext for evidence of n bytes
	build := func(n int) []byte {
		ev := instance.Evidence{Type: "sev", Data: bytes.Repeat([]byte{0xa5}, n)}
		ext, err := dice.EncodeEvidence(ev, claims)
		if err != nil {
			t.Fatal(err)
		}
		return ext
	}
	// sized returns the extension of exactly size bytes (the byte-string
	// head grows with the evidence, so search around the estimate).
	sized := func(size int) []byte {
		for n := size - 128; n < size; n++ {
			if ext := build(n); len(ext) == size {
				return ext
			}
		}
		t.Fatalf("no evidence length gives a %d-byte extension", size)
		return nil
	}
	for _, limit := range []int{0, 4096, 200 << 10} {
		capSize := limit
		if capSize == 0 {
			capSize = dice.DefaultMaxEvidenceSize
		}
		at, over := sized(capSize), sized(capSize+1)
		if len(at) != capSize || len(over) != capSize+1 {
			t.Fatalf("built %d and %d bytes, want %d and %d", len(at), len(over), capSize, capSize+1)
		}
		if _, err := dice.Find(makeCert(t, key, pkixExt(dice.OIDTaggedEvidence, at)), limit); err != nil {
			t.Errorf("cap %d, extension of %d bytes: %v", limit, len(at), err)
		}
		_, err := dice.Find(makeCert(t, key, pkixExt(dice.OIDTaggedEvidence, over)), limit)
		checkErr(t, err, dice.ErrTooLarge, fmt.Sprintf("%d bytes, the cap is %d", capSize+1, capSize))
	}
}

// TestLegacy: each pre-0.6 extension gives its evidence type, and the report
// data is SHA-256 of the SPKI (EC keys) or of the PKCS #1 key (RSA).
func TestLegacy(t *testing.T) {
	evidence := []byte("raw legacy evidence")
	for _, k := range testKeys {
		key := k.key()
		var keyDER []byte
		switch k.alg {
		case instance.KeyRSA3072:
			keyDER = x509.MarshalPKCS1PublicKey(key.Public().(*rsa.PublicKey))
		case instance.KeyECDSAP256, instance.KeyECDSAP384:
			keyDER = spki(t, key)
		default:
			continue // pre-0.6 Rats-TLS had EC and RSA keys only
		}
		for _, l := range legacyOIDs {
			t.Run(fmt.Sprintf("%s/%s", k.alg, l.oid), func(t *testing.T) {
				cert := makeCert(t, key, pkixExt(l.oid, evidence))
				f, err := dice.Find(cert, 0)
				if err != nil {
					t.Fatalf("Find: %v", err)
				}
				if f.Format != dice.FormatLegacy || f.Evidence.Type != l.evType || !bytes.Equal(f.Evidence.Data, evidence) {
					t.Errorf("Find = %q %q %q, want legacy %q %q", f.Format, f.Evidence.Type, f.Evidence.Data, l.evType, evidence)
				}
				h := sha256.Sum256(keyDER)
				want := append(h[:], make([]byte, 32)...)
				if !bytes.Equal(f.ReportData, want) {
					t.Errorf("ReportData = %x, want %x", f.ReportData, want)
				}
				if f.Tag != 0 || f.ClaimsBytes != nil || f.Claims.Custom != nil || f.Endorsements != nil {
					t.Errorf("legacy Found carries DICE fields: %+v", f)
				}
			})
		}
	}
}

// TestTruncatedRoundTrip cuts each encoded extension at every length short
// of its end: every prefix is refused with ErrMalformed, none panics.
func TestTruncatedRoundTrip(t *testing.T) {
	p := pieces{t}
	key := fixedKey()
	claims := mustClaims(t, dice.Claims{PubKeyHash: pubKeyHash(t, key, instance.SHA512), Custom: map[string][]byte{"k": {1}}})
	for _, evType := range evidenceTypes {
		ext := diceExt(t, evType, claims)
		endorse, err := dice.EncodeEndorsements(evType, enc(t, []any{"tcb", []byte{1, 2}}))
		if err != nil {
			t.Fatal(err)
		}
		cmw := p.arr(p.item(10571), p.bstr(ext))
		carriers := []struct {
			name  string
			value []byte
			build func(v []byte) []pkix.Extension
		}{
			{"dice", ext, func(v []byte) []pkix.Extension { return []pkix.Extension{pkixExt(dice.OIDTaggedEvidence, v)} }},
			{"cmw", cmw, func(v []byte) []pkix.Extension { return []pkix.Extension{pkixExt(dice.OIDCMW, v)} }},
			{"endorsements", endorse, func(v []byte) []pkix.Extension {
				return []pkix.Extension{pkixExt(dice.OIDTaggedEvidence, ext), pkixExt(dice.OIDEndorsementManifest, v)}
			}},
		}
		for _, c := range carriers {
			if _, err := dice.Find(withExts(baseCert(), c.build(c.value)...), 0); err != nil {
				t.Fatalf("%s %s: the whole extension: %v", evType, c.name, err)
			}
			for n := range len(c.value) {
				f, err := dice.Find(withExts(baseCert(), c.build(c.value[:n:n])...), 0)
				if err == nil {
					t.Errorf("%s %s: prefix of %d of %d bytes accepted: %+v", evType, c.name, n, len(c.value), f)
					continue
				}
				checkErr(t, err, dice.ErrMalformed, "EOF")
			}
		}
	}
}
