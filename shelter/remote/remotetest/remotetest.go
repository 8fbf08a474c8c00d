// Package remotetest is a stand-in for inclavared, for tests of shelter's
// remote attestation (and load tests) that run without it: a real Rats-TLS
// server, attested by a simulated TEE, that speaks inclavared/api and
// answers GETENCLAVEINFO as the test says — honestly, with a real
// workload's certificate, or with whatever a tampered inclavared would
// send.
package remotetest

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	appref "github.com/inclavare/inclavare/appraisal/reference"
	"github.com/inclavare/inclavare/framework/ratstls"
	"github.com/inclavare/inclavare/inclavared/api"
)

// Workload is a workload as inclavared sees it after its handshake.
type Workload struct {
	// Info is what an honest inclavared answers.
	Info api.EnclaveInfo
	// Values are the workload's verified launch measurements.
	Values appref.Values
}

// Line encodes v as one JSON line, as inclavared answers.
func Line(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}

// Connect performs a client Rats-TLS handshake with the workload at
// network, addr (Config cfg, which must trust it) and returns what an
// honest inclavared would know of it.
func Connect(ctx context.Context, network, addr string, cfg *ratstls.Config) (*Workload, *ratstls.Conn, error) {
	raw, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if err != nil {
		return nil, nil, err
	}
	c := ratstls.Client(raw, cfg)
	if n := Nonce(ctx); n != nil {
		if err := c.UseNonce(n[:]); err != nil {
			c.Close()
			return nil, nil, err
		}
	}
	if err := c.HandshakeContext(ctx); err != nil {
		c.Close()
		return nil, nil, err
	}
	w, err := describe(c.Peer())
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return w, c, nil
}

func describe(p *ratstls.Peer) (*Workload, error) {
	v, err := appref.Measurements(p.EvidenceType, p.Claims)
	if err != nil {
		return nil, err
	}
	return &Workload{Values: v, Info: api.EnclaveInfo{
		ID: p.EvidenceType + ":" + v.Measurements[appref.Primary(p.EvidenceType)], MsgType: api.MsgEnclaveInfo,
		Version: api.Version, EvidenceType: p.EvidenceType, Freshness: string(p.Freshness), Verifier: p.Verifier,
		Measurements: v.Measurements, Claims: p.Claims, Certificate: p.Certificate.Raw,
		Evidence: p.Evidence, Endorsements: p.Endorsements,
	}}, nil
}

var (
	cacheMu sync.Mutex
	cache   = map[string]*Workload{}
)

// NewWorkload runs an in-process workload, a Rats-TLS server attested by
// attester (a simulated TEE: sev_snp_sim, sgx_ecdsa_sim, tdx_ecdsa_sim)
// in freshness mode fresh, connects to it once and returns it. In
// exporter mode its certificate carries no evidence: Info.Evidence does. Results are cached
// per attester and mode for the life of the test binary.
func NewWorkload(t testing.TB, attester string, fresh ratstls.Freshness) *Workload {
	t.Helper()
	cacheMu.Lock()
	defer cacheMu.Unlock()
	key := attester + "/" + string(fresh)
	if w, ok := cache[key]; ok {
		return w
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srvCfg := &ratstls.Config{Attester: attester, Freshness: fresh}
	defer srvCfg.Close()
	l, err := ratstls.Listen(ctx, "tcp", "127.0.0.1:0", srvCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		c.(*ratstls.Conn).HandshakeContext(ctx)
		io.Copy(io.Discard, c)
	}()
	cliCfg := &ratstls.Config{AllowSimulated: true, Freshness: fresh}
	defer cliCfg.Close()
	w, c, err := Connect(ctx, "tcp", l.Addr().String(), cliCfg)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	<-done
	cache[key] = w
	return w
}

// Inclavared is a running stand-in.
type Inclavared struct {
	// Addr is its address, tcp://HOST:PORT or unix://PATH.
	Addr string
}

// Start runs a stand-in inclavared on network ("tcp" on loopback, or
// "unix" in a temporary directory), attested by the simulated SGX TEE
// (trusted only with AllowSimulated). On each connection, after the
// handshake and a GETENCLAVEINFO request (with or without a nonce: see
// Nonce), it calls answer with the connection; anything else closes it. It stops at the end of the test,
// closing every connection and waiting for every goroutine.
func Start(t testing.TB, network string, answer func(ctx context.Context, c net.Conn)) *Inclavared {
	t.Helper()
	return StartWith(t, network, &ratstls.Config{Attester: "sgx_ecdsa_sim"}, answer)
}

// StartWith is Start with inclavared's Rats-TLS configuration cfg, which
// it closes at the end of the test.
func StartWith(t testing.TB, network string, cfg *ratstls.Config, answer func(ctx context.Context, c net.Conn)) *Inclavared {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(t.TempDir(), "inclavared.sock")
	}
	l, err := ratstls.Listen(ctx, network, addr, cfg)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	in := &Inclavared{Addr: network + "://" + l.Addr().String()}
	serve(t, ctx, cancel, l, cfg, func(c *ratstls.Conn) {
		if err := c.HandshakeContext(ctx); err != nil {
			return
		}
		req := make([]byte, len(api.GetEnclaveInfoLine))
		if _, err := io.ReadFull(c, req); err != nil {
			return
		}
		actx := ctx
		if string(req) != api.GetEnclaveInfoLine {
			rest := make([]byte, api.NonceLineSize-len(req))
			if _, err := io.ReadFull(c, rest); err != nil {
				return
			}
			n, ok := api.ParseNonceLine(append(req, rest...))
			if !ok {
				return
			}
			actx = context.WithValue(ctx, nonceKey{}, &n)
		}
		answer(actx, c)
	})
	return in
}

type nonceKey struct{}

// Nonce is the nonce of shelter's request, in the context an answer gets
// (nil for a request without one).
func Nonce(ctx context.Context) *[api.NonceSize]byte {
	n, _ := ctx.Value(nonceKey{}).(*[api.NonceSize]byte)
	return n
}

// Honest answers with info, then echoes what shelter sends, as a
// forwarding inclavared in front of an echoing workload would.
func Honest(info api.EnclaveInfo) func(context.Context, net.Conn) {
	return func(_ context.Context, c net.Conn) {
		c.Write(Line(info))
		io.Copy(c, c)
	}
}

// Raw answers with b and closes the connection.
func Raw(b []byte) func(context.Context, net.Conn) {
	return func(_ context.Context, c net.Conn) { c.Write(b) }
}

// Silent never answers.
func Silent() func(context.Context, net.Conn) {
	return func(_ context.Context, c net.Conn) { io.Copy(io.Discard, c) }
}

// Forward behaves as inclavared does: for each shelter it connects to the
// workload at network, addr with cfg (freshness none or nonce, so that the
// workload's certificate carries its evidence; nonce mode with shelter's
// nonce when the request has one), answers with what that
// handshake verified, then forwards bytes both ways until either side
// closes. A workload it cannot reach gets an ERROR answer.
func Forward(network, addr string, cfg *ratstls.Config) func(context.Context, net.Conn) {
	return func(ctx context.Context, c net.Conn) {
		dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		w, wc, err := Connect(dctx, network, addr, cfg)
		cancel()
		if err != nil {
			c.Write(Line(api.EnclaveInfo{MsgType: api.MsgError, Version: api.Version, Error: "the workload is not attested: " + err.Error()}))
			return
		}
		defer wc.Close()
		if _, err := c.Write(Line(w.Info)); err != nil {
			return
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			io.Copy(c, wc)
			c.Close()
		}()
		io.Copy(wc, c)
		wc.Close()
		<-done
	}
}

// StartWorkload runs an in-process workload: a Rats-TLS server attested
// by attester (a simulated TEE) that echoes what its clients send, as
// samples/rats-tls-server does. It returns its TCP address and stops at
// the end of the test.
func StartWorkload(t testing.TB, attester string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cfg := &ratstls.Config{Attester: attester}
	l, err := ratstls.Listen(ctx, "tcp", "127.0.0.1:0", cfg)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	serve(t, ctx, cancel, l, cfg, func(c *ratstls.Conn) {
		if c.HandshakeContext(ctx) == nil {
			io.Copy(c, c)
		}
	})
	return l.Addr().String()
}

// serve accepts connections on l until the end of the test, each handled
// (then closed) on a goroutine of its own. At the end of the test it
// cancels ctx, closes l and every connection, waits for the handlers and
// closes cfg.
func serve(t testing.TB, ctx context.Context, cancel context.CancelFunc, l net.Listener, cfg *ratstls.Config, handle func(*ratstls.Conn)) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				handle(c.(*ratstls.Conn))
			}()
		}
	}()
	t.Cleanup(func() {
		cancel()
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
		cfg.Close()
	})
}
