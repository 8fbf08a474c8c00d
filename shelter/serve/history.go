package serve

import (
	"fmt"
	"sync"
	"time"
	"unicode/utf8"
)

// Outcomes of a verification request that gave no EAR result, as the
// history and the status page name them. A request that did give a result
// is recorded with its EAR status (affirming, warning, contraindicated).
const (
	// OutcomeFailed: the evidence failed verification (HTTP 422).
	OutcomeFailed = "failed"
	// OutcomeRejected: the request itself was refused (HTTP 4xx other than
	// 422: bad query, wrong content type, too large, ...).
	OutcomeRejected = "rejected"
	// OutcomeError: the service could not finish (HTTP 5xx: timeout,
	// overload, signing failure).
	OutcomeError = "error"
)

// Bounds on what one history entry keeps, so that the history's memory is
// bounded whatever clients send.
const (
	maxReasons     = 16
	maxReasonBytes = 512
	maxFieldBytes  = 128
)

// Entry is one verification request as the status page lists it.
type Entry struct {
	// Time is when the request was answered.
	Time time.Time
	// Client is the client's address (the connection's remote address;
	// forwarding headers are not trusted).
	Client string
	// Type is the evidence type: the verified type when verification got
	// that far, else the requested type.
	Type string
	// Outcome is the EAR status, or OutcomeFailed, OutcomeRejected or
	// OutcomeError.
	Outcome string
	// HTTPStatus is the response's status code.
	HTTPStatus int
	// Reasons are the EAR reasons, or the error.
	Reasons []string
	// PolicyID is the appraisal policy of a result.
	PolicyID string
	// Signed tells that the result was returned as COSE_Sign1.
	Signed bool
}

// history keeps the last n entries in a ring, and counts every outcome
// since the start.
type history struct {
	mu     sync.Mutex
	ring   []Entry
	next   int // index of the next write
	full   bool
	counts map[string]uint64
	total  uint64
}

func newHistory(n int) *history {
	return &history{ring: make([]Entry, n), counts: map[string]uint64{}}
}

// add records e, bounding its strings.
func (h *history) add(e Entry) {
	e.Client = truncate(e.Client, maxFieldBytes)
	e.Type = truncate(e.Type, maxFieldBytes)
	e.Outcome = truncate(e.Outcome, maxFieldBytes)
	e.PolicyID = truncate(e.PolicyID, maxFieldBytes)
	reasons, dropped := e.Reasons, 0
	if len(reasons) > maxReasons {
		reasons, dropped = reasons[:maxReasons], len(reasons)-maxReasons
	}
	e.Reasons = make([]string, 0, len(reasons)+1)
	for _, r := range reasons {
		e.Reasons = append(e.Reasons, truncate(r, maxReasonBytes))
	}
	if dropped > 0 {
		e.Reasons = append(e.Reasons, fmt.Sprintf("(%d more reasons not kept)", dropped))
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.total++
	h.counts[e.Outcome]++
	if len(h.ring) == 0 {
		return
	}
	h.ring[h.next] = e
	h.next = (h.next + 1) % len(h.ring)
	if h.next == 0 {
		h.full = true
	}
}

// recent returns the kept entries, newest first.
func (h *history) recent() []Entry {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := h.next
	if h.full {
		n = len(h.ring)
	}
	out := make([]Entry, 0, n)
	for i := 1; i <= n; i++ {
		e := h.ring[(h.next-i+len(h.ring))%len(h.ring)]
		e.Reasons = append([]string(nil), e.Reasons...)
		out = append(out, e)
	}
	return out
}

// tally returns the count of each outcome since the start and the total.
func (h *history) tally() (map[string]uint64, uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := make(map[string]uint64, len(h.counts))
	for k, v := range h.counts {
		c[k] = v
	}
	return c, h.total
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	const mark = "…"
	cut := n - len(mark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + mark
}
