package ear_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/inclavare/inclavare/appraisal/ear"
	"github.com/inclavare/inclavare/framework/instance"
	"github.com/veraison/go-cose"
)

func sample() ear.Result {
	return ear.Result{
		Status:       ear.Warning,
		Reasons:      []string{"tcb_status SWHardeningNeeded is accepted as a warning"},
		Claims:       instance.Claims{"mrenclave": "ab", "isv_svn": uint64(3), "debug": false, "tcb_status": "SWHardeningNeeded", "neg": int64(-1)},
		EvidenceType: "sgx_ecdsa",
		Verifier:     "sgx_ecdsa",
		Freshness:    "nonce",
		PolicyID:     "prod",
		IssuedAt:     time.Date(2026, time.May, 3, 10, 0, 0, 0, time.UTC),
		TCBStatus:    "SWHardeningNeeded",
	}
}

func TestJSON(t *testing.T) {
	r := sample()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{
		"eat_profile":             ear.Profile,
		"ear.status":              "warning",
		"ear.appraisal-policy-id": "prod",
		"tcb_status":              "SWHardeningNeeded",
		"iat":                     float64(r.IssuedAt.Unix()),
	} {
		if m[k] != want {
			t.Errorf("%s = %v, want %v", k, m[k], want)
		}
	}
	sub := m["submods"].(map[string]any)["sgx_ecdsa"].(map[string]any)
	if sub["ear.status"] != "warning" || sub["ear.veraison.annotated-evidence"].(map[string]any)["mrenclave"] != "ab" {
		t.Errorf("submod %v", sub)
	}
	var back ear.Result
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, r) {
		t.Errorf("round trip\n got %#v\nwant %#v", back, r)
	}
}

func TestJSONRefused(t *testing.T) {
	r := sample()
	r.Status = "fine"
	if _, err := json.Marshal(r); err == nil || !strings.Contains(err.Error(), `"fine"`) {
		t.Errorf("bad status: %v", err)
	}
	r = sample()
	r.EvidenceType = ""
	if _, err := json.Marshal(r); err == nil {
		t.Error("no evidence type accepted")
	}
	good, _ := json.Marshal(sample())
	for name, b := range map[string]string{
		"profile":        strings.Replace(string(good), ear.Profile, "tag:example", 1),
		"status":         strings.Replace(string(good), `"ear.status":"warning","ear.appraisal`, `"ear.status":"great","ear.appraisal`, 1),
		"unknown":        strings.Replace(string(good), `{`, `{"x":1,`, 1),
		"float":          strings.Replace(string(good), `"isv_svn":3`, `"isv_svn":3.5`, 1),
		"case":           strings.Replace(string(good), `"eat_profile"`, `"EAT_profile"`, 1),
		"submod case":    strings.Replace(string(good), `"ear.inclavare.reasons"`, `"EAR.inclavare.reasons"`, 1),
		"submod unknown": strings.Replace(string(good), `"ear.inclavare.reasons"`, `"x":1,"ear.inclavare.reasons"`, 1),
		"no submod name": strings.Replace(string(good), `"sgx_ecdsa":{`, `"":{`, 1),
	} {
		var r ear.Result
		if err := json.Unmarshal([]byte(b), &r); err == nil {
			t.Errorf("%s: accepted %s", name, b)
		}
	}
}

func TestStatus(t *testing.T) {
	if ear.Affirming.Worse(ear.Warning) != ear.Warning || ear.Contraindicated.Worse(ear.Warning) != ear.Contraindicated || ear.None.Worse(ear.Affirming) != ear.Affirming {
		t.Error("Worse")
	}
	if !ear.Warning.Accepted() || ear.Contraindicated.Accepted() || ear.None.Accepted() {
		t.Error("Accepted")
	}
	if ear.Status("x").Valid() {
		t.Error("Valid")
	}
}

func keys(t *testing.T) map[string]crypto.Signer {
	t.Helper()
	p256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	return map[string]crypto.Signer{"P-256": p256, "P-384": p384, "Ed25519": ed}
}

func TestSignVerify(t *testing.T) {
	ks := keys(t)
	algs := map[string]cose.Algorithm{"P-256": cose.AlgorithmES256, "P-384": cose.AlgorithmES384, "Ed25519": cose.AlgorithmEdDSA}
	for name, k := range ks {
		t.Run(name, func(t *testing.T) {
			msg, err := ear.Sign(sample(), k)
			if err != nil {
				t.Fatal(err)
			}
			var m cose.Sign1Message
			if err := m.UnmarshalCBOR(msg); err != nil {
				t.Fatal(err)
			}
			if alg, _ := m.Headers.Protected.Algorithm(); alg != algs[name] {
				t.Errorf("alg %v, want %v", alg, algs[name])
			}
			got, err := ear.Verify(msg, k.Public())
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, sample()) {
				t.Errorf("got %#v", got)
			}

			// Tampered payload.
			m.Payload = []byte(strings.Replace(string(m.Payload), "warning", "affirming", -1))
			bad, _ := m.MarshalCBOR()
			if _, err := ear.Verify(bad, k.Public()); !errors.Is(err, ear.ErrSignature) {
				t.Errorf("tampered payload: %v", err)
			}
			// Tampered signature.
			m.UnmarshalCBOR(msg)
			m.Signature[0] ^= 1
			bad, _ = m.MarshalCBOR()
			if _, err := ear.Verify(bad, k.Public()); !errors.Is(err, ear.ErrSignature) {
				t.Errorf("tampered signature: %v", err)
			}
			// Wrong key of every type.
			for other, o := range keys(t) {
				if _, err := ear.Verify(msg, o.Public()); !errors.Is(err, ear.ErrSignature) {
					t.Errorf("verified with another %s key: %v", other, err)
				}
			}
			// Garbage.
			if _, err := ear.Verify(msg[:len(msg)/2], k.Public()); err == nil {
				t.Error("truncated message accepted")
			}
		})
	}
}

func TestUnsupportedKey(t *testing.T) {
	rk, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ear.Sign(sample(), rk); err == nil {
		t.Error("RSA key accepted")
	}
	if _, err := ear.Verify([]byte{0xd2}, &rk.PublicKey); err == nil {
		t.Error("RSA key accepted")
	}
}

func FuzzVerify(f *testing.F) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	msg, err := ear.Sign(sample(), k)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(msg)
	b, _ := json.Marshal(sample())
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		ear.Verify(b, k.Public())
		var r ear.Result
		if json.Unmarshal(b, &r) == nil {
			if _, err := json.Marshal(r); err != nil {
				t.Fatalf("decoded result does not encode: %v", err)
			}
		}
	})
}
