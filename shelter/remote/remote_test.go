package remote

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inclavare/inclavare/appraisal/ear"
	"github.com/inclavare/inclavare/appraisal/policy"
	appref "github.com/inclavare/inclavare/appraisal/reference"
	_ "github.com/inclavare/inclavare/framework/builtins"
	"github.com/inclavare/inclavare/framework/ratstls"
	"github.com/inclavare/inclavare/inclavared/api"
	"github.com/inclavare/inclavare/shelter/verify"
)

// noLeak fails the test if, once every cleanup registered after it has
// run, more goroutines are left than when it was called. Call it first.
func noLeak(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(3 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				var b strings.Builder
				pprof.Lookup("goroutine").WriteTo(&b, 1)
				t.Errorf("%d goroutines before, %d after:\n%s", before, runtime.NumGoroutine(), b.String())
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// workload is a workload's certificate and its verified identity, as a
// real simulated-TEE Rats-TLS server presents them.
type workload struct {
	der    []byte
	info   api.EnclaveInfo
	values appref.Values
}

var (
	workloadsMu sync.Mutex
	workloads   = map[string]*workload{}
)

// workloadCert starts a Rats-TLS server with attester (a simulated TEE)
// in freshness mode fresh, connects to it as inclavared does, and returns
// the certificate it presented and the EnclaveInfo an honest inclavared
// would send. Results are cached per attester and mode.
func workloadCert(t testing.TB, attester string, fresh ratstls.Freshness) *workload {
	t.Helper()
	workloadsMu.Lock()
	defer workloadsMu.Unlock()
	key := attester + "/" + string(fresh)
	if w, ok := workloads[key]; ok {
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
	c, err := ratstls.Dial(ctx, "tcp", l.Addr().String(), cliCfg)
	if err != nil {
		t.Fatal(err)
	}
	p := c.Peer()
	c.Close()
	<-done
	w := &workload{der: p.Certificate.Raw}
	w.values, err = appref.Measurements(p.EvidenceType, p.Claims)
	if err != nil {
		t.Fatal(err)
	}
	w.info = api.EnclaveInfo{
		ID: p.EvidenceType + ":" + w.values.Measurements[appref.Primary(p.EvidenceType)], MsgType: api.MsgEnclaveInfo,
		Version: api.Version, EvidenceType: p.EvidenceType, Freshness: string(p.Freshness), Verifier: p.Verifier,
		Measurements: w.values.Measurements, Claims: p.Claims, Certificate: p.Certificate.Raw,
	}
	workloads[key] = w
	return w
}

// fake is an inclavared stand-in: a Rats-TLS server (simulated SGX) that
// answers GETENCLAVEINFO by calling answer, then echoes, as a workload
// behind a forwarding inclavared would.
type fake struct {
	addr string
	wg   sync.WaitGroup
}

func line(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}

// startFake listens on network ("tcp" or "unix") and serves answer. It is
// stopped, its connections closed, at the end of the test.
func startFake(t *testing.T, network string, answer func(net.Conn)) *fake {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cfg := &ratstls.Config{Attester: "sgx_ecdsa_sim"}
	addr := "127.0.0.1:0"
	if network == "unix" {
		addr = filepath.Join(t.TempDir(), "inclavared.sock")
	}
	l, err := ratstls.Listen(ctx, network, addr, cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := &fake{addr: network + "://" + l.Addr().String()}
	var mu sync.Mutex
	var conns []net.Conn
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			f.wg.Add(1)
			go func() {
				defer f.wg.Done()
				defer c.Close()
				if err := c.(*ratstls.Conn).HandshakeContext(ctx); err != nil {
					return
				}
				req := make([]byte, len(api.GetEnclaveInfoLine))
				if _, err := io.ReadFull(c, req); err != nil || string(req) != api.GetEnclaveInfoLine {
					return
				}
				answer(c)
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
		f.wg.Wait()
		cfg.Close()
	})
	return f
}

// honest answers with info, then echoes.
func honest(info api.EnclaveInfo) func(net.Conn) {
	return func(c net.Conn) {
		c.Write(line(info))
		io.Copy(c, c)
	}
}

// clientConfig is shelter's side of the channel; closed with the test.
func clientConfig(t *testing.T) *ratstls.Config {
	cfg := &ratstls.Config{AllowSimulated: true}
	t.Cleanup(func() { cfg.Close() })
	return cfg
}

func attest(t *testing.T, f *fake, opts Options) (*Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	opts.Addr = f.addr
	if opts.Config == nil {
		opts.Config = clientConfig(t)
	}
	return Attest(ctx, opts)
}

func TestAttest(t *testing.T) {
	w := workloadCert(t, "sev_snp_sim", ratstls.FreshnessNone)
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			noLeak(t)
			f := startFake(t, network, honest(w.info))
			res, err := attest(t, f, Options{Verify: verify.Options{AllowSimulated: true}, Message: []byte("hello workload")})
			if err != nil {
				t.Fatal(err)
			}
			a := res.Workload.Appraisal
			if a.Status != ear.Warning || !res.Accepted() {
				t.Errorf("verdict %s %q, want warning (simulated)", a.Status, a.Reasons)
			}
			if res.ID != w.info.ID || res.Measurements.Measurements["measurement"] != w.values.Measurements["measurement"] {
				t.Errorf("identity %s %v, want %s", res.ID, res.Measurements, w.info.ID)
			}
			if !res.Workload.FromCertificate || !res.Workload.ReportDataChecked || res.Workload.ReportDataSource != "certificate" {
				t.Errorf("the evidence was not bound to the certificate: %+v", res.Workload)
			}
			if res.Channel == nil || !res.Channel.Attested || res.Channel.EvidenceType != "sgx_ecdsa" {
				t.Errorf("inclavared's attestation: %+v", res.Channel)
			}
			if string(res.Reply) != "hello workload\n" {
				t.Errorf("reply %q", res.Reply)
			}
		})
	}
}

// TestNonceCertificate: a certificate issued for a nonce-mode channel binds
// its evidence to the key and the nonce; it verifies as well.
func TestNonceCertificate(t *testing.T) {
	noLeak(t)
	w := workloadCert(t, "sev_snp_sim", ratstls.FreshnessNonce)
	f := startFake(t, "tcp", honest(w.info))
	res, err := attest(t, f, Options{Verify: verify.Options{AllowSimulated: true}})
	if err != nil || !res.Accepted() {
		t.Fatalf("%v, %+v", err, res)
	}
}

func TestReferenceValues(t *testing.T) {
	noLeak(t)
	w := workloadCert(t, "sev_snp_sim", ratstls.FreshnessNone)
	f := startFake(t, "tcp", honest(w.info))
	good := w.values
	res, err := attest(t, f, Options{Verify: verify.Options{AllowSimulated: true}, Reference: &good, ReferenceName: "web"})
	if err != nil || !res.Accepted() || !res.ReferenceChecked || res.ReferenceError != nil {
		t.Fatalf("matching reference values: %v, %+v", err, res)
	}
	bad := appref.Values{EvidenceType: "sev_snp", Measurements: map[string]string{"measurement": strings.Repeat("00", 48)}}
	res, err = attest(t, f, Options{Verify: verify.Options{AllowSimulated: true}, Reference: &bad, ReferenceName: "web", Message: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	a := res.Workload.Appraisal
	if a.Status != ear.Contraindicated || !errors.Is(res.ReferenceError, appref.ErrMismatch) ||
		!strings.Contains(strings.Join(a.Reasons, "\n"), "reference values web: ") {
		t.Errorf("other reference values: %s %q %v", a.Status, a.Reasons, res.ReferenceError)
	}
	if res.Reply != nil {
		t.Errorf("the message was sent to a refused workload: reply %q", res.Reply)
	}
	sgx := appref.Values{EvidenceType: "sgx_ecdsa", Measurements: map[string]string{"mrenclave": strings.Repeat("00", 32)}}
	res, err = attest(t, f, Options{Verify: verify.Options{AllowSimulated: true}, Reference: &sgx, ReferenceName: "enclave"})
	if err != nil || res.Workload.Appraisal.Status != ear.Contraindicated {
		t.Errorf("reference values of another TEE: %v, %+v", err, res)
	}
}

func TestPolicy(t *testing.T) {
	noLeak(t)
	w := workloadCert(t, "sev_snp_sim", ratstls.FreshnessNone)
	f := startFake(t, "tcp", honest(w.info))
	accept, err := policy.Parse([]byte("id: accept\nevidence:\n  sev_snp:\n    allow_simulated: true\n    measurement: [" + w.values.Measurements["measurement"] + "]\n"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := attest(t, f, Options{Verify: verify.Options{AllowSimulated: true, Policy: accept}})
	if err != nil || !res.Accepted() || res.Workload.Appraisal.PolicyID != "accept" {
		t.Fatalf("accepting policy: %v, %+v", err, res)
	}
	refuse, err := policy.Parse([]byte("id: refuse\nevidence:\n  sev_snp:\n    allow_simulated: true\n    measurement: [" + strings.Repeat("00", 48) + "]\n"))
	if err != nil {
		t.Fatal(err)
	}
	res, err = attest(t, f, Options{Verify: verify.Options{AllowSimulated: true, Policy: refuse}})
	if err != nil || res.Accepted() || !strings.Contains(strings.Join(res.Workload.Appraisal.Reasons, " "), "measurement") {
		t.Fatalf("refusing policy: %v, %+v", err, res)
	}
}

// selfSigned is a certificate without evidence.
func selfSigned(t *testing.T) []byte {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "no evidence"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestTampered: whatever inclavared says that the workload's verified
// evidence does not, and whatever it sends that is not a verified
// workload's identity, fails with ErrVerification, or ErrConnection when
// the connection itself fails; nothing is left running.
func TestTampered(t *testing.T) {
	w := workloadCert(t, "sev_snp_sim", ratstls.FreshnessNone)
	exporter := workloadCert(t, "sev_snp_sim", ratstls.FreshnessExporter)
	sgx := workloadCert(t, "sgx_ecdsa_sim", ratstls.FreshnessNone)
	with := func(change func(*api.EnclaveInfo)) func(net.Conn) {
		info := w.info
		info.Measurements = map[string]string{}
		for k, v := range w.info.Measurements {
			info.Measurements[k] = v
		}
		change(&info)
		return honest(info)
	}
	raw := func(b []byte) func(net.Conn) {
		return func(c net.Conn) { c.Write(b) }
	}
	badSig := bytes.Clone(w.der)
	badSig[len(badSig)-3] ^= 1
	for name, tc := range map[string]struct {
		answer  func(net.Conn)
		timeout time.Duration
		want    error
		msg     string
	}{
		"other measurement": {answer: with(func(i *api.EnclaveInfo) { i.Measurements["measurement"] = strings.Repeat("00", 48) }),
			want: ErrVerification, msg: "disagrees with the workload's verified evidence"},
		"other host data": {answer: with(func(i *api.EnclaveInfo) { i.Measurements["host_data"] = strings.Repeat("ff", 32) }),
			want: ErrVerification, msg: "host_data"},
		"measurement missing": {answer: with(func(i *api.EnclaveInfo) { delete(i.Measurements, "host_data") }),
			want: ErrVerification, msg: "no host_data"},
		"extra measurement": {answer: with(func(i *api.EnclaveInfo) { i.Measurements["mrenclave"] = "00" }),
			want: ErrVerification, msg: `"mrenclave"`},
		"other evidence type": {answer: with(func(i *api.EnclaveInfo) { i.EvidenceType = "tdx_ecdsa" }),
			want: ErrVerification, msg: "evidence type"},
		"other id": {answer: with(func(i *api.EnclaveInfo) { i.ID = "sev_snp:00" }),
			want: ErrVerification, msg: "id"},
		"another workload's measurements": {answer: with(func(i *api.EnclaveInfo) {
			i.EvidenceType, i.Measurements, i.ID = sgx.info.EvidenceType, sgx.info.Measurements, sgx.info.ID
		}), want: ErrVerification, msg: "disagrees"},
		"certificate without evidence": {answer: with(func(i *api.EnclaveInfo) { i.Certificate = selfSigned(t) }),
			want: verify.ErrVerification, msg: "carries no evidence"},
		"exporter-mode certificate": {answer: with(func(i *api.EnclaveInfo) { i.Certificate = exporter.der }),
			want: verify.ErrVerification, msg: "carries no evidence"},
		"bad signature": {answer: with(func(i *api.EnclaveInfo) { i.Certificate = badSig }),
			want: ErrVerification, msg: "certificate"},
		"not a certificate": {answer: with(func(i *api.EnclaveInfo) { i.Certificate = []byte("garbage") }),
			want: ErrVerification, msg: "the workload certificate"},
		"no certificate": {answer: with(func(i *api.EnclaveInfo) { i.Certificate = nil }),
			want: ErrVerification, msg: "no workload certificate"},
		"error answer": {answer: raw(line(api.EnclaveInfo{MsgType: api.MsgError, Version: 1, Error: "workload not attested\x1b[31m"})),
			want: ErrVerification, msg: "no verified workload: workload not attested?[31m"},
		"other version": {answer: with(func(i *api.EnclaveInfo) { i.Version = 2 }),
			want: ErrVerification, msg: "version 2"},
		"other msgtype": {answer: with(func(i *api.EnclaveInfo) { i.MsgType = "HELLO" }),
			want: ErrVerification, msg: "msgtype"},
		"garbage line":    {answer: raw([]byte("HTTP/1.1 400 Bad Request\r\n")), want: ErrVerification, msg: "not an EnclaveInfo"},
		"two objects":     {answer: raw([]byte("{\"msgtype\":\"ENCLAVEINFO\"} {}\n")), want: ErrVerification, msg: "after its JSON object"},
		"closed early":    {answer: raw([]byte(`{"msgtype":`)), want: ErrConnection, msg: "before a newline"},
		"no answer":       {answer: func(c net.Conn) { io.Copy(io.Discard, c) }, timeout: 300 * time.Millisecond, want: context.DeadlineExceeded, msg: "reading the enclave info"},
		"endless line":    {answer: func(c net.Conn) { c.Write(bytes.Repeat([]byte("a"), MaxInfoSize+10)) }, want: ErrVerification, msg: "longer than"},
		"closed at once":  {answer: func(c net.Conn) {}, want: ErrConnection, msg: "before a newline"},
		"simulated chain": {answer: honest(w.info), want: verify.ErrVerification, msg: "simulated"},
	} {
		t.Run(name, func(t *testing.T) {
			noLeak(t)
			f := startFake(t, "tcp", tc.answer)
			timeout := tc.timeout
			if timeout == 0 {
				timeout = 20 * time.Second
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			opts := Options{Addr: f.addr, Config: clientConfig(t), Verify: verify.Options{AllowSimulated: name != "simulated chain"}}
			start := time.Now()
			res, err := Attest(ctx, opts)
			if res != nil || !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("got %+v, %v; want an error wrapping %v with %q", res, err, tc.want, tc.msg)
			}
			t.Log(err)
			if !errors.Is(err, ErrVerification) && !errors.Is(err, ErrConnection) {
				t.Errorf("%v wraps neither ErrVerification nor ErrConnection", err)
			}
			if tc.timeout > 0 && time.Since(start) > tc.timeout+2*time.Second {
				t.Errorf("took %v with a %v timeout", time.Since(start), tc.timeout)
			}
		})
	}
}

// TestChannel: inclavared's own attestation is checked, and a failure to
// connect is a connection error.
func TestChannel(t *testing.T) {
	noLeak(t)
	w := workloadCert(t, "sev_snp_sim", ratstls.FreshnessNone)
	f := startFake(t, "tcp", honest(w.info))
	strict := &ratstls.Config{}
	defer strict.Close()
	_, err := attest(t, f, Options{Config: strict, Verify: verify.Options{AllowSimulated: true}})
	if !errors.Is(err, ErrVerification) || !strings.Contains(err.Error(), "attestation was refused") {
		t.Errorf("inclavared with simulated evidence, not allowed: %v", err)
	}
	// VerifyPeer (a channel policy) may refuse inclavared.
	refuse := &ratstls.Config{AllowSimulated: true, VerifyPeer: func(context.Context, *ratstls.Peer) error {
		return errors.New("not this inclavared")
	}}
	defer refuse.Close()
	if _, err := attest(t, f, Options{Config: refuse, Verify: verify.Options{AllowSimulated: true}}); !errors.Is(err, ErrVerification) {
		t.Errorf("inclavared refused by the callback: %v", err)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = Attest(ctx, Options{Addr: "tcp://" + addr, Config: clientConfig(t)})
	if !errors.Is(err, ErrConnection) {
		t.Errorf("nothing listening: %v", err)
	}
	_, err = Attest(ctx, Options{Addr: "unix://" + filepath.Join(t.TempDir(), "none.sock"), Config: clientConfig(t)})
	if !errors.Is(err, ErrConnection) {
		t.Errorf("no socket: %v", err)
	}
}

func TestBadOptions(t *testing.T) {
	cfg := clientConfig(t)
	ctx := context.Background()
	for name, opts := range map[string]Options{
		"no config":       {Addr: "tcp://127.0.0.1:1"},
		"no scheme":       {Addr: "127.0.0.1:1", Config: cfg},
		"other scheme":    {Addr: "http://127.0.0.1:1", Config: cfg},
		"no port":         {Addr: "tcp://127.0.0.1", Config: cfg},
		"port 0":          {Addr: "tcp://127.0.0.1:0", Config: cfg},
		"no host":         {Addr: "tcp://:80", Config: cfg},
		"no path":         {Addr: "unix://", Config: cfg},
		"type":            {Addr: "tcp://127.0.0.1:1", Config: cfg, Verify: verify.Options{Type: "sev_snp"}},
		"report data":     {Addr: "tcp://127.0.0.1:1", Config: cfg, Verify: verify.Options{ReportData: []byte{1}}},
		"bad reference":   {Addr: "tcp://127.0.0.1:1", Config: cfg, Reference: &appref.Values{EvidenceType: "null"}},
		"reference no ev": {Addr: "tcp://127.0.0.1:1", Config: cfg, Reference: &appref.Values{EvidenceType: "sev_snp"}},
	} {
		if _, err := Attest(ctx, opts); !errors.Is(err, verify.ErrUsage) {
			t.Errorf("%s: %v, want verify.ErrUsage", name, err)
		}
	}
}

func TestCancel(t *testing.T) {
	noLeak(t)
	f := startFake(t, "tcp", func(c net.Conn) { io.Copy(io.Discard, c) })
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	_, err := Attest(ctx, Options{Addr: f.addr, Config: clientConfig(t)})
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrConnection) {
		t.Errorf("cancelled while waiting for the enclave info: %v", err)
	}
}

// FuzzVerifyInfo feeds arbitrary answers through the parser and the
// verification: a refusal is ErrVerification, never a panic; and anything
// accepted is the one real workload.
func FuzzVerifyInfo(f *testing.F) {
	w := workloadCert(f, "sev_snp_sim", ratstls.FreshnessNone)
	f.Add(line(w.info))
	f.Add(line(api.EnclaveInfo{MsgType: api.MsgError, Version: 1, Error: "x"}))
	f.Add([]byte("{}\n"))
	f.Add([]byte("\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		info, err := ParseEnclaveInfo(b)
		if err != nil {
			if !errors.Is(err, ErrVerification) {
				t.Fatalf("ParseEnclaveInfo: %v does not wrap ErrVerification", err)
			}
			return
		}
		res, err := VerifyInfo(context.Background(), info, Options{Verify: verify.Options{AllowSimulated: true}})
		if err != nil {
			if !errors.Is(err, ErrVerification) {
				t.Fatalf("VerifyInfo: %v does not wrap ErrVerification", err)
			}
			return
		}
		if res.ID != w.info.ID {
			t.Fatalf("accepted %s, the only real workload is %s", res.ID, w.info.ID)
		}
	})
}
