package sgxecdsa

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/tee/attestfs"
	"github.com/inclavare/inclavare/tee/intel"
	"github.com/inclavare/inclavare/tee/intel/simulated"
)

func setDir(t *testing.T, dir string) {
	old := AttestationDir
	AttestationDir = dir
	t.Cleanup(func() { AttestationDir = old })
}

// TestProbeUnavailable: outside an enclave runtime the probe and New say
// what is missing.
func TestProbeUnavailable(t *testing.T) {
	setDir(t, filepath.Join(t.TempDir(), "attestation"))
	for _, err := range []error{Probe(context.Background()), func() error {
		_, err := Registration.New(context.Background(), instance.Options{})
		return err
	}()} {
		if !errors.Is(err, instance.ErrUnavailable) || !strings.Contains(err.Error(), "user_report_data does not exist") {
			t.Errorf("got %v, want ErrUnavailable naming the missing file", err)
		}
	}
	if _, err := os.Stat("/dev/attestation"); err == nil {
		t.Skip("/dev/attestation exists here")
	}
	setDir(t, "/dev/attestation")
	if err := Probe(context.Background()); !errors.Is(err, instance.ErrUnavailable) {
		t.Errorf("Probe here: %v, want ErrUnavailable", err)
	}
}

// TestCollect: with pseudo-files (here regular files), the attester writes
// the report data and returns the quote it reads, without padding.
func TestCollect(t *testing.T) {
	dir := t.TempDir()
	setDir(t, dir)
	sim, err := simulated.NewSimulator(simulated.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rd := bytes.Repeat([]byte{5}, 64)
	q, err := sim.SGXQuote(rd)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, attestfs.Quote), append(bytes.Clone(q), make([]byte, 100)...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, attestfs.UserReportData), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	inst, err := Registration.New(context.Background(), instance.Options{})
	if err != nil {
		t.Fatal(err)
	}
	a := inst.(instance.Attester)
	ev, err := a.Collect(context.Background(), rd)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type != intel.EvidenceTypeSGX || !bytes.Equal(ev.Data, q) {
		t.Errorf("evidence %q of %d bytes, want the %d-byte quote", ev.Type, len(ev.Data), len(q))
	}
	got, err := os.ReadFile(filepath.Join(dir, attestfs.UserReportData))
	if err != nil || !bytes.Equal(got, rd) {
		t.Errorf("user_report_data %x, %v; want %x", got, err, rd)
	}
	if end, err := a.Endorsements(context.Background(), ev); end != nil || err != nil {
		t.Errorf("endorsements %x, %v; want none", end, err)
	}
	if _, err := a.Collect(context.Background(), make([]byte, 65)); err == nil {
		t.Error("65 bytes of report data accepted")
	}
	if err := os.WriteFile(filepath.Join(dir, attestfs.Quote), []byte("not a quote"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Collect(context.Background(), rd); !errors.Is(err, intel.ErrMalformedQuote) {
		t.Errorf("a malformed quote: %v, want ErrMalformedQuote", err)
	}
	if d := inst.Descriptor(); d.Name != "sgx_ecdsa" || d.Type != "sgx_ecdsa" || d.Priority != 100 || d.Kind != instance.KindAttester {
		t.Errorf("descriptor %+v", d)
	}
}
