// Package metrics holds inclavared's Prometheus metrics, in a registry of
// their own (never the global one), and the admin HTTP handler that serves
// them with /healthz.
//
// The metrics:
//
//	inclavared_sessions_active                      gauge     sessions open now
//	inclavared_sessions_total{outcome}              counter   sessions ended, by outcome
//	inclavared_handshakes_total{peer,result}        counter   handshakes (peer: shelter, workload; result: ok, failed)
//	inclavared_handshake_seconds{peer}              histogram handshake latency, successful or not
//	inclavared_verification_failures_total{reason}  counter   workload connections refused, by reason
//	inclavared_enclave_info_requests_total{result}  counter   GETENCLAVEINFO requests (result: answered, error)
//	inclavared_forwarded_bytes_total{direction}     counter   bytes forwarded (to_workload, to_shelter)
//	inclavared_session_seconds                      histogram session duration
//
// Label values are fixed sets (the constants here, and the Reason
// constants of inclavared/api for reason), never peer input, so the
// series count is bounded.
package metrics

import (
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Peers, the values of the peer label.
const (
	PeerShelter  = "shelter"
	PeerWorkload = "workload"
)

// Session outcomes, the values of the outcome label.
const (
	// OutcomeForwarded: both channels were up and bytes were forwarded
	// until one side ended.
	OutcomeForwarded = "forwarded"
	// OutcomeShelterFailed: shelter's handshake failed, or the channel
	// to shelter broke before forwarding began.
	OutcomeShelterFailed = "shelter_failed"
	// OutcomeWorkloadFailed: the workload was unreachable or refused.
	OutcomeWorkloadFailed = "workload_failed"
	// OutcomeRejected: the session limit was reached.
	OutcomeRejected = "rejected"
)

// Metrics are inclavared's metrics.
type Metrics struct {
	reg *prometheus.Registry

	// SessionsActive is the number of open sessions.
	SessionsActive prometheus.Gauge
	// Sessions counts ended sessions by outcome.
	Sessions *prometheus.CounterVec
	// Handshakes counts handshakes by peer and result.
	Handshakes *prometheus.CounterVec
	// HandshakeSeconds observes handshake latency by peer.
	HandshakeSeconds *prometheus.HistogramVec
	// VerificationFailures counts refused workload connections by reason.
	VerificationFailures *prometheus.CounterVec
	// EnclaveInfoRequests counts GETENCLAVEINFO requests by result.
	EnclaveInfoRequests *prometheus.CounterVec
	// ForwardedBytes counts forwarded bytes by direction.
	ForwardedBytes *prometheus.CounterVec
	// SessionSeconds observes session duration.
	SessionSeconds prometheus.Histogram

	healthy atomic.Bool
}

// New returns the metrics, registered in a new private registry together
// with the Go runtime and process collectors.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		SessionsActive: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "inclavared_sessions_active", Help: "Sessions open now.",
		}),
		Sessions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "inclavared_sessions_total", Help: "Sessions ended, by outcome.",
		}, []string{"outcome"}),
		Handshakes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "inclavared_handshakes_total", Help: "Rats-TLS handshakes, by peer (shelter, workload) and result (ok, failed).",
		}, []string{"peer", "result"}),
		HandshakeSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "inclavared_handshake_seconds", Help: "Rats-TLS handshake latency (the workload's includes connecting and verifying), by peer.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"peer"}),
		VerificationFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "inclavared_verification_failures_total", Help: "Workload connections that failed, by reason.",
		}, []string{"reason"}),
		EnclaveInfoRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "inclavared_enclave_info_requests_total", Help: "GETENCLAVEINFO requests, by result (answered, error).",
		}, []string{"result"}),
		ForwardedBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "inclavared_forwarded_bytes_total", Help: "Bytes forwarded, by direction (to_workload, to_shelter).",
		}, []string{"direction"}),
		SessionSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "inclavared_session_seconds", Help: "Session duration, from accepting shelter's connection to closing both channels.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 12),
		}),
	}
	m.reg.MustRegister(m.SessionsActive, m.Sessions, m.Handshakes, m.HandshakeSeconds,
		m.VerificationFailures, m.EnclaveInfoRequests, m.ForwardedBytes, m.SessionSeconds,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, peer := range []string{PeerShelter, PeerWorkload} {
		for _, result := range []string{"ok", "failed"} {
			m.Handshakes.WithLabelValues(peer, result)
		}
	}
	return m
}

// Registry returns the private registry.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// SetHealthy sets what /healthz answers: 200 "ok" while healthy, 503
// otherwise (before serving starts and once shutdown begins).
func (m *Metrics) SetHealthy(ok bool) { m.healthy.Store(ok) }

// Handler serves /healthz and /metrics.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !m.healthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("stopping\n"))
			return
		}
		w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	return mux
}
