package nullverifier_test

import (
	"context"
	"strings"
	"testing"

	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/verifiers/nullverifier"
)

func TestVerify(t *testing.T) {
	ctx := context.Background()
	inst, err := nullverifier.Registration.New(ctx, instance.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer inst.Close()
	v, ok := inst.(instance.Verifier)
	if !ok {
		t.Fatalf("New returned %T, not a Verifier", inst)
	}
	d := v.Descriptor()
	if d.Kind != instance.KindVerifier || d.Name != instance.NullVerifierName || d.Type != instance.EvidenceTypeNull {
		t.Errorf("descriptor %v, want verifier %q of type %q", d, instance.NullVerifierName, instance.EvidenceTypeNull)
	}
	reportData := make([]byte, instance.ReportDataSize)

	claims, err := v.Verify(ctx, instance.Evidence{Type: instance.EvidenceTypeNull}, reportData, nil)
	if err != nil {
		t.Fatalf("Verify(null evidence): %v", err)
	}
	if claims == nil || len(claims) != 0 {
		t.Errorf("Verify(null evidence) claims %v, want empty non-nil claims", claims)
	}

	tests := map[string]struct {
		ev   instance.Evidence
		want []string
	}{
		"sgx evidence":       {instance.Evidence{Type: "sgx_ecdsa", Data: []byte("quote")}, []string{`"sgx_ecdsa"`, "5 bytes"}},
		"null type but data": {instance.Evidence{Type: instance.EvidenceTypeNull, Data: []byte{0}}, []string{`"null"`, "1 bytes"}},
		"typed but empty":    {instance.Evidence{Type: "sev_snp"}, []string{`"sev_snp"`}},
		"no type at all":     {instance.Evidence{}, []string{`""`}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			claims, err := v.Verify(ctx, tc.ev, reportData, nil)
			if err == nil {
				t.Fatalf("Verify accepted %q evidence with claims %v", tc.ev.Type, claims)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %s", err, w)
				}
			}
		})
	}
}
