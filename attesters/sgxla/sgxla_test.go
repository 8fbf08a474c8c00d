package sgxla

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/inclavare/inclavare/framework/instance"
	la "github.com/inclavare/inclavare/tee/sgxla"
)

func TestProbeHere(t *testing.T) {
	ctx := context.Background()
	err := Registration.Probe(ctx)
	if err == nil {
		t.Skip("this machine is inside a Gramine SGX enclave")
	}
	if !errors.Is(err, instance.ErrUnavailable) || !strings.Contains(err.Error(), la.AttestationDir) {
		t.Errorf("Probe = %v", err)
	}
	if _, err := Registration.New(ctx, instance.Options{}); !errors.Is(err, instance.ErrUnavailable) {
		t.Errorf("New = %v", err)
	}
	d := Registration.Descriptor
	if d.Name != "sgx_la" || d.Type != "sgx_la" || d.Priority != 100 || d.Kind != instance.KindAttester {
		t.Errorf("descriptor %v", d)
	}
}
