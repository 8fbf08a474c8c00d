package csv

import (
	"context"
	"errors"
	"testing"

	"github.com/inclavare/inclavare/framework/instance"
)

func TestNeverUsable(t *testing.T) {
	ctx := context.Background()
	if err := Registration.Probe(ctx); !errors.Is(err, instance.ErrUnavailable) {
		t.Errorf("Probe = %v", err)
	}
	if inst, err := Registration.New(ctx, instance.Options{}); inst != nil || !errors.Is(err, instance.ErrUnavailable) {
		t.Errorf("New = %v, %v", inst, err)
	}
	d := Registration.Descriptor
	if d.Name != "csv" || d.Type != "csv" || d.Priority != 100 || d.Kind != instance.KindAttester {
		t.Errorf("descriptor %v", d)
	}
}
