package csv

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/inclavare/inclavare/framework/instance"
)

func TestParseReport(t *testing.T) {
	b := make([]byte, HeaderSize+100)
	b[0] = 1                // user_pubkey_digest
	b[32] = 2               // vm_id
	b[64+64] = 3            // mnonce
	b[HeaderSize-16] = 0x10 // policy
	b[HeaderSize-4] = 0x44  // anonce
	r, err := ParseReport(b)
	if err != nil {
		t.Fatal(err)
	}
	if r.UserPubKeyDigest[0] != 1 || r.VMID[0] != 2 || r.MNonce[0] != 3 || r.Policy != 0x10 || r.ANonce != 0x44 || len(r.Rest) != 100 {
		t.Errorf("misread: %+v", r)
	}
	if _, err := ParseReport(b[:HeaderSize-1]); err == nil || !strings.Contains(err.Error(), "at least 192") {
		t.Errorf("short report: %v", err)
	}
}

func TestVerifyRefuses(t *testing.T) {
	ctx := context.Background()
	for _, n := range []int{HeaderSize, 4096} {
		err := Verify(ctx, make([]byte, n))
		if !errors.Is(err, ErrNoTrustRoot) || !errors.Is(err, instance.ErrUnavailable) || !strings.Contains(err.Error(), "Hygon Root Key (HRK)") || !strings.Contains(err.Error(), "certificate chain format") {
			t.Errorf("Verify(%d bytes) = %v", n, err)
		}
	}
	if err := Verify(ctx, make([]byte, 10)); err == nil || errors.Is(err, ErrNoTrustRoot) {
		t.Errorf("malformed: %v", err)
	}
}

func TestProbes(t *testing.T) {
	ctx := context.Background()
	if err := ProbeVerifier(ctx); !errors.Is(err, instance.ErrUnavailable) || !strings.Contains(err.Error(), "HRK") {
		t.Errorf("ProbeVerifier = %v", err)
	}
	err := Probe(ctx)
	if !errors.Is(err, instance.ErrUnavailable) || !strings.Contains(err.Error(), DevicePath) {
		t.Errorf("Probe = %v", err)
	}
	t.Log(err)
}

// The C Rats-TLS csv_attestation_report is padded to one page.
func TestReportSizeIsAPage(t *testing.T) {
	if ReportSize != 4096 || HeaderSize != 192 {
		t.Fatalf("ReportSize %d, HeaderSize %d: want 4096 and 192", ReportSize, HeaderSize)
	}
}
