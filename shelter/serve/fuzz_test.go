package serve

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/inclavare/inclavare/appraisal/ear"
	"github.com/inclavare/inclavare/shelter/verify"
)

// FuzzNegotiate: any Accept header gives JSON, COSE or errNotAcceptable,
// and JSON whenever the header is empty.
func FuzzNegotiate(f *testing.F) {
	for _, s := range []string{"", "*/*", "application/cose", `application/cose; cose-type="cose-sign1"; q=0.5, application/json; q=0.4`, "text/html;q=0", ";;,,\"", "application/json;q=NaN"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, accept string) {
		got, err := negotiate(accept)
		switch {
		case err != nil && err != errNotAcceptable:
			t.Fatalf("negotiate(%q): unexpected error %v", accept, err)
		case err == nil && got != formatJSON && got != formatCOSE:
			t.Fatalf("negotiate(%q) = %v", accept, got)
		case strings.TrimSpace(accept) == "" && (err != nil || got != formatJSON):
			t.Fatalf("negotiate(%q) = %v, %v; want JSON", accept, got, err)
		}
	})
}

// FuzzVerifyRequest sends arbitrary evidence, query, content type and
// Accept header through the handler: every answer is a result (200, JSON
// or COSE_Sign1 that verifies with the service's key) or a JSON error with
// a documented status, and every request is in the history.
func FuzzVerifyRequest(f *testing.F) {
	report := simulatedSNPReport(f, make([]byte, 64))
	f.Add(report, "report_data=00", "application/octet-stream", "application/cose")
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), "", "application/x-pem-file", "")
	f.Add([]byte{3, 0, 2, 0, 0, 0, 0, 0}, "type=sgx_ecdsa", "", "*/*")
	f.Add([]byte{4, 0, 2, 0, 0x81, 0, 0, 0}, "type=tdx_ecdsa&report_data=0x", "application/octet-stream", "application/json")
	h, err := New(Config{Key: mustKey(f), MaxBody: 4096, History: 4, Verify: verify.Options{AllowSimulated: true}})
	if err != nil {
		f.Fatal(err)
	}
	documented := map[int]bool{200: true, 400: true, 406: true, 413: true, 415: true, 422: true}
	f.Fuzz(func(t *testing.T, body []byte, query, contentType, accept string) {
		req := httptest.NewRequest(http.MethodPost, "/v1/verify", bytes.NewReader(body))
		req.URL.RawQuery = query
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Accept", accept)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if !documented[w.Code] {
			t.Fatalf("status %d: %s", w.Code, w.Body)
		}
		switch ct := w.Header().Get("Content-Type"); {
		case w.Code != 200:
			var e map[string]string
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e["error"] == "" || ct != "application/json" {
				t.Fatalf("%d error %q (%v): %s", w.Code, ct, err, w.Body)
			}
		case ct == MediaTypeCOSE:
			if _, err := ear.Verify(w.Body.Bytes(), h.cfg.Key.Public()); err != nil {
				t.Fatalf("signed result: %v", err)
			}
		case ct == MediaTypeJSON:
			var r ear.Result
			if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil || !r.Status.Valid() {
				t.Fatalf("result %v: %s", err, w.Body)
			}
		default:
			t.Fatalf("200 with content type %q", ct)
		}
		if got := h.Recent(); len(got) == 0 || got[0].HTTPStatus != w.Code {
			t.Fatalf("history %+v, last status %d", got, w.Code)
		}
	})
}
