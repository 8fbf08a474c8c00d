package sevsnp

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-sev-guest/abi"
	spb "github.com/google/go-sev-guest/proto/sevsnp"

	"github.com/inclavare/inclavare/framework/instance"
	snp "github.com/inclavare/inclavare/tee/sevsnp"
)

// TestProbeHere: on a machine that is not an SEV-SNP guest the attester
// says it is unavailable, and why.
func TestProbeHere(t *testing.T) {
	ctx := context.Background()
	err := Registration.Probe(ctx)
	if err == nil {
		t.Skip("this machine is an SEV-SNP guest")
	}
	if !errors.Is(err, instance.ErrUnavailable) || !strings.Contains(err.Error(), snp.DevicePath) || !strings.Contains(err.Error(), snp.ConfigfsTSMReportDir) {
		t.Errorf("Probe = %v; want ErrUnavailable naming %s and %s", err, snp.DevicePath, snp.ConfigfsTSMReportDir)
	}
	t.Log(err)
	if _, err := Registration.New(ctx, instance.Options{}); !errors.Is(err, instance.ErrUnavailable) {
		t.Errorf("New = %v, want ErrUnavailable", err)
	}
	d := Registration.Descriptor
	if d.Name != "sev_snp" || d.Type != "sev_snp" || d.Priority != 100 || d.Kind != instance.KindAttester {
		t.Errorf("descriptor %v", d)
	}
}

// fakeQuotes stands for the guest device: simulated reports, followed by
// the certificate table the host provides.
type fakeQuotes struct {
	sim   *snp.Simulator
	table []byte
}

func (*fakeQuotes) IsSupported() bool        { return true }
func (*fakeQuotes) Product() *spb.SevProduct { return abi.DefaultSevProduct() }
func (f *fakeQuotes) GetRawQuote(rd [64]byte) ([]byte, error) {
	r, err := f.sim.Report(rd[:])
	return append(r, f.table...), err
}

func TestCollectAndEndorsements(t *testing.T) {
	ctx := context.Background()
	sim, err := snp.NewSimulator(snp.SimulatorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for name, table := range map[string][]byte{"host certificates": sim.Certificates().CertTable().Marshal(), "none": nil} {
		t.Run(name, func(t *testing.T) {
			a := &attester{dev: snp.NewDevice(&fakeQuotes{sim: sim, table: table})}
			rd := make([]byte, 64)
			ev, err := a.Collect(ctx, rd)
			if err != nil {
				t.Fatal(err)
			}
			end, err := a.Endorsements(ctx, ev)
			if err != nil {
				t.Fatal(err)
			}
			if (end != nil) != (table != nil) {
				t.Fatalf("endorsements %d bytes with a host table of %d", len(end), len(table))
			}
			if end != nil {
				got, err := snp.DecodeEndorsements(end)
				if err != nil || !bytes.Equal(snp.CertificatesOf(got).VCEK, sim.Certificates().VCEK) {
					t.Errorf("endorsements do not hold the VCEK: %v", err)
				}
			}
			// Endorsements of other evidence: none.
			other := instance.Evidence{Type: ev.Type, Data: bytes.Clone(ev.Data)}
			other.Data[0x50] ^= 1
			if end, err := a.Endorsements(ctx, other); end != nil || err != nil {
				t.Errorf("endorsements of other evidence: %d bytes, %v", len(end), err)
			}
			if _, err := a.Endorsements(ctx, instance.Evidence{Type: "tdx_ecdsa"}); err == nil {
				t.Error("endorsements of tdx_ecdsa evidence")
			}
		})
	}
}
