package testtee

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/inclavare/inclavare/framework/instance"
)

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	rd := bytes.Repeat([]byte{7}, instance.ReportDataSize)
	ev, err := attester{}.Collect(ctx, rd)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Type != EvidenceType || len(ev.Data) != EvidenceSize {
		t.Fatalf("Collect = %q, %d bytes; want %q, %d bytes", ev.Type, len(ev.Data), EvidenceType, EvidenceSize)
	}
	claims, err := verifier{}.Verify(ctx, ev, rd, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := claims["report_data"]; got != strings.Repeat("07", instance.ReportDataSize) {
		t.Errorf("report_data claim = %v", got)
	}

	other := bytes.Repeat([]byte{8}, instance.ReportDataSize)
	if _, err := (verifier{}).Verify(ctx, ev, other, nil); err == nil || !strings.Contains(err.Error(), "does not match the expected") {
		t.Errorf("Verify with other report data: %v, want a mismatch", err)
	}
	bad := bytes.Clone(ev.Data)
	bad[len(bad)-1] ^= 1
	if _, err := (verifier{}).Verify(ctx, instance.Evidence{Type: EvidenceType, Data: bad}, rd, nil); err == nil || !strings.Contains(err.Error(), "HMAC") {
		t.Errorf("Verify with a flipped MAC bit: %v, want an HMAC failure", err)
	}
	if _, err := (verifier{}).Verify(ctx, instance.Evidence{Type: EvidenceType, Data: ev.Data[:10]}, rd, nil); err == nil || !strings.Contains(err.Error(), "10 bytes") {
		t.Errorf("Verify with short evidence: %v, want a size error", err)
	}
}
