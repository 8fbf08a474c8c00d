package serve

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	_ "github.com/inclavare/inclavare/framework/builtins"
	"github.com/inclavare/inclavare/internal/testvectors"
	"github.com/inclavare/inclavare/shelter/verify"
	"github.com/inclavare/inclavare/tee/intel"
	snp "github.com/inclavare/inclavare/tee/sevsnp"
)

// The production TDX quote of the shared vectors, its collateral and its
// pinned time (../shared/vectors/README.md), and its report data.
const (
	tdxQuote      = "tdx/quote_v4_tdx_ecdsa_p256.bin"
	tdxCollateral = "tdx/quote_v4_tdx_ecdsa_p256_collateral.json"
	tdxReportData = "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
)

var tdxTime = time.Unix(1725263032, 0)

// tdxOptions are the verification options for the TDX vector.
func tdxOptions(t testing.TB) verify.Options {
	t.Helper()
	c, err := intel.ParseCollateralJSON(testvectors.Read(t, tdxCollateral))
	if err != nil {
		t.Fatal(err)
	}
	return verify.Options{Collateral: c, Now: tdxTime}
}

// newServer starts the service for cfg (with a fresh key when cfg has
// none) on loopback; it is closed at the end of the test.
func newServer(t testing.TB, cfg Config) (*Handler, *httptest.Server) {
	t.Helper()
	if cfg.Key == nil {
		k, err := GenerateKey()
		if err != nil {
			t.Fatal(err)
		}
		cfg.Key = k
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return h, srv
}

// response is a finished HTTP exchange.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request to srv and reads the whole response.
func do(t testing.TB, srv *httptest.Server, method, path, contentType, accept string, body []byte) response {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, b}
}

// errorOf decodes a JSON error response, failing when it is not one.
func errorOf(t testing.TB, r response) string {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error content type %q, want application/json; body %s", ct, r.body)
	}
	var e struct {
		Error string `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil || e.Error == "" {
		t.Fatalf("not a JSON error (%v): %s", err, r.body)
	}
	return e.Error
}

// publicKey fetches GET /v1/key.
func publicKey(t testing.TB, srv *httptest.Server) crypto.PublicKey {
	t.Helper()
	r := do(t, srv, http.MethodGet, "/v1/key", "", "", nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET /v1/key: %d %s", r.status, r.body)
	}
	pub, err := ParsePublicKeyPEM(r.body)
	if err != nil {
		t.Fatal(err)
	}
	return pub
}

// simulatedSNPReport is a simulated SEV-SNP report over reportData.
func simulatedSNPReport(t testing.TB, reportData []byte) []byte {
	t.Helper()
	sim, err := snp.NewSimulator(snp.SimulatorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := sim.Report(reportData)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// noLeak fails the test if goroutines started during it are still running
// a little after it ends (beyond the runtime's own).
func noLeak(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= before {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("%d goroutines left running (%d before):\n%s", n-before, before, buf)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// contains reports whether every one of subs is in s.
func contains(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
