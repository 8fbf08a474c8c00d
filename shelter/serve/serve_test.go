package serve

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inclavare/inclavare/appraisal/ear"
	"github.com/inclavare/inclavare/appraisal/policy"
	"github.com/inclavare/inclavare/internal/testvectors"
	"github.com/inclavare/inclavare/shelter/verify"
	"github.com/inclavare/inclavare/shelter/verify/verifytest"
)

// The production TDX quote: unbound it is a warning, with its report data
// affirming, with other report data contraindicated (still a 200 and a
// result); signed, the result verifies with GET /v1/key's key.
func TestVerifyTDXVector(t *testing.T) {
	noLeak(t)
	h, srv := newServer(t, Config{Verify: tdxOptions(t)})
	quote := testvectors.Read(t, tdxQuote)
	for name, tc := range map[string]struct {
		query string
		want  ear.Status
	}{
		"unbound":           {"", ear.Warning},
		"report data":       {"?report_data=" + tdxReportData, ear.Affirming},
		"0x report data":    {"?type=tdx_ecdsa&report_data=0x" + tdxReportData, ear.Affirming},
		"other report data": {"?report_data=00", ear.Contraindicated},
	} {
		t.Run(name, func(t *testing.T) {
			r := do(t, srv, http.MethodPost, "/v1/verify"+tc.query, "application/octet-stream", "", quote)
			if r.status != http.StatusOK || r.header.Get("Content-Type") != MediaTypeJSON {
				t.Fatalf("%d %s: %s", r.status, r.header.Get("Content-Type"), r.body)
			}
			var res ear.Result
			if err := json.Unmarshal(r.body, &res); err != nil {
				t.Fatalf("%v: %s", err, r.body)
			}
			if res.Status != tc.want || res.EvidenceType != verify.TypeTDX || res.TCBStatus != "UpToDate" || res.Verifier != verify.VerifierName {
				t.Errorf("status %s, type %s, TCB %s, verifier %s; want %s, tdx_ecdsa, UpToDate, shelter; reasons %q",
					res.Status, res.EvidenceType, res.TCBStatus, res.Verifier, tc.want, res.Reasons)
			}
		})
	}

	pub := publicKey(t, srv)
	r := do(t, srv, http.MethodPost, "/v1/verify?report_data="+tdxReportData, "", `application/cose; cose-type="cose-sign1"`, quote)
	if r.status != http.StatusOK || r.header.Get("Content-Type") != MediaTypeCOSE {
		t.Fatalf("COSE: %d %s: %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	res, err := ear.Verify(r.body, pub)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != ear.Affirming || res.Claims["mrtd"] == nil {
		t.Errorf("signed result: status %s, claims %v", res.Status, res.Claims)
	}
	// Another key does not verify it.
	other, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ear.Verify(r.body, other.Public()); err == nil {
		t.Error("the signed result verified with another key")
	}

	if page := do(t, srv, http.MethodGet, "/", "", "", nil); !strings.Contains(string(page.body), `id="pinned-time">pinned to 2024-09-02T07:43:52Z`) {
		t.Errorf("the status page does not say the time is pinned:\n%s", page.body)
	}
	got := h.Recent()
	if len(got) != 5 || !got[0].Signed || got[0].Outcome != string(ear.Affirming) || got[0].HTTPStatus != 200 || got[0].Type != verify.TypeTDX {
		t.Fatalf("history: %+v", got)
	}
}

// A policy refusing the quote: a contraindicated result, not an error.
func TestVerifyPolicyRefuses(t *testing.T) {
	opts := tdxOptions(t)
	p, err := policy.Parse([]byte("id: only-zero-mrtd\nevidence:\n  tdx_ecdsa:\n    mrtd: [" + strings.Repeat("00", 48) + "]\n"))
	if err != nil {
		t.Fatal(err)
	}
	opts.Policy = p
	_, srv := newServer(t, Config{Verify: opts})
	r := do(t, srv, http.MethodPost, "/v1/verify?report_data="+tdxReportData, "application/octet-stream", "", testvectors.Read(t, tdxQuote))
	var res ear.Result
	if err := json.Unmarshal(r.body, &res); r.status != http.StatusOK || err != nil {
		t.Fatalf("%d, %v: %s", r.status, err, r.body)
	}
	if res.Status != ear.Contraindicated || res.PolicyID != "only-zero-mrtd" || !strings.Contains(strings.Join(res.Reasons, ";"), "mrtd") {
		t.Errorf("status %s, policy %s, reasons %q", res.Status, res.PolicyID, res.Reasons)
	}
}

// Simulated evidence: refused (422) unless the service trusts simulated
// TEEs; raw or as the certificate an attested peer presents.
func TestVerifySimulated(t *testing.T) {
	rd := bytes.Repeat([]byte{7}, 64)
	report := simulatedSNPReport(t, rd)
	cert := verifytest.PeerCertificate(t, "sgx_ecdsa_sim")

	_, strict := newServer(t, Config{})
	for name, body := range map[string][]byte{"report": report, "certificate": cert} {
		r := do(t, strict, http.MethodPost, "/v1/verify", "", "", body)
		if msg := errorOf(t, r); r.status != http.StatusUnprocessableEntity || !strings.Contains(msg, "simulated") {
			t.Errorf("%s without AllowSimulated: %d %q", name, r.status, msg)
		}
	}

	h, srv := newServer(t, Config{Verify: verify.Options{AllowSimulated: true}})
	for name, tc := range map[string]struct {
		path, contentType string
		body              []byte
		want              ear.Status
		wantType          string
	}{
		"report bound":       {"/v1/verify?type=sev_snp&report_data=" + hex.EncodeToString(rd), "application/octet-stream", report, ear.Warning, verify.TypeSNP},
		"report other":       {"/v1/verify?report_data=01", "application/octet-stream", report, ear.Contraindicated, verify.TypeSNP},
		"certificate":        {"/v1/verify", "application/x-pem-file", cert, ear.Warning, verify.TypeSGX},
		"certificate chain":  {"/v1/verify?type=auto", "application/pem-certificate-chain", cert, ear.Warning, verify.TypeSGX},
		"certificate no ct":  {"/v1/verify", "", cert, ear.Warning, verify.TypeSGX},
		"certificate other":  {"/v1/verify?report_data=02", "application/x-pem-file", cert, ear.Contraindicated, verify.TypeSGX},
		"certificate params": {"/v1/verify?type=sgx_ecdsa", "application/x-pem-file; charset=us-ascii", cert, ear.Warning, verify.TypeSGX},
	} {
		t.Run(name, func(t *testing.T) {
			r := do(t, srv, http.MethodPost, tc.path, tc.contentType, "application/json", tc.body)
			var res ear.Result
			if err := json.Unmarshal(r.body, &res); r.status != http.StatusOK || err != nil {
				t.Fatalf("%d, %v: %s", r.status, err, r.body)
			}
			if res.Status != tc.want || res.EvidenceType != tc.wantType || res.Claims["simulated"] != true {
				t.Errorf("status %s, type %s, simulated %v; want %s, %s, true; reasons %q", res.Status, res.EvidenceType, res.Claims["simulated"], tc.want, tc.wantType, res.Reasons)
			}
		})
	}
	if n := len(h.Recent()); n != 7 {
		t.Errorf("history has %d entries, want 7", n)
	}
}

// Bad requests get a JSON error with the right status and a message that
// says what to do, and are listed on the status page.
func TestBadRequests(t *testing.T) {
	noLeak(t)
	h, srv := newServer(t, Config{Verify: verify.Options{AllowSimulated: true}, MaxBody: 4096})
	report := simulatedSNPReport(t, make([]byte, 64))
	quote := testvectors.Read(t, tdxQuote)
	for name, tc := range map[string]struct {
		method, path, contentType, accept string
		body                              []byte
		status                            int
		msg                               string
	}{
		"GET verify":          {http.MethodGet, "/v1/verify", "", "", nil, 405, "use POST"},
		"PUT verify":          {http.MethodPut, "/v1/verify", "", "", report, 405, "use POST"},
		"POST key":            {http.MethodPost, "/v1/key", "", "", report, 405, "use GET"},
		"DELETE status":       {http.MethodDelete, "/", "", "", nil, 405, "use GET"},
		"unknown path":        {http.MethodGet, "/v2/verify", "", "", nil, 404, "no such endpoint"},
		"empty":               {http.MethodPost, "/v1/verify", "application/octet-stream", "", nil, 400, "empty body"},
		"garbage":             {http.MethodPost, "/v1/verify", "application/octet-stream", "", []byte("hello, shelter"), 422, "cannot tell the evidence type"},
		"truncated quote":     {http.MethodPost, "/v1/verify", "application/octet-stream", "", quote[:600], 422, "verification failed"},
		"bad PEM":             {http.MethodPost, "/v1/verify", "application/x-pem-file", "", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), 422, "certificate"},
		"raw as PEM":          {http.MethodPost, "/v1/verify", "application/x-pem-file", "", report, 400, "application/octet-stream"},
		"too large":           {http.MethodPost, "/v1/verify", "application/octet-stream", "", make([]byte, 4097), 413, "4096"},
		"text":                {http.MethodPost, "/v1/verify", "text/plain", "", report, 415, "application/octet-stream"},
		"form":                {http.MethodPost, "/v1/verify", "application/x-www-form-urlencoded", "", report, 415, "--data-binary"},
		"bad content type":    {http.MethodPost, "/v1/verify", "application/", "", report, 400, "Content-Type"},
		"html only":           {http.MethodPost, "/v1/verify", "", "text/html", report, 406, "Accept"},
		"other cose":          {http.MethodPost, "/v1/verify", "", `application/cose; cose-type="cose-mac0"`, report, 406, "Accept"},
		"unknown type":        {http.MethodPost, "/v1/verify?type=csv", "", "", report, 400, "want one of"},
		"wrong type":          {http.MethodPost, "/v1/verify?type=tdx_ecdsa", "", "", report, 422, "not tdx_ecdsa"},
		"bad report data":     {http.MethodPost, "/v1/verify?report_data=xyz", "", "", report, 400, "report_data"},
		"long report data":    {http.MethodPost, "/v1/verify?report_data=" + strings.Repeat("00", 65), "", "", report, 400, "at most 64"},
		"misspelt parameter":  {http.MethodPost, "/v1/verify?reportdata=00", "", "", report, 400, `unknown query parameter "reportdata"`},
		"repeated parameter":  {http.MethodPost, "/v1/verify?type=auto&type=sev_snp", "", "", report, 400, "twice"},
		"bad escape":          {http.MethodPost, "/v1/verify?type=%zz", "", "", report, 400, "query"},
		"too many parameters": {http.MethodPost, "/v1/verify?" + strings.Repeat("a=1&", 9), "", "", report, 400, "at most"},
	} {
		t.Run(name, func(t *testing.T) {
			r := do(t, srv, tc.method, tc.path, tc.contentType, tc.accept, tc.body)
			msg := errorOf(t, r)
			if r.status != tc.status || !strings.Contains(msg, tc.msg) {
				t.Errorf("%d %q, want %d and %q", r.status, msg, tc.status, tc.msg)
			}
			if r.status == 405 && r.header.Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}
	// Every POST /v1/verify was recorded, none with a result.
	for _, e := range h.Recent() {
		if e.Outcome != OutcomeRejected && e.Outcome != OutcomeFailed || e.HTTPStatus < 400 || len(e.Reasons) != 1 {
			t.Errorf("history entry %+v", e)
		}
	}
}

// A body larger than MaxBody sent without a Content-Length (chunked) is
// cut at MaxBody and refused with 413.
func TestTooLargeChunked(t *testing.T) {
	_, srv := newServer(t, Config{MaxBody: 1024})
	pr, pw := io.Pipe()
	go func() {
		for range 64 {
			if _, err := pw.Write(make([]byte, 512)); err != nil {
				break
			}
		}
		pw.Close()
	}()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/v1/verify", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d, want 413", resp.StatusCode)
	}
	pr.Close()
}

// When every verification slot stays busy for the whole timeout, the
// request is answered 503, not queued forever.
func TestBusy(t *testing.T) {
	h, srv := newServer(t, Config{MaxConcurrent: 1, Timeout: 100 * time.Millisecond})
	h.slots <- struct{}{}
	defer func() { <-h.slots }()
	r := do(t, srv, http.MethodPost, "/v1/verify", "", "", []byte("evidence"))
	if msg := errorOf(t, r); r.status != http.StatusServiceUnavailable || !strings.Contains(msg, "slot") {
		t.Errorf("%d %q", r.status, msg)
	}
	if e := h.Recent()[0]; e.Outcome != OutcomeError {
		t.Errorf("history: %+v", e)
	}

	// With MaxPending requests in progress, another is refused at once.
	h2, srv2 := newServer(t, Config{MaxPending: 2})
	h2.pending <- struct{}{}
	h2.pending <- struct{}{}
	start := time.Now()
	r = do(t, srv2, http.MethodPost, "/v1/verify", "", "", []byte("evidence"))
	if msg := errorOf(t, r); r.status != http.StatusServiceUnavailable || !strings.Contains(msg, "retry later") || r.header.Get("Retry-After") == "" {
		t.Errorf("%d %q, Retry-After %q", r.status, msg, r.header.Get("Retry-After"))
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("refused after %s, want at once", d)
	}
	<-h2.pending
	if r := do(t, srv2, http.MethodPost, "/v1/verify", "", "", []byte("evidence")); r.status != http.StatusUnprocessableEntity {
		t.Errorf("with a free place: %d %s", r.status, r.body)
	}
	if len(h2.pending) != 1 {
		t.Errorf("%d requests pending after the answers, want the 1 held by the test", len(h2.pending))
	}
}

func TestKeyAndHealth(t *testing.T) {
	h, srv := newServer(t, Config{})
	r := do(t, srv, http.MethodGet, "/v1/key", "", "", nil)
	if r.status != 200 || !bytes.Equal(r.body, h.PublicKeyPEM()) || r.header.Get("Content-Type") != "application/x-pem-file" {
		t.Errorf("GET /v1/key: %d %q %s", r.status, r.header.Get("Content-Type"), r.body)
	}
	if r := do(t, srv, http.MethodGet, "/healthz", "", "", nil); r.status != 200 || string(r.body) != "ok\n" {
		t.Errorf("GET /healthz: %d %q", r.status, r.body)
	}
	if r := do(t, srv, http.MethodHead, "/healthz", "", "", nil); r.status != 200 {
		t.Errorf("HEAD /healthz: %d", r.status)
	}
}

// The status page escapes what clients control (the requested type, the
// reasons, the client address) and runs no script.
func TestStatusPageEscapes(t *testing.T) {
	h, srv := newServer(t, Config{})
	hostile := `<script>alert("x")</script><img src=x onerror=alert(1)>`
	r := do(t, srv, http.MethodPost, "/v1/verify?type="+url.QueryEscape(hostile), "", "", []byte("x"))
	if r.status != http.StatusBadRequest {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	// A client address is the connection's; set one directly.
	req, err := http.NewRequest(http.MethodPost, "/v1/verify", strings.NewReader("garbage"))
	if err != nil {
		t.Fatal(err)
	}
	req.RemoteAddr = `"><b id=pwned>`
	h.ServeHTTP(httptest.NewRecorder(), req)

	page := do(t, srv, http.MethodGet, "/", "", "", nil)
	body := string(page.body)
	if page.status != 200 || page.header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("%d %q", page.status, page.header.Get("Content-Type"))
	}
	if csp := page.header.Get("Content-Security-Policy"); !contains(csp, "default-src 'none'", "style-src 'unsafe-inline'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	for _, bad := range []string{"<script", "<img", "<b id=pwned", "http://", "https://"} {
		if strings.Contains(body, bad) {
			t.Errorf("the page contains %q:\n%s", bad, body)
		}
	}
	if !contains(body, "&lt;script&gt;", "&lt;img src=x onerror=alert(1)&gt;", "&#34;&gt;&lt;b id=pwned&gt;") {
		t.Errorf("the hostile strings are not shown escaped:\n%s", body)
	}
}

// The history keeps the last N entries, newest first, with bounded
// strings; concurrent requests are all counted.
func TestHistoryBounded(t *testing.T) {
	h, srv := newServer(t, Config{History: 3, Verify: verify.Options{AllowSimulated: true}})
	report := simulatedSNPReport(t, make([]byte, 64))
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			do(t, srv, http.MethodPost, fmt.Sprintf("/v1/verify?report_data=%02x", i), "", "", report)
		}()
	}
	wg.Wait()
	got := h.Recent()
	if len(got) != 3 {
		t.Fatalf("%d entries, want 3", len(got))
	}
	for i := 1; i < len(got); i++ {
		if got[i].Time.After(got[i-1].Time) {
			t.Errorf("entry %d is newer than entry %d", i, i-1)
		}
	}
	counts, total := h.hist.tally()
	if total != 12 || counts[string(ear.Contraindicated)]+counts[string(ear.Warning)] != 12 {
		t.Errorf("total %d, counts %v", total, counts)
	}

	hist := newHistory(2)
	many := make([]string, 100)
	for i := range many {
		many[i] = strings.Repeat("é", 1000)
	}
	hist.add(Entry{Client: strings.Repeat("c", 1000), Reasons: many})
	e := hist.recent()[0]
	if len(e.Client) > maxFieldBytes || len(e.Reasons) != maxReasons+1 || !strings.Contains(e.Reasons[maxReasons], "84 more") {
		t.Errorf("client %d bytes, %d reasons (last %q)", len(e.Client), len(e.Reasons), e.Reasons[len(e.Reasons)-1])
	}
	for _, r := range e.Reasons {
		if len(r) > maxReasonBytes || !strings.ContainsRune(r, 'é') && !strings.Contains(r, "more") {
			t.Errorf("reason of %d bytes: %q", len(r), r[:20])
		}
	}
}

func TestNew(t *testing.T) {
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	for name, cfg := range map[string]Config{
		"no key":       {},
		"type":         {Key: k, Verify: verify.Options{Type: verify.TypeSGX}},
		"report data":  {Key: k, Verify: verify.Options{ReportData: []byte{1}}},
		"negative max": {Key: k, MaxBody: -1},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestNegotiate(t *testing.T) {
	for accept, want := range map[string]format{
		"":                 formatJSON,
		"*/*":              formatJSON,
		"application/json": formatJSON,
		"application/*":    formatJSON,
		"application/cose": formatCOSE,
		`application/cose; cose-type="cose-sign1"`:                      formatCOSE,
		`application/cose;cose-type=cose-sign1, application/json;q=0.5`: formatCOSE,
		"application/json;q=0.4, application/cose;q=0.9":                formatCOSE,
		"*/*, application/cose":                                         formatCOSE, // specific first on a tie
		"application/cose;q=0, */*":                                     formatJSON,
		"text/html, ;;;, application/json":                              formatJSON,
	} {
		got, err := negotiate(accept)
		if err != nil || got != want {
			t.Errorf("negotiate(%q) = %v, %v; want %v", accept, got, err, want)
		}
	}
	for _, accept := range []string{"text/html", "application/json;q=0", "application/cose; cose-type=cose-mac0", "application/json;q=2", ",,,"} {
		if _, err := negotiate(accept); err == nil {
			t.Errorf("negotiate(%q) accepted", accept)
		}
	}
}

// BenchmarkVerify is one POST /v1/verify of the production TDX quote over
// loopback HTTP, answered as JSON or as COSE_Sign1.
func BenchmarkVerify(b *testing.B) {
	_, srv := newServer(b, Config{Verify: tdxOptions(b)})
	quote := testvectors.Read(b, tdxQuote)
	for name, accept := range map[string]string{"json": MediaTypeJSON, "cose": MediaTypeCOSE} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if r := do(b, srv, http.MethodPost, "/v1/verify?report_data="+tdxReportData, "application/octet-stream", accept, quote); r.status != http.StatusOK {
					b.Fatalf("%d %s", r.status, r.body)
				}
			}
		})
	}
}
