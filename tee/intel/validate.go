package intel

import (
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrPolicy is wrapped by every refusal of [Validate].
var ErrPolicy = errors.New("Intel quote refused by policy")

// DefaultAcceptedStatuses are the TCB statuses a zero Policy accepts.
var DefaultAcceptedStatuses = []TCBStatus{TCBUpToDate}

// Policy is what a verifier requires of a verified quote beyond its
// signatures. Policy is data: it is checked by [Validate], never by
// signature code. Fields for the other TEE (MREnclave for a TDX quote,
// MRTD for an SGX quote) do not apply and are ignored.
type Policy struct {
	// ReportData is the 64 bytes the enclave's or TD's report data must
	// equal (compared in constant time). It is required.
	ReportData []byte
	// AllowDebug accepts debug enclaves (SGX ATTRIBUTES.DEBUG) and debug
	// TDs (TD_ATTRIBUTES.DEBUG): -D, instance.Options.DebugEnclave.
	AllowDebug bool
	// AcceptedStatuses are the TCB statuses accepted; empty means
	// DefaultAcceptedStatuses (UpToDate only). Revoked is never accepted.
	AcceptedStatuses []TCBStatus
	// MREnclave and MRSigner, when not empty, are the accepted SGX
	// measurements and signers (32 bytes each).
	MREnclave, MRSigner [][]byte
	// MinISVSVN, when set, is the lowest SGX ISVSVN accepted.
	MinISVSVN *uint16
	// MRTD, when not empty, are the accepted TD measurements (48 bytes
	// each); RTMR[i], when not empty, the accepted values of RTMR i.
	MRTD [][]byte
	RTMR [4][][]byte
}

// Validate checks a against p and returns every violation, each naming the
// field and both values. a must come from [Verifier.Verify]: Validate
// checks no signature.
func Validate(a *Attestation, p Policy) error {
	q := a.Quote
	var errs []error
	rd := q.ReportData()
	if len(p.ReportData) != len(rd) {
		errs = append(errs, fmt.Errorf("the expected report data has %d bytes, REPORT_DATA has %d", len(p.ReportData), len(rd)))
	} else if subtle.ConstantTimeCompare(rd, p.ReportData) != 1 {
		errs = append(errs, fmt.Errorf("REPORT_DATA %x is not the expected %x", rd, p.ReportData))
	}
	if q.Debug() && !p.AllowDebug {
		if q.TD != nil {
			errs = append(errs, fmt.Errorf("TD_ATTRIBUTES %x has DEBUG set but debug TDs are not allowed (want DEBUG clear; allow them with -D / --debug-enclave)", q.TD.TDAttributes))
		} else {
			errs = append(errs, fmt.Errorf("ATTRIBUTES.FLAGS %#x has DEBUG set but debug enclaves are not allowed (want DEBUG clear; allow them with -D / --debug-enclave)", q.Enclave.Flags()))
		}
	}
	accepted := p.AcceptedStatuses
	if len(accepted) == 0 {
		accepted = DefaultAcceptedStatuses
	}
	switch {
	case a.TCBStatus == TCBRevoked:
		errs = append(errs, fmt.Errorf("TCB status is Revoked (advisories %s), which is never accepted", advisories(a.AdvisoryIDs)))
	case !slices.Contains(accepted, a.TCBStatus):
		errs = append(errs, fmt.Errorf("TCB status %s (advisories %s) is not an accepted status (want one of %s)", a.TCBStatus, advisories(a.AdvisoryIDs), statusList(accepted)))
	}
	if e := q.Enclave; e != nil {
		errs = appendIfNotOneOf(errs, "MRENCLAVE", e.MREnclave[:], p.MREnclave)
		errs = appendIfNotOneOf(errs, "MRSIGNER", e.MRSigner[:], p.MRSigner)
		if p.MinISVSVN != nil && e.ISVSVN < *p.MinISVSVN {
			errs = append(errs, fmt.Errorf("ISVSVN %d is below the minimum %d", e.ISVSVN, *p.MinISVSVN))
		}
	}
	if td := q.TD; td != nil {
		errs = appendIfNotOneOf(errs, "MRTD", td.MRTD[:], p.MRTD)
		for i := range td.RTMR {
			errs = appendIfNotOneOf(errs, fmt.Sprintf("RTMR%d", i), td.RTMR[i][:], p.RTMR[i])
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrPolicy, errors.Join(errs...))
}

func appendIfNotOneOf(errs []error, field string, got []byte, want [][]byte) []error {
	if len(want) == 0 {
		return errs
	}
	for _, w := range want {
		if subtle.ConstantTimeCompare(got, w) == 1 {
			return errs
		}
	}
	ws := make([]string, len(want))
	for i, w := range want {
		ws[i] = hex.EncodeToString(w)
	}
	return append(errs, fmt.Errorf("%s %x is not an accepted value (want one of %s)", field, got, strings.Join(ws, ", ")))
}

func advisories(ids []string) string {
	if len(ids) == 0 {
		return "none"
	}
	return strings.Join(ids, ", ")
}

func statusList(s []TCBStatus) string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = string(x)
	}
	return strings.Join(out, ", ")
}

// ParseTCBStatuses reads accepted TCB statuses separated by commas or
// white space ("UpToDate,SWHardeningNeeded"); each must be a status Intel
// defines.
func ParseTCBStatuses(s string) ([]TCBStatus, error) {
	var out []TCBStatus
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		st := TCBStatus(f)
		if !st.Valid() {
			return nil, fmt.Errorf("TCB status %q is not one of UpToDate, SWHardeningNeeded, ConfigurationNeeded, ConfigurationAndSWHardeningNeeded, OutOfDate, OutOfDateConfigurationNeeded, Revoked", f)
		}
		out = append(out, st)
	}
	return out, nil
}

// ParseHexValues reads accepted values of size bytes each (MRENCLAVE,
// MRSIGNER: 32; MRTD, RTMR: 48), in hex, separated by commas or white
// space.
func ParseHexValues(s string, size int) ([][]byte, error) {
	var out [][]byte
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
		b, err := hex.DecodeString(f)
		if err != nil || len(b) != size {
			return nil, fmt.Errorf("%q is not %d bytes in hex", f, size)
		}
		out = append(out, b)
	}
	return out, nil
}
