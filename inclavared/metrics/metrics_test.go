package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	b, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(b)
}

func TestHandler(t *testing.T) {
	m := New()
	h := m.Handler()
	if code, body := get(t, h, "/healthz"); code != http.StatusServiceUnavailable || body != "stopping\n" {
		t.Errorf("/healthz before serving: %d %q", code, body)
	}
	m.SetHealthy(true)
	if code, body := get(t, h, "/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz while serving: %d %q", code, body)
	}
	m.Sessions.WithLabelValues(OutcomeForwarded).Inc()
	m.VerificationFailures.WithLabelValues("policy").Add(2)
	m.HandshakeSeconds.WithLabelValues(PeerWorkload).Observe(0.02)
	code, body := get(t, h, "/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d", code)
	}
	for _, want := range []string{
		`inclavared_sessions_total{outcome="forwarded"} 1`,
		`inclavared_verification_failures_total{reason="policy"} 2`,
		`inclavared_handshake_seconds_count{peer="workload"} 1`,
		`inclavared_handshakes_total{peer="shelter",result="failed"} 0`,
		"inclavared_sessions_active 0",
		"go_goroutines ",
		"process_open_fds ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if code, _ := get(t, h, "/other"); code != http.StatusNotFound {
		t.Errorf("/other: %d", code)
	}
	// Each Metrics has its own registry: a second one starts from zero.
	if _, body := get(t, New().Handler(), "/metrics"); strings.Contains(body, `outcome="forwarded"} 1`) {
		t.Error("metrics shared between instances")
	}
}
