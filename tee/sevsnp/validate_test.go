package sevsnp

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	v := newVerifier(t, milanNow, nil)
	milan, err := v.Verify(ctx, milanReport(), milanCerts(t))
	if err != nil {
		t.Fatal(err)
	}
	s := newSimulator(t, SimulatorOptions{})
	rd := bytes.Repeat([]byte{9}, 64)
	sv := newVerifier(t, simNow, func(o *Options) { o.AllowSimulated = true })
	sim, err := sv.Verify(ctx, simReport(t, s, rd), s.Certificates())
	if err != nil {
		t.Fatal(err)
	}
	debugSim := newSimulator(t, SimulatorOptions{Debug: true})
	dbg, err := sv.Verify(ctx, simReport(t, debugSim, rd), debugSim.Certificates())
	if err != nil {
		t.Fatal(err)
	}
	other := DefaultLaunchDigest()
	other[0] ^= 0xff
	custom := newSimulator(t, SimulatorOptions{LaunchDigest: other})
	cust, err := sv.Verify(ctx, simReport(t, custom, rd), custom.Certificates())
	if err != nil {
		t.Fatal(err)
	}
	ld := DefaultLaunchDigest()

	for _, tc := range []struct {
		name     string
		a        *Attestation
		p        Policy
		wantText []string // empty: accepted
	}{
		{"milan, debug allowed", milan, Policy{ReportData: milanReportData(), AllowDebug: true}, nil},
		{"milan is a debug guest", milan, Policy{ReportData: milanReportData()}, []string{"POLICY 0xb0000 has DEBUG set"}},
		{"milan, wrong report data", milan, Policy{ReportData: rd, AllowDebug: true},
			[]string{"REPORT_DATA 0102030405000000", "is not the expected 0909"}},
		{"short expected report data", milan, Policy{ReportData: rd[:32], AllowDebug: true}, []string{"has 32 bytes"}},
		{"simulated", sim, Policy{ReportData: rd}, nil},
		{"simulated debug refused", dbg, Policy{ReportData: rd}, []string{"DEBUG set"}},
		{"simulated debug allowed", dbg, Policy{ReportData: rd, AllowDebug: true}, nil},
		{"minimum TCB met exactly", sim, Policy{ReportData: rd, MinimumTCB: &TCB{Bootloader: 3, TEE: 0, SNP: 8, Microcode: 115}}, nil},
		{"minimum TCB below", sim, Policy{ReportData: rd, MinimumTCB: &TCB{Bootloader: 1, SNP: 7, Microcode: 100}}, nil},
		{"minimum TCB: snp too old", sim, Policy{ReportData: rd, MinimumTCB: &TCB{Bootloader: 3, SNP: 9, Microcode: 115}},
			[]string{"REPORTED_TCB snp SPL 8 is below the minimum 9"}},
		{"minimum TCB: every component too old", sim, Policy{ReportData: rd, MinimumTCB: &TCB{Bootloader: 4, TEE: 1, SNP: 9, Microcode: 200}},
			[]string{"bootloader SPL 3 is below the minimum 4", "tee SPL 0 is below the minimum 1", "snp SPL 8", "microcode SPL 115 is below the minimum 200"}},
		{"accepted measurement", sim, Policy{ReportData: rd, Measurements: [][]byte{other[:], ld[:]}}, nil},
		{"measurement not accepted", cust, Policy{ReportData: rd, Measurements: [][]byte{ld[:]}},
			[]string{"MEASUREMENT " + hexs(other[:]) + " is not an accepted measurement (want one of " + hexs(ld[:]) + ")"}},
		{"several violations", dbg, Policy{ReportData: milanReportData(), Measurements: [][]byte{other[:]}},
			[]string{"REPORT_DATA", "DEBUG", "MEASUREMENT"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Validate(tc.a.Report, tc.p)
			if len(tc.wantText) == 0 {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrPolicy) {
				t.Fatalf("Validate = %v, want ErrPolicy", err)
			}
			for _, w := range tc.wantText {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate = %v\nwant it to contain %q", err, w)
				}
			}
		})
	}
}

func TestParseTCB(t *testing.T) {
	for in, want := range map[string]TCB{
		"bootloader=3,tee=0,snp=8,microcode=115": {3, 0, 8, 115},
		"bl=3 ucode=115":                         {Bootloader: 3, Microcode: 115},
		"0x7308000000000003":                     {3, 0, 8, 115},
		"":                                       {},
	} {
		got, err := ParseTCB(in)
		if err != nil || got != want {
			t.Errorf("ParseTCB(%q) = %v, %v; want %v", in, got, err, want)
		}
		if in != "" && in[0] == '0' && got.Version() != 0x7308000000000003 {
			t.Errorf("Version() = %#x", got.Version())
		}
	}
	for _, in := range []string{"bootloader", "snp=300", "fw=1", "0xzz"} {
		if _, err := ParseTCB(in); err == nil {
			t.Errorf("ParseTCB(%q) accepted", in)
		}
	}
	if s := (TCB{3, 0, 8, 115}).String(); s != "bootloader=3 tee=0 snp=8 microcode=115" {
		t.Errorf("String() = %q", s)
	}
}

func TestParseMeasurements(t *testing.T) {
	ld := DefaultLaunchDigest()
	got, err := ParseMeasurements(hexs(ld[:]) + ", " + strings.Repeat("00", 48))
	if err != nil || len(got) != 2 || !bytes.Equal(got[0], ld[:]) {
		t.Errorf("ParseMeasurements = %x, %v", got, err)
	}
	if _, err := ParseMeasurements("abcd"); err == nil {
		t.Error("a 2-byte measurement accepted")
	}
}
