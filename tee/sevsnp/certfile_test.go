package sevsnp_test

import (
	"encoding/pem"
	"errors"
	"testing"

	snp "github.com/inclavare/inclavare/tee/sevsnp"
)

func TestParseCertificates(t *testing.T) {
	sim, err := snp.NewSimulator(snp.SimulatorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := sim.Certificates()
	enc := func(ders ...[]byte) []byte {
		var out []byte
		for _, d := range ders {
			out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: d})...)
		}
		return out
	}
	for name, in := range map[string][]byte{
		"pem, any order": enc(want.ARK, want.VCEK, want.ASK),
		"vcek der":       want.VCEK,
		"vcek pem":       enc(want.VCEK),
	} {
		got, err := snp.ParseCertificates(in)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if string(got.VCEK) != string(want.VCEK) {
			t.Fatalf("%s: VCEK not found", name)
		}
	}
	for name, in := range map[string][]byte{
		"empty":         nil,
		"garbage":       []byte("garbage"),
		"no vcek":       enc(want.ARK, want.ASK),
		"two vceks":     enc(want.VCEK, want.VCEK),
		"trailing":      append(enc(want.VCEK), "junk"...),
		"other pem":     pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: want.VCEK}),
		"truncated der": want.VCEK[:len(want.VCEK)/2],
	} {
		if _, err := snp.ParseCertificates(in); !errors.Is(err, snp.ErrMalformedEndorsements) {
			t.Errorf("%s: %v, want ErrMalformedEndorsements", name, err)
		}
	}
}

func FuzzParseCertificates(f *testing.F) {
	sim, err := snp.NewSimulator(snp.SimulatorOptions{})
	if err != nil {
		f.Fatal(err)
	}
	c := sim.Certificates()
	f.Add(c.VCEK)
	f.Add(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.ASK}))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := snp.ParseCertificates(b)
		if err == nil && got.VCEK == nil && got.VLEK == nil {
			t.Fatal("accepted without a signing key certificate")
		}
	})
}
