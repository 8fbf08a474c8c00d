package intel_test

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/inclavare/inclavare/tee/intel"
)

// TestEndorsementsRoundTrip: the collateral of every vector survives the
// endorsements encoding and still verifies its quote.
func TestEndorsementsRoundTrip(t *testing.T) {
	for _, v := range []vector{oasisSGX, dcapSGX, oasisTDX, dcapTDX} {
		c := v.coll(t)
		item, err := intel.EncodeEndorsements(c)
		if err != nil {
			t.Fatal(err)
		}
		// An 8-item array whose version is a 4-byte unsigned integer, as
		// the C verifier requires.
		if !bytes.HasPrefix(item, []byte{0x88, 0x1a, 0x00, 0x01, 0x00, 0x03}) {
			t.Errorf("%s: endorsements start % x", v.name, item[:6])
		}
		back, err := intel.DecodeEndorsements(item)
		if err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		for _, f := range []struct {
			name string
			a, b []byte
		}{
			{"tcb_info", c.TCBInfo, back.TCBInfo}, {"tcb_info_signature", c.TCBInfoSignature, back.TCBInfoSignature},
			{"qe_identity", c.QEIdentity, back.QEIdentity}, {"qe_identity_signature", c.QEIdentitySignature, back.QEIdentitySignature},
			{"tcb_info_issuer_chain", c.TCBInfoIssuerChain, back.TCBInfoIssuerChain}, {"pck_crl", c.PCKCRL, back.PCKCRL},
			{"root_ca_crl", c.RootCACRL, back.RootCACRL}, {"pck_crl_issuer_chain", c.PCKCRLIssuerChain, back.PCKCRLIssuerChain},
		} {
			if !bytes.Equal(f.a, f.b) {
				t.Errorf("%s: %s changed in a round trip", v.name, f.name)
			}
		}
		if back.Version != intel.CollateralVersionDER {
			t.Errorf("version %#x", back.Version)
		}
		if _, err := verifyWith(v.raw(t), back, v.opts()); err != nil {
			t.Errorf("%s: %v", v.name, err)
		}
	}
}

// TestEndorsementsFromC: endorsements shaped as the C Rats-TLS sends them
// (PCS response bodies, NUL-terminated strings, hex CRLs, a creation
// datetime) decode and verify.
func TestEndorsementsFromC(t *testing.T) {
	c := dcapSGX.coll(t)
	nul := func(b []byte) []byte { return append(bytes.Clone(b), 0) }
	resp := func(key string, body, sig []byte) []byte {
		return []byte(`{"` + key + `":` + string(body) + `,"signature":"` + hex.EncodeToString(sig) + `"}`)
	}
	items := []any{uint32(3),
		nul(resp("tcbInfo", c.TCBInfo, c.TCBInfoSignature)), nul(c.TCBInfoIssuerChain),
		nul([]byte(hex.EncodeToString(c.PCKCRL))), c.RootCACRL, nul(c.PCKCRLIssuerChain),
		nul(resp("enclaveIdentity", c.QEIdentity, c.QEIdentitySignature)), nul(c.QEIdentityIssuerChain),
		"2025-06-19T11:00:00Z"}
	item, err := cbor.Marshal(items)
	if err != nil {
		t.Fatal(err)
	}
	got, err := intel.DecodeEndorsements(item)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 3 || got.CreationDatetime != "2025-06-19T11:00:00Z" || !bytes.Equal(got.TCBInfo, c.TCBInfo) || !bytes.Equal(got.PCKCRL, c.PCKCRL) {
		t.Errorf("decoded %d %q", got.Version, got.CreationDatetime)
	}
	a, err := verifyWith(dcapSGX.raw(t), got, dcapSGX.opts())
	if err != nil {
		t.Fatal(err)
	}
	if !a.RevocationChecked {
		t.Error("revocation not checked")
	}
	// The ninth item is written back.
	again, err := intel.EncodeEndorsements(got)
	if err != nil {
		t.Fatal(err)
	}
	if again[0] != 0x89 {
		t.Errorf("re-encoded array head %#x, want 0x89", again[0])
	}

	// Malformed endorsements.
	enc := func(v any) []byte {
		b, err := cbor.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	seven := enc(items[:7])
	textItem := append([]any{}, items...)
	textItem[2] = string(c.TCBInfoIssuerChain)
	negative := append([]any{}, items...)
	negative[0] = -1
	for _, m := range []struct {
		name string
		item []byte
		text string
	}{
		{"empty", nil, "not a CBOR array"},
		{"a map", enc(map[string]int{"a": 1}), "not a CBOR array"},
		{"seven items", seven, "the endorsements array has 7 items, want 8 or 9"},
		{"a text string chain", enc(textItem), "item 2 (tcb_info_issuer_chain) is not a byte string"},
		{"a negative version", enc(negative), "item 0 (version)"},
		{"trailing bytes", append(bytes.Clone(item), 0), "not a CBOR array"},
		{"indefinite array", append(append([]byte{0x9f}, item[1:]...), 0xff), "not a CBOR array"},
		{"no TCB info", enc([]any{uint32(3), []byte{}, []byte{}, []byte{}, []byte{}, []byte{}, []byte{}, []byte{}}), "no tcb_info"},
	} {
		_, err := intel.DecodeEndorsements(m.item)
		wantErr(t, err, errs(intel.ErrMalformedCollateral), m.text)
	}
	if _, err := intel.EncodeEndorsements(&intel.Collateral{}); err == nil {
		t.Error("encoded empty collateral")
	}
}
