package sgxecdsa

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/internal/testvectors"
	"github.com/inclavare/inclavare/tee/intel"
	"github.com/inclavare/inclavare/tee/intel/pcs/pcstest"
)

// TestCollateralFromPCS: without endorsements nor a collateral file, the
// collateral is fetched from the PCS named by RATS_TLS_INTEL_PCS_URL (a
// fake one on loopback), CRLs included, cached in
// RATS_TLS_INTEL_PCS_CACHE_DIR, and verifies the quote.
func TestCollateralFromPCS(t *testing.T) {
	vc, err := intel.ParseCollateralJSON(testvectors.Read(t, "sgx/dcapqvl_sgx_quote_collateral.json"))
	if err != nil {
		t.Fatal(err)
	}
	s := pcstest.NewServer(t, "sgx", vc)
	dir := t.TempDir()
	pin(t, time.Date(2025, 6, 20, 0, 0, 0, 0, time.UTC))
	t.Setenv(EnvCollateral, "")
	t.Setenv(EnvPCSURL, s.URL)
	t.Setenv(EnvPCSCacheDir, dir)
	t.Setenv(EnvTCBStatuses, "UpToDate,ConfigurationAndSWHardeningNeeded")
	raw := testvectors.Read(t, "sgx/dcapqvl_sgx_quote.bin")
	q, err := intel.ParseQuote(raw)
	if err != nil {
		t.Fatal(err)
	}
	ev := instance.Evidence{Type: intel.EvidenceTypeSGX, Data: raw}
	v := newVerifier(t, descriptor, instance.Options{})
	claims, err := v.Verify(context.Background(), ev, q.ReportData(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if claims["simulated"] != false || claims["tcb_status"] != "ConfigurationAndSWHardeningNeeded" {
		t.Errorf("claims %v", claims)
	}
	if s.Hits("/sgx/certification/v4/pckcrl") != 1 || s.Hits("/sgx/certification/v4/rootcacrl") != 1 {
		t.Errorf("CRLs not fetched once: %d, %d", s.Hits("/sgx/certification/v4/pckcrl"), s.Hits("/sgx/certification/v4/rootcacrl"))
	}
	files, _ := filepath.Glob(filepath.Join(dir, "sgx-*.json"))
	if len(files) != 1 {
		t.Errorf("cache files %v", files)
	}

	// A new instance uses the cache directory with the PCS down.
	s.SetStatus(http.StatusInternalServerError)
	if _, err := newVerifier(t, descriptor, instance.Options{}).Verify(context.Background(), ev, q.ReportData(), nil); err != nil {
		t.Errorf("from the cache: %v", err)
	}

	// Without a cache, a PCS failure is a collateral error.
	t.Setenv(EnvPCSCacheDir, "")
	_, err = newVerifier(t, descriptor, instance.Options{}).Verify(context.Background(), ev, q.ReportData(), nil)
	if !errors.Is(err, intel.ErrCollateral) || !strings.Contains(err.Error(), "HTTP 500") {
		t.Errorf("PCS failing: %v", err)
	}
}

// TestPCSConfigErrors: a PCS URL that is not HTTPS (nor loopback) is
// refused when the instance is created.
func TestPCSConfigErrors(t *testing.T) {
	t.Setenv(EnvCollateral, "")
	t.Setenv(EnvPCSURL, "http://pccs.example:8081")
	if _, err := ConfigFromEnv(instance.Options{}); err == nil || !strings.Contains(err.Error(), EnvPCSURL) {
		t.Errorf("plain http PCS: %v", err)
	}
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvPCSURL, "https://pccs.example:8081")
	t.Setenv(EnvPCSCacheDir, filepath.Join(f, "sub"))
	if _, err := ConfigFromEnv(instance.Options{}); err == nil {
		t.Error("a cache directory under a file accepted")
	}
}
