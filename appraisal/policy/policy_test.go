package policy_test

import (
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inclavare/inclavare/appraisal/ear"
	"github.com/inclavare/inclavare/appraisal/policy"
	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/ratstls"
)

var now = time.Date(2026, time.May, 3, 12, 0, 0, 0, time.UTC)

func TestExamples(t *testing.T) {
	files, err := filepath.Glob("../../examples/policy/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	for _, f := range files {
		p, err := policy.Load(f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if p.ID == "" || p.Version != 1 {
			t.Errorf("%s: id %q version %d", f, p.ID, p.Version)
		}
	}
}

func TestLoadMissing(t *testing.T) {
	if _, err := policy.Load(filepath.Join(t.TempDir(), "none.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("got %v", err)
	}
}

func TestParseRefused(t *testing.T) {
	const snp = "evidence:\n  sev_snp:\n"
	for _, c := range []struct {
		name, doc, want string
	}{
		{"empty", "", "empty"},
		{"no types", "id: x\n", "names no evidence type"},
		{"empty evidence", "evidence: {}\n", "names no evidence type"},
		{"unknown top", "idd: x\nevidence:\n  null: {}\n", `line 1: unknown key "idd" in the policy (want one of id, version, evidence)`},
		{"unknown type", "evidence:\n  sgx: {}\n", `line 2: unknown key "sgx" in evidence (want one of sgx_ecdsa, sgx_la, tdx_ecdsa, sev_snp, csv, null)`},
		{"unknown rule", snp + "    mrenclave: []\n", `line 3: unknown key "mrenclave" in evidence.sev_snp (want one of freshness,`},
		{"unknown tcb", snp + "    min_tcb: {fmc: 1}\n", `line 3: unknown key "fmc" in evidence.sev_snp.min_tcb (want one of bootloader, tee, snp, microcode)`},
		{"null debug", "evidence:\n  null:\n    allow_debug: true\n", `line 3: unknown key "allow_debug" in evidence.null (want one of freshness, max_age, custom_claims)`},
		{"version", "version: 2\nevidence:\n  null: {}\n", "version 2 is not supported"},
		{"bad hex", snp + "    measurement: [zz]\n", `line 3: "zz" is not hex`},
		{"short", snp + "    measurement: [abcd]\n", `line 3: "abcd" has 2 bytes, want 48`},
		{"host data size", snp + "    host_data: [" + strings.Repeat("00", 48) + "]\n", "has 48 bytes, want 32"},
		{"freshness", snp + "    freshness: strong\n", `line 3: freshness "strong" is not none, nonce or exporter`},
		{"duration", snp + "    max_age: forever\n", `line 3: max_age "forever" is not a duration`},
		{"negative duration", snp + "    max_age: -1h\n", "not positive"},
		{"tcb overflow", snp + "    min_tcb: {snp: 300}\n", "line 3"},
		{"bool", snp + "    allow_debug: maybe\n", "line 3"},
		{"status", "evidence:\n  sgx_ecdsa:\n    tcb_status: [Fine]\n", `TCB status "Fine" is not one of`},
		{"revoked", "evidence:\n  sgx_ecdsa:\n    tcb_status_warning: [Revoked]\n", "Revoked TCB can never be accepted"},
		{"status twice", "evidence:\n  tdx_ecdsa:\n    tcb_status: [UpToDate]\n    tcb_status_warning: [UpToDate]\n", "UpToDate is in both"},
		{"status dup", "evidence:\n  tdx_ecdsa:\n    tcb_status: [UpToDate, UpToDate]\n", "listed twice"},
		{"status none", "evidence:\n  tdx_ecdsa:\n    tcb_status: []\n", "both empty"},
		{"claim float", snp + "    claims: {x: 1.5}\n", `claim value "1.5" is a float`},
		{"claim list", snp + "    claims: {x: [1]}\n", "must be a string, boolean or integer"},
		{"claim debug", snp + "    claims: {debug: true}\n", "governed by allow_debug"},
		{"custom hex", snp + "    custom_claims: {x: nothex}\n", `"nothex" is not hex`},
		{"two documents", "evidence:\n  null: {}\n---\nid: x\n", "more than one YAML document"},
		{"not yaml", "evidence: [\n", "line"},
		{"alias", "x: &a {null: {}}\nevidence: *a\n", "unknown key \"x\""},
		{"alias only", "evidence: *a\n", "unknown anchor"},
		{"alias node", "id: &a x\nevidence:\n  null: {}\nversion: *a\n", "aliases are not supported"},
		{"quoted null", "evidence:\n  \"null\": {}\n  ~: {}\n", `line 3: unknown key "~" in evidence`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := policy.Parse([]byte(c.doc))
			if !errors.Is(err, policy.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want ErrInvalid containing %q", err, c.want)
			}
		})
	}
}

func TestParseDefaults(t *testing.T) {
	doc := []byte("evidence:\n  sgx_ecdsa: {}\n")
	p, err := policy.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p.ID, "sha256:") || len(p.ID) != len("sha256:")+64 {
		t.Errorf("id %q", p.ID)
	}
	if s := p.Evidence.SGX.TCBStatus; len(s) != 1 || s[0] != "UpToDate" {
		t.Errorf("default tcb_status %v", s)
	}
	if p.Evidence.SGX.AllowDebug || p.Evidence.SGX.AllowSimulated || p.Evidence.SGX.Freshness != "" {
		t.Error("defaults")
	}
	p, err = policy.Parse([]byte("evidence:\n  sev_snp:\n    measurement: [" + strings.Repeat("AB", 48) + "]\n"))
	if err != nil || p.Evidence.SNP.Measurement[0] != strings.Repeat("ab", 48) {
		t.Errorf("hex not lowercased: %v %v", p, err)
	}
}

const (
	h32a = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	h32b = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

var (
	h48a = strings.Repeat("a", 96)
	h48b = strings.Repeat("b", 96)
)

func snpClaims() instance.Claims {
	return instance.Claims{
		"measurement": h48a, "host_data": h32a, "debug": false, "simulated": false,
		"reported_tcb_bootloader": uint64(3), "reported_tcb_tee": uint64(0), "reported_tcb_snp": uint64(8), "reported_tcb_microcode": uint64(115),
		"guest_svn": uint64(2), "product_line": "Genoa", "vmpl": uint64(0),
	}
}

func sgxClaims() instance.Claims {
	return instance.Claims{
		"mrenclave": h32a, "mrsigner": h32b, "isv_prod_id": uint64(1), "isv_svn": uint64(3), "debug": false,
		"tcb_status": "UpToDate", "advisory_ids": "", "fmspc": "00906ed50000",
	}
}

func tdxClaims() instance.Claims {
	return instance.Claims{
		"mrtd": h48a, "rtmr0": h48a, "rtmr1": h48b, "rtmr2": h48a, "rtmr3": h48a, "mrseam": h48b, "debug": false,
		"tcb_status": "UpToDate", "advisory_ids": "",
	}
}

const testPolicy = `
id: test
evidence:
  sev_snp:
    measurement: [` + "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" + `]
    host_data: [` + h32a + `]
    min_tcb: {bootloader: 3, snp: 8, microcode: 100}
    min_guest_svn: 2
    freshness: nonce
    max_age: 1h
    claims: {product_line: Genoa, vmpl: 0}
  sgx_ecdsa:
    mrenclave: [` + h32a + `]
    mrsigner: [` + h32b + `, ` + h32a + `]
    isv_prod_id: [1, 2]
    min_isv_svn: 3
    tcb_status_warning: [SWHardeningNeeded]
    custom_claims: {workload: "0102"}
  sgx_la:
    mrsigner: [` + h32b + `]
    allow_debug: true
  tdx_ecdsa:
    mrtd: [` + "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" + `]
    rtmr1: [` + "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb" + `]
    tcb_status: [UpToDate, ConfigurationNeeded]
    freshness: exporter
  csv:
    allow_simulated: true
  null:
    max_age: 10m
`

func mustParse(t *testing.T, doc string) *policy.Policy {
	t.Helper()
	p, err := policy.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAppraise(t *testing.T) {
	p := mustParse(t, testPolicy)
	with := func(c instance.Claims, kv ...any) instance.Claims {
		for i := 0; i < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(c, kv[i].(string))
			} else {
				c[kv[i].(string)] = kv[i+1]
			}
		}
		return c
	}
	snp := func(kv ...any) policy.Input {
		return policy.Input{EvidenceType: "sev_snp", Claims: with(snpClaims(), kv...), Freshness: "nonce", Verifier: "sevsnp", Now: now}
	}
	sgx := func(kv ...any) policy.Input {
		return policy.Input{EvidenceType: "sgx_ecdsa", Claims: with(sgxClaims(), kv...), CustomClaims: map[string][]byte{"workload": {1, 2}}, Verifier: "sgx_ecdsa", Now: now}
	}
	tdx := func(kv ...any) policy.Input {
		return policy.Input{EvidenceType: "tdx_ecdsa", Claims: with(tdxClaims(), kv...), Freshness: "exporter", Now: now}
	}
	for _, c := range []struct {
		name   string
		in     policy.Input
		status ear.Status
		reason string // a substring of the joined reasons
	}{
		{"snp ok", snp(), ear.Affirming, ""},
		{"snp measurement", snp("measurement", h48b), ear.Contraindicated, `measurement: got "` + h48b + `", want one of ` + h48a},
		{"snp measurement missing", snp("measurement", nil), ear.Contraindicated, "measurement: got no claim, want one of"},
		{"snp host data", snp("host_data", h32b), ear.Contraindicated, `host_data: got "` + h32b + `"`},
		{"snp tcb snp", snp("reported_tcb_snp", uint64(7)), ear.Contraindicated, "reported_tcb_snp: got 7, want at least 8"},
		{"snp tcb microcode", snp("reported_tcb_microcode", uint64(99)), ear.Contraindicated, "reported_tcb_microcode: got 99, want at least 100"},
		{"snp tcb missing", snp("reported_tcb_bootloader", nil), ear.Contraindicated, "reported_tcb_bootloader: got no claim, want at least 3"},
		{"snp tee 0 not checked", snp("reported_tcb_tee", nil), ear.Affirming, ""},
		{"snp guest svn", snp("guest_svn", uint64(1)), ear.Contraindicated, "guest_svn: got 1, want at least 2"},
		{"snp claim", snp("product_line", "Milan"), ear.Contraindicated, `claim "product_line": got "Milan", want Genoa`},
		{"snp claim number", snp("vmpl", uint64(1)), ear.Contraindicated, `claim "vmpl": got 1, want 0`},
		{"snp claim number int64", snp("vmpl", int64(0)), ear.Affirming, ""},
		{"snp claim big", snp("vmpl", uint64(1<<63)), ear.Contraindicated, `claim "vmpl": got 9223372036854775808, want 0`},
		{"snp claim negative", snp("vmpl", int64(-1)), ear.Contraindicated, `claim "vmpl": got -1, want 0`},
		{"snp claim type", snp("vmpl", "0"), ear.Contraindicated, `claim "vmpl": got "0", want 0`},
		{"snp debug", snp("debug", true), ear.Contraindicated, "debug: got true, want false (allow_debug is false)"},
		{"snp debug missing", snp("debug", nil), ear.Contraindicated, "debug: got no claim, want a boolean claim"},
		{"snp simulated", snp("simulated", true), ear.Contraindicated, "simulated: got true, want false (allow_simulated is false)"},
		{"snp simulated bad", snp("simulated", "yes"), ear.Contraindicated, "simulated: yes is not a boolean"},
		{"snp several", snp("debug", true, "guest_svn", uint64(0)), ear.Contraindicated, "guest_svn: got 0, want at least 2; debug: got true"},

		{"sgx ok", sgx(), ear.Affirming, ""},
		{"sgx mrenclave", sgx("mrenclave", h32b), ear.Contraindicated, `mrenclave: got "` + h32b + `", want one of ` + h32a},
		{"sgx mrenclave upper", sgx("mrenclave", strings.ToUpper(h32a)), ear.Affirming, ""},
		{"sgx mrsigner second", sgx("mrsigner", h32a), ear.Affirming, ""},
		{"sgx prod id", sgx("isv_prod_id", uint64(3)), ear.Contraindicated, "isv_prod_id: got 3, want one of [1 2]"},
		{"sgx svn", sgx("isv_svn", uint64(2)), ear.Contraindicated, "isv_svn: got 2, want at least 3"},
		{"sgx status warning", sgx("tcb_status", "SWHardeningNeeded", "advisory_ids", "INTEL-SA-00615"), ear.Warning, "tcb_status: SWHardeningNeeded accepted as a warning by tcb_status_warning (advisories INTEL-SA-00615)"},
		{"sgx status refused", sgx("tcb_status", "OutOfDate"), ear.Contraindicated, `tcb_status: got "OutOfDate", want one of UpToDate (or, as a warning, SWHardeningNeeded)`},
		{"sgx status revoked", sgx("tcb_status", "Revoked"), ear.Contraindicated, `tcb_status: got "Revoked"`},
		{"sgx status missing", sgx("tcb_status", nil), ear.Contraindicated, "tcb_status: got no claim"},
		{"sgx warning and failure", sgx("tcb_status", "SWHardeningNeeded", "isv_svn", uint64(0)), ear.Contraindicated, "isv_svn: got 0"},
		{"sgx custom claim", func() policy.Input { i := sgx(); i.CustomClaims["workload"] = []byte{9}; return i }(), ear.Contraindicated, `custom claim "workload": got 09, want 0102`},
		{"sgx custom claim missing", func() policy.Input { i := sgx(); i.CustomClaims = nil; return i }(), ear.Contraindicated, `custom claim "workload": missing, want 0102`},

		{"sgx_la debug allowed", policy.Input{EvidenceType: "sgx_la", Claims: with(sgxClaims(), "debug", true), Now: now}, ear.Warning, "debug: got true, accepted as a warning by allow_debug"},
		{"sgx_la no tcb status needed", policy.Input{EvidenceType: "sgx_la", Claims: with(sgxClaims(), "tcb_status", nil), Now: now}, ear.Affirming, ""},

		{"tdx ok", tdx(), ear.Affirming, ""},
		{"tdx rtmr1", tdx("rtmr1", h48a), ear.Contraindicated, `rtmr1: got "` + h48a + `", want one of ` + h48b},
		{"tdx rtmr2 any", tdx("rtmr2", h48b), ear.Affirming, ""},
		{"tdx mrtd", tdx("mrtd", "zz"), ear.Contraindicated, `mrtd: got "zz"`},
		{"tdx status affirming", tdx("tcb_status", "ConfigurationNeeded"), ear.Affirming, "tcb_status: ConfigurationNeeded accepted by tcb_status"},
		{"tdx status default warning none", tdx("tcb_status", "SWHardeningNeeded"), ear.Contraindicated, `tcb_status: got "SWHardeningNeeded", want one of UpToDate, ConfigurationNeeded`},

		{"csv simulated allowed", policy.Input{EvidenceType: "csv", Claims: instance.Claims{"debug": false, "simulated": true}, Now: now}, ear.Warning, "simulated: got true, accepted as a warning by allow_simulated"},
		{"null", policy.Input{EvidenceType: "null", Now: now}, ear.Warning, "evidence type null: the peer presented no hardware evidence"},
		{"null simulated", policy.Input{EvidenceType: "null", Claims: instance.Claims{"simulated": true}, Now: now}, ear.Contraindicated, `simulated: true, but evidence type "null" cannot allow simulated evidence`},
		{"unknown type", policy.Input{EvidenceType: "tpm", Now: now}, ear.Contraindicated, `evidence type "tpm": the policy has no rules for it, so it is refused (policy evidence types: csv, null, sev_snp, sgx_ecdsa, sgx_la, tdx_ecdsa)`},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := p.Appraise(c.in)
			got := strings.Join(r.Reasons, "; ")
			if r.Status != c.status || !strings.Contains(got, c.reason) {
				t.Errorf("got %s %q, want %s with %q", r.Status, got, c.status, c.reason)
			}
			if c.reason == "" && c.status == ear.Affirming && len(r.Reasons) != 0 {
				t.Errorf("affirming with reasons %q", got)
			}
			if r.PolicyID != "test" || r.EvidenceType != c.in.EvidenceType || !r.IssuedAt.Equal(now) {
				t.Errorf("result %+v", r)
			}
		})
	}
}

func TestFreshnessMinimum(t *testing.T) {
	modes := []string{"none", "nonce", "exporter"}
	for i, min := range modes {
		doc := "evidence:\n  null:\n    freshness: " + min + "\n"
		p := mustParse(t, doc)
		for j, got := range append(modes, "") {
			r := p.Appraise(policy.Input{EvidenceType: "null", Freshness: got, Now: now})
			rank := j
			if got == "" {
				rank = 0
			}
			wantOK := rank >= i
			if r.Status.Accepted() != wantOK {
				t.Errorf("min %s, got %q: %s %q", min, got, r.Status, r.Reasons)
			}
			if !wantOK && !strings.Contains(strings.Join(r.Reasons, ";"), "is weaker than the required "+min) {
				t.Errorf("reason %q", r.Reasons)
			}
		}
	}
	p := mustParse(t, "evidence:\n  null: {}\n")
	r := p.Appraise(policy.Input{EvidenceType: "null", Freshness: "auto", Now: now})
	if r.Status != ear.Contraindicated || !strings.Contains(r.Reasons[len(r.Reasons)-1], `freshness: "auto" is not a freshness mode`) {
		t.Errorf("auto: %s %q", r.Status, r.Reasons)
	}
	if r := p.Appraise(policy.Input{EvidenceType: "null", Now: now}); r.Freshness != "none" {
		t.Errorf("freshness %q", r.Freshness)
	}
}

func TestMaxAge(t *testing.T) {
	p := mustParse(t, testPolicy) // sev_snp max_age 1h
	in := func(kv ...any) policy.Input {
		c := snpClaims()
		for i := 0; i < len(kv); i += 2 {
			c[kv[i].(string)] = kv[i+1]
		}
		return policy.Input{EvidenceType: "sev_snp", Claims: c, Freshness: "nonce", Now: now}
	}
	for _, c := range []struct {
		name   string
		in     policy.Input
		reason string
	}{
		{"iat recent", in("iat", uint64(now.Add(-time.Hour).Unix())), ""},
		{"iat old", in("iat", uint64(now.Add(-61*time.Minute).Unix())), "max_age: the evidence is 1h1m0s old (iat 2026-05-03T10:59:00Z), more than the maximum 1h0m0s"},
		{"iat int64 old", in("iat", now.Add(-2*time.Hour).Unix()), "the evidence is 2h0m0s old"},
		{"iat string old", in("iat", "2026-05-03T10:00:00Z"), "the evidence is 2h0m0s old"},
		{"iat bad", in("iat", "yesterday"), `iat: "yesterday" is not an RFC 3339 time`},
		{"iat type", in("iat", true), "iat: a bool is not a time"},
		{"verdict recent", func() policy.Input { i := in(); i.VerifiedAt = now.Add(-30 * time.Minute); return i }(), ""},
		{"verdict old", func() policy.Input { i := in(); i.VerifiedAt = now.Add(-90 * time.Minute); return i }(), "max_age: the verdict is 1h30m0s old (verified at 2026-05-03T10:30:00Z), more than the maximum 1h0m0s"},
		{"no time", in(), ""},
		{"iat skew", in("iat", uint64(now.Add(time.Minute).Unix())), ""},
		{"iat future", in("iat", uint64(now.Add(2*time.Minute).Unix())), "iat: 2026-05-03T12:02:00Z is in the future (now 2026-05-03T12:00:00Z)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := p.Appraise(c.in)
			got := strings.Join(r.Reasons, "; ")
			if c.reason == "" {
				if r.Status != ear.Affirming {
					t.Errorf("got %s %q", r.Status, got)
				}
			} else if r.Status != ear.Contraindicated || !strings.Contains(got, c.reason) {
				t.Errorf("got %s %q, want %q", r.Status, got, c.reason)
			}
		})
	}
}

func TestSimulated(t *testing.T) {
	strict := mustParse(t, "evidence:\n  sev_snp: {}\n")
	lax := mustParse(t, "evidence:\n  sev_snp:\n    allow_simulated: true\n")
	sim := policy.Input{EvidenceType: "sev_snp", Claims: instance.Claims{"debug": false, "simulated": true}, Now: now}
	if r := strict.Appraise(sim); r.Status != ear.Contraindicated {
		t.Errorf("strict: %s %q", r.Status, r.Reasons)
	}
	if r := lax.Appraise(sim); r.Status != ear.Warning {
		t.Errorf("lax: %s %q", r.Status, r.Reasons)
	}
	real := policy.Input{EvidenceType: "sev_snp", Claims: instance.Claims{"debug": false, "simulated": false}, Now: now}
	if r := lax.Appraise(real); r.Status != ear.Affirming {
		t.Errorf("lax, real: %s %q", r.Status, r.Reasons)
	}
}

func TestResultCarriesClaims(t *testing.T) {
	p := mustParse(t, testPolicy)
	in := policy.Input{EvidenceType: "sgx_ecdsa", Claims: sgxClaims(), CustomClaims: map[string][]byte{"workload": {1, 2}}, Verifier: "v", Freshness: "exporter", Now: now}
	r := p.Appraise(in)
	if r.TCBStatus != "UpToDate" || r.Verifier != "v" || r.Freshness != "exporter" || r.Claims["mrenclave"] != h32a {
		t.Errorf("%+v", r)
	}
	in.Claims["mrenclave"] = "changed"
	if r.Claims["mrenclave"] != h32a {
		t.Error("result shares the input's claims")
	}
	if r.Status != ear.Affirming {
		t.Errorf("%s %q", r.Status, r.Reasons)
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("../../examples/policy/*.yaml")
	for _, name := range files {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(testPolicy))
	f.Add([]byte("evidence:\n  null: {}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := policy.Parse(b)
		if err != nil {
			if !errors.Is(err, policy.ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		for _, typ := range []string{"sgx_ecdsa", "sgx_la", "tdx_ecdsa", "sev_snp", "csv", "null", "x"} {
			r := p.Appraise(policy.Input{EvidenceType: typ, Claims: instance.Claims{"debug": false}, Now: now})
			if !r.Status.Valid() || r.Status == ear.None {
				t.Fatalf("%s: status %q", typ, r.Status)
			}
		}
	})
}

func TestExampleVerdicts(t *testing.T) {
	snp, err := policy.Load("../../examples/policy/sev_snp.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := snpClaims()
	c["measurement"] = snp.Evidence.SNP.Measurement[1]
	c["host_data"] = snp.Evidence.SNP.HostData[0]
	c["signing_key"] = "VCEK"
	peer := &ratstls.Peer{Attested: true, Freshness: ratstls.FreshnessNonce, EvidenceType: "sev_snp", Verifier: "sevsnp", Claims: c}
	if r := snp.Appraise(policy.FromPeer(peer, now)); r.Status != ear.Affirming || r.PolicyID != "snp-production-2026-05" || r.Verifier != "sevsnp" {
		t.Errorf("sev_snp example: %s %q", r.Status, r.Reasons)
	}
	peer.Freshness = ratstls.FreshnessNone
	if r := snp.Appraise(policy.FromPeer(peer, now)); r.Status != ear.Contraindicated {
		t.Errorf("sev_snp example, no freshness: %s %q", r.Status, r.Reasons)
	}

	dev, err := policy.Load("../../examples/policy/development.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c = snpClaims()
	c["debug"], c["simulated"] = true, true
	r := dev.Appraise(policy.Input{EvidenceType: "sev_snp", Claims: c, Now: now})
	if r.Status != ear.Warning || len(r.Reasons) != 2 {
		t.Errorf("development example: %s %q", r.Status, r.Reasons)
	}
	if r := dev.Appraise(policy.Input{EvidenceType: "sgx_ecdsa", Claims: sgxClaims(), Now: now}); r.Status != ear.Contraindicated {
		t.Errorf("development example, sgx_ecdsa: %s %q", r.Status, r.Reasons)
	}
}

func TestClaimValues(t *testing.T) {
	p := mustParse(t, "evidence:\n  csv:\n    claims: {big: 18446744073709551615, neg: -5, hex: \"0a\", on: true}\n")
	base := instance.Claims{"debug": false, "big": ^uint64(0), "neg": int64(-5), "hex": "0a", "on": true}
	if r := p.Appraise(policy.Input{EvidenceType: "csv", Claims: base, Now: now}); r.Status != ear.Affirming {
		t.Errorf("%s %q", r.Status, r.Reasons)
	}
	for k, v := range map[string]any{"big": int64(-1), "neg": uint64(5), "hex": "0A", "on": "true"} {
		c := maps.Clone(base)
		c[k] = v
		r := p.Appraise(policy.Input{EvidenceType: "csv", Claims: c, Now: now})
		if r.Status != ear.Contraindicated || len(r.Reasons) != 1 || !strings.HasPrefix(r.Reasons[0], `claim "`+k+`": got `) {
			t.Errorf("%s=%v: %s %q", k, v, r.Status, r.Reasons)
		}
	}
	if _, err := policy.Parse([]byte("evidence:\n  csv:\n    claims: {x: 18446744073709551616}\n")); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("overflow: %v", err)
	}
}
