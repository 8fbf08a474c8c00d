package verify

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/inclavare/inclavare/appraisal/ear"
	"github.com/inclavare/inclavare/appraisal/policy"
	"github.com/inclavare/inclavare/internal/testvectors"
	"github.com/inclavare/inclavare/tee/intel"
	intelsim "github.com/inclavare/inclavare/tee/intel/simulated"
	snp "github.com/inclavare/inclavare/tee/sevsnp"
)

// vector is a quote of the shared vectors with its collateral and pinned
// time (see ../shared/vectors/README.md).
type vector struct {
	quote, collateral string
	at                time.Time
}

var (
	sgxPCKChain = vector{"sgx/quote_v3_ecdsa_p256_pck_chain.bin", "sgx/quote_v3_ecdsa_p256_pck_chain_collateral.json", time.Unix(1671497404, 0)}
	sgxDCAPQVL  = vector{"sgx/dcapqvl_sgx_quote.bin", "sgx/dcapqvl_sgx_quote_collateral.json", time.Date(2025, 6, 20, 0, 0, 0, 0, time.UTC)}
	tdxV4       = vector{"tdx/quote_v4_tdx_ecdsa_p256.bin", "tdx/quote_v4_tdx_ecdsa_p256_collateral.json", time.Unix(1725263032, 0)}
)

func (v vector) load(t *testing.T) ([]byte, Options) {
	t.Helper()
	c, err := intel.ParseCollateralJSON(testvectors.Read(t, v.collateral))
	if err != nil {
		t.Fatal(err)
	}
	return testvectors.Read(t, v.quote), Options{Collateral: c, Now: v.at}
}

func TestVectors(t *testing.T) {
	for name, tc := range map[string]struct {
		v          vector
		wantType   string
		wantTCB    string
		wantStatus ear.Status
	}{
		"sgx pck chain": {sgxPCKChain, TypeSGX, "SWHardeningNeeded", ear.Warning},
		"sgx dcap-qvl":  {sgxDCAPQVL, TypeSGX, "ConfigurationAndSWHardeningNeeded", ear.Warning},
		// Raw quotes without --report-data: nothing binds them, so at
		// best a warning.
		"tdx v4": {tdxV4, TypeTDX, "UpToDate", ear.Warning},
	} {
		t.Run(name, func(t *testing.T) {
			raw, opts := tc.v.load(t)
			res, err := Evidence(context.Background(), raw, opts)
			if err != nil {
				t.Fatal(err)
			}
			if res.Type != tc.wantType || res.Appraisal.TCBStatus != tc.wantTCB || res.Appraisal.Status != tc.wantStatus {
				t.Errorf("got type %s, TCB %s, status %s; want %s, %s, %s", res.Type, res.Appraisal.TCBStatus, res.Appraisal.Status, tc.wantType, tc.wantTCB, tc.wantStatus)
			}
			if res.ReportDataChecked || !strings.Contains(strings.Join(res.Appraisal.Reasons, "\n"), "report data not checked") {
				t.Errorf("report data checked %v, reasons %q: want unchecked and said so", res.ReportDataChecked, res.Appraisal.Reasons)
			}
			b, err := res.Appraisal.MarshalJSON()
			if err != nil {
				t.Fatal(err)
			}
			var got ear.Result
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatalf("%v: %s", err, b)
			}
			if got.Status != tc.wantStatus || got.TCBStatus != tc.wantTCB {
				t.Errorf("JSON status %s, TCB %s", got.Status, got.TCBStatus)
			}
		})
	}
}

func TestSGXMeasurements(t *testing.T) {
	raw, opts := sgxPCKChain.load(t)
	res, err := Evidence(context.Background(), raw, opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Claims["mrenclave"]; got != "68823bc62f409ee33a32ea270cfe45d4b19a6fb3c8570d7bc186cbe062398e8f" {
		t.Errorf("mrenclave %v", got)
	}
	// The quote's own report data validates; another value is refused.
	rd, _ := res.Claims["report_data"].(string)
	opts.ReportData = mustHex(t, rd)
	if res, err = Evidence(context.Background(), raw, opts); err != nil || !res.ReportDataChecked || res.Appraisal.Status != ear.Warning {
		t.Fatalf("right report data: %v, %+v", err, res)
	}
	opts.ReportData = []byte{1}
	if res, err = Evidence(context.Background(), raw, opts); err != nil || res.Appraisal.Status != ear.Contraindicated {
		t.Fatalf("wrong report data: %v, %+v", err, res)
	}
}

func TestPolicy(t *testing.T) {
	raw, opts := tdxV4.load(t)
	for name, tc := range map[string]struct {
		yaml string
		want ear.Status
	}{
		"any tdx":          {"id: t\nevidence:\n  tdx_ecdsa: {}\n", ear.Warning}, // report data unchecked
		"wrong mrtd":       {"id: t\nevidence:\n  tdx_ecdsa:\n    mrtd: [" + strings.Repeat("00", 48) + "]\n", ear.Contraindicated},
		"only sgx allowed": {"id: t\nevidence:\n  sgx_ecdsa: {}\n", ear.Contraindicated},
	} {
		t.Run(name, func(t *testing.T) {
			p, err := policy.Parse([]byte(tc.yaml))
			if err != nil {
				t.Fatal(err)
			}
			o := opts
			o.Policy = p
			res, err := Evidence(context.Background(), raw, o)
			if err != nil {
				t.Fatal(err)
			}
			if res.Appraisal.Status != tc.want || res.Appraisal.PolicyID != "t" {
				t.Errorf("status %s (policy %s), want %s; reasons %q", res.Appraisal.Status, res.Appraisal.PolicyID, tc.want, res.Appraisal.Reasons)
			}
		})
	}
}

func TestRefused(t *testing.T) {
	raw, opts := sgxPCKChain.load(t)
	tampered := bytes.Clone(raw)
	tampered[intel.HeaderSize+100] ^= 1
	noColl := opts
	noColl.Collateral = nil
	late := opts
	late.Now = time.Unix(1891163522, 0)
	for name, tc := range map[string]struct {
		raw  []byte
		opts Options
		want error
	}{
		"tampered":      {tampered, opts, intel.ErrSignature},
		"no collateral": {raw, noColl, intel.ErrCollateral},
		"expired":       {raw, late, intel.ErrExpired},
		"wrong type":    {raw, Options{Type: TypeTDX, Collateral: opts.Collateral, Now: opts.Now}, ErrVerification},
		"garbage":       {[]byte("hello"), opts, ErrVerification},
		"truncated":     {raw[:200], opts, intel.ErrMalformedQuote},
		"fake sgx cert": {testvectors.Read(t, "ratstls-c/server-cert-fakesgx-dice.pem"), opts, ErrVerification},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Evidence(context.Background(), tc.raw, tc.opts)
			if !errors.Is(err, ErrVerification) || !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v and %v", err, ErrVerification, tc.want)
			}
		})
	}
	if _, err := Evidence(context.Background(), raw, Options{Type: "csv"}); !errors.Is(err, ErrUsage) {
		t.Errorf("unknown type: %v, want %v", err, ErrUsage)
	}
}

func TestSimulatedSNP(t *testing.T) {
	sim, err := snp.NewSimulator(snp.SimulatorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rd := bytes.Repeat([]byte{7}, 64)
	raw, err := sim.Report(rd)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Detect(raw); err != nil || got != TypeSNP {
		t.Fatalf("Detect = %q, %v", got, err)
	}
	_, err = Evidence(context.Background(), raw, Options{})
	if !errors.Is(err, ErrVerification) || !strings.Contains(err.Error(), "--allow-simulated") {
		t.Fatalf("without --allow-simulated: %v", err)
	}
	res, err := Evidence(context.Background(), raw, Options{AllowSimulated: true, ReportData: rd})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Simulated || !res.ReportDataChecked || res.Appraisal.Status != ear.Warning {
		t.Errorf("simulated %v, checked %v, status %s: want true, true, warning", res.Simulated, res.ReportDataChecked, res.Appraisal.Status)
	}
	res, err = Evidence(context.Background(), raw, Options{AllowSimulated: true, ReportData: []byte{8}})
	if err != nil || res.Appraisal.Status != ear.Contraindicated {
		t.Errorf("wrong report data: %v, %+v", err, res)
	}
}

func TestSimulatedIntel(t *testing.T) {
	sim, err := intelsim.NewSimulator(intelsim.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rd := bytes.Repeat([]byte{9}, 64)
	raw, err := sim.SGXQuote(rd)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Evidence(context.Background(), raw, Options{}); !errors.Is(err, intelsim.ErrSimulated) {
		t.Fatalf("without --allow-simulated: %v", err)
	}
	res, err := Evidence(context.Background(), raw, Options{AllowSimulated: true, ReportData: rd})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Simulated || res.Appraisal.Status != ear.Warning {
		t.Errorf("simulated %v, status %s", res.Simulated, res.Appraisal.Status)
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
