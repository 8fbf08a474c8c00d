package reference

import (
	"errors"
	"strings"
	"testing"

	"github.com/inclavare/inclavare/framework/instance"
)

func TestMeasurementsAndCheck(t *testing.T) {
	claims := instance.Claims{"measurement": "AABB", "host_data": "00", "report_data": "ff"}
	v, err := Measurements("sev_snp", claims)
	if err != nil {
		t.Fatal(err)
	}
	if v.Measurements["measurement"] != "aabb" || len(v.Measurements) != 2 {
		t.Fatalf("measurements = %v", v.Measurements)
	}
	if err := v.Validate(); err == nil || !strings.Contains(err.Error(), "bytes, want") {
		t.Fatalf("short values: %v", err)
	}
	full, err := Measurements("sev_snp", instance.Claims{"measurement": strings.Repeat("ab", 48), "host_data": strings.Repeat("00", 32)})
	if err != nil {
		t.Fatal(err)
	}
	if err := full.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := v.Check("sev_snp", claims); err != nil {
		t.Fatalf("same claims refused: %v", err)
	}
	other := instance.Claims{"measurement": "aabc", "host_data": "00"}
	err = v.Check("sev_snp", other)
	if !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "measurement is aabc, reference value aabb") {
		t.Fatalf("changed measurement: %v", err)
	}
	if err := v.Check("tdx_ecdsa", claims); !errors.Is(err, ErrMismatch) {
		t.Fatalf("other evidence type: %v", err)
	}
	if err := v.Check("sev_snp", instance.Claims{"host_data": "00"}); !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing claim: %v", err)
	}
}

func TestMeasurementsErrors(t *testing.T) {
	if _, err := Measurements("null", nil); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("null: %v", err)
	}
	if _, err := Measurements("sgx_ecdsa", instance.Claims{"mrenclave": "00"}); err == nil {
		t.Fatal("missing mrsigner accepted")
	}
}

func TestValidate(t *testing.T) {
	for name, v := range map[string]Values{
		"unknown type":  {EvidenceType: "tpm", Measurements: map[string]string{"pcr0": "00"}},
		"no primary":    {EvidenceType: "tdx_ecdsa", Measurements: map[string]string{"rtmr0": "00"}},
		"foreign claim": {EvidenceType: "sev_snp", Measurements: map[string]string{"measurement": "00", "mrtd": "00"}},
		"not hex":       {EvidenceType: "sev_snp", Measurements: map[string]string{"measurement": "zz"}},
		"empty":         {EvidenceType: "csv", Measurements: map[string]string{"measurement": ""}},
	} {
		if err := v.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if Primary("tdx_ecdsa") != "mrtd" || Primary("null") != "" || len(ClaimNames("sgx_la")) != 2 {
		t.Fatal("claim names")
	}
}
