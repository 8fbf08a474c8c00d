// Package reference holds reference values: the launch measurements a
// relying party expects of a named workload, and the comparison of a
// workload's verified claims against them.
//
// Which claims identify a workload depends on the TEE: an SGX enclave is
// its MRENCLAVE and MRSIGNER, a TD its MRTD and RTMRs, an SNP guest its
// launch MEASUREMENT and HOST_DATA. [Measurements] picks those from the
// claims a verifier produced; [Values.Check] compares them in constant
// time. It never verifies evidence: the claims must come from a verifier.
package reference

import (
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/inclavare/inclavare/framework/instance"
)

// measurementClaims lists, per evidence type, the claims that identify
// what was launched in the TEE, in the order they are shown.
var measurementClaims = map[string][]string{
	"sgx_ecdsa": {"mrenclave", "mrsigner"},
	"sgx_la":    {"mrenclave", "mrsigner"},
	"tdx_ecdsa": {"mrtd", "rtmr0", "rtmr1", "rtmr2", "rtmr3", "mrseam"},
	"sev_snp":   {"measurement", "host_data"},
	"csv":       {"measurement"},
}

// measurementSizes is the size in bytes of each measurement claim, per
// evidence type.
var measurementSizes = map[string]map[string]int{
	"sgx_ecdsa": {"mrenclave": 32, "mrsigner": 32},
	"sgx_la":    {"mrenclave": 32, "mrsigner": 32},
	"tdx_ecdsa": {"mrtd": 48, "rtmr0": 48, "rtmr1": 48, "rtmr2": 48, "rtmr3": 48, "mrseam": 48},
	"sev_snp":   {"measurement": 48, "host_data": 32},
	"csv":       {"measurement": 32},
}

// ErrMismatch is wrapped by [Values.Check] when a measurement differs from
// the reference value or is missing.
var ErrMismatch = errors.New("workload measurement does not match the reference value")

// ErrUnsupported is returned for an evidence type without launch
// measurements (such as null).
var ErrUnsupported = errors.New("evidence type has no launch measurements")

// ClaimNames returns the measurement claims of evidenceType, in display
// order, or nil when it has none.
func ClaimNames(evidenceType string) []string {
	return slices.Clone(measurementClaims[evidenceType])
}

// Primary returns the name of the claim that identifies a workload of
// evidenceType on its own (mrenclave, mrtd or measurement), or "".
func Primary(evidenceType string) string {
	if n := measurementClaims[evidenceType]; len(n) > 0 {
		return n[0]
	}
	return ""
}

// Values are the reference values of one workload: for one evidence type,
// the expected hex value of each measurement claim.
type Values struct {
	// EvidenceType is the evidence type the values apply to.
	EvidenceType string `json:"evidence_type"`
	// Measurements maps a measurement claim name to its lower-case hex
	// value.
	Measurements map[string]string `json:"measurements"`
}

// Measurements returns the launch measurements among claims verified for
// evidence of evidenceType.
func Measurements(evidenceType string, claims instance.Claims) (Values, error) {
	names, ok := measurementClaims[evidenceType]
	if !ok {
		return Values{}, fmt.Errorf("%w: %q", ErrUnsupported, evidenceType)
	}
	v := Values{EvidenceType: evidenceType, Measurements: make(map[string]string, len(names))}
	for _, n := range names {
		s, ok := claims[n].(string)
		if !ok {
			return Values{}, fmt.Errorf("%s evidence: claim %q is missing or not a hex string", evidenceType, n)
		}
		v.Measurements[n] = strings.ToLower(s)
	}
	return v, nil
}

// Validate checks that v names a known evidence type, only its measurement
// claims, and hex values; at least the primary measurement must be given.
func (v Values) Validate() error {
	names, ok := measurementClaims[v.EvidenceType]
	if !ok {
		return fmt.Errorf("%w: %q (known: %s)", ErrUnsupported, v.EvidenceType, strings.Join(slices.Sorted(maps.Keys(measurementClaims)), ", "))
	}
	if _, ok := v.Measurements[names[0]]; !ok {
		return fmt.Errorf("reference values for %s need at least %q", v.EvidenceType, names[0])
	}
	keys := slices.Sorted(maps.Keys(v.Measurements))
	for _, k := range keys {
		if !slices.Contains(names, k) {
			return fmt.Errorf("%q is not a measurement of %s evidence (measurements: %s)", k, v.EvidenceType, strings.Join(names, ", "))
		}
	}
	for _, k := range keys {
		b, err := hex.DecodeString(v.Measurements[k])
		if err != nil || v.Measurements[k] == "" {
			return fmt.Errorf("reference value %s: not a hex string: %q", k, v.Measurements[k])
		}
		if want := measurementSizes[v.EvidenceType][k]; len(b) != want {
			return fmt.Errorf("reference value %s of %s evidence: %d bytes, want %d (%d hex digits)", k, v.EvidenceType, len(b), want, 2*want)
		}
	}
	return nil
}

// Check compares the verified claims of evidence of evidenceType with v:
// the evidence type must be v's and every measurement in v must be equal
// (compared in constant time). Measurements v does not name are not
// checked. The error wraps [ErrMismatch] and names each difference.
func (v Values) Check(evidenceType string, claims instance.Claims) error {
	if evidenceType != v.EvidenceType {
		return fmt.Errorf("%w: evidence type is %q, the reference values are for %q", ErrMismatch, evidenceType, v.EvidenceType)
	}
	var bad []string
	for _, k := range slices.Sorted(maps.Keys(v.Measurements)) {
		want, err := hex.DecodeString(v.Measurements[k])
		if err != nil {
			return fmt.Errorf("reference value %s: %w", k, err)
		}
		s, _ := claims[k].(string)
		got, err := hex.DecodeString(s)
		switch {
		case s == "" || err != nil:
			bad = append(bad, fmt.Sprintf("%s: missing from the verified claims", k))
		case subtle.ConstantTimeCompare(got, want) != 1:
			bad = append(bad, fmt.Sprintf("%s is %s, reference value %s", k, s, v.Measurements[k]))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: %s", ErrMismatch, strings.Join(bad, "; "))
	}
	return nil
}
