package tdxecdsa

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/inclavare/inclavare/framework/instance"
)

// TestProbeUnavailable: outside a TDX guest the probe and New say why.
func TestProbeUnavailable(t *testing.T) {
	if _, err := os.Stat(DevicePath); err == nil {
		t.Skipf("%s exists: this may be a TDX guest", DevicePath)
	}
	if err := Probe(context.Background()); err == nil {
		t.Skip("a configfs-tsm TDX quote provider is available here")
	} else if !errors.Is(err, instance.ErrUnavailable) {
		t.Errorf("Probe: %v, want ErrUnavailable", err)
	} else {
		t.Log(err)
	}
	if _, err := Registration.New(context.Background(), instance.Options{}); !errors.Is(err, instance.ErrUnavailable) {
		t.Errorf("New: %v, want ErrUnavailable", err)
	}
	if d := Registration.Descriptor; d.Name != "tdx_ecdsa" || d.Type != "tdx_ecdsa" || d.Priority != 100 || d.Kind != instance.KindAttester {
		t.Errorf("descriptor %+v", d)
	}
}
