// Package serve is the library behind "shelter serve": shelter's
// verification service over HTTP. It verifies evidence with shelter/verify,
// the same path as "shelter verify", and answers with the EAR result.
//
// # API
//
//	POST /v1/verify[?type=sgx_ecdsa|tdx_ecdsa|sev_snp|auto][&report_data=HEX]
//
// The body is the evidence: a raw SGX or TDX quote or SEV-SNP report
// (Content-Type application/octet-stream), or a PEM certificate carrying
// evidence (application/x-pem-file or application/pem-certificate-chain).
// Without a Content-Type the body is taken as either, PEM being detected.
// report_data is the expected report data of raw evidence (at most 64
// bytes, zero padded); a certificate's own binding is used otherwise. Raw
// evidence without report_data is bound to nothing and is at best a
// warning. Unknown or repeated query parameters are refused, so that a
// misspelt report_data is not silently ignored.
//
// The response is the EAR result (appraisal/ear): JSON by default
// (MediaTypeJSON), or signed as COSE_Sign1 by the service's key when the
// Accept header asks for MediaTypeCOSE. A verdict that refuses the
// evidence (contraindicated by validation or policy) is still a result:
// status 200, "ear.status": "contraindicated".
//
// Errors are JSON {"error": "..."} with these statuses:
//
//   - 400: the request is malformed (an unknown type, bad report_data, an
//     unknown query parameter, an empty body, a PEM content type on a body
//     that is not PEM).
//
//   - 405: a wrong method (Allow says which).
//
//   - 406: the Accept header allows neither JSON nor COSE_Sign1.
//
//   - 413: the body is larger than Config.MaxBody.
//
//   - 415: a content type other than the evidence types above.
//
//   - 422: the evidence failed verification: it does not parse, its
//     signature, chain or collateral is refused, it is simulated and
//     simulated TEEs are not trusted, or it is not of the requested type.
//     No result is made: nothing was verified to appraise.
//
//   - 503: the service is busy (Config.MaxPending requests in progress,
//     or no verification slot free within the timeout) or the
//     verification timed out.
//
//     GET /v1/key   the public key that verifies signed results (PEM, PKIX)
//     GET /healthz  "ok"
//     GET /         the status page: the recent verifications, newest first
//
// The status page is one HTML document, rendered with html/template, with
// inline CSS and no scripts; its Content-Security-Policy forbids loading
// anything else. It lists the last Config.History requests to
// /v1/verify — time, client address, evidence type, verdict or outcome,
// reasons — in bounded memory.
package serve

import (
	"context"
	"crypto"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/inclavare/inclavare/appraisal/ear"
	"github.com/inclavare/inclavare/shelter/verify"
	"github.com/inclavare/inclavare/tee/intel"
)

// Defaults of Config.
const (
	// DefaultMaxBody is the largest evidence accepted: far more than a
	// quote with its certificate chain (a few kB) or a certificate with
	// endorsements (tens of kB).
	DefaultMaxBody = 1 << 20
	// DefaultHistory is how many requests the status page lists.
	DefaultHistory = 50
	// DefaultTimeout bounds one verification.
	DefaultTimeout = 30 * time.Second
	// DefaultMaxPending bounds the verification requests in progress.
	DefaultMaxPending = 64
)

// Config configures a Handler.
type Config struct {
	// Verify are the options of every verification: Collateral,
	// SNPCertificates, Policy, AllowSimulated and Now (zero: the time of
	// each request). Type and ReportData are taken from each request and
	// must be left empty.
	Verify verify.Options
	// Key signs results returned as COSE_Sign1; GET /v1/key serves its
	// public key. It must be a key appraisal/ear can sign with (ECDSA
	// P-256, P-384, P-521 or Ed25519).
	Key crypto.Signer
	// MaxBody is the largest body accepted, in bytes; 0 means
	// DefaultMaxBody.
	MaxBody int64
	// History is how many recent requests the status page lists; 0 means
	// DefaultHistory.
	History int
	// Timeout bounds one verification; 0 means DefaultTimeout.
	Timeout time.Duration
	// MaxConcurrent bounds the verifications running at once; a request
	// waits for a slot until its context ends. 0 means twice GOMAXPROCS.
	MaxConcurrent int
	// MaxPending bounds the requests to /v1/verify in progress at once
	// (reading their body, waiting for a slot or verifying), and so the
	// memory their bodies take (MaxPending × MaxBody); a request beyond it
	// is answered 503 at once. 0 means DefaultMaxPending.
	MaxPending int
	// Logger receives one line per verification request (never the
	// evidence); nil discards.
	Logger *slog.Logger
}

// Handler is the verification service, an http.Handler.
type Handler struct {
	cfg     Config
	log     *slog.Logger
	pubPEM  []byte
	keyID   string
	hist    *history
	slots   chan struct{} // verifications running
	pending chan struct{} // requests to /v1/verify in progress
	started time.Time
	mux     *http.ServeMux
}

// New returns the service for cfg.
func New(cfg Config) (*Handler, error) {
	if cfg.Key == nil {
		return nil, errors.New("serve: no signing key (Config.Key)")
	}
	if _, err := ear.Algorithm(cfg.Key.Public()); err != nil {
		return nil, fmt.Errorf("serve: the signing key: %w", err)
	}
	if cfg.Verify.Type != "" || cfg.Verify.ReportData != nil {
		return nil, errors.New("serve: Config.Verify.Type and ReportData come from each request; leave them empty")
	}
	if cfg.MaxBody < 0 || cfg.History < 0 || cfg.Timeout < 0 || cfg.MaxConcurrent < 0 || cfg.MaxPending < 0 {
		return nil, fmt.Errorf("serve: negative limit (max body %d, history %d, timeout %s, max concurrent %d, max pending %d)", cfg.MaxBody, cfg.History, cfg.Timeout, cfg.MaxConcurrent, cfg.MaxPending)
	}
	if cfg.MaxBody == 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.History == 0 {
		cfg.History = DefaultHistory
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxConcurrent == 0 {
		cfg.MaxConcurrent = 2 * runtime.GOMAXPROCS(0)
	}
	if cfg.MaxPending == 0 {
		cfg.MaxPending = DefaultMaxPending
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	pubPEM, err := PublicKeyPEM(cfg.Key.Public())
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	keyID, err := KeyID(cfg.Key.Public())
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	h := &Handler{
		cfg: cfg, log: cfg.Logger, pubPEM: pubPEM, keyID: keyID,
		hist: newHistory(cfg.History), slots: make(chan struct{}, cfg.MaxConcurrent),
		pending: make(chan struct{}, cfg.MaxPending),
		started: time.Now(), mux: http.NewServeMux(),
	}
	h.mux.HandleFunc("/v1/verify", h.only(h.verify, http.MethodPost))
	h.mux.HandleFunc("/v1/key", h.only(h.key, http.MethodGet, http.MethodHead))
	h.mux.HandleFunc("/healthz", h.only(h.healthz, http.MethodGet, http.MethodHead))
	h.mux.HandleFunc("/{$}", h.only(h.status, http.MethodGet, http.MethodHead))
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, fmt.Errorf("no such endpoint %q: see POST /v1/verify, GET /v1/key, GET /healthz, GET /", r.URL.Path))
	})
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	h.mux.ServeHTTP(w, r)
}

// Recent returns the kept history, newest first.
func (h *Handler) Recent() []Entry { return h.hist.recent() }

// PublicKeyPEM returns the public key of the signed results, as GET
// /v1/key serves it.
func (h *Handler) PublicKeyPEM() []byte { return append([]byte(nil), h.pubPEM...) }

// only refuses methods other than methods with 405.
func (h *Handler) only(next http.HandlerFunc, methods ...string) http.HandlerFunc {
	allow := strings.Join(methods, ", ")
	return func(w http.ResponseWriter, r *http.Request) {
		for _, m := range methods {
			if r.Method == m {
				next(w, r)
				return
			}
		}
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, fmt.Errorf("method %s is not allowed on %s: use %s", r.Method, r.URL.Path, allow))
	}
}

func (h *Handler) key(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Write(h.pubPEM)
}

func (h *Handler) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ok\n")
}

// requestError is a refusal of a request with its HTTP status.
type requestError struct {
	status int
	err    error
}

func (e *requestError) Error() string { return e.err.Error() }
func (e *requestError) Unwrap() error { return e.err }

func refuse(status int, format string, args ...any) error {
	return &requestError{status: status, err: fmt.Errorf(format, args...)}
}

// PEM content types of a certificate carrying evidence.
var pemTypes = map[string]bool{"application/x-pem-file": true, "application/pem-certificate-chain": true}

// verify is POST /v1/verify.
func (h *Handler) verify(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Vary", "Accept")
	e := Entry{Client: r.RemoteAddr}
	if e.Client == "" || e.Client == "@" {
		e.Client = "unix socket"
	}
	defer func() {
		e.Time = time.Now()
		h.hist.add(e)
		attrs := []any{"client", e.Client, "type", e.Type, "outcome", e.Outcome, "http_status", e.HTTPStatus, "signed", e.Signed}
		if e.HTTPStatus != http.StatusOK && len(e.Reasons) > 0 {
			attrs = append(attrs, "error", e.Reasons[0])
		}
		h.log.Info("verification", attrs...)
	}()
	fail := func(err error) {
		e.HTTPStatus = http.StatusInternalServerError
		var re *requestError
		switch {
		case errors.As(err, &re):
			e.HTTPStatus = re.status
		case errors.Is(err, verify.ErrUsage):
			e.HTTPStatus = http.StatusBadRequest
		case errors.Is(err, verify.ErrVerification):
			e.HTTPStatus = http.StatusUnprocessableEntity
		case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
			e.HTTPStatus = http.StatusServiceUnavailable
		}
		switch {
		case e.HTTPStatus == http.StatusUnprocessableEntity:
			e.Outcome = OutcomeFailed
		case e.HTTPStatus >= 500:
			e.Outcome = OutcomeError
		default:
			e.Outcome = OutcomeRejected
		}
		e.Reasons = []string{err.Error()}
		writeError(w, e.HTTPStatus, err)
	}

	opts, pemOnly, f, err := h.parseRequest(r)
	e.Type = opts.Type
	if err != nil {
		fail(err)
		return
	}
	select {
	case h.pending <- struct{}{}:
		defer func() { <-h.pending }()
	default:
		w.Header().Set("Retry-After", "1")
		fail(&requestError{status: http.StatusServiceUnavailable, err: fmt.Errorf("busy: %d verification requests in progress; retry later", cap(h.pending))})
		return
	}
	body, err := h.readBody(w, r)
	if err != nil {
		fail(err)
		return
	}
	if pemOnly && !strings.HasPrefix(strings.TrimSpace(string(body[:min(len(body), 64)])), "-----BEGIN ") {
		fail(refuse(http.StatusBadRequest, "the body is not PEM, but the content type says a PEM certificate: send raw evidence as application/octet-stream"))
		return
	}

	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.Timeout)
	defer cancel()
	select {
	case h.slots <- struct{}{}:
	case <-ctx.Done():
		fail(fmt.Errorf("waiting for a free verification slot (%d busy): %w", cap(h.slots), ctx.Err()))
		return
	}
	res, err := verify.Evidence(ctx, body, opts)
	<-h.slots
	if err == nil && ctx.Err() != nil {
		err = fmt.Errorf("verification did not finish within %s: %w", h.cfg.Timeout, ctx.Err())
	}
	if err != nil {
		fail(err)
		return
	}
	e.Type, e.Outcome, e.Reasons, e.PolicyID = res.Type, string(res.Appraisal.Status), res.Appraisal.Reasons, res.Appraisal.PolicyID

	var out []byte
	ct := MediaTypeJSON
	if f == formatCOSE {
		out, err = ear.Sign(res.Appraisal, h.cfg.Key)
		ct, e.Signed = MediaTypeCOSE, true
	} else {
		out, err = res.Appraisal.MarshalJSON()
	}
	if err != nil {
		fail(fmt.Errorf("encoding the result: %w", err))
		return
	}
	e.HTTPStatus = http.StatusOK
	w.Header().Set("Content-Type", ct)
	w.Write(out)
}

// parseRequest reads the query, the content type and the Accept header.
// pemOnly tells that the content type promises a PEM certificate.
func (h *Handler) parseRequest(r *http.Request) (opts verify.Options, pemOnly bool, f format, err error) {
	opts = h.cfg.Verify
	opts.Type = verify.TypeAuto
	q, err := parseQuery(r.URL.RawQuery)
	if err != nil {
		return opts, false, 0, err
	}
	for k := range q {
		if k != "type" && k != "report_data" {
			return opts, false, 0, refuse(http.StatusBadRequest, "unknown query parameter %q: want type and report_data", k)
		}
	}
	if v, ok := q["type"]; ok {
		opts.Type = v
		switch v {
		case verify.TypeAuto, verify.TypeSGX, verify.TypeTDX, verify.TypeSNP:
		default:
			return opts, false, 0, refuse(http.StatusBadRequest, "type %q: want one of %s, %s, %s, %s", v, verify.TypeSGX, verify.TypeTDX, verify.TypeSNP, verify.TypeAuto)
		}
	}
	if v, ok := q["report_data"]; ok {
		b, err := hex.DecodeString(strings.TrimPrefix(v, "0x"))
		if err != nil {
			return opts, false, 0, refuse(http.StatusBadRequest, "report_data: want hex: %w", err)
		}
		if len(b) > intel.ReportDataSize {
			return opts, false, 0, refuse(http.StatusBadRequest, "report_data is %d bytes, at most %d", len(b), intel.ReportDataSize)
		}
		opts.ReportData = b
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil {
			return opts, false, 0, refuse(http.StatusBadRequest, "Content-Type %q: %w", ct, err)
		}
		switch {
		case mt == "application/octet-stream":
		case pemTypes[mt]:
			pemOnly = true
		default:
			return opts, false, 0, refuse(http.StatusUnsupportedMediaType,
				"Content-Type %s: send raw evidence as application/octet-stream or a PEM certificate as application/x-pem-file (with curl: --data-binary @FILE -H 'Content-Type: application/octet-stream')", mt)
		}
	}
	if f, err = negotiate(strings.Join(r.Header.Values("Accept"), ",")); err != nil {
		return opts, false, 0, &requestError{status: http.StatusNotAcceptable, err: err}
	}
	return opts, pemOnly, f, nil
}

// parseQuery reads a query string, refusing a repeated parameter and
// bounding the number of parameters.
func parseQuery(raw string) (map[string]string, error) {
	q := map[string]string{}
	if raw == "" {
		return q, nil
	}
	parts := strings.Split(raw, "&")
	if len(parts) > 8 {
		return nil, refuse(http.StatusBadRequest, "%d query parameters: want at most type and report_data", len(parts))
	}
	for _, p := range parts {
		if p == "" {
			continue
		}
		k, v, _ := strings.Cut(p, "=")
		var err error
		if k, err = queryUnescape(k); err != nil {
			return nil, err
		}
		if v, err = queryUnescape(v); err != nil {
			return nil, err
		}
		if _, dup := q[k]; dup {
			return nil, refuse(http.StatusBadRequest, "query parameter %q given twice", k)
		}
		q[k] = v
	}
	return q, nil
}

// readBody reads at most MaxBody bytes of the body.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	max := h.cfg.MaxBody
	if r.ContentLength > max {
		return nil, refuse(http.StatusRequestEntityTooLarge, "the body is %d bytes, more than the %d this service accepts", r.ContentLength, max)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, refuse(http.StatusRequestEntityTooLarge, "the body is more than the %d bytes this service accepts", max)
		}
		return nil, refuse(http.StatusBadRequest, "reading the body: %w", err)
	}
	if len(body) == 0 {
		return nil, refuse(http.StatusBadRequest, "empty body: POST the evidence (a raw quote or report, or a PEM certificate)")
	}
	return body, nil
}

// writeError writes {"error": err} with status.
func writeError(w http.ResponseWriter, status int, err error) {
	b, merr := json.Marshal(struct {
		Error string `json:"error"`
	}{err.Error()})
	if merr != nil {
		b = []byte(`{"error":"encoding the error failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

// queryUnescape decodes one query component, refusing bad escapes.
func queryUnescape(s string) (string, error) {
	v, err := url.QueryUnescape(s)
	if err != nil {
		return "", refuse(http.StatusBadRequest, "the query string: %w", err)
	}
	return v, nil
}
