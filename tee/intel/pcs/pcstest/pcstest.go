// Package pcstest serves Intel collateral as Intel's PCS (API version 4)
// does, from an httptest server on loopback, for tests of tee/intel/pcs
// and of the verifiers that use it. It makes no network requests.
package pcstest

import (
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/inclavare/inclavare/tee/intel"
)

// Server is a fake PCS serving one collateral for one TEE.
type Server struct {
	*httptest.Server
	// TEE is "sgx" or "tdx": the path of the TCB info and QE identity.
	TEE string

	mu         sync.Mutex
	c          *intel.Collateral
	hits       map[string]int
	status     int
	hook       func(w http.ResponseWriter, r *http.Request) bool
	rootCRLHex bool
	headers    map[string]string
}

// NewServer starts a fake PCS of tee ("sgx" or "tdx") serving c, and stops
// it when the test ends.
func NewServer(tb testing.TB, tee string, c *intel.Collateral) *Server {
	s := &Server{TEE: tee, c: c, hits: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	tb.Cleanup(s.Close)
	return s
}

// SetStatus makes every later response have the HTTP status code (with an
// empty body); 0 serves the collateral again.
func (s *Server) SetStatus(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = code
}

// SetHook runs h before each response; when it returns true it has
// answered the request itself. Nil removes the hook.
func (s *Server) SetHook(h func(w http.ResponseWriter, r *http.Request) bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hook = h
}

// SetHeader makes every later response carry header name with value (the
// raw header value, not URL-encoded), or, when value is empty, lack it.
func (s *Server) SetHeader(name, value string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.headers == nil {
		s.headers = map[string]string{}
	}
	s.headers[name] = value
}

// SetRootCRLHex serves the root CA CRL as hex text, as some PCCS versions
// do, instead of DER.
func (s *Server) SetRootCRLHex(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rootCRLHex = on
}

// Hits is how many requests reached path (all of them, served or not).
func (s *Server) Hits(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

// Total is how many requests reached the server.
func (s *Server) Total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, h := range s.hits {
		n += h
	}
	return n
}

// pcsBody is a PCS response body: {"<key>": body, "signature": "hex"}.
func pcsBody(key string, body, sig []byte) []byte {
	return []byte(fmt.Sprintf(`{"%s":%s,"signature":"%s"}`, key, body, hex.EncodeToString(sig)))
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.hits[r.URL.Path]++
	status, hook, c, rootHex := s.status, s.hook, s.c, s.rootCRLHex
	headers := make(map[string]string, len(s.headers))
	for k, v := range s.headers {
		headers[k] = v
	}
	s.mu.Unlock()
	if hook != nil && hook(w, r) {
		return
	}
	if status != 0 {
		w.Header().Set("Error-Message", "fake PCS failure")
		w.WriteHeader(status)
		return
	}
	chain := func(h string, pem []byte) {
		// Percent-encoded as Intel does it: spaces as %20.
		w.Header().Set(h, strings.ReplaceAll(url.QueryEscape(string(pem)), "+", "%20"))
		for k, v := range headers {
			if v == "" {
				w.Header().Del(k)
			} else {
				w.Header().Set(k, v)
			}
		}
	}
	q := r.URL.Query()
	switch r.URL.Path {
	case "/" + s.TEE + "/certification/v4/tcb":
		if q.Get("fmspc") == "" {
			http.Error(w, "no fmspc", http.StatusBadRequest)
			return
		}
		chain("TCB-Info-Issuer-Chain", c.TCBInfoIssuerChain)
		w.Write(pcsBody("tcbInfo", c.TCBInfo, c.TCBInfoSignature))
	case "/" + s.TEE + "/certification/v4/qe/identity":
		chain("SGX-Enclave-Identity-Issuer-Chain", c.QEIdentityIssuerChain)
		w.Write(pcsBody("enclaveIdentity", c.QEIdentity, c.QEIdentitySignature))
	case "/sgx/certification/v4/pckcrl":
		if len(c.PCKCRL) == 0 || q.Get("encoding") != "der" || (q.Get("ca") != "platform" && q.Get("ca") != "processor") {
			http.NotFound(w, r)
			return
		}
		chain("SGX-PCK-CRL-Issuer-Chain", c.PCKCRLIssuerChain)
		w.Write(c.PCKCRL)
	case "/sgx/certification/v4/rootcacrl":
		if len(c.RootCACRL) == 0 {
			http.NotFound(w, r)
			return
		}
		if rootHex {
			w.Write([]byte(hex.EncodeToString(c.RootCACRL)))
			return
		}
		w.Write(c.RootCACRL)
	default:
		http.NotFound(w, r)
	}
}
