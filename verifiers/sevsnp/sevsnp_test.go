package sevsnp_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/inclavare/inclavare/attesters/nullattester"
	sevsnpattester "github.com/inclavare/inclavare/attesters/sevsnp"
	"github.com/inclavare/inclavare/attesters/sevsnpsim"
	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/registry"
	snp "github.com/inclavare/inclavare/tee/sevsnp"
	"github.com/inclavare/inclavare/verifiers/nullverifier"
	"github.com/inclavare/inclavare/verifiers/sevsnp"
)

var ctx = context.Background()

func catalog() *registry.Catalog {
	return registry.NewCatalog(true, []*registry.Registration{
		nullattester.Registration, sevsnpattester.Registration, sevsnpsim.Registration,
		nullverifier.Registration, sevsnp.Registration,
	}, nil)
}

// TestThroughRegistry: on a machine without SEV-SNP the real attester is
// unusable, the simulated one is chosen only by name (the null attester wins
// automatic selection), and the sev_snp verifier checks its evidence.
func TestThroughRegistry(t *testing.T) {
	if snp.Probe(ctx) == nil {
		t.Skip("this machine is an SEV-SNP guest: the real attester wins")
	}
	cat := catalog()
	rows := map[string]registry.Listing{}
	for _, l := range cat.List(ctx) {
		rows[string(l.Kind)+"/"+l.Name] = l
	}
	if l := rows["attester/sev_snp"]; l.Usable || !strings.Contains(l.Reason, "/dev/sev-guest") || l.Priority != 100 {
		t.Errorf("sev_snp attester listing %+v", l)
	}
	if l := rows["attester/sev_snp_sim"]; !l.Usable || l.Priority >= 0 || l.Type != "sev_snp" {
		t.Errorf("sev_snp_sim attester listing %+v", l)
	}
	if l := rows["verifier/sev_snp"]; !l.Usable || l.Priority != 100 || l.Type != "sev_snp" {
		t.Errorf("sev_snp verifier listing %+v", l)
	}

	opts := instance.Options{AllowSimulated: true, Endorsements: true}
	best, err := cat.Select(ctx, instance.KindAttester, "", opts)
	if err != nil {
		t.Fatal(err)
	}
	if name := best.Instance.Descriptor().Name; name != nullattester.Name {
		t.Errorf("best attester %s, want %s: the simulated TEE is never chosen unasked", name, nullattester.Name)
	}
	sel, err := cat.Select(ctx, instance.KindAttester, sevsnpsim.Name, opts)
	if err != nil {
		t.Fatal(err)
	}
	att := sel.Instance.(instance.Attester)
	defer att.Close()
	if _, err := cat.Select(ctx, instance.KindAttester, sevsnpattester.Name, opts); !errors.Is(err, instance.ErrUnavailable) {
		t.Errorf("naming the sev_snp attester here: %v, want ErrUnavailable", err)
	}

	rd := bytes.Repeat([]byte{0xa5}, instance.ReportDataSize)
	ev, err := att.Collect(ctx, rd)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type != "sev_snp" || len(ev.Data) != snp.ReportSize {
		t.Fatalf("evidence %s of %d bytes", ev.Type, len(ev.Data))
	}
	end, err := att.Endorsements(ctx, ev)
	if err != nil || len(end) == 0 {
		t.Fatalf("endorsements: %d bytes, %v", len(end), err)
	}

	vsel, err := cat.SelectVerifier(ctx, "", ev.Type, opts)
	if err != nil {
		t.Fatal(err)
	}
	ver := vsel.Instance.(instance.Verifier)
	defer ver.Close()
	if ver.Descriptor().Name != sevsnp.Name {
		t.Fatalf("verifier %s", ver.Descriptor())
	}
	for name, e := range map[string][]byte{"with endorsements": end, "without endorsements": nil} {
		claims, err := ver.Verify(ctx, ev, rd, e)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if claims["simulated"] != true || claims["debug"] != false || claims["report_data"] != strings.Repeat("a5", 64) {
			t.Errorf("%s: claims %v", name, claims)
		}
	}
	if _, err := ver.Verify(ctx, ev, make([]byte, 64), end); !errors.Is(err, snp.ErrPolicy) {
		t.Errorf("other report data: %v", err)
	}
	if _, err := ver.Verify(ctx, instance.Evidence{Type: "sgx_ecdsa", Data: ev.Data}, rd, nil); err == nil {
		t.Error("sgx_ecdsa evidence accepted")
	}
	if _, err := ver.Verify(ctx, ev, rd, []byte{0x01}); !errors.Is(err, snp.ErrMalformedEndorsements) {
		t.Errorf("malformed endorsements: %v", err)
	}

	// Without AllowSimulated the refusal says so.
	strict, err := cat.SelectVerifier(ctx, sevsnp.Name, ev.Type, instance.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = strict.Instance.(instance.Verifier).Verify(ctx, ev, rd, end)
	if err == nil || err.Error() != "evidence is from the simulated SEV-SNP TEE (sev_snp_sim); it is trusted only with --allow-simulated" {
		t.Errorf("strict verifier: %v", err)
	}
}

func TestDebugGuest(t *testing.T) {
	cat := catalog()
	sel, err := cat.Select(ctx, instance.KindAttester, sevsnpsim.Name, instance.Options{DebugEnclave: true})
	if err != nil {
		t.Fatal(err)
	}
	rd := make([]byte, 64)
	ev, err := sel.Instance.(instance.Attester).Collect(ctx, rd)
	if err != nil {
		t.Fatal(err)
	}
	for _, allow := range []bool{false, true} {
		v, err := cat.SelectVerifier(ctx, sevsnp.Name, ev.Type, instance.Options{AllowSimulated: true, DebugEnclave: allow})
		if err != nil {
			t.Fatal(err)
		}
		claims, err := v.Instance.(instance.Verifier).Verify(ctx, ev, rd, nil)
		if allow && (err != nil || claims["debug"] != true) {
			t.Errorf("debug guest with -D: %v, %v", claims["debug"], err)
		}
		if !allow && (!errors.Is(err, snp.ErrPolicy) || !strings.Contains(err.Error(), "DEBUG")) {
			t.Errorf("debug guest without -D: %v", err)
		}
	}
}

func TestConfigFromEnv(t *testing.T) {
	ld := snp.DefaultLaunchDigest()
	t.Setenv(sevsnp.EnvMinTCB, "bootloader=3,snp=9")
	t.Setenv(sevsnp.EnvMeasurements, strings.Repeat("00", 48))
	t.Setenv(sevsnp.EnvCertDir, t.TempDir())
	cfg, err := sevsnp.ConfigFromEnv(instance.Options{AllowSimulated: true})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Policy.MinimumTCB == nil || *cfg.Policy.MinimumTCB != (snp.TCB{Bootloader: 3, SNP: 9}) || len(cfg.Policy.Measurements) != 1 || cfg.Options.CertDir == "" {
		t.Fatalf("config %+v", cfg)
	}
	v, err := sevsnp.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sim, err := snp.NewSimulator(snp.SimulatorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rd := make([]byte, 64)
	r, err := sim.Report(rd)
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(ctx, instance.Evidence{Type: "sev_snp", Data: r}, rd, nil)
	if !errors.Is(err, snp.ErrPolicy) || !strings.Contains(err.Error(), "snp SPL 8 is below the minimum 9") || !strings.Contains(err.Error(), "MEASUREMENT "+hexs(ld[:])) {
		t.Errorf("Verify = %v", err)
	}
	t.Setenv(sevsnp.EnvMinTCB, "nonsense")
	if _, err := sevsnp.ConfigFromEnv(instance.Options{}); err == nil || !strings.Contains(err.Error(), sevsnp.EnvMinTCB) {
		t.Errorf("bad %s: %v", sevsnp.EnvMinTCB, err)
	}
}

func TestLaunchDigestFromEnv(t *testing.T) {
	want := bytes.Repeat([]byte{0x42}, 48)
	t.Setenv(sevsnpsim.EnvLaunchDigest, hexs(want))
	cat := catalog()
	sel, err := cat.Select(ctx, instance.KindAttester, sevsnpsim.Name, instance.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := sel.Instance.(instance.Attester).Collect(ctx, make([]byte, 64))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ev.Data[0x90:0xC0], want) {
		t.Errorf("MEASUREMENT %x, want %x", ev.Data[0x90:0xC0], want)
	}
	t.Setenv(sevsnpsim.EnvLaunchDigest, "abcd")
	if _, err := cat.Select(ctx, instance.KindAttester, sevsnpsim.Name, instance.Options{}); err == nil {
		t.Error("a 2-byte launch digest accepted")
	}
}

func hexs(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}
