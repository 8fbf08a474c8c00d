package sevsnp

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-sev-guest/abi"
	spb "github.com/google/go-sev-guest/proto/sevsnp"

	"github.com/inclavare/inclavare/framework/instance"
)

func TestProbeHere(t *testing.T) {
	err := Probe(ctx)
	if err == nil {
		t.Skip("this machine is an SEV-SNP guest")
	}
	if !errors.Is(err, instance.ErrUnavailable) {
		t.Fatalf("Probe = %v, want ErrUnavailable", err)
	}
	if !strings.Contains(err.Error(), DevicePath) || !strings.Contains(err.Error(), "configfs-tsm") {
		t.Errorf("Probe = %v; want it to name %s and configfs-tsm", err, DevicePath)
	}
	t.Log(err)
	if _, err := OpenDevice(ctx); !errors.Is(err, instance.ErrUnavailable) {
		t.Errorf("OpenDevice = %v, want ErrUnavailable", err)
	}
}

// fakeQuotes is a go-sev-guest QuoteProvider backed by the simulator, with
// the certificate table the host may add.
type fakeQuotes struct {
	s     *Simulator
	table []byte
	delay time.Duration
}

func (f *fakeQuotes) IsSupported() bool        { return true }
func (f *fakeQuotes) Product() *spb.SevProduct { return abi.DefaultSevProduct() }
func (f *fakeQuotes) GetRawQuote(rd [64]byte) ([]byte, error) {
	time.Sleep(f.delay)
	r, err := f.s.Report(rd[:])
	return append(r, f.table...), err
}

func TestDeviceAttest(t *testing.T) {
	s := newSimulator(t, SimulatorOptions{})
	rd := bytes.Repeat([]byte{3}, 64)
	full, err := abi.ExtendedPlatformCertTable(s.Certificates().CertTable().Marshal())
	if err != nil {
		t.Fatal(err)
	}
	platformOnly, err := abi.ExtendedPlatformCertTable(nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		table     []byte
		wantCerts bool
	}{
		"no table":           {nil, false},
		"platform info only": {platformOnly, false},
		"certificates":       {full, true},
		"page-padded table":  {append(bytes.Clone(full), make([]byte, 4096)...), true},
	} {
		t.Run(name, func(t *testing.T) {
			d := NewDevice(&fakeQuotes{s: s, table: tc.table})
			report, table, err := d.Attest(ctx, rd)
			if err != nil {
				t.Fatal(err)
			}
			if len(report) != ReportSize || !bytes.Equal(report[0x50:0x90], rd) {
				t.Errorf("report of %d bytes", len(report))
			}
			if (table != nil) != tc.wantCerts {
				t.Fatalf("table %v, want certificates %v", table, tc.wantCerts)
			}
			if table != nil {
				v := newVerifier(t, simNow, func(o *Options) { o.AllowSimulated = true })
				if _, err := v.Verify(ctx, report, CertificatesOf(table)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	d := NewDevice(&fakeQuotes{s: s})
	if _, _, err := d.Attest(ctx, rd[:10]); err == nil {
		t.Error("10 bytes of report data accepted")
	}
	bad := NewDevice(&fakeQuotes{s: s, table: []byte{1, 2, 3}})
	if _, _, err := bad.Attest(ctx, rd); !errors.Is(err, ErrMalformedEndorsements) {
		t.Errorf("bad table: %v", err)
	}
	slow := NewDevice(&fakeQuotes{s: s, delay: time.Second})
	c, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if _, _, err := slow.Attest(c, rd); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow device: %v", err)
	}
}
