package tdxecdsa

import (
	"bytes"
	"context"
	"testing"

	"github.com/inclavare/inclavare/attesters/tdxecdsasim"
	"github.com/inclavare/inclavare/framework/instance"
)

// TestRegistration: the tdx_ecdsa verifier is named and typed as in the C
// Rats-TLS and verifies simulated TDX quotes with --allow-simulated.
func TestRegistration(t *testing.T) {
	d := Registration.Descriptor
	if d.Name != "tdx_ecdsa" || d.Type != "tdx_ecdsa" || d.Priority != 100 || d.Kind != instance.KindVerifier {
		t.Errorf("descriptor %+v", d)
	}
	ctx := context.Background()
	inst, err := tdxecdsasim.Registration.New(ctx, instance.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rd := bytes.Repeat([]byte{4}, 64)
	ev, err := inst.(instance.Attester).Collect(ctx, rd)
	if err != nil {
		t.Fatal(err)
	}
	vi, err := Registration.New(ctx, instance.Options{AllowSimulated: true})
	if err != nil {
		t.Fatal(err)
	}
	if vi.Descriptor() != d {
		t.Errorf("instance descriptor %+v", vi.Descriptor())
	}
	claims, err := vi.(instance.Verifier).Verify(ctx, ev, rd, nil)
	if err != nil || claims["simulated"] != true || claims["tee"] != "tdx" {
		t.Errorf("Verify: %v, claims %v", err, claims)
	}
}
