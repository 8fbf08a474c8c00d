package nullattester_test

import (
	"context"
	"testing"

	"github.com/inclavare/inclavare/attesters/nullattester"
	"github.com/inclavare/inclavare/framework/instance"
)

func TestCollect(t *testing.T) {
	ctx := context.Background()
	inst, err := nullattester.Registration.New(ctx, instance.Options{DebugEnclave: true, Endorsements: true})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	a, ok := inst.(instance.Attester)
	if !ok {
		t.Fatalf("New returned %T, not an Attester", inst)
	}
	d := a.Descriptor()
	if d.Kind != instance.KindAttester || d.Name != nullattester.Name || d.Type != instance.EvidenceTypeNull {
		t.Errorf("descriptor %v, want attester %q of type %q", d, nullattester.Name, instance.EvidenceTypeNull)
	}
	reportData := make([]byte, instance.ReportDataSize)
	reportData[0] = 0xaa
	ev, err := a.Collect(ctx, reportData)
	if err != nil {
		t.Fatalf("Collect: %v", err)
	}
	if ev.Type != instance.EvidenceTypeNull || len(ev.Data) != 0 {
		t.Errorf("Collect = %q evidence of %d bytes, want null evidence with no data", ev.Type, len(ev.Data))
	}
	end, err := a.Endorsements(ctx, ev)
	if err != nil || end != nil {
		t.Errorf("Endorsements = %v, %v; want none", end, err)
	}
	if err := a.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
