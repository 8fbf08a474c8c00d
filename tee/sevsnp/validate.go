package sevsnp

import (
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrPolicy is wrapped by every refusal of [Validate].
var ErrPolicy = errors.New("SEV-SNP report refused by policy")

// Policy is what a verifier requires of a report beyond its signature.
// Policy is data: it is checked by [Validate], never by signature code.
type Policy struct {
	// ReportData is the 64 bytes the report's REPORT_DATA must equal
	// (compared in constant time). It is required.
	ReportData []byte
	// AllowDebug accepts guests whose policy has the DEBUG bit set (the
	// host can read and change their memory): -D, instance.Options.DebugEnclave.
	AllowDebug bool
	// MinimumTCB, when set, is the lowest REPORTED_TCB accepted, per
	// component (bootloader, TEE, SNP, microcode).
	MinimumTCB *TCB
	// Measurements, when not empty, are the accepted launch measurements
	// (48 bytes each).
	Measurements [][]byte
}

// Validate checks r against p and returns every violation, each naming the
// field and both values. r must come from a verified [Attestation]: Validate
// checks no signature.
func Validate(r *Report, p Policy) error {
	var errs []error
	if len(p.ReportData) != len(r.Proto.GetReportData()) {
		errs = append(errs, fmt.Errorf("the expected report data has %d bytes, REPORT_DATA has %d", len(p.ReportData), len(r.Proto.GetReportData())))
	} else if subtle.ConstantTimeCompare(r.Proto.GetReportData(), p.ReportData) != 1 {
		errs = append(errs, fmt.Errorf("REPORT_DATA %x is not the expected %x", r.Proto.GetReportData(), p.ReportData))
	}
	if r.Debug() && !p.AllowDebug {
		errs = append(errs, fmt.Errorf("POLICY %#x has DEBUG set but debug guests are not allowed (want DEBUG clear; allow them with -D / --debug-enclave)", r.Proto.GetPolicy()))
	}
	if m := p.MinimumTCB; m != nil {
		got := r.ReportedTCB()
		for _, c := range []struct {
			name      string
			got, want uint8
		}{
			{"bootloader", got.Bootloader, m.Bootloader},
			{"tee", got.TEE, m.TEE},
			{"snp", got.SNP, m.SNP},
			{"microcode", got.Microcode, m.Microcode},
		} {
			if c.got < c.want {
				errs = append(errs, fmt.Errorf("REPORTED_TCB %s SPL %d is below the minimum %d", c.name, c.got, c.want))
			}
		}
	}
	if len(p.Measurements) > 0 {
		ok := false
		for _, m := range p.Measurements {
			if subtle.ConstantTimeCompare(m, r.Proto.GetMeasurement()) == 1 {
				ok = true
				break
			}
		}
		if !ok {
			want := make([]string, len(p.Measurements))
			for i, m := range p.Measurements {
				want[i] = hex.EncodeToString(m)
			}
			errs = append(errs, fmt.Errorf("MEASUREMENT %x is not an accepted measurement (want one of %s)", r.Proto.GetMeasurement(), strings.Join(want, ", ")))
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrPolicy, errors.Join(errs...))
}

// ParseTCB reads a minimum TCB written as "bootloader=3,tee=0,snp=8,microcode=115"
// (components may be left out: they are then 0; "bl" and "ucode" are
// accepted too) or as a TCB_VERSION in hex ("0x7308000000000003").
func ParseTCB(s string) (TCB, error) {
	s = strings.TrimSpace(s)
	if h, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		v, err := strconv.ParseUint(h, 16, 64)
		if err != nil {
			return TCB{}, fmt.Errorf("TCB %q: %w", s, err)
		}
		return TCBFromVersion(v), nil
	}
	var t TCB
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return TCB{}, fmt.Errorf("TCB %q: %q is not component=value", s, part)
		}
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 8)
		if err != nil {
			return TCB{}, fmt.Errorf("TCB %q: component %s: %w", s, k, err)
		}
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "bootloader", "bl":
			t.Bootloader = uint8(n)
		case "tee":
			t.TEE = uint8(n)
		case "snp":
			t.SNP = uint8(n)
		case "microcode", "ucode":
			t.Microcode = uint8(n)
		default:
			return TCB{}, fmt.Errorf("TCB %q: unknown component %q (want bootloader, tee, snp or microcode)", s, k)
		}
	}
	return t, nil
}

// ParseMeasurements reads accepted measurements: 96 hex digits each,
// separated by commas or white space.
func ParseMeasurements(s string) ([][]byte, error) {
	var out [][]byte
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' }) {
		m, err := hex.DecodeString(f)
		if err != nil || len(m) != 48 {
			return nil, fmt.Errorf("measurement %q is not 48 bytes in hex", f)
		}
		out = append(out, m)
	}
	return out, nil
}
