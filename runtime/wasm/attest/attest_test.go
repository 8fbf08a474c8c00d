package attest

import (
	"context"
	"strings"
	"testing"

	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/runtime/wasm"
	"github.com/inclavare/inclavare/tee/intel"
)

func TestAttesterCarriesTheMeasurement(t *testing.T) {
	m := wasm.Measure([]byte("\x00asm\x01\x00\x00\x00"))
	for _, name := range []string{"", DefaultAttester} {
		a, err := NewAttester(name, m, Options{})
		if err != nil {
			t.Fatal(err)
		}
		rd := make([]byte, instance.ReportDataSize)
		rd[0] = 7
		ev, err := a.Collect(context.Background(), rd)
		if err != nil {
			t.Fatal(err)
		}
		q, err := intel.ParseQuote(ev.Data)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type != EvidenceType[DefaultAttester] || q.Enclave == nil || q.Enclave.MREnclave != m || q.ReportData()[0] != 7 || q.Debug() {
			t.Errorf("%q: evidence %s, MRENCLAVE %x (want %s), report data %x", name, ev.Type, q.Enclave.MREnclave, m, q.ReportData())
		}
		a.Close()
	}
	d, err := NewAttester("", m, Options{Debug: true})
	if err != nil {
		t.Fatal(err)
	}
	ev, _ := d.Collect(context.Background(), make([]byte, instance.ReportDataSize))
	if q, err := intel.ParseQuote(ev.Data); err != nil || !q.Debug() {
		t.Errorf("Debug: quote %v, %v; want the DEBUG attribute", q, err)
	}
}

func TestUnknownAttester(t *testing.T) {
	var m wasm.Measurement
	for _, name := range []string{"sev_snp_sim", "tdx_ecdsa_sim", "sgx_ecdsa", "nullattester"} {
		if _, err := NewAttester(name, m, Options{}); err == nil || !strings.Contains(err.Error(), "sgx_ecdsa_sim") {
			t.Errorf("NewAttester(%q): %v, want an error naming the choices", name, err)
		}
		if err := CheckName(name); err == nil {
			t.Errorf("CheckName(%q) accepted it", name)
		}
		if _, err := Catalog(name, m, Options{}, nil); err == nil {
			t.Errorf("Catalog(%q) accepted it", name)
		}
	}
}

func TestCatalogHasOnlyThisAttester(t *testing.T) {
	m := wasm.Measure([]byte("module"))
	cat, err := Catalog("", m, Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var attesters []string
	tls := false
	for _, r := range cat.All() {
		switch r.Descriptor.Kind {
		case instance.KindAttester:
			attesters = append(attesters, r.Descriptor.Name)
		case instance.KindTLS:
			tls = true
		}
	}
	if len(attesters) != 1 || attesters[0] != DefaultAttester || !tls {
		t.Errorf("attesters %q (want only %s), a TLS wrapper: %v", attesters, DefaultAttester, tls)
	}
	sel, err := cat.Select(context.Background(), instance.KindAttester, DefaultAttester, instance.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sel.Instance.Close()
	ev, err := sel.Instance.(instance.Attester).Collect(context.Background(), make([]byte, instance.ReportDataSize))
	if err != nil {
		t.Fatal(err)
	}
	if q, err := intel.ParseQuote(ev.Data); err != nil || q.Enclave.MREnclave != m {
		t.Errorf("the catalogue's attester does not carry the measurement: %v", err)
	}
}
