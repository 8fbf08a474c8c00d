package sevsnp

import (
	"bytes"
	"crypto"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"

	sevtest "github.com/google/go-sev-guest/testing"

	"github.com/inclavare/inclavare/tee/sevsnp/simulated"
)

func TestMilanReportVerifies(t *testing.T) {
	v := newVerifier(t, milanNow, nil)
	a, err := v.Verify(ctx, milanReport(), milanCerts(t))
	if err != nil {
		t.Fatal(err)
	}
	if a.Simulated || a.Root.Simulated || a.Root.Name() != "AMD ARK-Milan" || a.Cached {
		t.Errorf("root %s, simulated %v, cached %v; want AMD ARK-Milan, real, cold", a.Root.Name(), a.Simulated, a.Cached)
	}
	if err := Validate(a.Report, Policy{ReportData: milanReportData(), AllowDebug: true}); err != nil {
		t.Errorf("Validate: %v", err)
	}
	// Warm: the chain is cached.
	a, err = v.Verify(ctx, milanReport(), milanCerts(t))
	if err != nil || !a.Cached {
		t.Fatalf("second Verify: cached %v, %v; want a warm verification", a != nil && a.Cached, err)
	}
	// Without ASK and ARK the embedded Milan intermediate is used.
	v = newVerifier(t, milanNow, nil)
	if _, err := v.Verify(ctx, milanReport(), Certificates{VCEK: milanCerts(t).VCEK}); err != nil {
		t.Errorf("VCEK only: %v", err)
	}
}

// TestMilanReportMutations: each change is refused for its own reason.
func TestMilanReportMutations(t *testing.T) {
	other, err := sevtest.DefaultTestOnlyCertChain("Milan-B0", milanNow.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	sim, err := simulated.Load()
	if err != nil {
		t.Fatal(err)
	}
	brokenASK := func(c *Certificates) {
		c.ASK = bytes.Clone(c.ASK)
		c.ASK[len(c.ASK)-10] ^= 0x01 // inside the RSASSA-PSS signature
	}
	for _, tc := range []struct {
		name     string
		report   func([]byte) []byte
		certs    func(*Certificates)
		opts     func(*Options)
		want     error
		wantText string
	}{
		{name: "flipped body byte (MEASUREMENT)", report: func(r []byte) []byte { r[0x90] ^= 1; return r },
			want: ErrSignature, wantText: "signature does not verify"},
		{name: "flipped signature byte (R)", report: func(r []byte) []byte { r[0x2A0] ^= 1; return r },
			want: ErrSignature, wantText: "signature does not verify"},
		{name: "flipped signature byte (S)", report: func(r []byte) []byte { r[0x2A0+0x48+5] ^= 0x80; return r },
			want: ErrSignature, wantText: "signature does not verify"},
		{name: "truncated", report: func(r []byte) []byte { return r[:ReportSize-1] },
			want: ErrMalformedReport, wantText: "1183 bytes, want exactly 1184"},
		{name: "trailing byte", report: func(r []byte) []byte { return append(r, 0) },
			want: ErrMalformedReport, wantText: "1185 bytes"},
		{name: "version 1", report: func(r []byte) []byte { binary.LittleEndian.PutUint32(r, 1); return r },
			want: ErrMalformedReport, wantText: "version 1 is not supported"},
		{name: "version 6", report: func(r []byte) []byte { binary.LittleEndian.PutUint32(r, 6); return r },
			want: ErrMalformedReport, wantText: "version 6 is not supported"},
		{name: "changed REPORTED_TCB", report: func(r []byte) []byte { r[0x180]++; return r },
			want: ErrSignature, wantText: "REPORTED_TCB"},
		{name: "changed CHIP_ID", report: func(r []byte) []byte { r[0x1A0] ^= 1; return r },
			want: ErrSignature, wantText: "CHIP_ID"},
		{name: "VCEK from another chain (go-sev-guest's fake)", certs: func(c *Certificates) {
			*c = Certificates{VCEK: other.Vcek.Raw, ASK: other.Ask.Raw, ARK: other.Ark.Raw}
		}, want: ErrChain, wantText: "is none of the trusted roots"},
		{name: "VCEK from another chain under the AMD ARK", certs: func(c *Certificates) { c.VCEK = other.Vcek.Raw },
			want: ErrChain, wantText: "VCEK certificate is not signed by the ASK"},
		{name: "VCEK from the simulated chain", certs: func(c *Certificates) {
			*c = Certificates{VCEK: sim.VCEK.Raw, ASK: sim.ASK.Raw, ARK: sim.ARK.Raw}
		}, opts: func(o *Options) {
			o.AllowSimulated = true
			o.Now = func() time.Time { return time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC) } // both chains valid
		}, want: ErrSignature, wantText: "REPORTED_TCB"},
		{name: "broken ASK signature", certs: brokenASK,
			want: ErrChain, wantText: `the ASK "SEV-Milan" is not signed by AMD ARK-Milan`},
		{name: "no VCEK", certs: func(c *Certificates) { c.VCEK = nil },
			want: ErrMissingCertificate, wantText: "no certificate directory is configured"},
		{name: "VCEK expired", opts: func(o *Options) { o.Now = func() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) } },
			want: ErrChain, wantText: "is not valid at 2030-01-01T00:00:00Z"},
		{name: "only simulated roots", opts: func(o *Options) {
			r, _ := SimulatedRoot()
			o.Roots, o.AllowSimulated = []*Root{r}, true
		}, want: ErrChain, wantText: "is none of the trusted roots"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			report, certs := milanReport(), milanCerts(t)
			if tc.report != nil {
				report = tc.report(report)
			}
			if tc.certs != nil {
				tc.certs(&certs)
			}
			v := newVerifier(t, milanNow, tc.opts)
			_, err := v.Verify(ctx, report, certs)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.wantText) {
				t.Fatalf("Verify = %v\nwant %v containing %q", err, tc.want, tc.wantText)
			}
			t.Log(err)
		})
	}
}

// TestMutationsAfterWarm: a warm cache does not let changed evidence
// through.
func TestMutationsAfterWarm(t *testing.T) {
	v := newVerifier(t, milanNow, nil)
	if _, err := v.Verify(ctx, milanReport(), milanCerts(t)); err != nil {
		t.Fatal(err)
	}
	r := milanReport()
	r[0x91] ^= 1
	if _, err := v.Verify(ctx, r, milanCerts(t)); !errors.Is(err, ErrSignature) {
		t.Errorf("flipped body, warm: %v", err)
	}
	c := milanCerts(t)
	c.ASK[len(c.ASK)-10] ^= 1
	if _, err := v.Verify(ctx, milanReport(), c); !errors.Is(err, ErrChain) {
		t.Errorf("broken ASK, warm: %v", err)
	}
	late := newVerifier(t, time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), func(o *Options) { o.Cache = v.cache })
	if _, err := late.Verify(ctx, milanReport(), milanCerts(t)); !errors.Is(err, ErrChain) {
		t.Errorf("expired VCEK, warm: %v", err)
	}
}

func TestSimulatedRoundTrip(t *testing.T) {
	s := newSimulator(t, SimulatorOptions{})
	rd := bytes.Repeat([]byte{0x5a}, 64)
	report := simReport(t, s, rd)

	v := newVerifier(t, simNow, func(o *Options) { o.AllowSimulated = true })
	a, err := v.Verify(ctx, report, s.Certificates())
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(a.Report, Policy{ReportData: rd}); err != nil {
		t.Fatal(err)
	}
	c := Claims(a)
	ld := DefaultLaunchDigest()
	for k, want := range map[string]any{
		"simulated":      true,
		"debug":          false,
		"report_data":    strings.Repeat("5a", 64),
		"measurement":    hexs(ld[:]),
		"policy":         uint64(0x30000),
		"vmpl":           uint64(0),
		"guest_svn":      uint64(1),
		"report_version": uint64(3),
		"tcb_version":    "7308000000000003",
		"reported_tcb":   "7308000000000003",
		"tcb_bootloader": uint64(3),
		"tcb_tee":        uint64(0),
		"tcb_snp":        uint64(8),
		"tcb_microcode":  uint64(115),
		"host_data":      strings.Repeat("00", 32),
		"family_id":      hexs([]byte("inclavare-sim\x00\x00\x00")),
		"signing_key":    "VCEK",
		"product_line":   "Milan",
	} {
		if c[k] != want {
			t.Errorf("claim %s = %#v, want %#v", k, c[k], want)
		}
	}
	chip := simulated.ChipID()
	if c["chip_id"] != hexs(chip[:]) {
		t.Errorf("chip_id = %v", c["chip_id"])
	}
	for _, k := range []string{"image_id", "reported_tcb_microcode", "root"} {
		if _, ok := c[k]; !ok {
			t.Errorf("no claim %s", k)
		}
	}

	// Without AllowSimulated: refused, and the message says why.
	strict := newVerifier(t, simNow, nil)
	_, err = strict.Verify(ctx, report, s.Certificates())
	if !errors.Is(err, ErrSimulated) || err.Error() != "evidence is from the simulated SEV-SNP TEE (sev_snp_sim); it is trusted only with --allow-simulated" {
		t.Errorf("strict Verify = %v", err)
	}
	// ... also when another verifier sharing the cache has allowed it.
	shared := newVerifier(t, simNow, func(o *Options) { o.Cache = v.cache })
	if _, err := shared.Verify(ctx, report, s.Certificates()); !errors.Is(err, ErrSimulated) {
		t.Errorf("strict Verify with a warm cache = %v", err)
	}
	// The AMD roots alone never accept the simulated chain.
	amd, _ := AMDRoots()
	amdOnly := newVerifier(t, simNow, func(o *Options) { o.Roots, o.AllowSimulated = amd, true })
	if _, err := amdOnly.Verify(ctx, report, s.Certificates()); !errors.Is(err, ErrChain) {
		t.Errorf("AMD roots, simulated chain with ARK = %v", err)
	}
	if _, err := amdOnly.Verify(ctx, report, Certificates{VCEK: s.Certificates().VCEK, ASK: s.Certificates().ASK}); !errors.Is(err, ErrChain) {
		t.Errorf("AMD roots, simulated chain without ARK = %v", err)
	}
	// The simulated VCEK never chains to the AMD ASK.
	if _, err := amdOnly.Verify(ctx, report, Certificates{VCEK: s.Certificates().VCEK}); !errors.Is(err, ErrChain) {
		t.Errorf("AMD roots, simulated VCEK alone = %v", err)
	}
	// Without endorsements the simulated root's own VCEK is used.
	bare := newVerifier(t, simNow, func(o *Options) { o.AllowSimulated = true })
	for i := range 2 {
		a, err := bare.Verify(ctx, report, Certificates{})
		if err != nil || !a.Simulated || a.Cached != (i == 1) {
			t.Fatalf("Verify without endorsements #%d: %v", i, err)
		}
	}
	if _, err := strict.Verify(ctx, report, Certificates{}); !errors.Is(err, ErrSimulated) {
		t.Errorf("strict Verify without endorsements = %v", err)
	}
	if _, err := amdOnly.Verify(ctx, report, Certificates{}); !errors.Is(err, ErrMissingCertificate) {
		t.Errorf("AMD roots, simulated report without endorsements = %v", err)
	}
	// Wrong report data.
	if err := Validate(a.Report, Policy{ReportData: make([]byte, 64)}); !errors.Is(err, ErrPolicy) || !strings.Contains(err.Error(), "REPORT_DATA 5a5a") {
		t.Errorf("Validate with other report data = %v", err)
	}
}

// TestSimulatedAcceptedByGoSevGuest: the simulated hierarchy has the shape
// go-sev-guest's own verifier expects of AMD's.
func TestSimulatedAcceptedByGoSevGuest(t *testing.T) {
	s := newSimulator(t, SimulatorOptions{})
	report := simReport(t, s, make([]byte, 64))
	m, err := simulated.Load()
	if err != nil {
		t.Fatal(err)
	}
	if err := goSevGuestVerify(report, s.Certificates(), m.ARK, m.ASK, simNow); err != nil {
		t.Fatal(err)
	}
}

func TestCertDir(t *testing.T) {
	dir := t.TempDir()
	c := milanCerts(t)
	writeFile(t, dir, "vcek.der", c.VCEK)
	writeFile(t, dir, "notes.txt", []byte("not a certificate"))
	v := newVerifier(t, milanNow, func(o *Options) { o.CertDir = dir })
	a, err := v.Verify(ctx, milanReport(), Certificates{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Cached {
		t.Error("first verification is warm")
	}
	if a, err = v.Verify(ctx, milanReport(), Certificates{}); err != nil || !a.Cached {
		t.Errorf("second verification from the directory: %v, cached %v", err, a != nil && a.Cached)
	}
	empty := newVerifier(t, milanNow, func(o *Options) { o.CertDir = t.TempDir() })
	if _, err := empty.Verify(ctx, milanReport(), Certificates{}); !errors.Is(err, ErrMissingCertificate) || !strings.Contains(err.Error(), "never fetched") {
		t.Errorf("empty directory: %v", err)
	}
}

func TestRoots(t *testing.T) {
	amd, err := AMDRoots()
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, r := range amd {
		lines = append(lines, r.ProductLine)
		if r.Simulated || r.ASK == nil || r.ASVK == nil {
			t.Errorf("%s: incomplete", r.Name())
		}
		if err := r.ASK.CheckSignatureFrom(r.ARK); err != nil {
			t.Errorf("%s ASK: %v", r.Name(), err)
		}
		if err := r.ASVK.CheckSignatureFrom(r.ARK); err != nil {
			t.Errorf("%s ASVK: %v", r.Name(), err)
		}
	}
	if got := strings.Join(lines, ","); got != "Milan,Genoa,Turin" {
		t.Errorf("AMD roots %s", got)
	}
	sim, err := SimulatedRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range amd {
		if r.ARK.Equal(sim.ARK) || r.ARK.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(sim.ARK.PublicKey) {
			t.Errorf("the simulated ARK is %s", r.Name())
		}
	}
	if _, err := NewVerifier(Options{Roots: []*Root{}}); err == nil {
		t.Error("a verifier without roots")
	}
}
