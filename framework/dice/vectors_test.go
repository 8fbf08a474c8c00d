package dice_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/inclavare/inclavare/framework/dice"
	"github.com/inclavare/inclavare/framework/instance"
)

func TestVectorNullAttester(t *testing.T) {
	cert := vectorCert(t, vectorNull)
	f, err := dice.Find(cert, 0)
	if err != nil {
		t.Fatalf("Find: %v", err)
	}
	if f.Format != dice.FormatNone {
		t.Errorf("Format = %q, want %q", f.Format, dice.FormatNone)
	}
	if f.Evidence.Type != instance.EvidenceTypeNull || f.Evidence.Data != nil || f.Tag != 0 || f.ClaimsBytes != nil || f.ReportData != nil || f.Endorsements != nil {
		t.Errorf("Find found attestation in a certificate without evidence: %+v", f)
	}
	if k, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
		t.Errorf("null attester certificate key is %T, want the README's P-256 key", cert.PublicKey)
	}
	for _, e := range cert.Extensions {
		if e.Id.Equal(dice.OIDTaggedEvidence) || e.Id.Equal(dice.OIDCMW) || e.Id.Equal(dice.OIDEndorsementManifest) {
			t.Errorf("null attester certificate carries extension %s", e.Id)
		}
	}
}

// fakeSGX is the fakesgx vector taken apart by hand, independently of the
// package under test.
type fakeSGX struct {
	ext        []byte // the DICE extension value
	quote      []byte
	claims     []byte // the claims byte string as received
	reportData []byte // the quote's report data field
}

func readFakeSGX(t *testing.T) fakeSGX {
	t.Helper()
	cert := vectorCert(t, vectorFakeSGX)
	var v fakeSGX
	for _, e := range cert.Extensions {
		if e.Id.Equal(dice.OIDTaggedEvidence) {
			if e.Critical {
				t.Errorf("evidence extension is critical, want non-critical")
			}
			v.ext = e.Value
		}
	}
	if v.ext == nil {
		t.Fatalf("%s has no extension %s", vectorFakeSGX, dice.OIDTaggedEvidence)
	}
	var tag cbor.RawTag
	if _, err := cbor.UnmarshalFirst(v.ext, &tag); err != nil {
		t.Fatalf("extension is not a tagged CBOR item: %v", err)
	}
	var arr [][]byte
	if err := cbor.Unmarshal(tag.Content, &arr); err != nil || len(arr) != 2 {
		t.Fatalf("tag content is not [bstr, bstr]: %v (%d items)", err, len(arr))
	}
	v.quote, v.claims = arr[0], arr[1]
	if len(v.quote) < sgxReportDataOff+instance.ReportDataSize {
		t.Fatalf("quote has %d bytes, too short for an SGX quote v3", len(v.quote))
	}
	v.reportData = v.quote[sgxReportDataOff : sgxReportDataOff+instance.ReportDataSize]
	return v
}

func TestVectorFakeSGX(t *testing.T) {
	cert := vectorCert(t, vectorFakeSGX)
	v := readFakeSGX(t)

	// The README: an extension of 1024 bytes of which 573 are CBOR.
	if item, rest := firstItemLen(t, v.ext); len(v.ext) != 1024 || item != 573 || rest != 451 {
		t.Errorf("extension is %d bytes, first item %d, stray %d; the README says 1024, 573, 451", len(v.ext), item, rest)
	}

	f, err := dice.Find(cert, 0)
	if err != nil {
		t.Fatalf("Find: %v", err)
	}
	if f.Format != dice.FormatDICE {
		t.Errorf("Format = %q, want %q", f.Format, dice.FormatDICE)
	}
	if f.Tag != 60000 {
		t.Errorf("Tag = %d, want 60000", f.Tag)
	}
	if f.Evidence.Type != "sgx_ecdsa" {
		t.Errorf("Evidence.Type = %q, want sgx_ecdsa", f.Evidence.Type)
	}
	if !bytes.Equal(f.Evidence.Data, v.quote) {
		t.Errorf("Evidence.Data differs from the quote in the extension")
	}
	if ver, tee := binary.LittleEndian.Uint16(v.quote), binary.LittleEndian.Uint32(v.quote[4:]); ver != 3 || tee != 0 {
		t.Errorf("quote version %d, TEE type %#x; want an SGX quote v3 (3, 0x0)", ver, tee)
	}
	if f.Endorsements != nil {
		t.Errorf("Endorsements = %x, want none", f.Endorsements)
	}

	// The claims are hashed exactly as received, stray bytes and all.
	if !bytes.Equal(f.ClaimsBytes, v.claims) {
		t.Errorf("ClaimsBytes = %x, want the claims as received %x", f.ClaimsBytes, v.claims)
	}
	h := sha256.Sum256(v.claims)
	if !bytes.Equal(h[:], v.reportData[:32]) {
		t.Errorf("SHA-256 of the claims %x, quote report data starts %x", h, v.reportData[:32])
	}
	if !bytes.Equal(v.reportData[32:], make([]byte, 32)) {
		t.Errorf("quote report data after the hash is %x, want zeros", v.reportData[32:])
	}
	if !bytes.Equal(f.ReportData, v.reportData) {
		t.Errorf("ReportData = %x, want the quote's report data %x", f.ReportData, v.reportData)
	}
	item, rest := firstItemLen(t, v.claims)
	if rest == 0 {
		t.Errorf("claims byte string holds no stray bytes after its CBOR item; the vector is meant to")
	}
	if h := sha256.Sum256(v.claims[:item]); bytes.Equal(h[:], v.reportData[:32]) {
		t.Errorf("the quote binds the claims without their stray bytes; the vector is meant to bind them as received")
	}

	// pubkey-hash: [sha-256, SHA-256(SPKI)], itself with stray bytes.
	want := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	if f.Claims.PubKeyHash.Alg != instance.SHA256 || !bytes.Equal(f.Claims.PubKeyHash.Hash, want[:]) {
		t.Errorf("pubkey-hash = [%s, %x], want [sha-256, %x]", f.Claims.PubKeyHash.Alg, f.Claims.PubKeyHash.Hash, want)
	}
	var m map[string][]byte
	if _, err := cbor.UnmarshalFirst(v.claims, &m); err != nil {
		t.Fatalf("claims: %v", err)
	}
	pk, ok := m[dice.ClaimPubKeyHash]
	if !ok {
		t.Fatalf("claims lack %q: %q", dice.ClaimPubKeyHash, m)
	}
	if _, rest := firstItemLen(t, pk); rest == 0 {
		t.Errorf("pubkey-hash byte string %x holds no stray bytes; the vector is meant to", pk)
	}

	// Custom claims, as the C sample sets them (C strings, NUL included).
	wantCustom := map[string]string{"key_0": "value_0\x00", "key_1": "value_1\x00"}
	if len(f.Claims.Custom) != len(wantCustom) {
		t.Errorf("Custom = %q, want %q", f.Claims.Custom, wantCustom)
	}
	for k, w := range wantCustom {
		if got, ok := f.Claims.Custom[k]; !ok || string(got) != w {
			t.Errorf("custom claim %q = %q (present %v), want %q", k, got, ok, w)
		}
	}
	if _, ok := f.Claims.Custom[dice.ClaimPubKeyHash]; ok {
		t.Errorf("Custom holds %q", dice.ClaimPubKeyHash)
	}

	// The pieces agree with the lower-level functions.
	tag, ev, claims, err := dice.DecodeEvidence(v.ext)
	if err != nil || tag != f.Tag || !bytes.Equal(ev, f.Evidence.Data) || !bytes.Equal(claims, f.ClaimsBytes) {
		t.Errorf("DecodeEvidence = %d, %d-byte evidence, %x, %v; want what Find found", tag, len(ev), claims, err)
	}
	if rd := dice.ReportData(v.claims); !bytes.Equal(rd, v.reportData) {
		t.Errorf("ReportData(claims) = %x, want %x", rd, v.reportData)
	}
}

// TestVectorFakeSGXCap checks the size cap against the 1024-byte extension.
func TestVectorFakeSGXCap(t *testing.T) {
	cert := vectorCert(t, vectorFakeSGX)
	tests := []struct {
		cap     int
		wantErr bool
	}{
		{0, false},
		{-1, false},
		{1024, false},
		{1023, true},
		{1, true},
		{dice.DefaultMaxEvidenceSize, false},
	}
	for _, tc := range tests {
		_, err := dice.Find(cert, tc.cap)
		if !tc.wantErr {
			if err != nil {
				t.Errorf("Find(cap %d): %v", tc.cap, err)
			}
			continue
		}
		checkErr(t, err, dice.ErrTooLarge, "1024 bytes", "2.23.133.5.4.9")
	}
}

// TestVectorTruncated cuts the real extension at every length: before the
// end of its CBOR item every prefix is refused, after it (the stray bytes)
// every one binds as the whole.
func TestVectorTruncated(t *testing.T) {
	cert := vectorCert(t, vectorFakeSGX)
	ext := extValue(cert, dice.OIDTaggedEvidence)
	full, err := dice.Find(cert, 0)
	if err != nil {
		t.Fatal(err)
	}
	item, _ := firstItemLen(t, ext)
	noEvidence := *cert
	noEvidence.Extensions = nil
	for _, e := range cert.Extensions {
		if !e.Id.Equal(dice.OIDTaggedEvidence) {
			noEvidence.Extensions = append(noEvidence.Extensions, e)
		}
	}
	for n := 0; n <= len(ext); n++ {
		c := withExts(&noEvidence, pkixExt(dice.OIDTaggedEvidence, ext[:n:n]))
		f, err := dice.Find(c, 0)
		_, _, _, derr := dice.DecodeEvidence(ext[:n:n])
		if n < item {
			checkErr(t, err, dice.ErrMalformed, "EOF", "not a tagged CBOR item")
			checkErr(t, derr, dice.ErrMalformed, "EOF")
			continue
		}
		if err != nil || derr != nil {
			t.Errorf("prefix of %d bytes (item %d): Find: %v, DecodeEvidence: %v", n, item, err, derr)
			continue
		}
		if !bytes.Equal(f.ReportData, full.ReportData) || !bytes.Equal(f.ClaimsBytes, full.ClaimsBytes) {
			t.Errorf("prefix of %d bytes binds differently from the whole", n)
		}
	}
}

// TestVectorHex pins the vector's binding values, so a changed vector shows.
func TestVectorHex(t *testing.T) {
	f, err := dice.Find(vectorCert(t, vectorFakeSGX), 0)
	if err != nil {
		t.Fatal(err)
	}
	const wantRD = "ba22a9858b369f0058c2db5a58137a79b2ff1097a458fc27ae305eae5e94ad3e"
	if got := hex.EncodeToString(f.ReportData[:32]); got != wantRD {
		t.Errorf("ReportData = %s, want %s", got, wantRD)
	}
	if len(f.Evidence.Data) != 436 || len(f.ClaimsBytes) != 128 {
		t.Errorf("quote %d bytes, claims %d bytes; want 436 and 128", len(f.Evidence.Data), len(f.ClaimsBytes))
	}
}
