package sgxecdsa

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inclavare/inclavare/attesters/sgxecdsasim"
	"github.com/inclavare/inclavare/attesters/tdxecdsasim"
	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/registry"
	"github.com/inclavare/inclavare/internal/testvectors"
	"github.com/inclavare/inclavare/tee/intel"
	"github.com/inclavare/inclavare/tee/intel/simulated"
)

var tdxDescriptor = instance.Descriptor{Kind: instance.KindVerifier, Name: "tdx_ecdsa", Type: intel.EvidenceTypeTDX, Priority: 100}

// kinds are the SGX and TDX cases: the sim attester and the verifier's
// descriptor.
var kinds = []struct {
	name     string
	attester *registry.Registration
	desc     instance.Descriptor
}{
	{"sgx", sgxecdsasim.Registration, descriptor},
	{"tdx", tdxecdsasim.Registration, tdxDescriptor},
}

func newVerifier(t testing.TB, desc instance.Descriptor, opts instance.Options) instance.Verifier {
	t.Helper()
	cfg, err := ConfigFromEnv(opts)
	if err != nil {
		t.Fatal(err)
	}
	v, err := New(desc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// collect returns simulated evidence over rd and its endorsements.
func collect(t testing.TB, r *registry.Registration, opts instance.Options, rd []byte) (instance.Evidence, []byte) {
	t.Helper()
	inst, err := r.New(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	a := inst.(instance.Attester)
	ev, err := a.Collect(context.Background(), rd)
	if err != nil {
		t.Fatal(err)
	}
	end, err := a.Endorsements(context.Background(), ev)
	if err != nil {
		t.Fatal(err)
	}
	return ev, end
}

func reportData(b byte) []byte { return bytes.Repeat([]byte{b}, 64) }

func TestSimRoundTrip(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			rd := reportData(7)
			ev, end := collect(t, k.attester, instance.Options{}, rd)
			if ev.Type != k.desc.Type {
				t.Fatalf("evidence type %q, want %q", ev.Type, k.desc.Type)
			}
			v := newVerifier(t, k.desc, instance.Options{AllowSimulated: true})
			claims, err := v.Verify(context.Background(), ev, rd, end)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]any{"simulated": true, "tcb_status": "UpToDate", "tee": k.name, "debug": false,
				"report_data": hex.EncodeToString(rd), "revocation_checked": true, "fmspc": hex.EncodeToString(simulated.FMSPC[:])}
			if k.name == "sgx" {
				m, s := simulated.DefaultMREnclave(), simulated.DefaultMRSigner()
				want["mrenclave"], want["mrsigner"], want["quote_version"] = hex.EncodeToString(m[:]), hex.EncodeToString(s[:]), uint64(3)
			} else {
				m, r0 := simulated.DefaultMRTD(), simulated.DefaultRTMR(0)
				want["mrtd"], want["rtmr0"], want["quote_version"] = hex.EncodeToString(m[:]), hex.EncodeToString(r0[:]), uint64(4)
			}
			for c, w := range want {
				if claims[c] != w {
					t.Errorf("claim %s = %#v, want %#v", c, claims[c], w)
				}
			}
		})
	}
}

func TestSimRefusals(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			rd := reportData(9)
			ev, end := collect(t, k.attester, instance.Options{}, rd)
			ctx := context.Background()

			// Without --allow-simulated.
			_, err := newVerifier(t, k.desc, instance.Options{}).Verify(ctx, ev, rd, end)
			if !errors.Is(err, simulated.ErrSimulated) || !strings.Contains(err.Error(), "--allow-simulated") {
				t.Errorf("without AllowSimulated: %v, want ErrSimulated", err)
			}

			v := newVerifier(t, k.desc, instance.Options{AllowSimulated: true})
			// A tampered report body.
			bad := instance.Evidence{Type: ev.Type, Data: bytes.Clone(ev.Data)}
			bad.Data[intel.HeaderSize+100] ^= 1
			if _, err := v.Verify(ctx, bad, rd, end); !errors.Is(err, intel.ErrSignature) {
				t.Errorf("tampered quote: %v, want ErrSignature", err)
			}
			// Another report data.
			if _, err := v.Verify(ctx, ev, reportData(10), end); !errors.Is(err, intel.ErrPolicy) || !strings.Contains(err.Error(), "report data") && !strings.Contains(err.Error(), "REPORTDATA") && !strings.Contains(err.Error(), "REPORT_DATA") {
				t.Errorf("report data mismatch: %v, want ErrPolicy naming the report data", err)
			}
			// Without endorsements, the simulated collateral.
			if claims, err := v.Verify(ctx, ev, rd, nil); err != nil || claims["simulated"] != true {
				t.Errorf("without endorsements: %v, simulated %v", err, claims["simulated"])
			}
			if _, err := newVerifier(t, k.desc, instance.Options{}).Verify(ctx, ev, rd, nil); !errors.Is(err, simulated.ErrSimulated) {
				t.Errorf("without endorsements or AllowSimulated: %v, want ErrSimulated", err)
			}
			// Corrupt endorsements.
			if _, err := v.Verify(ctx, ev, rd, end[:len(end)-3]); !errors.Is(err, intel.ErrMalformedCollateral) {
				t.Errorf("truncated endorsements: %v, want ErrMalformedCollateral", err)
			}
			// The other evidence type.
			other := instance.Evidence{Type: "sev_snp", Data: ev.Data}
			if _, err := v.Verify(ctx, other, rd, end); err == nil {
				t.Error("sev_snp evidence accepted")
			}
			// Debug only with -D.
			dev, dend := collect(t, k.attester, instance.Options{DebugEnclave: true}, rd)
			if _, err := v.Verify(ctx, dev, rd, dend); !errors.Is(err, intel.ErrPolicy) || !strings.Contains(err.Error(), "DEBUG") {
				t.Errorf("debug without -D: %v, want ErrPolicy naming DEBUG", err)
			}
			claims, err := newVerifier(t, k.desc, instance.Options{AllowSimulated: true, DebugEnclave: true}).Verify(ctx, dev, rd, dend)
			if err != nil || claims["debug"] != true {
				t.Errorf("debug with -D: %v, claims debug %v", err, claims["debug"])
			}
		})
	}
}

// TestEvidenceTypeMismatch: an SGX quote sent as tdx_ecdsa evidence is
// refused.
func TestEvidenceTypeMismatch(t *testing.T) {
	rd := reportData(1)
	ev, end := collect(t, sgxecdsasim.Registration, instance.Options{}, rd)
	ev.Type = intel.EvidenceTypeTDX
	v := newVerifier(t, tdxDescriptor, instance.Options{AllowSimulated: true})
	if _, err := v.Verify(context.Background(), ev, rd, end); !errors.Is(err, intel.ErrUnsupportedQuote) && !errors.Is(err, intel.ErrCollateral) {
		t.Errorf("SGX quote as tdx_ecdsa: %v", err)
	}
}

// TestNoCollateral: a real quote without endorsements, with no collateral
// configured, is refused with a reason that says what to supply.
func TestNoCollateral(t *testing.T) {
	raw := testvectors.Read(t, "sgx/dcapqvl_sgx_quote.bin")
	q, err := intel.ParseQuote(raw)
	if err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, descriptor, instance.Options{AllowSimulated: true})
	_, err = v.Verify(context.Background(), instance.Evidence{Type: intel.EvidenceTypeSGX, Data: raw}, q.ReportData(), nil)
	if !errors.Is(err, intel.ErrCollateral) || !strings.Contains(err.Error(), EnvCollateral) {
		t.Errorf("without collateral: %v, want ErrCollateral naming %s", err, EnvCollateral)
	}
}

// pin pins the verification time for the rest of the test.
func pin(t *testing.T, at time.Time) {
	now = func() time.Time { return at }
	t.Cleanup(func() { now = nil })
}

// TestCollateralFromEnv: real quotes verify with the collateral file named
// by RATS_TLS_INTEL_COLLATERAL, at the time the vectors' README pins, with
// the statuses RATS_TLS_INTEL_TCB_STATUSES accepts; they are not simulated.
func TestCollateralFromEnv(t *testing.T) {
	for _, c := range []struct {
		name, quote, collateral string
		desc                    instance.Descriptor
		at                      time.Time
		status                  string
	}{
		{"sgx", "sgx/dcapqvl_sgx_quote.bin", "sgx/dcapqvl_sgx_quote_collateral.json", descriptor, time.Date(2025, 6, 20, 0, 0, 0, 0, time.UTC), "ConfigurationAndSWHardeningNeeded"},
		{"tdx", "tdx/quote_v4_tdx_ecdsa_p256.bin", "tdx/quote_v4_tdx_ecdsa_p256_collateral.json", tdxDescriptor, time.Unix(1725263032, 0), "UpToDate"},
	} {
		t.Run(c.name, func(t *testing.T) {
			pin(t, c.at)
			t.Setenv(EnvCollateral, filepath.Join(testvectors.Dir(t), c.collateral))
			raw := testvectors.Read(t, c.quote)
			q, err := intel.ParseQuote(raw)
			if err != nil {
				t.Fatal(err)
			}
			ev := instance.Evidence{Type: c.desc.Type, Data: raw}
			rd := q.ReportData()
			if c.status != "UpToDate" {
				_, err := newVerifier(t, c.desc, instance.Options{}).Verify(context.Background(), ev, rd, nil)
				if !errors.Is(err, intel.ErrPolicy) || !strings.Contains(err.Error(), c.status) {
					t.Errorf("status %s accepted by default: %v", c.status, err)
				}
				t.Setenv(EnvTCBStatuses, "UpToDate,"+c.status)
			}
			claims, err := newVerifier(t, c.desc, instance.Options{}).Verify(context.Background(), ev, rd, nil)
			if err != nil {
				t.Fatal(err)
			}
			if claims["simulated"] != false || claims["tcb_status"] != c.status || claims["tee"] != c.name {
				t.Errorf("claims simulated %v, tcb_status %v, tee %v", claims["simulated"], claims["tcb_status"], claims["tee"])
			}
		})
	}
}

func TestConfigFromEnvErrors(t *testing.T) {
	t.Setenv(EnvCollateral, filepath.Join(t.TempDir(), "missing.json"))
	if _, err := ConfigFromEnv(instance.Options{}); err == nil || !strings.Contains(err.Error(), EnvCollateral) {
		t.Errorf("missing collateral file: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(`{"nope": 1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvCollateral, bad)
	if _, err := ConfigFromEnv(instance.Options{}); !errors.Is(err, intel.ErrMalformedCollateral) {
		t.Errorf("bad collateral file: %v", err)
	}
	t.Setenv(EnvCollateral, "")
	t.Setenv(EnvTCBStatuses, "UpToDate,Fine")
	if _, err := ConfigFromEnv(instance.Options{}); err == nil || !strings.Contains(err.Error(), EnvTCBStatuses) {
		t.Errorf("bad statuses: %v", err)
	}
}

func TestRegistration(t *testing.T) {
	d := Registration.Descriptor
	if d.Name != "sgx_ecdsa" || d.Type != "sgx_ecdsa" || d.Priority != 100 || d.Kind != instance.KindVerifier {
		t.Errorf("descriptor %+v", d)
	}
	inst, err := Registration.New(context.Background(), instance.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if inst.Descriptor() != d {
		t.Errorf("instance descriptor %+v", inst.Descriptor())
	}
}

// BenchmarkVerifySim: one handshake's verification of a simulated SGX quote
// with its endorsements (warm cache: decoding the endorsements, two ECDSA
// P-256 verifications, the policy and the claims).
func BenchmarkVerifySim(b *testing.B) {
	rd := reportData(3)
	ev, end := collect(b, sgxecdsasim.Registration, instance.Options{}, rd)
	v := newVerifier(b, descriptor, instance.Options{AllowSimulated: true})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, ev, rd, end); err != nil {
			b.Fatal(err)
		}
	}
}
