package runecli

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/inclavare/inclavare/appraisal/ear"
)

// skeletonReportBytes builds a skeleton PAL report as the PAL does
// (samples/pal-skeleton/README.md).
func skeletonReportBytes(measurement [32]byte, reportData []byte) []byte {
	b := make([]byte, skeletonReportSize)
	copy(b, skeletonMagic)
	binary.LittleEndian.PutUint32(b[16:], 1)
	binary.LittleEndian.PutUint32(b[20:], 3)
	binary.LittleEndian.PutUint32(b[24:], 1)
	copy(b[32:], measurement[:])
	copy(b[64:128], reportData)
	sum := sha256.Sum256(b[:128])
	copy(b[128:], sum[:])
	return b
}

func TestParseSkeletonReport(t *testing.T) {
	m := sha256.Sum256([]byte("/bin/sh"))
	good := skeletonReportBytes(m, []byte{1, 2})
	r, ok, err := parseSkeletonReport(good)
	if !ok || err != nil || r.Measurement != m || r.PALVersion != 3 || r.Flags != 1 || r.ReportData[1] != 2 {
		t.Fatalf("parseSkeletonReport = %+v, %v, %v", r, ok, err)
	}
	c := r.claims()
	if c["pal_version"] != uint64(3) || c["pre_created"] != true || c["hardware"] != false || !strings.HasPrefix(c["report_data"].(string), "0102") {
		t.Errorf("claims %v", c)
	}
	if _, ok, err := parseSkeletonReport([]byte("an SGX report")); ok || err != nil {
		t.Errorf("another PAL's report: ok %v, err %v; want not the skeleton's", ok, err)
	}
	corrupt := bytes.Clone(good)
	corrupt[40] ^= 1
	format := skeletonReportBytes(m, nil)
	binary.LittleEndian.PutUint32(format[16:], 2)
	sum := sha256.Sum256(format[:128])
	copy(format[128:], sum[:])
	for name, tc := range map[string]struct {
		b    []byte
		want string
	}{
		"short":    {good[:100], "100 bytes"},
		"long":     {append(bytes.Clone(good), 0), "161 bytes"},
		"checksum": {corrupt, "checksum"},
		"format":   {format, "format 2"},
	} {
		if _, ok, err := parseSkeletonReport(tc.b); !ok || err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: ok %v, err %v; want an error containing %q", name, ok, err, tc.want)
		}
	}
}

// FuzzParseSkeletonReport: the report comes from a PAL inside the
// container; parsing it never panics, and an accepted report has a valid
// checksum and format.
func FuzzParseSkeletonReport(f *testing.F) {
	m := sha256.Sum256([]byte("x"))
	f.Add(skeletonReportBytes(m, []byte("report data")))
	f.Add([]byte("SKELETON-NOT-HW\x00"))
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xff}, 160))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, ok, err := parseSkeletonReport(b)
		if !ok || err != nil {
			return
		}
		sum := sha256.Sum256(b[:128])
		if len(b) != skeletonReportSize || !bytes.Equal(sum[:], b[128:]) || r.Format != 1 {
			t.Fatalf("accepted a bad report %x", b)
		}
	})
}

func TestQuoteClaimsRefusesGarbage(t *testing.T) {
	if _, err := quoteClaims([]byte("not a quote")); err == nil {
		t.Error("quoteClaims accepted bytes that are not a quote")
	}
}

func TestPrintAttestationVerdict(t *testing.T) {
	a := &Attestation{Container: "c", EnclaveType: "wasm", EvidenceType: "sgx_ecdsa", Attester: "sgx_ecdsa_sim", Evidence: []byte{1}, ReportData: []byte{0xab}}
	var out bytes.Buffer
	if err := printAttestation(&out, a, attestOptions{}); err != nil || !strings.Contains(out.String(), "unverified") || !strings.Contains(out.String(), "report data:  ab") {
		t.Errorf("no verdict: %v\n%s", err, out.String())
	}
	a.Verified = true
	a.Verdict = &ear.Result{Status: ear.Contraindicated, Reasons: []string{"mrenclave differs"}, EvidenceType: "sgx_ecdsa", Verifier: "shelter", PolicyID: "test", IssuedAt: time.Unix(1700000000, 0)}
	out.Reset()
	err := printAttestation(&out, a, attestOptions{json: true})
	var ce *codedError
	if !errors.As(err, &ce) || ce.code != exitContraindicated || !strings.Contains(err.Error(), "mrenclave differs") {
		t.Errorf("contraindicated: %v, want exit %d with the reason", err, exitContraindicated)
	}
	var decoded map[string]any
	if err := json.Unmarshal(out.Bytes(), &decoded); err != nil || decoded["report_data"] != "ab" || decoded["evidence"] != "AQ==" || decoded["verified"] != true {
		t.Errorf("JSON %s: %v", out.String(), err)
	}
}
