package sgxecdsasim

import (
	"context"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/tee/intel"
)

func TestMREnclaveFromEnv(t *testing.T) {
	want := strings.Repeat("ab", 32)
	t.Setenv(EnvMREnclave, want)
	inst, err := Registration.New(context.Background(), instance.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ev, err := inst.(instance.Attester).Collect(context.Background(), make([]byte, 64))
	if err != nil {
		t.Fatal(err)
	}
	q, err := intel.ParseQuote(ev.Data)
	if err != nil {
		t.Fatal(err)
	}
	if got := q.Enclave.MREnclave; hex.EncodeToString(got[:]) != want {
		t.Errorf("MRENCLAVE %x, want %s", got, want)
	}
	t.Setenv(EnvMREnclave, "abcd")
	if _, err := Registration.New(context.Background(), instance.Options{}); err == nil || !strings.Contains(err.Error(), EnvMREnclave) {
		t.Errorf("a short MRENCLAVE: %v", err)
	}
}

func TestDescriptor(t *testing.T) {
	if d := Registration.Descriptor; d.Name != "sgx_ecdsa_sim" || d.Type != "sgx_ecdsa" || d.Priority != -1 || d.Kind != instance.KindAttester {
		t.Errorf("descriptor %+v", d)
	}
	inst, err := Registration.New(context.Background(), instance.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inst.(instance.Attester).Endorsements(context.Background(), instance.Evidence{Type: "tdx_ecdsa"}); err == nil {
		t.Error("endorsements for tdx_ecdsa evidence")
	}
}
