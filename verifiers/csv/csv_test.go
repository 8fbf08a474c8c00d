package csv

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/inclavare/inclavare/framework/instance"
	hygon "github.com/inclavare/inclavare/tee/csv"
)

func TestRefusesEverything(t *testing.T) {
	ctx := context.Background()
	if err := Registration.Probe(ctx); !errors.Is(err, instance.ErrUnavailable) || !strings.Contains(err.Error(), "HRK") {
		t.Errorf("Probe = %v", err)
	}
	d := Registration.Descriptor
	if d.Name != "csv" || d.Type != "csv" || d.Priority != 100 || d.Kind != instance.KindVerifier {
		t.Errorf("descriptor %v", d)
	}
	inst, err := Registration.New(ctx, instance.Options{AllowSimulated: true, DebugEnclave: true})
	if err != nil {
		t.Fatal(err)
	}
	v := inst.(instance.Verifier)
	for _, n := range []int{0, hygon.HeaderSize, 4096} {
		c, err := v.Verify(ctx, instance.Evidence{Type: "csv", Data: make([]byte, n)}, make([]byte, 64), nil)
		if c != nil || err == nil {
			t.Errorf("%d bytes: accepted", n)
		}
		if n >= hygon.HeaderSize && !errors.Is(err, hygon.ErrNoTrustRoot) {
			t.Errorf("%d bytes: %v, want ErrNoTrustRoot", n, err)
		}
	}
	if _, err := v.Verify(ctx, instance.Evidence{Type: "sev"}, nil, nil); err == nil {
		t.Error("sev evidence accepted")
	}
}
