package api

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestGetEnclaveInfoLine(t *testing.T) {
	if !strings.HasSuffix(GetEnclaveInfoLine, "\n") || strings.Count(GetEnclaveInfoLine, "\n") != 1 {
		t.Fatalf("%q is not one line", GetEnclaveInfoLine)
	}
	var r Request
	if err := json.Unmarshal([]byte(GetEnclaveInfoLine), &r); err != nil || r.Type != TypeGetEnclaveInfo {
		t.Fatalf("%q decodes to %+v, %v", GetEnclaveInfoLine, r, err)
	}
}

func TestEnclaveInfoJSON(t *testing.T) {
	info := EnclaveInfo{
		ID: "sev_snp:ab", MsgType: MsgEnclaveInfo, Version: Version, EvidenceType: "sev_snp",
		Freshness: "exporter", Verifier: "sev_snp", Measurements: map[string]string{"measurement": "ab"},
		Certificate: []byte{0x30, 0x82}, Evidence: []byte{1}, Endorsements: []byte{2},
	}
	b, err := json.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"id":"sev_snp:ab"`, `"msgtype":"ENCLAVEINFO"`, `"version":1`, `"certificate":"MII="`, `"evidence":"AQ=="`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
	if strings.Contains(string(b), `"error"`) || strings.Contains(string(b), `"reason"`) {
		t.Errorf("an identity carries error fields: %s", b)
	}
	b, _ = json.Marshal(EnclaveInfo{MsgType: MsgError, Version: Version, Error: "workload down", Reason: ReasonUnreachable})
	if string(b) != `{"id":"","msgtype":"ERROR","version":1,"error":"workload down","reason":"unreachable"}` {
		t.Errorf("error answer %s", b)
	}
}
