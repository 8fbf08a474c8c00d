package intel_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/inclavare/inclavare/internal/testvectors"
	"github.com/inclavare/inclavare/tee/intel"
)

// vector is a quote of ../shared/vectors with its collateral and the time
// its collateral is valid at.
type vector struct {
	name, quote, collateral string
	at                      time.Time
	trailing                bool
}

// The vectors and the times the README pins.
var (
	oasisSGX = vector{"sgx_ecdsa", "sgx/quote_v3_ecdsa_p256_pck_chain.bin", "sgx/quote_v3_ecdsa_p256_pck_chain_collateral.json", time.Unix(1671497404, 0), false}
	dcapSGX  = vector{"sgx_ecdsa_dcapqvl", "sgx/dcapqvl_sgx_quote.bin", "sgx/dcapqvl_sgx_quote_collateral.json", time.Date(2025, 6, 20, 0, 0, 0, 0, time.UTC), false}
	oasisTDX = vector{"tdx_ecdsa", "tdx/quote_v4_tdx_ecdsa_p256.bin", "tdx/quote_v4_tdx_ecdsa_p256_collateral.json", time.Unix(1725263032, 0), false}
	oasisOld = vector{"tdx_ecdsa_out_of_date", "tdx/quote_v4_tdx_ecdsa_p256_out_of_date.bin", "tdx/quote_v4_tdx_ecdsa_p256_out_of_date_collateral.json", time.Unix(1687091776, 0), false}
	// The dcap-qvl TDX quote is followed by 70 zero bytes (a padded quote
	// buffer): it verifies only with AllowTrailing. Its collateral is
	// valid from 2025-06-19T10:32:27Z (QE identity) to
	// 2025-07-19T10:00:35Z (PCK CRL).
	dcapTDX    = vector{"tdx_ecdsa_dcapqvl", "tdx/dcapqvl_tdx_quote.bin", "tdx/dcapqvl_tdx_quote_collateral.json", time.Date(2025, 6, 20, 0, 0, 0, 0, time.UTC), true}
	dcapTDXOld = vector{"tdx_ecdsa_v5_outdated", "tdx/dcapqvl_tdx_quote_outdated.bin", "tdx/dcapqvl_tdx_quote_outdated_collateral.json", time.Date(2026, 2, 20, 0, 0, 0, 0, time.UTC), false}
)

func (v vector) raw(tb testing.TB) []byte { return testvectors.Read(tb, v.quote) }

func (v vector) coll(tb testing.TB) *intel.Collateral {
	tb.Helper()
	c, err := intel.ParseCollateralJSON(testvectors.Read(tb, v.collateral))
	if err != nil {
		tb.Fatalf("%s: %v", v.collateral, err)
	}
	return c
}

// opts are options pinned at v's time, with a cache of their own.
func (v vector) opts() intel.Options {
	at := v.at
	return intel.Options{Now: func() time.Time { return at }, AllowTrailing: v.trailing, Cache: intel.NewCache(8)}
}

func (v vector) verify(tb testing.TB, o intel.Options) (*intel.Attestation, error) {
	tb.Helper()
	return verifyWith(v.raw(tb), v.coll(tb), o)
}

func verifyWith(raw []byte, c *intel.Collateral, o intel.Options) (*intel.Attestation, error) {
	v, err := intel.NewVerifier(o)
	if err != nil {
		return nil, err
	}
	return v.Verify(context.Background(), raw, c)
}

func at(t time.Time) func() time.Time { return func() time.Time { return t } }

// wantErr fails unless err wraps every one of sentinels and its text holds
// every one of texts.
func wantErr(tb testing.TB, err error, sentinels []error, texts ...string) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("no error, want %v %q", sentinels, texts)
	}
	for _, s := range sentinels {
		if !errors.Is(err, s) {
			tb.Errorf("error %q does not wrap %q", err, s)
		}
	}
	for _, s := range texts {
		if !strings.Contains(err.Error(), s) {
			tb.Errorf("error %q does not say %q", err, s)
		}
	}
}

func errs(e ...error) []error { return e }

// replace returns b with old replaced by new exactly once.
func replace(tb testing.TB, b []byte, old, new string) []byte {
	tb.Helper()
	if bytes.Count(b, []byte(old)) != 1 {
		tb.Fatalf("%q occurs %d times", old, bytes.Count(b, []byte(old)))
	}
	return bytes.Replace(b, []byte(old), []byte(new), 1)
}
