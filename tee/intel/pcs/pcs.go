// Package pcs fetches Intel collateral (TCB info, QE identity, CRLs) from
// Intel's Provisioning Certification Service, API version 4, or from a
// PCCS, which serves the same API, and keeps it in an optional on-disk
// cache until it expires.
//
// The endpoints, relative to the base URL (such as
// https://api.trustedservices.intel.com or https://pccs.example:8081), are
//
//	GET /{sgx|tdx}/certification/v4/tcb?fmspc=HEX        header TCB-Info-Issuer-Chain
//	GET /{sgx|tdx}/certification/v4/qe/identity          header SGX-Enclave-Identity-Issuer-Chain
//	GET /sgx/certification/v4/pckcrl?ca=platform|processor&encoding=der
//	                                                     header SGX-PCK-CRL-Issuer-Chain
//	GET /sgx/certification/v4/rootcacrl
//
// with the issuer chains URL-encoded PEM, as Intel documents them. The
// fetched collateral is assembled into a [intel.Collateral]; its
// signatures are not verified here but by tee/intel when a quote is
// verified with it, so a PCS is trusted for availability only.
//
// The base URL must be HTTPS; plain HTTP is allowed only to a loopback
// address (a local PCCS, or tests).
package pcs

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/inclavare/inclavare/tee/intel"
)

// Errors of the fetcher, each wrapped with the details.
var (
	// ErrFetch: a PCS request failed (network, timeout, HTTP status, a
	// body over the size cap).
	ErrFetch = errors.New("fetching Intel collateral from the PCS failed")
	// ErrMalformedResponse: a PCS response (body or issuer chain header)
	// cannot be read, or is not the collateral asked for.
	ErrMalformedResponse = errors.New("malformed PCS response")
	// ErrExpired: the collateral's nextUpdate has passed.
	ErrExpired = errors.New("Intel collateral expired")
)

// TEE names the collateral's TEE: the first element of the PCS path.
type TEE string

// The TEEs Intel's PCS serves collateral for.
const (
	TEESGX TEE = "sgx"
	TEETDX TEE = "tdx"
)

// CA names the PCK CA whose CRL is fetched.
type CA string

// The PCK CAs, as the pckcrl endpoint names them.
const (
	CAPlatform  CA = "platform"
	CAProcessor CA = "processor"
)

// Request says which collateral to fetch.
type Request struct {
	// TEE is TEESGX or TEETDX.
	TEE TEE
	// FMSPC is the platform family of the PCK certificate.
	FMSPC [6]byte
	// CA is the PCK certificate's issuer; when empty no CRLs are fetched
	// (neither the PCK CRL nor the root CA CRL).
	CA CA
}

// FMSPCHex is the FMSPC as Intel writes it: 12 uppercase hex digits.
func (r Request) FMSPCHex() string { return strings.ToUpper(hex.EncodeToString(r.FMSPC[:])) }

func (r Request) check() error {
	if r.TEE != TEESGX && r.TEE != TEETDX {
		return fmt.Errorf("pcs: TEE %q is neither %q nor %q", r.TEE, TEESGX, TEETDX)
	}
	if r.CA != "" && r.CA != CAPlatform && r.CA != CAProcessor {
		return fmt.Errorf("pcs: PCK CA %q is neither %q nor %q", r.CA, CAPlatform, CAProcessor)
	}
	return nil
}

// cacheName is the cache file of r: one per TEE and FMSPC (and PCK CA,
// since the PCK CRL differs between the two CAs).
func (r Request) cacheName() string {
	if r.CA == "" {
		return fmt.Sprintf("%s-%s.json", r.TEE, r.FMSPCHex())
	}
	return fmt.Sprintf("%s-%s-%s.json", r.TEE, r.FMSPCHex(), r.CA)
}

// ForQuote is the request for the collateral of q: its TEE, and the FMSPC
// and issuing CA of the PCK certificate in its certification data (which
// must be a PCK chain, type 5).
func ForQuote(q *intel.Quote) (Request, error) {
	r := Request{TEE: TEESGX}
	if q.IsTDX() {
		r.TEE = TEETDX
	}
	if q.CertType != intel.CertTypePCKChain {
		return Request{}, fmt.Errorf("pcs: the quote carries certification data of type %d, not a PCK chain (type %d): its FMSPC is unknown", q.CertType, intel.CertTypePCKChain)
	}
	blk, _ := pem.Decode(bytes.TrimRight(q.CertData, "\x00"))
	if blk == nil || blk.Type != "CERTIFICATE" {
		return Request{}, fmt.Errorf("pcs: the quote's PCK chain does not start with a PEM certificate")
	}
	pck, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return Request{}, fmt.Errorf("pcs: parsing the quote's PCK certificate: %w", err)
	}
	x, err := intel.ParsePCKExtensions(pck)
	if err != nil {
		return Request{}, fmt.Errorf("pcs: the quote's PCK certificate: %w", err)
	}
	r.FMSPC = x.FMSPC
	switch cn := pck.Issuer.CommonName; {
	case strings.Contains(cn, "Platform"):
		r.CA = CAPlatform
	case strings.Contains(cn, "Processor"):
		r.CA = CAProcessor
	}
	return r, nil
}

// Defaults of [Options].
const (
	DefaultTimeout         = 30 * time.Second
	DefaultMaxResponseSize = 1 << 20
)

// Options configure a [Fetcher].
type Options struct {
	// Client makes the requests; nil means a client of its own (the
	// default transport's settings, redirects only to allowed URLs).
	Client *http.Client
	// Timeout bounds each request, including reading its body; 0 means
	// DefaultTimeout.
	Timeout time.Duration
	// MaxResponseSize caps each response body; 0 means
	// DefaultMaxResponseSize.
	MaxResponseSize int64
	// CacheDir, when set, is the directory of the on-disk cache (created
	// if missing): one collateral JSON file (the layout of
	// intel.ParseCollateralJSON) per request. Without it collateral is
	// cached in memory only.
	CacheDir string
	// RefreshAfter, when not zero, refetches a cache entry older than
	// this even though it has not expired; if that fetch fails the entry
	// is used. Zero refetches only at expiry.
	RefreshAfter time.Duration
	// Now is the time expiry is judged at; nil means time.Now.
	Now func() time.Time
}

// Fetcher fetches collateral from one PCS and caches it. It is safe for
// concurrent use.
type Fetcher struct {
	base    *url.URL
	opts    Options
	client  *http.Client
	mu      sync.Mutex
	entries map[string]*entry
}

// entry is cached collateral.
type entry struct {
	c       *intel.Collateral
	expires time.Time // the soonest nextUpdate
	fetched time.Time
}

// New returns a fetcher of the PCS at baseURL (scheme, host and an
// optional path prefix, without the /sgx/certification/v4 part).
func New(baseURL string, opts Options) (*Fetcher, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("pcs: base URL %q: %w", baseURL, err)
	}
	if err := allowedURL(u); err != nil {
		return nil, fmt.Errorf("pcs: base URL %q: %w", baseURL, err)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("pcs: base URL %q has a query or fragment", baseURL)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.MaxResponseSize <= 0 {
		opts.MaxResponseSize = DefaultMaxResponseSize
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	client := opts.Client
	if client == nil {
		client = &http.Client{
			Timeout: opts.Timeout,
			CheckRedirect: func(req *http.Request, via []*http.Request) error {
				if len(via) >= 5 {
					return errors.New("more than 5 redirects")
				}
				return allowedURL(req.URL)
			},
		}
	}
	if opts.CacheDir != "" {
		if err := os.MkdirAll(opts.CacheDir, 0o700); err != nil {
			return nil, fmt.Errorf("pcs: cache directory: %w", err)
		}
	}
	return &Fetcher{base: u, opts: opts, client: client, entries: map[string]*entry{}}, nil
}

// allowedURL accepts https URLs, and http ones to a loopback address.
func allowedURL(u *url.URL) error {
	switch u.Scheme {
	case "https":
	case "http":
		host := u.Hostname()
		ip := net.ParseIP(host)
		if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return fmt.Errorf("plain http is allowed only to a loopback address, not %q: use https", host)
		}
	default:
		return fmt.Errorf("scheme %q: want https", u.Scheme)
	}
	if u.Host == "" {
		return errors.New("no host")
	}
	return nil
}

// Collateral returns the collateral of r: the cached entry while it has not
// expired (nor, with RefreshAfter, grown older than that), else freshly
// fetched collateral, which is then cached. When a refresh of an entry
// that has not expired fails, the entry is returned; an expired entry is
// never returned.
func (f *Fetcher) Collateral(ctx context.Context, r Request) (*intel.Collateral, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	now := f.opts.Now()
	e := f.cached(r, now)
	if e != nil && (f.opts.RefreshAfter <= 0 || now.Sub(e.fetched) < f.opts.RefreshAfter) {
		return e.c, nil
	}
	fresh, err := f.fetchEntry(ctx, r)
	if err != nil {
		if e != nil {
			return e.c, nil // still valid: a PCS outage does not stop verification
		}
		return nil, err
	}
	if !now.Before(fresh.expires) {
		return nil, fmt.Errorf("%w: the PCS served %s collateral for FMSPC %s whose nextUpdate %s has passed", ErrExpired, r.TEE, r.FMSPCHex(), fresh.expires.UTC().Format(time.RFC3339))
	}
	f.store(r, fresh)
	return fresh.c, nil
}

// cached is the entry of r valid at now, from memory or the cache
// directory, or nil.
func (f *Fetcher) cached(r Request, now time.Time) *entry {
	key := r.cacheName()
	f.mu.Lock()
	e := f.entries[key]
	f.mu.Unlock()
	if e == nil && f.opts.CacheDir != "" {
		var err error
		if e, err = f.readFile(r); err != nil {
			e = nil // a missing, unreadable or foreign file is refetched and replaced
		}
	}
	if e == nil || !now.Before(e.expires) {
		return nil
	}
	f.mu.Lock()
	f.entries[key] = e
	f.mu.Unlock()
	return e
}

// readFile reads r's cache file.
func (f *Fetcher) readFile(r Request) (*entry, error) {
	p := filepath.Join(f.opts.CacheDir, r.cacheName())
	fi, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if fi.Size() > intel.MaxCollateralSize {
		return nil, fmt.Errorf("pcs: cache file %s is %d bytes", p, fi.Size())
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	c, err := intel.ParseCollateralJSON(b)
	if err != nil {
		return nil, fmt.Errorf("pcs: cache file %s: %w", p, err)
	}
	e, err := newEntry(r, c, fi.ModTime())
	if err != nil {
		return nil, fmt.Errorf("pcs: cache file %s: %w", p, err)
	}
	return e, nil
}

// store caches e as r's entry, in memory and in the cache directory. A
// failure to write the file is not an error: the entry is then only in
// memory.
func (f *Fetcher) store(r Request, e *entry) {
	f.mu.Lock()
	f.entries[r.cacheName()] = e
	f.mu.Unlock()
	if f.opts.CacheDir == "" {
		return
	}
	b, err := e.c.MarshalJSON()
	if err != nil {
		return
	}
	tmp, err := os.CreateTemp(f.opts.CacheDir, ".tmp-"+r.cacheName()+"-*")
	if err != nil {
		return
	}
	_, werr := tmp.Write(b)
	cerr := tmp.Close()
	if werr != nil || cerr != nil || os.Rename(tmp.Name(), filepath.Join(f.opts.CacheDir, r.cacheName())) != nil {
		os.Remove(tmp.Name())
	}
}

// Fetch fetches the collateral of r from the PCS, bypassing the cache.
func (f *Fetcher) Fetch(ctx context.Context, r Request) (*intel.Collateral, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	e, err := f.fetchEntry(ctx, r)
	if err != nil {
		return nil, err
	}
	return e.c, nil
}

// fetchEntry fetches r's collateral and checks it is r's.
func (f *Fetcher) fetchEntry(ctx context.Context, r Request) (*entry, error) {
	fetched := f.opts.Now()
	tcbBody, tcbChain, err := f.get(ctx, string(r.TEE)+"/certification/v4/tcb", url.Values{"fmspc": {r.FMSPCHex()}}, "TCB-Info-Issuer-Chain", "SGX-TCB-Info-Issuer-Chain")
	if err != nil {
		return nil, err
	}
	qeBody, qeChain, err := f.get(ctx, string(r.TEE)+"/certification/v4/qe/identity", nil, "SGX-Enclave-Identity-Issuer-Chain")
	if err != nil {
		return nil, err
	}
	c := &intel.Collateral{TCBInfoIssuerChain: tcbChain, QEIdentityIssuerChain: qeChain}
	if c.TCBInfo, c.TCBInfoSignature, err = intel.SplitPCSResponse(tcbBody, "tcbInfo"); err != nil {
		return nil, fmt.Errorf("%w: TCB info: %w", ErrMalformedResponse, err)
	}
	if c.QEIdentity, c.QEIdentitySignature, err = intel.SplitPCSResponse(qeBody, "enclaveIdentity"); err != nil {
		return nil, fmt.Errorf("%w: QE identity: %w", ErrMalformedResponse, err)
	}
	if r.CA != "" {
		crl, chain, err := f.get(ctx, "sgx/certification/v4/pckcrl", url.Values{"ca": {string(r.CA)}, "encoding": {"der"}}, "SGX-PCK-CRL-Issuer-Chain")
		if err != nil {
			return nil, err
		}
		if c.PCKCRL, err = crlDER("PCK CRL", crl); err != nil {
			return nil, err
		}
		c.PCKCRLIssuerChain = chain
		root, _, err := f.get(ctx, "sgx/certification/v4/rootcacrl", nil)
		if err != nil {
			return nil, err
		}
		if c.RootCACRL, err = crlDER("root CA CRL", root); err != nil {
			return nil, err
		}
	}
	// Round trip through the JSON layout: what is cached is what is
	// returned, and ParseCollateralJSON checks every field is there.
	b, err := c.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedResponse, err)
	}
	if c, err = intel.ParseCollateralJSON(b); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedResponse, err)
	}
	e, err := newEntry(r, c, fetched)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformedResponse, err)
	}
	return e, nil
}

// newEntry checks c is the collateral r asks for and computes its expiry:
// the soonest nextUpdate of the TCB info, the QE identity and the CRLs.
func newEntry(r Request, c *intel.Collateral, fetched time.Time) (*entry, error) {
	t, err := intel.ParseTCBInfo(c.TCBInfo)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(t.FMSPC, r.FMSPC[:]) {
		return nil, fmt.Errorf("the TCB info is for FMSPC %X, not %s", []byte(t.FMSPC), r.FMSPCHex())
	}
	if t.ID != "" && !strings.EqualFold(t.ID, string(r.TEE)) {
		return nil, fmt.Errorf("the TCB info is for %q, not %q", t.ID, r.TEE)
	}
	q, err := intel.ParseQEIdentity(c.QEIdentity)
	if err != nil {
		return nil, err
	}
	wantQE := "QE"
	if r.TEE == TEETDX {
		wantQE = "TD_QE"
	}
	if q.ID != wantQE {
		return nil, fmt.Errorf("the QE identity is of %q, want %q", q.ID, wantQE)
	}
	exp := t.NextUpdate
	if q.NextUpdate.Before(exp) {
		exp = q.NextUpdate
	}
	if r.CA != "" && (len(c.PCKCRL) == 0 || len(c.RootCACRL) == 0) {
		return nil, errors.New("the CRLs are missing")
	}
	for _, d := range [][]byte{c.PCKCRL, c.RootCACRL} {
		if len(d) == 0 {
			continue
		}
		crl, err := x509.ParseRevocationList(d)
		if err != nil {
			return nil, fmt.Errorf("parsing a CRL: %w", err)
		}
		if !crl.NextUpdate.IsZero() && crl.NextUpdate.Before(exp) {
			exp = crl.NextUpdate
		}
	}
	return &entry{c: c, expires: exp, fetched: fetched}, nil
}

// get fetches base/path?query and returns its body and the PEM of the first
// of the chainHeaders present (each tried in order; with none given, no
// chain is read).
func (f *Fetcher) get(ctx context.Context, path string, query url.Values, chainHeaders ...string) (body, chain []byte, err error) {
	u := *f.base
	u.Path = strings.TrimRight(u.Path, "/") + "/" + path
	u.RawPath = ""
	u.RawQuery = query.Encode()
	what := u.Redacted()
	ctx, cancel := context.WithTimeout(ctx, f.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", ErrFetch, what, err)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %w", ErrFetch, what, err)
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, f.opts.MaxResponseSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: reading the body: %w", ErrFetch, what, err)
	}
	if resp.StatusCode != http.StatusOK {
		msg := fmt.Sprintf("%s: HTTP %s", what, resp.Status)
		if id := resp.Header.Get("Request-ID"); id != "" {
			msg += ", Request-ID " + id
		}
		if e := resp.Header.Get("Error-Message"); e != "" {
			msg += ": " + e
		}
		return nil, nil, fmt.Errorf("%w: %s", ErrFetch, msg)
	}
	if int64(len(body)) > f.opts.MaxResponseSize {
		return nil, nil, fmt.Errorf("%w: %s: the body is over the cap of %d bytes", ErrFetch, what, f.opts.MaxResponseSize)
	}
	if len(chainHeaders) == 0 {
		return body, nil, nil
	}
	for _, h := range chainHeaders {
		if v := resp.Header.Get(h); v != "" {
			chain, err := issuerChain(h, v)
			if err != nil {
				return nil, nil, fmt.Errorf("%w: %s: %w", ErrMalformedResponse, what, err)
			}
			return body, chain, nil
		}
	}
	return nil, nil, fmt.Errorf("%w: %s: no %s header", ErrMalformedResponse, what, chainHeaders[0])
}

// issuerChain decodes an issuer chain header: URL-encoded PEM of one or
// more certificates, and nothing else. Intel percent-encodes every
// character outside the unreserved set (spaces as %20, '+' as %2B), so a
// literal '+' can only be a form-encoded space and is read as one.
func issuerChain(name, v string) ([]byte, error) {
	s, err := url.QueryUnescape(v)
	if err != nil {
		return nil, fmt.Errorf("the %s header is not URL-encoded: %w", name, err)
	}
	rest := []byte(s)
	n := 0
	for {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("the %s header holds a PEM %q block, want CERTIFICATE", name, blk.Type)
		}
		if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
			return nil, fmt.Errorf("the %s header: certificate %d: %w", name, n+1, err)
		}
		n++
	}
	if n == 0 || len(bytes.TrimSpace(rest)) > 0 {
		return nil, fmt.Errorf("the %s header is not a PEM certificate chain", name)
	}
	return []byte(s), nil
}

// crlDER returns the DER of a CRL response: DER, PEM ("X509 CRL"), or the
// hex of the DER (as some PCCS versions serve it).
func crlDER(what string, b []byte) ([]byte, error) {
	t := bytes.TrimSpace(bytes.TrimRight(b, "\x00"))
	var der []byte
	switch {
	case len(t) > 0 && t[0] == 0x30:
		der = t
	case bytes.HasPrefix(t, []byte("-----BEGIN")):
		blk, rest := pem.Decode(t)
		if blk == nil || blk.Type != "X509 CRL" || len(bytes.TrimSpace(rest)) > 0 {
			return nil, fmt.Errorf("%w: the %s is PEM but not one X509 CRL block", ErrMalformedResponse, what)
		}
		der = blk.Bytes
	default:
		d, err := hex.DecodeString(string(t))
		if err != nil {
			return nil, fmt.Errorf("%w: the %s is neither DER, PEM nor hex: %w", ErrMalformedResponse, what, err)
		}
		der = d
	}
	if _, err := x509.ParseRevocationList(der); err != nil {
		return nil, fmt.Errorf("%w: the %s: %w", ErrMalformedResponse, what, err)
	}
	return der, nil
}
