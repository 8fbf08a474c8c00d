package pcs_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/inclavare/inclavare/internal/testvectors"
	"github.com/inclavare/inclavare/tee/intel"
	"github.com/inclavare/inclavare/tee/intel/pcs"
	"github.com/inclavare/inclavare/tee/intel/pcs/pcstest"
)

// oasisTDX is the collateral of the oasis-core TDX quote, from the split
// PCS files: no CRLs.
func oasisTDX(t *testing.T) *intel.Collateral {
	t.Helper()
	c, err := intel.CollateralFromPCS(testvectors.Read(t, "tdx/tcb_info_v3_tdx_fmspc_C0806F000000.json"),
		testvectors.Read(t, "tdx/qe_identity_v2_tdx2.json"), testvectors.Read(t, "tdx/tcb_signing_chain.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// oasisAt is inside the oasis TDX collateral's validity; oasisExpiry is
// its QE identity's nextUpdate, sooner than the TCB info's.
var (
	oasisAt     = time.Unix(1725263032, 0)
	oasisExpiry = time.Date(2024, 10, 2, 6, 47, 57, 0, time.UTC)
)

// clock is a settable time.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func request(t *testing.T, quote string, withCA bool) (pcs.Request, []byte) {
	t.Helper()
	raw := testvectors.Read(t, quote)
	q, err := intel.ParseQuoteWith(raw, intel.ParseOptions{AllowTrailing: true})
	if err != nil {
		t.Fatal(err)
	}
	r, err := pcs.ForQuote(q)
	if err != nil {
		t.Fatal(err)
	}
	if !withCA {
		r.CA = ""
	}
	return r, raw
}

func verify(t *testing.T, raw []byte, c *intel.Collateral, at time.Time) *intel.Attestation {
	t.Helper()
	v, err := intel.NewVerifier(intel.Options{Now: func() time.Time { return at }, MinTCBEvaluationDataNumber: 12, AllowTrailing: true, Cache: intel.NewCache(16)})
	if err != nil {
		t.Fatal(err)
	}
	a, err := v.Verify(context.Background(), raw, c)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func newFetcher(t *testing.T, s *pcstest.Server, o pcs.Options) *pcs.Fetcher {
	t.Helper()
	f, err := pcs.New(s.URL, o)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestOasisTDX: the collateral assembled from PCS responses verifies the
// TDX vector quote at its pinned time.
func TestOasisTDX(t *testing.T) {
	s := pcstest.NewServer(t, "tdx", oasisTDX(t))
	r, raw := request(t, "tdx/quote_v4_tdx_ecdsa_p256.bin", false)
	if r.TEE != pcs.TEETDX || r.FMSPCHex() != "C0806F000000" {
		t.Fatalf("request %+v", r)
	}
	f := newFetcher(t, s, pcs.Options{Now: func() time.Time { return oasisAt }})
	c, err := f.Collateral(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if a := verify(t, raw, c, oasisAt); a.TCBStatus != intel.TCBUpToDate {
		t.Errorf("TCB status %s", a.TCBStatus)
	}
}

// TestCRLs: with the PCK CA known, the PCK CRL (DER) and the root CA CRL
// (DER or hex) are fetched too, and the collateral verifies with
// revocation checked.
func TestCRLs(t *testing.T) {
	vc, err := intel.ParseCollateralJSON(testvectors.Read(t, "tdx/dcapqvl_tdx_quote_collateral.json"))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 6, 20, 0, 0, 0, 0, time.UTC)
	r, raw := request(t, "tdx/dcapqvl_tdx_quote.bin", true)
	if r.CA == "" {
		t.Fatal("no PCK CA")
	}
	for _, hexRoot := range []bool{false, true} {
		s := pcstest.NewServer(t, "tdx", vc)
		s.SetRootCRLHex(hexRoot)
		c, err := newFetcher(t, s, pcs.Options{Now: func() time.Time { return at }}).Collateral(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		a := verify(t, raw, c, at)
		if !a.RevocationChecked || a.TCBStatus != intel.TCBUpToDate {
			t.Errorf("revocation checked %t, status %s", a.RevocationChecked, a.TCBStatus)
		}
		if s.Hits("/sgx/certification/v4/pckcrl") != 1 || s.Hits("/sgx/certification/v4/rootcacrl") != 1 {
			t.Errorf("CRL requests: %d, %d", s.Hits("/sgx/certification/v4/pckcrl"), s.Hits("/sgx/certification/v4/rootcacrl"))
		}
	}
}

// TestCache: an entry is used until the soonest nextUpdate, from memory
// and from the cache directory, even with the PCS down; an expired entry
// is never used.
func TestCache(t *testing.T) {
	s := pcstest.NewServer(t, "tdx", oasisTDX(t))
	r, _ := request(t, "tdx/quote_v4_tdx_ecdsa_p256.bin", false)
	dir := t.TempDir()
	clk := &clock{oasisAt}
	ctx := context.Background()
	f := newFetcher(t, s, pcs.Options{CacheDir: dir, Now: clk.now})
	if _, err := f.Collateral(ctx, r); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Collateral(ctx, r); err != nil || s.Total() != 2 {
		t.Fatalf("second call: %v, %d requests, want 2 (the first call's)", err, s.Total())
	}
	file := filepath.Join(dir, "tdx-C0806F000000.json")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := intel.ParseCollateralJSON(b); err != nil {
		t.Fatalf("cache file: %v", err)
	}

	// A new fetcher reads the directory; the PCS is not asked.
	s.SetStatus(http.StatusInternalServerError)
	clk.t = oasisExpiry.Add(-time.Second)
	f2 := newFetcher(t, s, pcs.Options{CacheDir: dir, Now: clk.now})
	if _, err := f2.Collateral(ctx, r); err != nil || s.Total() != 2 {
		t.Fatalf("from the cache directory: %v, %d requests", err, s.Total())
	}

	// At the QE identity's nextUpdate the entry has expired: it is
	// refetched, and a failure is an error, not the stale entry.
	clk.t = oasisExpiry
	for _, f := range []*pcs.Fetcher{f, f2, newFetcher(t, s, pcs.Options{CacheDir: dir, Now: clk.now})} {
		if _, err := f.Collateral(ctx, r); !errors.Is(err, pcs.ErrFetch) || !strings.Contains(err.Error(), "HTTP 500") {
			t.Errorf("expired entry, PCS failing: %v", err)
		}
	}
	// The PCS serving the same expired collateral is refused.
	s.SetStatus(0)
	if _, err := f.Collateral(ctx, r); !errors.Is(err, pcs.ErrExpired) {
		t.Errorf("expired collateral served: %v", err)
	}

	// A foreign file under the name is not used.
	if err := os.WriteFile(file, []byte(`{"tcb_info":"x"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	clk.t = oasisAt
	n := s.Total()
	if _, err := newFetcher(t, s, pcs.Options{CacheDir: dir, Now: clk.now}).Collateral(ctx, r); err != nil || s.Total() == n {
		t.Errorf("with a corrupt cache file: %v, fetched %t", err, s.Total() != n)
	}
}

// TestRefresh: with RefreshAfter an entry is refetched early, and a failed
// refresh falls back on the still-valid entry.
func TestRefresh(t *testing.T) {
	s := pcstest.NewServer(t, "tdx", oasisTDX(t))
	r, _ := request(t, "tdx/quote_v4_tdx_ecdsa_p256.bin", false)
	clk := &clock{oasisAt}
	f := newFetcher(t, s, pcs.Options{Now: clk.now, RefreshAfter: time.Hour})
	ctx := context.Background()
	if _, err := f.Collateral(ctx, r); err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(2 * time.Hour)
	if _, err := f.Collateral(ctx, r); err != nil || s.Total() != 4 {
		t.Fatalf("refresh: %v, %d requests, want 4", err, s.Total())
	}
	clk.t = clk.t.Add(2 * time.Hour)
	s.SetStatus(http.StatusServiceUnavailable)
	if _, err := f.Collateral(ctx, r); err != nil || s.Total() != 5 {
		t.Fatalf("failed refresh: %v, %d requests, want 5", err, s.Total())
	}
}

// TestServerErrors: HTTP errors, an oversized body, a timeout and
// malformed issuer chain headers or bodies are errors.
func TestServerErrors(t *testing.T) {
	r, _ := request(t, "tdx/quote_v4_tdx_ecdsa_p256.bin", false)
	chain := string(testvectors.Read(t, "tdx/tcb_signing_chain.pem"))
	for _, c := range []struct {
		name    string
		opts    pcs.Options
		hook    func(w http.ResponseWriter, r *http.Request) bool
		header  [2]string
		want    error
		wantMsg string
	}{
		{"404", pcs.Options{}, func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Request-ID", "abc123")
			http.NotFound(w, r)
			return true
		}, [2]string{}, pcs.ErrFetch, "HTTP 404 Not Found, Request-ID abc123"},
		{"oversized", pcs.Options{MaxResponseSize: 100}, nil, [2]string{}, pcs.ErrFetch, "over the cap of 100 bytes"},
		{"timeout", pcs.Options{Timeout: 50 * time.Millisecond}, func(w http.ResponseWriter, r *http.Request) bool {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			return true
		}, [2]string{}, pcs.ErrFetch, "deadline exceeded"},
		{"no chain header", pcs.Options{}, nil, [2]string{"TCB-Info-Issuer-Chain", ""}, pcs.ErrMalformedResponse, "no TCB-Info-Issuer-Chain header"},
		{"bad escape", pcs.Options{}, nil, [2]string{"TCB-Info-Issuer-Chain", "%zz"}, pcs.ErrMalformedResponse, "not URL-encoded"},
		{"not PEM", pcs.Options{}, nil, [2]string{"TCB-Info-Issuer-Chain", "hello"}, pcs.ErrMalformedResponse, "not a PEM certificate chain"},
		{"trailing junk", pcs.Options{}, nil, [2]string{"SGX-Enclave-Identity-Issuer-Chain", url.QueryEscape(chain + "junk")}, pcs.ErrMalformedResponse, "not a PEM certificate chain"},
		{"PEM key", pcs.Options{}, nil, [2]string{"TCB-Info-Issuer-Chain", url.QueryEscape("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")}, pcs.ErrMalformedResponse, `PEM "PRIVATE KEY" block`},
		{"bad body", pcs.Options{}, func(w http.ResponseWriter, r *http.Request) bool {
			if !strings.HasSuffix(r.URL.Path, "/tcb") {
				return false
			}
			w.Header().Set("TCB-Info-Issuer-Chain", url.QueryEscape(chain))
			w.Write([]byte(`{"tcbInfo":{}}`))
			return true
		}, [2]string{}, pcs.ErrMalformedResponse, "TCB info"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := pcstest.NewServer(t, "tdx", oasisTDX(t))
			s.SetHook(c.hook)
			if c.header[0] != "" {
				s.SetHeader(c.header[0], c.header[1])
			}
			c.opts.Now = func() time.Time { return oasisAt }
			c.opts.CacheDir = t.TempDir()
			_, err := newFetcher(t, s, c.opts).Collateral(context.Background(), r)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.wantMsg) {
				t.Errorf("got %v, want %v with %q", err, c.want, c.wantMsg)
			}
			if ents, _ := os.ReadDir(c.opts.CacheDir); len(ents) != 0 {
				t.Errorf("%d files cached after an error", len(ents))
			}
		})
	}
}

// TestNewURL: HTTPS, or plain HTTP to loopback only.
func TestNewURL(t *testing.T) {
	for _, c := range []struct {
		url string
		ok  bool
	}{
		{"https://api.trustedservices.intel.com", true},
		{"https://pccs.example:8081/prefix/", true},
		{"http://127.0.0.1:8081", true},
		{"http://[::1]:8081", true},
		{"http://localhost:8081", true},
		{"http://pccs.example:8081", false},
		{"http://10.0.0.1", false},
		{"ftp://127.0.0.1", false},
		{"https://", false},
		{"https://h/?x=1", false},
		{"://bad", false},
	} {
		_, err := pcs.New(c.url, pcs.Options{})
		if (err == nil) != c.ok {
			t.Errorf("%s: %v", c.url, err)
		}
	}
	if _, err := pcs.New("https://h", pcs.Options{}); err != nil {
		t.Fatal(err)
	}
	f, _ := pcs.New("https://h", pcs.Options{})
	if _, err := f.Collateral(context.Background(), pcs.Request{TEE: "sev"}); err == nil {
		t.Error("TEE sev accepted")
	}
	if _, err := f.Collateral(context.Background(), pcs.Request{TEE: pcs.TEESGX, CA: "other"}); err == nil {
		t.Error("CA other accepted")
	}
}

// TestForQuoteEPPID: a quote without a PCK chain names no FMSPC.
func TestForQuoteEPPID(t *testing.T) {
	q, err := intel.ParseQuote(testvectors.Read(t, "sgx/quote_v3_ecdsa_p256_eppid.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pcs.ForQuote(q); err == nil || !strings.Contains(err.Error(), "not a PCK chain") {
		t.Errorf("EPPID quote: %v", err)
	}
}
