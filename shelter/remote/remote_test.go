package remote

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"maps"
	"math/big"
	"net"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/inclavare/inclavare/appraisal/ear"
	"github.com/inclavare/inclavare/appraisal/policy"
	appref "github.com/inclavare/inclavare/appraisal/reference"
	_ "github.com/inclavare/inclavare/framework/builtins"
	"github.com/inclavare/inclavare/framework/ratstls"
	"github.com/inclavare/inclavare/inclavared/api"
	"github.com/inclavare/inclavare/shelter/remote/remotetest"
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

// clientConfig is shelter's side of the channel; closed with the test.
func clientConfig(t *testing.T) *ratstls.Config {
	cfg := &ratstls.Config{AllowSimulated: true}
	t.Cleanup(func() { cfg.Close() })
	return cfg
}

// attest runs Attest against f, which replays fixed answers: without a
// nonce (see attestFresh).
func attest(t *testing.T, f *remotetest.Inclavared, opts Options) (*Result, error) {
	t.Helper()
	opts.NoNonce = true
	return attestFresh(t, f, opts)
}

// attestFresh runs Attest against f as it is (with a nonce, unless opts
// says otherwise).
func attestFresh(t *testing.T, f *remotetest.Inclavared, opts Options) (*Result, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	opts.Addr = f.Addr
	if opts.Config == nil {
		opts.Config = clientConfig(t)
	}
	return Attest(ctx, opts)
}

func TestAttest(t *testing.T) {
	w := remotetest.NewWorkload(t, "sev_snp_sim", ratstls.FreshnessNone)
	for _, network := range []string{"tcp", "unix"} {
		t.Run(network, func(t *testing.T) {
			noLeak(t)
			f := remotetest.Start(t, network, remotetest.Honest(w.Info))
			res, err := attest(t, f, Options{Verify: verify.Options{AllowSimulated: true}, Message: []byte("hello workload")})
			if err != nil {
				t.Fatal(err)
			}
			a := res.Workload.Appraisal
			if a.Status != ear.Warning || !res.Accepted() {
				t.Errorf("verdict %s %q, want warning (simulated)", a.Status, a.Reasons)
			}
			if res.ID != w.Info.ID || res.Measurements.Measurements["measurement"] != w.Values.Measurements["measurement"] {
				t.Errorf("identity %s %v, want %s", res.ID, res.Measurements, w.Info.ID)
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
	w := remotetest.NewWorkload(t, "sev_snp_sim", ratstls.FreshnessNonce)
	f := remotetest.Start(t, "tcp", remotetest.Honest(w.Info))
	res, err := attest(t, f, Options{Verify: verify.Options{AllowSimulated: true}})
	if err != nil || !res.Accepted() {
		t.Fatalf("%v, %+v", err, res)
	}
}

func TestReferenceValues(t *testing.T) {
	noLeak(t)
	w := remotetest.NewWorkload(t, "sev_snp_sim", ratstls.FreshnessNone)
	f := remotetest.Start(t, "tcp", remotetest.Honest(w.Info))
	good := w.Values
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
	w := remotetest.NewWorkload(t, "sev_snp_sim", ratstls.FreshnessNone)
	f := remotetest.Start(t, "tcp", remotetest.Honest(w.Info))
	accept, err := policy.Parse([]byte("id: accept\nevidence:\n  sev_snp:\n    allow_simulated: true\n    measurement: [" + w.Values.Measurements["measurement"] + "]\n"))
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
	w := remotetest.NewWorkload(t, "sev_snp_sim", ratstls.FreshnessNone)
	exporter := remotetest.NewWorkload(t, "sev_snp_sim", ratstls.FreshnessExporter)
	sgx := remotetest.NewWorkload(t, "sgx_ecdsa_sim", ratstls.FreshnessNone)
	with := func(change func(*api.EnclaveInfo)) func(context.Context, net.Conn) {
		info := w.Info
		info.Measurements = map[string]string{}
		for k, v := range w.Info.Measurements {
			info.Measurements[k] = v
		}
		change(&info)
		return remotetest.Honest(info)
	}
	exporterWith := func(change func(*api.EnclaveInfo)) func(context.Context, net.Conn) {
		info := exporter.Info
		info.Measurements = maps.Clone(exporter.Info.Measurements)
		change(&info)
		return remotetest.Honest(info)
	}
	badSig := bytes.Clone(w.Info.Certificate)
	badSig[len(badSig)-3] ^= 1
	for name, tc := range map[string]struct {
		answer  func(context.Context, net.Conn)
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
			i.EvidenceType, i.Measurements, i.ID = sgx.Info.EvidenceType, sgx.Info.Measurements, sgx.Info.ID
		}), want: ErrVerification, msg: "disagrees"},
		"certificate without evidence": {answer: with(func(i *api.EnclaveInfo) { i.Certificate, i.Evidence = selfSigned(t), nil }),
			want: verify.ErrVerification, msg: "carries no evidence"},
		"exporter mode without the evidence": {answer: with(func(i *api.EnclaveInfo) { i.Certificate, i.Evidence = exporter.Info.Certificate, nil }),
			want: verify.ErrVerification, msg: "carries no evidence"},
		"evidence not the certificate's": {answer: with(func(i *api.EnclaveInfo) { i.Evidence = sgx.Info.Evidence }),
			want: ErrVerification, msg: "its evidence is not the certificate's"},
		"exporter evidence of another type": {answer: exporterWith(func(i *api.EnclaveInfo) { i.EvidenceType = "tdx_ecdsa" }),
			want: verify.ErrVerification, msg: "not tdx_ecdsa"},
		"exporter evidence of no known type": {answer: exporterWith(func(i *api.EnclaveInfo) { i.EvidenceType = "null" }),
			want: ErrVerification, msg: "not one shelter verifies"},
		"exporter evidence tampered": {answer: exporterWith(func(i *api.EnclaveInfo) {
			i.Evidence = bytes.Clone(i.Evidence)
			i.Evidence[100] ^= 1
		}), want: verify.ErrVerification, msg: "the workload's evidence"},
		"exporter endorsements garbage": {answer: exporterWith(func(i *api.EnclaveInfo) { i.Endorsements = []byte("garbage") }),
			want: verify.ErrVerification, msg: "endorsements"},
		"exporter other measurement": {answer: exporterWith(func(i *api.EnclaveInfo) { i.Measurements["measurement"] = strings.Repeat("00", 48) }),
			want: ErrVerification, msg: "disagrees"},
		"bad signature": {answer: with(func(i *api.EnclaveInfo) { i.Certificate = badSig }),
			want: ErrVerification, msg: "certificate"},
		"not a certificate": {answer: with(func(i *api.EnclaveInfo) { i.Certificate = []byte("garbage") }),
			want: ErrVerification, msg: "the workload certificate"},
		"no certificate": {answer: with(func(i *api.EnclaveInfo) { i.Certificate = nil }),
			want: ErrVerification, msg: "no workload certificate"},
		"error answer": {answer: remotetest.Raw(remotetest.Line(api.EnclaveInfo{MsgType: api.MsgError, Version: 1, Error: "workload not attested\x1b[31m"})),
			want: ErrVerification, msg: "no verified workload: workload not attested?[31m"},
		"other version": {answer: with(func(i *api.EnclaveInfo) { i.Version = 2 }),
			want: ErrVerification, msg: "version 2"},
		"other msgtype": {answer: with(func(i *api.EnclaveInfo) { i.MsgType = "HELLO" }),
			want: ErrVerification, msg: "msgtype"},
		"garbage line":    {answer: remotetest.Raw([]byte("HTTP/1.1 400 Bad Request\r\n")), want: ErrVerification, msg: "not an EnclaveInfo"},
		"two objects":     {answer: remotetest.Raw([]byte("{\"msgtype\":\"ENCLAVEINFO\"} {}\n")), want: ErrVerification, msg: "after its JSON object"},
		"closed early":    {answer: remotetest.Raw([]byte(`{"msgtype":`)), want: ErrConnection, msg: "before a newline"},
		"no answer":       {answer: remotetest.Silent(), timeout: 300 * time.Millisecond, want: context.DeadlineExceeded, msg: "reading the enclave info"},
		"endless line":    {answer: func(_ context.Context, c net.Conn) { c.Write(bytes.Repeat([]byte("a"), MaxInfoSize+10)) }, want: ErrVerification, msg: "longer than"},
		"closed at once":  {answer: func(_ context.Context, c net.Conn) {}, want: ErrConnection, msg: "before a newline"},
		"simulated chain": {answer: remotetest.Honest(w.Info), want: verify.ErrVerification, msg: "simulated"},
	} {
		t.Run(name, func(t *testing.T) {
			noLeak(t)
			f := remotetest.Start(t, "tcp", tc.answer)
			timeout := tc.timeout
			if timeout == 0 {
				timeout = 20 * time.Second
			}
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			opts := Options{Addr: f.Addr, Config: clientConfig(t), Verify: verify.Options{AllowSimulated: name != "simulated chain"}, NoNonce: true}
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
	w := remotetest.NewWorkload(t, "sev_snp_sim", ratstls.FreshnessNone)
	f := remotetest.Start(t, "tcp", remotetest.Honest(w.Info))
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
	f := remotetest.Start(t, "tcp", remotetest.Silent())
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	_, err := Attest(ctx, Options{Addr: f.Addr, Config: clientConfig(t)})
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrConnection) {
		t.Errorf("cancelled while waiting for the enclave info: %v", err)
	}
}

// FuzzVerifyInfo feeds arbitrary answers through the parser and the
// verification: a refusal is ErrVerification, never a panic; and anything
// accepted is the one real workload.
func FuzzVerifyInfo(f *testing.F) {
	w := remotetest.NewWorkload(f, "sev_snp_sim", ratstls.FreshnessNone)
	f.Add(remotetest.Line(w.Info))
	f.Add(remotetest.Line(remotetest.NewWorkload(f, "sev_snp_sim", ratstls.FreshnessExporter).Info))
	f.Add(remotetest.Line(api.EnclaveInfo{MsgType: api.MsgError, Version: 1, Error: "x"}))
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
		if res.ID != w.Info.ID {
			t.Fatalf("accepted %s, the only real workload is %s", res.ID, w.Info.ID)
		}
		if !res.Bound && res.Workload.Appraisal.Status == ear.Affirming {
			t.Fatalf("unbound evidence affirmed")
		}
	})
}

// TestForward runs the stand-in as inclavared runs: it connects to a real
// workload for each shelter and forwards the message and its echo.
func TestForward(t *testing.T) {
	noLeak(t)
	workload := remotetest.StartWorkload(t, "tdx_ecdsa_sim")
	cfg := &ratstls.Config{AllowSimulated: true, Freshness: ratstls.FreshnessNonce}
	t.Cleanup(func() { cfg.Close() })
	f := remotetest.Start(t, "tcp", remotetest.Forward("tcp", workload, cfg))
	for range 2 {
		res, err := attestFresh(t, f, Options{Verify: verify.Options{AllowSimulated: true}, Message: []byte("through inclavared\n")})
		if err != nil {
			t.Fatal(err)
		}
		if !res.Accepted() || !res.Fresh || res.Workload.Type != "tdx_ecdsa" || string(res.Reply) != "through inclavared\n" {
			t.Errorf("%s %s fresh %v %q", res.Workload.Type, res.Workload.Appraisal.Status, res.Fresh, res.Reply)
		}
	}
	// A policy that requires nonce freshness accepts the fresh evidence.
	fresh, err := policy.Parse([]byte("evidence:\n  tdx_ecdsa:\n    freshness: nonce\n    allow_simulated: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := attestFresh(t, f, Options{Verify: verify.Options{AllowSimulated: true, Policy: fresh}}); err != nil || !res.Accepted() {
		t.Errorf("a policy requiring nonce freshness: %v %+v", err, res)
	}
	// An inclavared that does not relay shelter's nonce (or replays older
	// evidence) is caught.
	stale := remotetest.Start(t, "tcp", func(ctx context.Context, c net.Conn) {
		octx, cancel := context.WithCancel(context.Background()) // without shelter's nonce
		defer cancel()
		defer context.AfterFunc(ctx, cancel)()
		remotetest.Forward("tcp", workload, cfg)(octx, c)
	})
	if _, err := attestFresh(t, stale, Options{Verify: verify.Options{AllowSimulated: true}}); !errors.Is(err, ErrVerification) || !strings.Contains(err.Error(), "not over shelter's nonce") {
		t.Errorf("nonce not relayed: %v", err)
	}
	// A workload inclavared cannot reach: an ERROR answer.
	gone := remotetest.Start(t, "tcp", remotetest.Forward("tcp", "127.0.0.1:1", cfg))
	if _, err := attest(t, gone, Options{Verify: verify.Options{AllowSimulated: true}}); !errors.Is(err, ErrVerification) || !strings.Contains(err.Error(), "no verified workload") {
		t.Errorf("unreachable workload: %v", err)
	}
}

// BenchmarkAttest is one remote attestation on loopback: a Rats-TLS
// handshake with the inclavared stand-in (simulated SGX, verified), the
// enclave info exchange, and the re-verification and appraisal of a
// simulated SEV-SNP workload's certificate with reference values.
func BenchmarkAttest(b *testing.B) {
	w := remotetest.NewWorkload(b, "sev_snp_sim", ratstls.FreshnessNone)
	f := remotetest.Start(b, "tcp", remotetest.Honest(w.Info))
	for _, fresh := range []ratstls.Freshness{ratstls.FreshnessNone, ratstls.FreshnessExporter} {
		b.Run("channel="+string(fresh), func(b *testing.B) {
			cfg := &ratstls.Config{AllowSimulated: true, Freshness: fresh}
			defer cfg.Close()
			ref := w.Values
			opts := Options{Addr: f.Addr, Config: cfg, Verify: verify.Options{AllowSimulated: true}, Reference: &ref, ReferenceName: "web", NoNonce: true}
			ctx := context.Background()
			for b.Loop() {
				res, err := Attest(ctx, opts)
				if err != nil || !res.Accepted() {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestMessageFails: when the workload does not answer the message, the
// verdict still comes back, with ErrMessage.
func TestMessageFails(t *testing.T) {
	noLeak(t)
	w := remotetest.NewWorkload(t, "sev_snp_sim", ratstls.FreshnessNone)
	f := remotetest.Start(t, "tcp", remotetest.Raw(remotetest.Line(w.Info)))
	res, err := attest(t, f, Options{Verify: verify.Options{AllowSimulated: true}, Message: []byte("anyone?")})
	if !errors.Is(err, ErrMessage) || errors.Is(err, ErrVerification) || res == nil || !res.Accepted() || res.Reply != nil {
		t.Fatalf("workload hung up on the message: %+v, %v", res, err)
	}
}

// TestExporterMode: a workload reached in exporter mode has a certificate
// without evidence; inclavared forwards the evidence, which verifies as
// genuine but bound to nothing shelter can see: at best a warning.
func TestExporterMode(t *testing.T) {
	noLeak(t)
	for _, attester := range []string{"sev_snp_sim", "sgx_ecdsa_sim", "tdx_ecdsa_sim"} {
		t.Run(attester, func(t *testing.T) {
			w := remotetest.NewWorkload(t, attester, ratstls.FreshnessExporter)
			if len(w.Info.Evidence) == 0 {
				t.Fatal("an exporter-mode workload without evidence")
			}
			f := remotetest.Start(t, "tcp", remotetest.Honest(w.Info))
			ref := w.Values
			res, err := attest(t, f, Options{Verify: verify.Options{AllowSimulated: true}, Reference: &ref, ReferenceName: "w"})
			if err != nil {
				t.Fatal(err)
			}
			a := res.Workload.Appraisal
			if res.Bound || res.Workload.ReportDataChecked || a.Status != ear.Warning || res.ReferenceError != nil ||
				!strings.Contains(strings.Join(a.Reasons, "\n"), "exporter mode") {
				t.Errorf("bound %v, report data checked %v, %s %q, reference %v", res.Bound, res.Workload.ReportDataChecked, a.Status, a.Reasons, res.ReferenceError)
			}
		})
	}
	// A bound certificate says so.
	w := remotetest.NewWorkload(t, "sev_snp_sim", ratstls.FreshnessNonce)
	f := remotetest.Start(t, "tcp", remotetest.Honest(w.Info))
	if res, err := attest(t, f, Options{Verify: verify.Options{AllowSimulated: true}}); err != nil || !res.Bound {
		t.Errorf("nonce mode: %v, %+v", err, res)
	}
}

// TestNotTLS13: shelter talks to inclavared over TLS 1.3 only.
func TestNotTLS13(t *testing.T) {
	noLeak(t)
	w := remotetest.NewWorkload(t, "sev_snp_sim", ratstls.FreshnessNone)
	f := remotetest.StartWith(t, "tcp", &ratstls.Config{Attester: "sgx_ecdsa_sim", TLS: "nulltls"}, remotetest.Honest(w.Info))
	cfg := &ratstls.Config{AllowSimulated: true, TLS: "nulltls", Verifier: "nullverifier"}
	defer cfg.Close()
	_, err := attest(t, f, Options{Config: cfg, Verify: verify.Options{AllowSimulated: true}})
	if !errors.Is(err, verify.ErrUsage) || !strings.Contains(err.Error(), "TLS 1.3 only") {
		t.Errorf("over nulltls: %v", err)
	}
}
