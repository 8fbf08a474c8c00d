package sevsnp

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/google/go-sev-guest/kds"
	"github.com/google/go-sev-guest/verify/testdata"
	"github.com/google/go-sev-guest/verify/trust"
)

// milanNow is inside the validity of go-sev-guest's sample VCEK
// (2022-09-24 to 2029-09-24), as its own verify tests pin it.
var milanNow = time.Date(2022, time.September, 24, 1, 0, 0, 0, time.UTC)

// simNow is inside the validity of the simulated hierarchy.
var simNow = time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC)

// milanReport is go-sev-guest's real Milan report (version 2, from a VM
// launched without an ID block).
func milanReport() []byte { return bytes.Clone(testdata.AttestationBytes) }

// milanReportData is the REPORT_DATA of milanReport.
func milanReportData() []byte { return bytes.Clone(testdata.AttestationBytes[0x50:0x90]) }

// milanCerts are the certificates of milanReport: go-sev-guest's sample
// VCEK, issued by AMD's KDS for that chip and TCB, and the Milan ASK and ARK.
func milanCerts(t testing.TB) Certificates {
	t.Helper()
	ask, ark, err := kds.ParseProductCertChain(trust.AskArkMilanVcekBytes)
	if err != nil {
		t.Fatal(err)
	}
	return Certificates{VCEK: bytes.Clone(testdata.VcekBytes), ASK: ask, ARK: ark}
}

// newVerifier returns a verifier with its own cache at a pinned time.
func newVerifier(t testing.TB, now time.Time, mod func(*Options)) *Verifier {
	t.Helper()
	o := Options{Now: func() time.Time { return now }, Cache: NewChainCache(16)}
	if mod != nil {
		mod(&o)
	}
	v, err := NewVerifier(o)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func newSimulator(t testing.TB, opts SimulatorOptions) *Simulator {
	t.Helper()
	s, err := NewSimulator(opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func simReport(t testing.TB, s *Simulator, rd []byte) []byte {
	t.Helper()
	r, err := s.Report(rd)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var ctx = context.Background()
