// Package server is inclavared's sessions: for each shelter connection, an
// attested channel to shelter (inclavared is the Rats-TLS server and
// attests itself), a second attested channel to the workload (inclavared
// is the client and verifies the workload's evidence, failing closed),
// then the bytes forwarded both ways.
//
// The workload is dialled afresh for every session, after shelter's
// handshake, so that a GETENCLAVEINFO answer (see inclavared/api) always
// describes a verification made for that session. Shelter's first bytes
// are compared with api.GetEnclaveInfoLine as they arrive: the request is
// answered with the workload's identity (or an api.MsgError line when the
// workload is unreachable or refused); anything else is forwarded. When
// the workload fails and shelter did not ask, the channel is closed.
//
// Forwarding half-closes: the end of one direction (a TLS close_notify,
// or the end of the stream) is passed on as a close_notify, and the other
// direction goes on until it ends too; an error in either closes both
// channels. Shutdown stops accepting, lets sessions finish for a grace
// period, then closes them.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/ratstls"
	"github.com/inclavare/inclavare/inclavared/address"
	"github.com/inclavare/inclavare/inclavared/api"
	"github.com/inclavare/inclavare/inclavared/metrics"
	"github.com/inclavare/inclavare/tlswrappers/nulltls"
)

// Options configure a Server.
type Options struct {
	// Shelter is the Rats-TLS configuration of the channel to shelter,
	// where inclavared is the server and attests itself. Its Mutual is
	// ignored (off): shelter is not required to attest.
	Shelter *ratstls.Config
	// Workload is the Rats-TLS configuration of the channel to the
	// workload, where inclavared is the client and verifies the
	// workload's evidence (and attests itself if Mutual). Its VerifyPeer,
	// the appraisal policy, is wrapped so that its refusals are counted
	// apart. Its Verifier must not be the null verifier.
	Workload *ratstls.Config
	// Xfer is the workload's address.
	Xfer address.Address
	// UpstreamTimeout bounds connecting to and attesting the workload
	// (it is also the Workload configuration's HandshakeTimeout).
	UpstreamTimeout time.Duration
	// RequestWait is how long shelter's first bytes are waited for before
	// the workload's are forwarded.
	RequestWait time.Duration
	// MaxSessions caps concurrent sessions (0: no cap).
	MaxSessions int
	// Metrics receive the counts; nil makes a private set.
	Metrics *metrics.Metrics
	// Logger receives the logs (default slog.Default()).
	Logger *slog.Logger
}

// Server runs inclavared's sessions.
type Server struct {
	opts Options
	log  *slog.Logger
	m    *metrics.Metrics

	// hard is cancelled to close every session at once.
	hard       context.Context
	cancelHard context.CancelFunc
	ids        atomic.Uint64

	mu        sync.Mutex
	closing   bool
	listeners map[net.Listener]struct{}
	active    int
	wg        sync.WaitGroup
}

// New checks the options and returns a Server. It takes ownership of the
// two configurations (they must not be used yet), not of their instances:
// the caller closes them after the Server is shut down.
func New(o Options) (*Server, error) {
	if o.Shelter == nil || o.Workload == nil {
		return nil, errors.New("inclavared server: both the shelter and the workload Rats-TLS configurations are needed")
	}
	if o.Workload.Verifier == instance.NullVerifierName {
		return nil, fmt.Errorf("verifier %q would accept a workload without evidence; inclavared must verify the workload, so name a real verifier or none (chosen by evidence type)", instance.NullVerifierName)
	}
	for _, c := range []*ratstls.Config{o.Shelter, o.Workload} {
		if c.TLS == nulltls.Name {
			return nil, fmt.Errorf("TLS wrapper %q carries bytes unprotected; inclavared speaks only TLS 1.3, so use gotls (the default)", nulltls.Name)
		}
	}
	if o.Xfer.Network == "" {
		return nil, errors.New("inclavared server: the workload address (xfer) is needed")
	}
	if o.UpstreamTimeout <= 0 || o.RequestWait <= 0 {
		return nil, fmt.Errorf("inclavared server: the upstream timeout (%s) and the request wait (%s) must be positive", o.UpstreamTimeout, o.RequestWait)
	}
	o.Workload.HandshakeTimeout = o.UpstreamTimeout
	o.Shelter.Mutual = false
	o.Shelter.VerifyPeer = nil
	if f := o.Workload.VerifyPeer; f != nil {
		o.Workload.VerifyPeer = func(ctx context.Context, p *ratstls.Peer) error {
			if err := f(ctx, p); err != nil {
				return &PolicyError{err}
			}
			return nil
		}
	}
	if o.Metrics == nil {
		o.Metrics = metrics.New()
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	hard, cancel := context.WithCancel(context.Background())
	return &Server{opts: o, log: log, m: o.Metrics, hard: hard, cancelHard: cancel, listeners: map[net.Listener]struct{}{}}, nil
}

// ErrClosed is returned by Serve on a Server that is shut down.
var ErrClosed = errors.New("inclavared server is shut down")

// Serve accepts shelter connections on l and runs a session for each,
// until Shutdown or Close (then it returns nil) or until ctx ends (then
// every session is closed at once, as by Close). It closes l.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		l.Close()
		return ErrClosed
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
		l.Close()
	}()
	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer stop()
	backoff := 5 * time.Millisecond
	for {
		raw, err := l.Accept()
		if err != nil {
			if s.isClosing() {
				return nil
			}
			if errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) || errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.ENOBUFS) {
				s.log.Warn("accepting shelter connections", "err", err, "retry_in", backoff)
				time.Sleep(backoff)
				backoff = min(2*backoff, time.Second)
				continue
			}
			return fmt.Errorf("accepting shelter connections on %s: %w", l.Addr(), err)
		}
		backoff = 5 * time.Millisecond
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			raw.Close()
			return nil
		}
		if s.opts.MaxSessions > 0 && s.active >= s.opts.MaxSessions {
			s.mu.Unlock()
			raw.Close()
			s.m.Sessions.WithLabelValues(metrics.OutcomeRejected).Inc()
			s.log.Warn("shelter connection refused: session limit reached", "max_sessions", s.opts.MaxSessions)
			continue
		}
		s.active++
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer func() {
				s.mu.Lock()
				s.active--
				s.mu.Unlock()
				s.wg.Done()
			}()
			s.session(s.hard, raw)
		}()
	}
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// stopAccepting marks the server closing and closes its listeners.
func (s *Server) stopAccepting() {
	s.mu.Lock()
	s.closing = true
	ls := make([]net.Listener, 0, len(s.listeners))
	for l := range s.listeners {
		ls = append(ls, l)
	}
	s.mu.Unlock()
	for _, l := range ls {
		l.Close()
	}
}

// Shutdown stops accepting, waits for open sessions to end until ctx ends
// (the grace period), then closes those still open and waits for them. It
// returns the number of sessions it had to close, and then an error
// wrapping ctx's.
func (s *Server) Shutdown(ctx context.Context) (closed int, err error) {
	s.stopAccepting()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return 0, nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	closed = s.active
	s.mu.Unlock()
	s.cancelHard()
	<-done
	return closed, fmt.Errorf("%d sessions still open at the end of the grace period were closed: %w", closed, context.Cause(ctx))
}

// Close stops accepting, closes every session and waits for them.
func (s *Server) Close() error {
	s.stopAccepting()
	s.cancelHard()
	s.wg.Wait()
	return nil
}

// Active returns the number of open sessions.
func (s *Server) Active() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active
}

// handshake records a handshake's result and latency.
func (s *Server) handshake(peer string, start time.Time, err error) {
	s.m.HandshakeSeconds.WithLabelValues(peer).Observe(time.Since(start).Seconds())
	result := "ok"
	if err != nil {
		result = "failed"
	}
	s.m.Handshakes.WithLabelValues(peer, result).Inc()
}

// session serves one shelter connection, raw, until both channels are
// closed. Cancelling ctx closes them.
func (s *Server) session(ctx context.Context, raw net.Conn) {
	start := time.Now()
	outcome := metrics.OutcomeForwarded
	s.m.SessionsActive.Inc()
	defer func() {
		s.m.SessionsActive.Dec()
		s.m.Sessions.WithLabelValues(outcome).Inc()
		s.m.SessionSeconds.Observe(time.Since(start).Seconds())
	}()
	log := s.log.With("session", s.ids.Add(1), "shelter", raw.RemoteAddr().String())
	sh := ratstls.Server(raw, s.opts.Shelter)
	defer sh.Close()
	stop := context.AfterFunc(ctx, func() { sh.Close() })
	defer stop()

	t := time.Now()
	err := sh.HandshakeContext(ctx)
	if err == nil {
		if v := sh.Session().Version(); v != tls13 {
			err = fmt.Errorf("the channel to shelter is %s; inclavared speaks only TLS 1.3 (do not use the nulltls wrapper)", v)
		}
	}
	s.handshake(metrics.PeerShelter, t, err)
	if err != nil {
		outcome = metrics.OutcomeShelterFailed
		log.Warn("shelter handshake failed", "err", err)
		return
	}
	log.Debug("shelter connected", "freshness", sh.Freshness())

	// Shelter's request first: a nonce in it is the one the workload's
	// evidence must carry.
	req, rest, err := readRequest(sh, s.opts.RequestWait)
	isReq := req.size > 0
	if err != nil {
		outcome = metrics.OutcomeShelterFailed
		log.Info("reading shelter's first bytes", "err", err)
		return
	}
	wl, info, werr := s.connectWorkload(ctx, req.nonce)
	if wl != nil {
		defer wl.Close()
		stop := context.AfterFunc(ctx, func() { wl.Close() })
		defer stop()
	}
	if werr != nil {
		outcome = metrics.OutcomeWorkloadFailed
		log.Warn("workload failed", "xfer", s.opts.Xfer.String(), "reason", reason(werr), "err", werr, "shelter_asked", isReq)
		if isReq {
			s.m.EnclaveInfoRequests.WithLabelValues("error").Inc()
			if err := s.answer(sh, errorInfo(werr)); err != nil {
				log.Debug("answering shelter", "err", err)
			}
			closeWrite(sh)
		}
		return
	}
	if isReq {
		s.m.EnclaveInfoRequests.WithLabelValues("answered").Inc()
		if err := s.answer(sh, info); err != nil {
			outcome = metrics.OutcomeShelterFailed
			log.Info("answering shelter's GETENCLAVEINFO", "err", err)
			return
		}
	}
	log.Info("session forwarding", "workload", info.ID, "evidence", info.EvidenceType, "freshness", info.Freshness, "enclave_info", isReq)
	toWorkload, toShelter := s.forward(sh, wl, rest)
	log.Debug("session ended", "to_workload", toWorkload, "to_shelter", toShelter, "seconds", time.Since(start).Seconds())
}

// connectWorkload connects to the workload and attests it, within the
// upstream timeout. A failure is a *WorkloadError, counted by reason.
//
// With nonce (shelter's), the workload is attested in nonce mode with it.
func (s *Server) connectWorkload(ctx context.Context, nonce *[api.NonceSize]byte) (*ratstls.Conn, *api.EnclaveInfo, error) {
	start := time.Now()
	dctx, cancel := context.WithTimeout(ctx, s.opts.UpstreamTimeout)
	defer cancel()
	var wl *ratstls.Conn
	raw, err := address.Dial(dctx, s.opts.Xfer)
	if err == nil {
		wl = ratstls.Client(raw, s.opts.Workload)
		if nonce != nil {
			err = wl.UseNonce(nonce[:])
		}
		if err == nil {
			err = wl.HandshakeContext(dctx)
		}
	}
	var info *api.EnclaveInfo
	if err == nil {
		info, err = Identity(wl)
	}
	s.handshake(metrics.PeerWorkload, start, err)
	if err == nil {
		return wl, info, nil
	}
	if wl != nil {
		wl.Close()
	}
	r := reason(err)
	switch {
	case ctx.Err() != nil:
		r = api.ReasonShutdown
	case expired(dctx) && r != api.ReasonPolicy && r != api.ReasonRefused:
		r = api.ReasonTimeout
		err = fmt.Errorf("no answer within %s: %w", s.opts.UpstreamTimeout, err)
	}
	s.m.VerificationFailures.WithLabelValues(r).Inc()
	return nil, nil, &WorkloadError{Reason: r, Err: fmt.Errorf("workload at %s: %w", s.opts.Xfer, err)}
}

// expired tells whether ctx's deadline has passed, even if its timer has
// not fired yet (a socket deadline at the same instant may fire first).
func expired(ctx context.Context) bool {
	dl, ok := ctx.Deadline()
	return ctx.Err() != nil || (ok && !time.Now().Before(dl))
}

// answer writes info as one line of JSON to shelter.
func (s *Server) answer(sh *ratstls.Conn, info *api.EnclaveInfo) error {
	b, err := json.Marshal(info)
	if err != nil {
		return fmt.Errorf("encoding the enclave info: %w", err)
	}
	sh.SetWriteDeadline(time.Now().Add(s.opts.UpstreamTimeout))
	defer sh.SetWriteDeadline(time.Time{})
	if _, err := sh.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("writing the enclave info to shelter: %w", err)
	}
	return nil
}

// forward copies bytes both ways, first to the workload pending, until
// both directions have ended, and closes both channels. It returns the
// bytes sent each way.
func (s *Server) forward(sh, wl *ratstls.Conn, pending []byte) (toWorkload, toShelter int64) {
	closeBoth := sync.OnceFunc(func() {
		sh.Close()
		wl.Close()
	})
	defer closeBoth()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		toWorkload = pipe(wl, sh, pending, s.m.ForwardedBytes.WithLabelValues("to_workload"), closeBoth)
	}()
	go func() {
		defer wg.Done()
		toShelter = pipe(sh, wl, nil, s.m.ForwardedBytes.WithLabelValues("to_shelter"), closeBoth)
	}()
	wg.Wait()
	return toWorkload, toShelter
}

// counter is what pipe counts bytes into.
type counter interface{ Add(float64) }

// countingWriter counts what it writes.
type countingWriter struct {
	w io.Writer
	c counter
	n int64
}

func (cw *countingWriter) Write(b []byte) (int, error) {
	n, err := cw.w.Write(b)
	cw.n += int64(n)
	cw.c.Add(float64(n))
	return n, err
}

// pipe writes first then copies src to dst. At the end of src it
// half-closes dst; on an error it closes both channels.
func pipe(dst, src *ratstls.Conn, first []byte, c counter, closeBoth func()) int64 {
	cw := &countingWriter{w: dst, c: c}
	if len(first) > 0 {
		if _, err := cw.Write(first); err != nil {
			closeBoth()
			return cw.n
		}
	}
	if _, err := io.Copy(cw, src); err != nil {
		closeBoth()
		return cw.n
	}
	if err := closeWrite(dst); err != nil {
		closeBoth()
	}
	return cw.n
}

// closeWrite half-closes c: a TLS close_notify, after which the peer reads
// the end of the stream and may still send.
func closeWrite(c *ratstls.Conn) error {
	if cw, ok := c.Session().(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Close()
}
