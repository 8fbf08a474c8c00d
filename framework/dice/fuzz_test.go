package dice_test

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/inclavare/inclavare/framework/dice"
	"github.com/inclavare/inclavare/framework/instance"
)

// tagTypes maps each tag to one evidence type encoded under it.
var tagTypes = map[uint64]string{
	dice.TagIntelTEEQuote:   "sgx_ecdsa",
	dice.TagSGXLegacyReport: "sgx_la",
	dice.TagSEVSNP:          "sev_snp",
	dice.TagSEV:             "sev",
	dice.TagCSV:             "csv",
}

// seedExts are real extension values: the C vector's (whole and without its
// stray bytes) and this package's encodings for the fixed key, in every
// evidence type and carrier.
func seedExts(tb testing.TB) (evidence, claims, endorsements [][]byte) {
	tb.Helper()
	p := pieces{tb}
	v := vectorCert(tb, vectorFakeSGX)
	ext := extValue(v, dice.OIDTaggedEvidence)
	item, _ := firstItemLen(tb, ext)
	evidence = append(evidence, ext, ext[:item])
	_, _, c, err := dice.DecodeEvidence(ext)
	if err != nil {
		tb.Fatal(err)
	}
	claims = append(claims, c)

	for i, alg := range hashAlgs {
		cl := mustClaims(tb, dice.Claims{PubKeyHash: pubKeyHash(tb, fixedKey(), alg), Custom: map[string][]byte{"key_0": []byte("value_0"), "": {}}})
		claims = append(claims, cl)
		for _, evType := range evidenceTypes[i*2 : i*2+2] {
			e := diceExt(tb, evType, cl)
			evidence = append(evidence, e, p.arr(p.item(10571), p.bstr(e)))
			en, err := dice.EncodeEndorsements(evType, p.item([]any{"collateral", []byte{1}}))
			if err != nil {
				tb.Fatal(err)
			}
			endorsements = append(endorsements, en)
		}
	}
	return evidence, claims, endorsements
}

// wrapsOneSentinel fails unless err wraps exactly one of the package's
// sentinels.
func wrapsOneSentinel(t *testing.T, err error) {
	t.Helper()
	n := 0
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("error %q wraps %d sentinels, want exactly one", err, n)
	}
}

func FuzzDecodeEvidence(f *testing.F) {
	evidence, _, _ := seedExts(f)
	for _, e := range evidence {
		f.Add(e)
	}
	f.Add([]byte{})
	f.Add([]byte{0xd9, 0xea, 0x60, 0x82, 0x40, 0x40})
	f.Fuzz(func(t *testing.T, ext []byte) {
		tag, ev, claims, err := dice.DecodeEvidence(ext)
		if err != nil {
			if !errors.Is(err, dice.ErrMalformed) {
				t.Fatalf("DecodeEvidence error %q is not ErrMalformed", err)
			}
			if tag != 0 || ev != nil || claims != nil {
				t.Fatalf("DecodeEvidence failed but returned %d, %x, %x", tag, ev, claims)
			}
			return
		}
		if len(ev) == 0 {
			t.Fatalf("DecodeEvidence returned empty evidence under tag %d", tag)
		}
		evType, err := dice.TypeOf(tag, ev)
		if err != nil {
			if !errors.Is(err, dice.ErrUnknownTag) && !errors.Is(err, dice.ErrMalformed) {
				t.Fatalf("TypeOf error %q wraps no sentinel", err)
			}
			return
		}
		ext2, err := dice.EncodeEvidence(instance.Evidence{Type: evType, Data: ev}, claims)
		if err != nil {
			t.Fatalf("EncodeEvidence of decoded evidence: %v", err)
		}
		tag2, ev2, claims2, err := dice.DecodeEvidence(ext2)
		if err != nil || tag2 != tag || !bytes.Equal(ev2, ev) || !bytes.Equal(claims2, claims) {
			t.Fatalf("re-decoded %d, %x, %x, %v; want %d, %x, %x", tag2, ev2, claims2, err, tag, ev, claims)
		}
		if ext3, _ := dice.EncodeEvidence(instance.Evidence{Type: evType, Data: ev2}, claims2); !bytes.Equal(ext3, ext2) {
			t.Fatalf("EncodeEvidence is not deterministic: %x then %x", ext2, ext3)
		}
	})
}

func FuzzDecodeClaims(f *testing.F) {
	_, claims, _ := seedExts(f)
	for _, c := range claims {
		f.Add(c)
	}
	f.Add([]byte{0xa0})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := dice.DecodeClaims(b)
		if err != nil {
			if !errors.Is(err, dice.ErrMalformed) {
				t.Fatalf("DecodeClaims error %q is not ErrMalformed", err)
			}
			return
		}
		if h := c.PubKeyHash.Alg.CryptoHash(); h == 0 || len(c.PubKeyHash.Hash) != h.Size() {
			t.Fatalf("DecodeClaims accepted pubkey-hash [%s, %d bytes]", c.PubKeyHash.Alg, len(c.PubKeyHash.Hash))
		}
		if _, ok := c.Custom[dice.ClaimPubKeyHash]; ok {
			t.Fatalf("Custom holds %q", dice.ClaimPubKeyHash)
		}
		b2, err := dice.EncodeClaims(c)
		if err != nil {
			t.Fatalf("EncodeClaims of decoded claims %+v: %v", c, err)
		}
		c2, err := dice.DecodeClaims(b2)
		if err != nil {
			t.Fatalf("DecodeClaims(EncodeClaims(%+v)) = %v", c, err)
		}
		if c2.PubKeyHash.Alg != c.PubKeyHash.Alg || !bytes.Equal(c2.PubKeyHash.Hash, c.PubKeyHash.Hash) || !equalCustom(c2.Custom, c.Custom) {
			t.Fatalf("claims changed through EncodeClaims: %+v, then %+v", c, c2)
		}
		if b3, _ := dice.EncodeClaims(c2); !bytes.Equal(b3, b2) {
			t.Fatalf("EncodeClaims is not deterministic: %x then %x", b2, b3)
		}
	})
}

func FuzzDecodeEndorsements(f *testing.F) {
	_, _, endorsements := seedExts(f)
	for _, e := range endorsements {
		f.Add(e)
	}
	f.Add([]byte{0xd9, 0xea, 0x60, 0x9f, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		tag, item, err := dice.DecodeEndorsements(b)
		if err != nil {
			if !errors.Is(err, dice.ErrMalformed) {
				t.Fatalf("DecodeEndorsements error %q is not ErrMalformed", err)
			}
			return
		}
		if rest, err := cbor.UnmarshalFirst(item, new(cbor.RawMessage)); err != nil || len(rest) != 0 {
			t.Fatalf("endorsements item %x is not one CBOR item: %v, %d bytes left", item, err, len(rest))
		}
		evType, ok := tagTypes[tag]
		if !ok {
			return
		}
		b2, err := dice.EncodeEndorsements(evType, item)
		if err != nil {
			// The encoder refuses what only the decoder allows (indefinite
			// lengths, tags 0-3 over the wrong type), and nothing else.
			if _, rerr := coreDet.Marshal(cbor.RawMessage(item)); rerr == nil {
				t.Fatalf("EncodeEndorsements(%s, %x): %v", evType, item, err)
			}
			return
		}
		tag2, item2, err := dice.DecodeEndorsements(b2)
		if err != nil || tag2 != tag || !bytes.Equal(item2, item) {
			t.Fatalf("re-decoded %d, %x, %v; want %d, %x", tag2, item2, err, tag, item)
		}
	})
}

// coreDet is the encoding EncodeEndorsements uses.
var coreDet = func() cbor.EncMode {
	em, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	return em
}()

// fuzzCarriers are the extensions FuzzFind puts the fuzzed value in.
var fuzzCarriers = append([]asn1.ObjectIdentifier{dice.OIDTaggedEvidence, dice.OIDCMW}, func() []asn1.ObjectIdentifier {
	var l []asn1.ObjectIdentifier
	for _, o := range legacyOIDs {
		l = append(l, o.oid)
	}
	return l
}()...)

func FuzzFind(f *testing.F) {
	base := baseCert()
	spkiHash := func(alg instance.HashAlgorithm) []byte {
		h := alg.CryptoHash().New()
		h.Write(base.RawSubjectPublicKeyInfo)
		return h.Sum(nil)
	}
	evidence, _, endorsements := seedExts(f)
	for i, e := range evidence {
		f.Add(e, []byte(nil), uint8(i%2), uint32(0))
		for _, en := range endorsements {
			f.Add(e, en, uint8(i%2), uint32(0))
		}
	}
	f.Add([]byte("legacy quote"), []byte(nil), uint8(2), uint32(0))
	f.Add(evidence[0], []byte(nil), uint8(0), uint32(1000))

	f.Fuzz(func(t *testing.T, ext, endorse []byte, carrier uint8, maxSize uint32) {
		oid := fuzzCarriers[int(carrier)%len(fuzzCarriers)]
		exts := []pkix.Extension{{Id: oid, Value: ext}}
		if endorse != nil {
			exts = append(exts, pkix.Extension{Id: dice.OIDEndorsementManifest, Value: endorse})
		}
		capSize := int(maxSize % (1 << 20))
		found, err := dice.Find(withExts(base, exts...), capSize)
		if err != nil {
			if found != nil {
				t.Fatalf("Find returned %+v with error %v", found, err)
			}
			wrapsOneSentinel(t, err)
			return
		}
		if capSize == 0 {
			capSize = dice.DefaultMaxEvidenceSize
		}
		if len(ext) > capSize || len(endorse) > capSize {
			t.Fatalf("Find accepted %d and %d bytes under a cap of %d", len(ext), len(endorse), capSize)
		}
		if len(found.ReportData) != instance.ReportDataSize || len(found.Evidence.Data) == 0 {
			t.Fatalf("Find = %+v: report data of %d bytes, evidence of %d", found, len(found.ReportData), len(found.Evidence.Data))
		}
		if oid.Equal(dice.OIDTaggedEvidence) || oid.Equal(dice.OIDCMW) {
			want := dice.FormatDICE
			if oid.Equal(dice.OIDCMW) {
				want = dice.FormatCMW
			}
			if found.Format != want {
				t.Fatalf("Format = %q, want %q", found.Format, want)
			}
			if tag, err := dice.TagOf(found.Evidence.Type); err != nil || tag != found.Tag {
				t.Fatalf("evidence type %q under tag %d", found.Evidence.Type, found.Tag)
			}
			if h := sha256.Sum256(found.ClaimsBytes); !bytes.Equal(found.ReportData, append(h[:], make([]byte, 32)...)) {
				t.Fatalf("ReportData %x is not SHA-256 of the claims bytes", found.ReportData)
			}
			if pk := found.Claims.PubKeyHash; !bytes.Equal(pk.Hash, spkiHash(pk.Alg)) {
				t.Fatalf("Find accepted pubkey-hash [%s, %x], not the certificate key's", pk.Alg, pk.Hash)
			}
			c, err := dice.DecodeClaims(found.ClaimsBytes)
			if err != nil || !equalCustom(c.Custom, found.Claims.Custom) {
				t.Fatalf("claims bytes decode to %+v, %v; Find said %+v", c, err, found.Claims)
			}
			if (endorse != nil) != (found.Endorsements != nil) {
				t.Fatalf("endorsements given %v, found %x", endorse != nil, found.Endorsements)
			}
			if endorse != nil {
				if tag, item, err := dice.DecodeEndorsements(endorse); err != nil || tag != found.Tag || !bytes.Equal(item, found.Endorsements) {
					t.Fatalf("endorsements decode to %d, %x, %v; Find said %x under tag %d", tag, item, err, found.Endorsements, found.Tag)
				}
			}
			return
		}
		// A legacy carrier.
		if found.Format != dice.FormatLegacy || !bytes.Equal(found.Evidence.Data, ext) || found.Tag != 0 || found.ClaimsBytes != nil {
			t.Fatalf("legacy Find = %+v", found)
		}
		if h := sha256.Sum256(base.RawSubjectPublicKeyInfo); !bytes.Equal(found.ReportData, append(h[:], make([]byte, 32)...)) {
			t.Fatalf("legacy ReportData %x is not SHA-256 of the SPKI", found.ReportData)
		}
	})
}
