package dice_test

import (
	"bytes"
	"encoding/hex"
	"testing"

	"github.com/inclavare/inclavare/framework/dice"
)

// TestMessageWire pins the bytes of the exporter-mode attestation message:
// a CBOR array of two byte strings, empty for what is absent.
func TestMessageWire(t *testing.T) {
	for _, tc := range []struct {
		evidence, endorsements []byte
		want                   string
	}{
		{nil, nil, "824040"},
		{[]byte{}, []byte{}, "824040"},
		{[]byte{0x01}, nil, "82410140"},
		{nil, []byte{0x02, 0x03}, "82404202" + "03"},
		{bytes.Repeat([]byte{0xaa}, 24), []byte{0x01}, "825818" + hex.EncodeToString(bytes.Repeat([]byte{0xaa}, 24)) + "4101"},
	} {
		got, err := dice.EncodeMessage(tc.evidence, tc.endorsements)
		if err != nil || hex.EncodeToString(got) != tc.want {
			t.Errorf("EncodeMessage(%x, %x) = %x, %v; want %s", tc.evidence, tc.endorsements, got, err, tc.want)
		}
	}
}

func TestMessageRoundTrip(t *testing.T) {
	evidence, _, endorsements := seedExts(t)
	for i, ev := range evidence {
		var en []byte
		if i%2 == 1 {
			en = endorsements[i%len(endorsements)]
		}
		msg, err := dice.EncodeMessage(ev, en)
		if err != nil {
			t.Fatalf("EncodeMessage: %v", err)
		}
		gotEv, gotEn, err := dice.DecodeMessage(msg)
		if err != nil || !bytes.Equal(gotEv, ev) || !bytes.Equal(gotEn, en) || (en == nil) != (gotEn == nil) {
			t.Errorf("DecodeMessage(EncodeMessage(%x, %x)) = %x, %x, %v", ev, en, gotEv, gotEn, err)
		}
	}
	// Absent values come back nil, not empty: nil evidence is the null
	// attester's.
	for _, msg := range [][]byte{{0x82, 0x40, 0x40}, {0x82, 0x5f, 0xff, 0x40}, {0x9f, 0x40, 0x40, 0xff}} {
		ev, en, err := dice.DecodeMessage(msg)
		if err != nil || ev != nil || en != nil {
			t.Errorf("DecodeMessage(%x) = %#v, %#v, %v; want nil, nil", msg, ev, en, err)
		}
	}
}

func TestDecodeMessageBad(t *testing.T) {
	for _, tc := range []struct {
		name   string
		msg    []byte
		reason string
	}{
		{"empty", nil, "attestation message is not [evidence, endorsements]"},
		{"a byte string", []byte{0x40}, "attestation message is not [evidence, endorsements]"},
		{"a map", []byte{0xa0}, "attestation message is not [evidence, endorsements]"},
		{"one element", []byte{0x81, 0x40}, "attestation message is not [evidence, endorsements]"},
		{"three elements", []byte{0x83, 0x40, 0x40, 0x40}, "attestation message is not [evidence, endorsements]"},
		{"text evidence", []byte{0x82, 0x60, 0x40}, "a CBOR text string where a byte string is required"},
		{"null evidence", []byte{0x82, 0xf6, 0x40}, "a CBOR simple value or float where a byte string is required"},
		{"array endorsements", []byte{0x82, 0x40, 0x80}, "a CBOR array where a byte string is required"},
		{"tagged evidence", []byte{0x82, 0xc2, 0x41, 0x01, 0x40}, "a CBOR tag where a byte string is required"},
		{"truncated", []byte{0x82, 0x42, 0x01}, "unexpected EOF"},
		{"stray bytes", []byte{0x82, 0x40, 0x40, 0x00}, "1 stray bytes after the attestation message"},
		{"two messages", []byte{0x82, 0x40, 0x40, 0x82, 0x40, 0x40}, "3 stray bytes after the attestation message"},
		{"break", []byte{0xff}, "attestation message is not [evidence, endorsements]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, en, err := dice.DecodeMessage(tc.msg)
			if ev != nil || en != nil {
				t.Errorf("DecodeMessage(%x) returned %x, %x with its error", tc.msg, ev, en)
			}
			checkErr(t, err, dice.ErrMalformed, tc.reason)
		})
	}
}

// FuzzDecodeMessage: DecodeMessage fails with ErrMalformed alone, or
// returns values that encode back to a message decoding to them again.
func FuzzDecodeMessage(f *testing.F) {
	evidence, _, endorsements := seedExts(f)
	for i, ev := range evidence {
		for _, en := range [][]byte{nil, endorsements[i%len(endorsements)]} {
			msg, err := dice.EncodeMessage(ev, en)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(msg)
		}
	}
	f.Add([]byte{0x82, 0x40, 0x40})
	f.Add([]byte{0x9f, 0x5f, 0x41, 0x01, 0xff, 0x40, 0xff})
	f.Fuzz(func(t *testing.T, msg []byte) {
		ev, en, err := dice.DecodeMessage(msg)
		if err != nil {
			wrapsOneSentinel(t, err)
			if ev != nil || en != nil {
				t.Fatalf("DecodeMessage failed (%v) but returned %x, %x", err, ev, en)
			}
			return
		}
		if (ev != nil && len(ev) == 0) || (en != nil && len(en) == 0) {
			t.Fatalf("DecodeMessage returned empty rather than nil values: %#v, %#v", ev, en)
		}
		msg2, err := dice.EncodeMessage(ev, en)
		if err != nil {
			t.Fatalf("EncodeMessage of decoded values: %v", err)
		}
		ev2, en2, err := dice.DecodeMessage(msg2)
		if err != nil || !bytes.Equal(ev2, ev) || !bytes.Equal(en2, en) {
			t.Fatalf("re-decoded %x, %x, %v; want %x, %x", ev2, en2, err, ev, en)
		}
		if msg3, _ := dice.EncodeMessage(ev2, en2); !bytes.Equal(msg3, msg2) {
			t.Fatalf("EncodeMessage is not deterministic: %x then %x", msg2, msg3)
		}
	})
}
