package sevsnp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/google/go-sev-guest/abi"
	"github.com/google/uuid"
)

func TestEndorsementsRoundTrip(t *testing.T) {
	s := newSimulator(t, SimulatorOptions{})
	for name, c := range map[string]Certificates{"simulated": s.Certificates(), "milan": milanCerts(t)} {
		t.Run(name, func(t *testing.T) {
			item, err := EncodeEndorsements(c.CertTable())
			if err != nil {
				t.Fatal(err)
			}
			if item[0]>>5 != 2 {
				t.Errorf("item is CBOR major type %d, want a byte string", item[0]>>5)
			}
			table, err := DecodeEndorsements(item)
			if err != nil {
				t.Fatal(err)
			}
			got := CertificatesOf(table)
			if !bytes.Equal(got.VCEK, c.VCEK) || !bytes.Equal(got.ASK, c.ASK) || !bytes.Equal(got.ARK, c.ARK) || got.VLEK != nil {
				t.Error("certificates changed in the round trip")
			}
			// The table is the GHCB layout go-sev-guest reads too.
			var gt abi.CertTable
			if err := gt.Unmarshal(table.Marshal()); err != nil || len(gt.Entries) != 3 {
				t.Errorf("go-sev-guest reads %d entries, %v", len(gt.Entries), err)
			}
		})
	}
	if _, err := EncodeEndorsements(&abi.CertTable{}); !errors.Is(err, ErrMalformedEndorsements) {
		t.Errorf("empty table encoded: %v", err)
	}
}

func TestEndorsementsMalformed(t *testing.T) {
	s := newSimulator(t, SimulatorOptions{})
	good := s.Certificates().CertTable().Marshal()
	bstr := func(b []byte) []byte {
		out, err := cbor.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	mutate := func(f func([]byte)) []byte {
		b := bytes.Clone(good)
		f(b)
		return bstr(b)
	}
	le := binary.LittleEndian
	dup := bytes.Clone(good)
	copy(dup[24:40], dup[0:16]) // entry 1 gets entry 0's GUID
	// Two entries that each cover the second, and no terminator.
	noTerminator := make([]byte, 48)
	for i, g := range []uuid.UUID{GUIDARK, GUIDASK} {
		copy(noTerminator[i*24:], g[:])
		le.PutUint32(noTerminator[i*24+16:], 24)
		le.PutUint32(noTerminator[i*24+20:], 24)
	}
	for _, tc := range []struct {
		name, want string
		item       []byte
	}{
		{"empty item", "empty endorsements item", nil},
		{"CBOR array", "major type 4", func() []byte { b, _ := cbor.Marshal([][]byte{good}); return b }()},
		{"CBOR text", "major type 3", func() []byte { b, _ := cbor.Marshal(string(good)); return b }()},
		{"trailing CBOR", "1 bytes after the CBOR byte string", append(bstr(good), 0x00)},
		{"truncated CBOR", "but 97 follow", bstr(good)[:100]},
		{"truncated CBOR head", "head is cut short", []byte{0x5a, 0, 0}},
		{"reserved CBOR length", "additional information 28 is reserved", []byte{0x5c}},
		{"truncated indefinite CBOR", "unexpected EOF", []byte{0x5f, 0x41, 0x00}},
		{"empty table", "empty certificate table", bstr([]byte{})},
		{"no terminator", "no terminating all-zero entry", bstr(noTerminator)},
		{"only a terminator", "no entries", bstr(make([]byte, 24))},
		{"range past the end", "covers bytes", mutate(func(b []byte) { le.PutUint32(b[20:], uint32(len(b))) })},
		{"offset overflows", "covers bytes", mutate(func(b []byte) { le.PutUint32(b[16:], 0xffffffff); le.PutUint32(b[20:], 2) })},
		{"offset inside the header", "inside the 96-byte header", mutate(func(b []byte) { le.PutUint32(b[16:], 8) })},
		{"empty entry", "is empty", mutate(func(b []byte) { le.PutUint32(b[20:], 0) })},
		{"nil GUID", "nil GUID", mutate(func(b []byte) { copy(b[0:16], make([]byte, 16)) })},
		{"duplicate GUID", "two entries for GUID", bstr(dup)},
		{"too large", "the cap is", bstr(make([]byte, MaxEndorsementsSize+1))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := DecodeEndorsements(tc.item)
			if !errors.Is(err, ErrMalformedEndorsements) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("DecodeEndorsements = %v\nwant ErrMalformedEndorsements containing %q", err, tc.want)
			}
		})
	}
}

// TestEndorsementsIndefinite: an indefinite-length byte string (chunks)
// decodes like a definite one.
func TestEndorsementsIndefinite(t *testing.T) {
	s := newSimulator(t, SimulatorOptions{})
	raw := s.Certificates().CertTable().Marshal()
	half := len(raw) / 2
	item := []byte{0x5f}
	for _, chunk := range [][]byte{raw[:half], raw[half:]} {
		h, err := cbor.Marshal(chunk)
		if err != nil {
			t.Fatal(err)
		}
		item = append(item, h...)
	}
	item = append(item, 0xff)
	table, err := DecodeEndorsements(item)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(CertificatesOf(table).VCEK, s.Certificates().VCEK) {
		t.Error("VCEK changed")
	}
}

func TestCertificatesOfIgnoresOtherEntries(t *testing.T) {
	tb := &abi.CertTable{Entries: []abi.CertTableEntry{
		{GUID: GUIDExtraPlatformInfo, RawCert: []byte{8, 0, 0, 0, 0x10, 0x0f, 0xa0, 0}},
		{GUID: uuid.MustParse("11111111-2222-3333-4444-555555555555"), RawCert: []byte("x")},
		{GUID: GUIDVLEK, RawCert: []byte("vlek")},
	}}
	raw := tb.Marshal()
	parsed, err := ParseCertTable(raw)
	if err != nil {
		t.Fatal(err)
	}
	if c := CertificatesOf(parsed); string(c.VLEK) != "vlek" || c.VCEK != nil || c.ASK != nil || c.ARK != nil {
		t.Errorf("CertificatesOf = %+v", c)
	}
	if c := CertificatesOf(nil); c.VCEK != nil {
		t.Error("nil table has certificates")
	}
}
