package tdxecdsasim

import (
	"context"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/tee/intel"
)

func TestMRTDFromEnv(t *testing.T) {
	want := strings.Repeat("ab", 48)
	t.Setenv(EnvMRTD, want)
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
	if got := q.TD.MRTD; hex.EncodeToString(got[:]) != want {
		t.Errorf("MRTD %x, want %s", got, want)
	}
	t.Setenv(EnvMRTD, "abcd")
	if _, err := Registration.New(context.Background(), instance.Options{}); err == nil || !strings.Contains(err.Error(), EnvMRTD) {
		t.Errorf("a short MRTD: %v", err)
	}
}

func TestDescriptor(t *testing.T) {
	if d := Registration.Descriptor; d.Name != "tdx_ecdsa_sim" || d.Type != "tdx_ecdsa" || d.Priority != -1 || d.Kind != instance.KindAttester {
		t.Errorf("descriptor %+v", d)
	}
	inst, err := Registration.New(context.Background(), instance.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := inst.(instance.Attester).Endorsements(context.Background(), instance.Evidence{Type: "sgx_ecdsa"}); err == nil {
		t.Error("endorsements for sgx_ecdsa evidence")
	}
}
