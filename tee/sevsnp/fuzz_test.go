package sevsnp

import (
	"bytes"
	"testing"
)

// FuzzParseReport: any bytes either parse into a report of the right size
// and a supported version, or give ErrMalformedReport; never a panic.
func FuzzParseReport(f *testing.F) {
	f.Add(milanReport())
	s := newSimulator(f, SimulatorOptions{})
	f.Add(simReport(f, s, make([]byte, 64)))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseReport(b)
		if err != nil {
			if r != nil {
				t.Fatal("a report and an error")
			}
			return
		}
		if len(r.Raw) != ReportSize || r.Version() < MinReportVersion || r.Version() > MaxReportVersion {
			t.Fatalf("accepted %d bytes, version %d", len(r.Raw), r.Version())
		}
		_ = r.Debug()
		_ = r.ReportedTCB().String()
	})
}

// FuzzDecodeEndorsements: any item either decodes into a table whose
// entries lie inside it, re-encodes and decodes to the same certificates,
// or is refused; never a panic.
func FuzzDecodeEndorsements(f *testing.F) {
	s := newSimulator(f, SimulatorOptions{})
	for _, c := range []Certificates{s.Certificates(), milanCerts(f), {VCEK: []byte{1}}} {
		item, err := EncodeEndorsements(c.CertTable())
		if err != nil {
			f.Fatal(err)
		}
		f.Add(item)
	}
	f.Add([]byte{0x40})
	f.Add([]byte{0x58, 0x18})
	f.Fuzz(func(t *testing.T, item []byte) {
		table, err := DecodeEndorsements(item)
		if err != nil {
			return
		}
		again, err := EncodeEndorsements(table)
		if err != nil {
			t.Fatalf("a decoded table does not encode: %v", err)
		}
		back, err := DecodeEndorsements(again)
		if err != nil {
			t.Fatalf("a re-encoded table does not decode: %v", err)
		}
		a, b := CertificatesOf(table), CertificatesOf(back)
		if !bytes.Equal(a.VCEK, b.VCEK) || !bytes.Equal(a.ASK, b.ASK) || !bytes.Equal(a.ARK, b.ARK) || !bytes.Equal(a.VLEK, b.VLEK) {
			t.Fatal("certificates changed in a round trip")
		}
	})
}
