package server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	_ "github.com/inclavare/inclavare/framework/builtins"
	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/ratstls"
	"github.com/inclavare/inclavare/inclavared/address"
	"github.com/inclavare/inclavare/inclavared/api"
	"github.com/inclavare/inclavare/inclavared/metrics"
	snp "github.com/inclavare/inclavare/tee/sevsnp"
)

var quiet = slog.New(slog.DiscardHandler)

// waitFor bounds every wait, so that a bug fails a test rather than hangs it.
const waitFor = 10 * time.Second

// workload is an in-process Rats-TLS workload attesting with sev_snp_sim:
// each connection is handed to handle after its handshake.
func workload(t testing.TB, network, addr string, handle func(net.Conn)) address.Address {
	t.Helper()
	return workloadWith(t, &ratstls.Config{Attester: "sev_snp_sim", Logger: quiet}, network, addr, handle)
}

// workloadWith is workload with the configuration cfg.
func workloadWith(t testing.TB, cfg *ratstls.Config, network, addr string, handle func(net.Conn)) address.Address {
	t.Helper()
	l, err := ratstls.Listen(context.Background(), network, addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				if err := c.(*ratstls.Conn).HandshakeContext(context.Background()); err != nil {
					return
				}
				handle(c)
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
		cfg.Close()
	})
	return address.Address{Network: network, Addr: l.Addr().String()}
}

// echo echoes until the end of the stream, then closes.
func echo(c net.Conn) { io.Copy(c, c) }

// started is a Server serving on loopback.
type started struct {
	*Server
	addr address.Address
	m    *metrics.Metrics
}

// start runs a Server forwarding to xfer; edit adjusts its options.
func start(t testing.TB, xfer address.Address, edit func(*Options)) *started {
	t.Helper()
	o := Options{
		Shelter:         &ratstls.Config{Attester: "nullattester", Logger: quiet},
		Workload:        &ratstls.Config{AllowSimulated: true, Logger: quiet},
		Xfer:            xfer,
		UpstreamTimeout: 5 * time.Second,
		RequestWait:     2 * time.Second,
		Metrics:         metrics.New(),
		Logger:          quiet,
	}
	if edit != nil {
		edit(&o)
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	listen := address.Address{Network: "tcp", Addr: "127.0.0.1:0"}
	if o.Xfer.Network == address.Unix {
		listen = address.Address{Network: address.Unix, Addr: filepath.Join(sockDir(t), "inclavared.sock")}
	}
	l, err := address.Listen(context.Background(), listen)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(context.Background(), l) }()
	t.Cleanup(func() {
		s.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		o.Shelter.Close()
		o.Workload.Close()
	})
	return &started{Server: s, addr: address.Address{Network: listen.Network, Addr: l.Addr().String()}, m: o.Metrics}
}

// shelter connects to s as shelter does: verifying inclavared (here, a
// null attester).
func (s *started) shelter(t *testing.T) *ratstls.Conn {
	t.Helper()
	c, err := s.dial(t)
	if err != nil {
		t.Fatalf("shelter handshake: %v", err)
	}
	return c
}

func (s *started) dial(t *testing.T) (*ratstls.Conn, error) {
	t.Helper()
	cfg := &ratstls.Config{Verifier: instance.NullVerifierName, Logger: quiet}
	t.Cleanup(func() { cfg.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	c, err := ratstls.Dial(ctx, s.addr.Network, s.addr.Addr, cfg)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(waitFor))
	t.Cleanup(func() { c.Close() })
	return c, nil
}

// askInfo sends GETENCLAVEINFO and reads the answer.
func askInfo(t *testing.T, c *ratstls.Conn) (*api.EnclaveInfo, *bufio.Reader) {
	t.Helper()
	if _, err := io.WriteString(c, api.GetEnclaveInfoLine); err != nil {
		t.Fatalf("sending GETENCLAVEINFO: %v", err)
	}
	r := bufio.NewReader(c)
	line, err := r.ReadBytes('\n')
	if err != nil {
		t.Fatalf("reading the GETENCLAVEINFO answer: %v (read %q)", err, line)
	}
	var info api.EnclaveInfo
	if err := json.Unmarshal(line, &info); err != nil {
		t.Fatalf("answer %q: %v", line, err)
	}
	return &info, r
}

// halfClose sends shelter's close_notify.
func halfClose(t *testing.T, c *ratstls.Conn) {
	t.Helper()
	if err := closeWrite(c); err != nil {
		t.Fatalf("half-closing: %v", err)
	}
}

// value reads a counter or gauge from the metrics.
func value(t *testing.T, m *metrics.Metrics, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, mt := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				if !hasLabel(mt, labels[i], labels[i+1]) {
					continue next
				}
			}
			switch {
			case mt.Counter != nil:
				return mt.Counter.GetValue()
			case mt.Gauge != nil:
				return mt.Gauge.GetValue()
			case mt.Histogram != nil:
				return float64(mt.Histogram.GetSampleCount())
			}
		}
	}
	return 0
}

func hasLabel(m *dto.Metric, k, v string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == k && l.GetValue() == v {
			return true
		}
	}
	return false
}

// eventually polls cond until it holds or waitFor passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, waitFor)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// noLeak fails the test if goroutines started during it outlive it.
func noLeak(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(waitFor)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<20)
			t.Errorf("%d goroutines before, %d after:\n%s", before, n, buf[:runtime.Stack(buf, true)])
		}
	})
}

func defaultID() string {
	d := snp.DefaultLaunchDigest()
	return "sev_snp:" + hex.EncodeToString(d[:])
}

func TestEnclaveInfoThenEcho(t *testing.T) {
	noLeak(t)
	s := start(t, workload(t, "tcp", "127.0.0.1:0", echo), nil)
	c := s.shelter(t)
	info, r := askInfo(t, c)
	if info.MsgType != api.MsgEnclaveInfo || info.Version != api.Version || info.ID != defaultID() {
		t.Fatalf("info = %+v, want ENCLAVEINFO version 1 with id %s", info, defaultID())
	}
	if info.EvidenceType != "sev_snp" || info.Verifier != "sev_snp" || info.Freshness != "exporter" {
		t.Errorf("evidence %q verifier %q freshness %q", info.EvidenceType, info.Verifier, info.Freshness)
	}
	if info.Measurements["measurement"] != strings.TrimPrefix(defaultID(), "sev_snp:") || len(info.Measurements["host_data"]) != 64 {
		t.Errorf("measurements %v", info.Measurements)
	}
	if info.Claims["simulated"] != true || len(info.Certificate) == 0 || len(info.Evidence) == 0 {
		t.Errorf("claims simulated=%v, %d-byte certificate, %d-byte evidence", info.Claims["simulated"], len(info.Certificate), len(info.Evidence))
	}
	msg := []byte("hello, workload\n" + api.GetEnclaveInfoLine)
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	halfClose(t, c)
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("echo %q, %v; want %q and the end of the stream", got, err, msg)
	}
	eventually(t, "session ended", func() bool { return s.Active() == 0 })
	if v := value(t, s.m, "inclavared_sessions_total", "outcome", metrics.OutcomeForwarded); v != 1 {
		t.Errorf("sessions forwarded = %v", v)
	}
	if v := value(t, s.m, "inclavared_forwarded_bytes_total", "direction", "to_workload"); v != float64(len(msg)) {
		t.Errorf("bytes to the workload = %v, want %d", v, len(msg))
	}
	if v := value(t, s.m, "inclavared_handshakes_total", "peer", "workload", "result", "ok"); v != 1 {
		t.Errorf("workload handshakes = %v", v)
	}
}

func TestForwardWithoutRequest(t *testing.T) {
	noLeak(t)
	s := start(t, workload(t, "tcp", "127.0.0.1:0", echo), nil)
	for _, first := range []string{"ping\n", `{"type":"GETENCLAVEINFOX"}` + "\n", `{"type":"GET`} {
		c := s.shelter(t)
		if _, err := io.WriteString(c, first); err != nil {
			t.Fatal(err)
		}
		halfClose(t, c)
		got, err := io.ReadAll(c)
		if err != nil || string(got) != first {
			t.Errorf("sent %q, echoed %q, %v", first, got, err)
		}
	}
	if v := value(t, s.m, "inclavared_enclave_info_requests_total", "result", "answered"); v != 0 {
		t.Errorf("%v requests answered, want none", v)
	}
}

func TestWorkloadSpeaksFirst(t *testing.T) {
	noLeak(t)
	banner := "220 workload ready\n"
	xfer := workload(t, "tcp", "127.0.0.1:0", func(c net.Conn) {
		io.WriteString(c, banner)
		echo(c)
	})
	s := start(t, xfer, func(o *Options) { o.RequestWait = 200 * time.Millisecond })

	// Shelter asks first: the answer comes before the banner.
	c := s.shelter(t)
	info, r := askInfo(t, c)
	if info.MsgType != api.MsgEnclaveInfo {
		t.Fatalf("answer %+v", info)
	}
	line, err := r.ReadString('\n')
	if err != nil || line != banner {
		t.Fatalf("after the answer: %q, %v; want the banner", line, err)
	}

	// Shelter sends nothing: the banner comes after the request wait.
	c = s.shelter(t)
	t0 := time.Now()
	line, err = bufio.NewReader(c).ReadString('\n')
	if err != nil || line != banner {
		t.Fatalf("silent shelter got %q, %v; want the banner", line, err)
	}
	if d := time.Since(t0); d < 150*time.Millisecond {
		t.Errorf("banner after %s, before the request wait", d)
	}
}

func TestUnixSockets(t *testing.T) {
	noLeak(t)
	path := filepath.Join(sockDir(t), "workload.sock")
	s := start(t, workload(t, "unix", path, echo), nil)
	if s.addr.Network != address.Unix {
		t.Fatalf("listening on %s", s.addr)
	}
	info, _ := askInfo(t, s.shelter(t))
	if info.ID != defaultID() {
		t.Fatalf("over unix sockets: %+v", info)
	}
}

// freePort is a loopback TCP address nothing listens on.
func freePort(t *testing.T) address.Address {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := address.Address{Network: "tcp", Addr: l.Addr().String()}
	l.Close()
	return a
}

// silent is a TCP listener that accepts and never speaks.
func silent(t *testing.T) address.Address {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return address.Address{Network: "tcp", Addr: l.Addr().String()}
}

func TestWorkloadFailures(t *testing.T) {
	refusePolicy := func(context.Context, *ratstls.Peer) error {
		return errors.New("policy dev: contraindicated: measurement not allowed")
	}
	for name, tc := range map[string]struct {
		xfer    func(*testing.T) address.Address
		edit    func(*Options)
		reason  string
		message string
	}{
		"down":      {freePort, nil, api.ReasonUnreachable, "connection refused"},
		"slow":      {silent, func(o *Options) { o.UpstreamTimeout = 300 * time.Millisecond }, api.ReasonTimeout, "within 300ms"},
		"simulated": {func(t *testing.T) address.Address { return workload(t, "tcp", "127.0.0.1:0", echo) }, func(o *Options) { o.Workload.AllowSimulated = false }, api.ReasonRefused, "simulated"},
		"policy":    {func(t *testing.T) address.Address { return workload(t, "tcp", "127.0.0.1:0", echo) }, func(o *Options) { o.Workload.VerifyPeer = refusePolicy }, api.ReasonPolicy, "measurement not allowed"},
	} {
		t.Run(name, func(t *testing.T) {
			noLeak(t)
			s := start(t, tc.xfer(t), tc.edit)
			t0 := time.Now()
			info, r := askInfo(t, s.shelter(t))
			if info.MsgType != api.MsgError || info.Reason != tc.reason || !strings.Contains(info.Error, tc.message) || info.ID != "" {
				t.Fatalf("answer %+v, want an error for %s mentioning %q", info, tc.reason, tc.message)
			}
			if d := time.Since(t0); d > 5*time.Second {
				t.Errorf("the error took %s", d)
			}
			if rest, err := io.ReadAll(r); err != nil || len(rest) != 0 {
				t.Errorf("after the error: %q, %v; want the end of the stream", rest, err)
			}
			// Without a request, the channel is just closed.
			c := s.shelter(t)
			io.WriteString(c, "data for the workload")
			if got, err := io.ReadAll(c); len(got) != 0 {
				t.Errorf("without a request: read %q, %v; want nothing", got, err)
			}
			if v := value(t, s.m, "inclavared_verification_failures_total", "reason", tc.reason); v != 2 {
				t.Errorf("failures for %s = %v, want 2", tc.reason, v)
			}
			eventually(t, "sessions ended", func() bool { return s.Active() == 0 })
			if v := value(t, s.m, "inclavared_sessions_total", "outcome", metrics.OutcomeWorkloadFailed); v != 2 {
				t.Errorf("failed sessions = %v, want 2", v)
			}
		})
	}
}

func TestManySessions(t *testing.T) {
	noLeak(t)
	s := start(t, workload(t, "tcp", "127.0.0.1:0", echo), nil)
	const n = 32
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := s.dial(t)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			if _, err := io.WriteString(c, api.GetEnclaveInfoLine); err != nil {
				errs <- err
				return
			}
			r := bufio.NewReader(c)
			line, err := r.ReadBytes('\n')
			var info api.EnclaveInfo
			if err != nil || json.Unmarshal(line, &info) != nil || info.ID != defaultID() {
				errs <- errors.New("session " + string(rune('A'+i)) + ": bad answer " + string(line))
				return
			}
			msg := bytes.Repeat([]byte{byte(i)}, 100_000)
			go func() {
				c.Write(msg)
				closeWrite(c)
			}()
			got, err := io.ReadAll(r)
			if err != nil || !bytes.Equal(got, msg) {
				errs <- errors.New("echo mismatch")
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	eventually(t, "sessions ended", func() bool { return s.Active() == 0 })
	if v := value(t, s.m, "inclavared_sessions_total", "outcome", metrics.OutcomeForwarded); v != n {
		t.Errorf("forwarded sessions = %v, want %d", v, n)
	}
	if v := value(t, s.m, "inclavared_sessions_active"); v != 0 {
		t.Errorf("active sessions = %v", v)
	}
}

func TestShutdown(t *testing.T) {
	noLeak(t)
	s := start(t, workload(t, "tcp", "127.0.0.1:0", echo), nil)
	c := s.shelter(t)
	askInfo(t, c)
	type result struct {
		closed int
		err    error
	}
	// A session that ends within the grace period is not cut.
	done := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		n, err := s.Shutdown(ctx)
		done <- result{n, err}
	}()
	eventually(t, "listener closed", func() bool {
		_, err := net.DialTimeout(s.addr.Network, s.addr.Addr, time.Second)
		return err != nil
	})
	if _, err := io.WriteString(c, "still here"); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 10)
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "still here" {
		t.Fatalf("during the grace period: %q, %v", buf, err)
	}
	halfClose(t, c)
	io.ReadAll(c)
	if r := <-done; r.closed != 0 || r.err != nil {
		t.Fatalf("Shutdown = %d, %v", r.closed, r.err)
	}
	if err := s.Serve(context.Background(), mustListen(t)); !errors.Is(err, ErrClosed) {
		t.Errorf("Serve after Shutdown: %v, want ErrClosed", err)
	}
}

func mustListen(t *testing.T) net.Listener {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestShutdownGracePeriodEnds(t *testing.T) {
	noLeak(t)
	s := start(t, workload(t, "tcp", "127.0.0.1:0", echo), nil)
	c := s.shelter(t)
	askInfo(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	n, err := s.Shutdown(ctx)
	if n != 1 || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "1 sessions still open") {
		t.Fatalf("Shutdown = %d, %v; want one session closed", n, err)
	}
	if got, _ := io.ReadAll(c); len(got) != 0 {
		t.Errorf("after the grace period read %q", got)
	}
}

func TestMaxSessions(t *testing.T) {
	noLeak(t)
	s := start(t, workload(t, "tcp", "127.0.0.1:0", echo), func(o *Options) { o.MaxSessions = 1 })
	askInfo(t, s.shelter(t))
	if c, err := s.dial(t); err == nil {
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatal("a session over the limit was served")
		}
	}
	eventually(t, "the rejected session counted", func() bool {
		return value(t, s.m, "inclavared_sessions_total", "outcome", metrics.OutcomeRejected) == 1
	})
}

func TestShelterHandshakeFails(t *testing.T) {
	noLeak(t)
	s := start(t, workload(t, "tcp", "127.0.0.1:0", echo), nil)
	c, err := net.Dial(s.addr.Network, s.addr.Addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
	io.ReadAll(c)
	c.Close()
	eventually(t, "handshake failure counted", func() bool {
		return value(t, s.m, "inclavared_handshakes_total", "peer", "shelter", "result", "failed") == 1
	})
	if v := value(t, s.m, "inclavared_handshakes_total", "peer", "workload", "result", "ok"); v != 0 {
		t.Errorf("the workload was dialled for a failed shelter: %v", v)
	}
}

func TestNewRefusesNullVerifier(t *testing.T) {
	_, err := New(Options{
		Shelter: &ratstls.Config{}, Workload: &ratstls.Config{Verifier: instance.NullVerifierName},
		Xfer: address.Address{Network: "tcp", Addr: "127.0.0.1:1"}, UpstreamTimeout: time.Second, RequestWait: time.Second,
	})
	if err == nil || !strings.Contains(err.Error(), "must verify the workload") {
		t.Fatalf("New with the null verifier: %v", err)
	}
}

func TestNewRefusesNullTLS(t *testing.T) {
	_, err := New(Options{
		Shelter: &ratstls.Config{TLS: "nulltls"}, Workload: &ratstls.Config{},
		Xfer: address.Address{Network: "tcp", Addr: "127.0.0.1:1"}, UpstreamTimeout: time.Second, RequestWait: time.Second,
	})
	if err == nil || !strings.Contains(err.Error(), "only TLS 1.3") {
		t.Fatalf("New with nulltls: %v", err)
	}
}

func TestMutual(t *testing.T) {
	noLeak(t)
	peers := make(chan *ratstls.Peer, 1)
	wcfg := &ratstls.Config{Attester: "sev_snp_sim", Mutual: true, AllowSimulated: true, Logger: quiet}
	xfer := workloadWith(t, wcfg, "tcp", "127.0.0.1:0", func(c net.Conn) {
		peers <- c.(*ratstls.Conn).Peer()
		echo(c)
	})
	s := start(t, xfer, func(o *Options) {
		o.Workload.Mutual = true
		o.Workload.Attester = "sev_snp_sim"
		o.Shelter.Mutual = true // ignored: shelter is not asked to attest
	})
	info, _ := askInfo(t, s.shelter(t))
	if info.ID != defaultID() {
		t.Fatalf("answer %+v", info)
	}
	if p := <-peers; p == nil || !p.Attested || p.EvidenceType != "sev_snp" {
		t.Errorf("the workload saw inclavared as %+v, want attested sev_snp", p)
	}
}

func TestWorkloadHalfClosesFirst(t *testing.T) {
	noLeak(t)
	got := make(chan string, 1)
	xfer := workload(t, "tcp", "127.0.0.1:0", func(c net.Conn) {
		io.WriteString(c, "bye")
		closeWrite(c.(*ratstls.Conn))
		b, _ := io.ReadAll(c)
		got <- string(b)
	})
	s := start(t, xfer, func(o *Options) { o.RequestWait = 100 * time.Millisecond })
	c := s.shelter(t)
	if b, err := io.ReadAll(c); string(b) != "bye" || err != nil {
		t.Fatalf("shelter read %q, %v; want bye and the end of the stream", b, err)
	}
	// The other direction still flows.
	io.WriteString(c, "after your close")
	halfClose(t, c)
	select {
	case b := <-got:
		if b != "after your close" {
			t.Errorf("the workload read %q", b)
		}
	case <-time.After(waitFor):
		t.Fatal("the workload never saw the end of shelter's bytes")
	}
	eventually(t, "session ended", func() bool { return s.Active() == 0 })
}

func TestWorkloadGoesAway(t *testing.T) {
	noLeak(t)
	xfer := workload(t, "tcp", "127.0.0.1:0", func(c net.Conn) {
		io.ReadFull(c, make([]byte, 5))
	}) // then closed
	s := start(t, xfer, nil)
	c := s.shelter(t)
	io.WriteString(c, "first")
	if b, err := io.ReadAll(c); len(b) != 0 || err != nil {
		t.Fatalf("read %q, %v; want the end of the stream", b, err)
	}
	// Shelter keeps sending to a workload that is gone: inclavared closes
	// the channel rather than swallow the bytes for ever.
	deadline := time.Now().Add(waitFor)
	for {
		if _, err := c.Write(make([]byte, 16<<10)); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("writes to a workload that is gone still succeed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	eventually(t, "session ended", func() bool { return s.Active() == 0 })
}

// sockDir is a short temporary directory for Unix sockets, whose paths
// Linux limits to 107 bytes (t.TempDir can be longer).
func sockDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "inc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}
