package ratstls_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/inclavare/inclavare/framework/plugin"
	"github.com/inclavare/inclavare/framework/ratstls"
	"github.com/inclavare/inclavare/framework/registry"
	"github.com/inclavare/inclavare/framework/tlsengine"
	"github.com/inclavare/inclavare/internal/testbuild"
)

// handshakeCase is one way of making connections. start listens on a
// loopback port (the listener and configurations live for the whole
// benchmark) and returns how to open one client connection, handshake
// included.
type handshakeCase struct {
	name  string
	start func(tb testing.TB) (addr string, dial func(ctx context.Context, addr string) (net.Conn, error))
}

// handshakeCases are the sub-benchmarks of BenchmarkHandshake.
// scripts/benchmedian reports every case relative to "plain".
var handshakeCases = []handshakeCase{
	// crypto/tls alone, configured like tlsengine: the floor.
	{name: "plain", start: startPlain},
	// Rats-TLS with the built-in null instances over Go TLS and crypto, in
	// none mode: what the C Rats-TLS does.
	{name: "null", start: ratsCase(func(testing.TB) (server, client *ratstls.Config) {
		return &ratstls.Config{Attester: "nullattester", TLS: "gotls", Crypto: "gocrypto", Freshness: ratstls.FreshnessNone, Logger: quiet},
			&ratstls.Config{Verifier: "nullverifier", TLS: "gotls", Crypto: "gocrypto", Freshness: ratstls.FreshnessNone, Logger: quiet}
	})},
	// The same null instances, every one served by a subprocess plugin:
	// the Catalog holds only plugins, so nothing falls back to a built-in.
	{name: "null-plugins", start: ratsCase(func(tb testing.TB) (server, client *ratstls.Config) {
		cat := pluginCatalog(tb)
		return &ratstls.Config{Catalog: cat, Attester: "nullattester", TLS: "gotls", Crypto: "gocrypto", Freshness: ratstls.FreshnessNone, Logger: quiet},
			&ratstls.Config{Catalog: cat, Verifier: "nullverifier", TLS: "gotls", Crypto: "gocrypto", Freshness: ratstls.FreshnessNone, Logger: quiet}
	})},
	// The test TEE (evidence costs an HMAC) in each freshness mode, set
	// explicitly on both sides: none reuses one certificate, nonce issues
	// one per connection, exporter sends evidence after the handshake.
	{name: "tee-none", start: ratsCase(teeCase(ratstls.FreshnessNone))},
	{name: "tee-nonce", start: ratsCase(teeCase(ratstls.FreshnessNonce))},
	{name: "tee-exporter", start: ratsCase(teeCase(ratstls.FreshnessExporter))},
	// The simulated SEV-SNP TEE: real reports, signed and verified (the
	// VCEK chain check cached), in each mode, built in and as plugins.
	{name: "sev_snp_sim-none", start: ratsCase(simCase("sev_snp_sim", "sev_snp", ratstls.FreshnessNone, false))},
	{name: "sev_snp_sim-nonce", start: ratsCase(simCase("sev_snp_sim", "sev_snp", ratstls.FreshnessNonce, false))},
	{name: "sev_snp_sim-exporter", start: ratsCase(simCase("sev_snp_sim", "sev_snp", ratstls.FreshnessExporter, false))},
	{name: "sev_snp_sim-plugins-none", start: ratsCase(simCase("sev_snp_sim", "sev_snp", ratstls.FreshnessNone, true))},
	{name: "sev_snp_sim-plugins-nonce", start: ratsCase(simCase("sev_snp_sim", "sev_snp", ratstls.FreshnessNonce, true))},
	{name: "sev_snp_sim-plugins-exporter", start: ratsCase(simCase("sev_snp_sim", "sev_snp", ratstls.FreshnessExporter, true))},
	// The simulated SGX and TDX TEEs: real-format quotes, verified in pure
	// Go against the simulated collateral.
	{name: "sgx_ecdsa_sim-none", start: ratsCase(simCase("sgx_ecdsa_sim", "sgx_ecdsa", ratstls.FreshnessNone, false))},
	{name: "sgx_ecdsa_sim-exporter", start: ratsCase(simCase("sgx_ecdsa_sim", "sgx_ecdsa", ratstls.FreshnessExporter, false))},
	{name: "tdx_ecdsa_sim-none", start: ratsCase(simCase("tdx_ecdsa_sim", "tdx_ecdsa", ratstls.FreshnessNone, false))},
	{name: "tdx_ecdsa_sim-exporter", start: ratsCase(simCase("tdx_ecdsa_sim", "tdx_ecdsa", ratstls.FreshnessExporter, false))},
}

// simCase is the server and client Configs of a simulated TEE (attester)
// in mode f, the client verifying with verifier; plugins serves every
// instance from a subprocess.
func simCase(attester, verifier string, f ratstls.Freshness, plugins bool) func(testing.TB) (server, client *ratstls.Config) {
	return func(tb testing.TB) (server, client *ratstls.Config) {
		server = &ratstls.Config{Attester: attester, TLS: "gotls", Crypto: "gocrypto", Freshness: f, Logger: quiet}
		client = &ratstls.Config{Verifier: verifier, TLS: "gotls", Crypto: "gocrypto", Freshness: f, AllowSimulated: true, Logger: quiet}
		if plugins {
			server.Catalog = pluginCatalog(tb)
			client.Catalog = server.Catalog
		}
		return server, client
	}
}

// teeCase is the server and client Configs of the test TEE in mode f.
func teeCase(f ratstls.Freshness) func(testing.TB) (server, client *ratstls.Config) {
	return func(testing.TB) (server, client *ratstls.Config) {
		server, client = teeConfig(), teeConfig()
		server.Freshness, client.Freshness = f, f
		return server, client
	}
}

// BenchmarkHandshake measures one connection: dial, a full handshake on
// both sides, a 1-byte echo (which the server sends only once its own
// handshake is done) and close.
func BenchmarkHandshake(b *testing.B) {
	for _, hc := range handshakeCases {
		b.Run(hc.name, func(b *testing.B) {
			addr, dial := hc.start(b)
			ctx := context.Background()
			buf := []byte{'x'}
			for b.Loop() {
				c, err := dial(ctx, addr)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := c.Write(buf); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(c, buf); err != nil {
					b.Fatal(err)
				}
				c.Close()
			}
		})
	}
}

// concurrentClients is how many clients BenchmarkHandshakeConcurrent runs
// against one server.
const concurrentClients = 32

// BenchmarkHandshakeConcurrent measures what one server sustains with 32
// clients connecting at once, reported as handshakes/s (each as in
// BenchmarkHandshake).
func BenchmarkHandshakeConcurrent(b *testing.B) {
	for _, hc := range handshakeCases {
		switch hc.name {
		case "plain", "null", "sev_snp_sim-none", "sev_snp_sim-nonce", "sev_snp_sim-exporter":
		default:
			continue
		}
		b.Run(hc.name, func(b *testing.B) {
			addr, dial := hc.start(b)
			ctx := context.Background()
			b.SetParallelism((concurrentClients + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				buf := []byte{'x'}
				for pb.Next() {
					c, err := dial(ctx, addr)
					if err != nil {
						b.Error(err)
						return
					}
					if _, err := c.Write(buf); err == nil {
						_, err = io.ReadFull(c, buf)
					}
					c.Close()
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "handshakes/s")
		})
	}
}

// TestHandshakeCasesComparable checks that the benchmark compares like with
// like: every case negotiates TLS 1.3 with the same key exchange and
// without resumption.
func TestHandshakeCasesComparable(t *testing.T) {
	noLeak(t)
	type stater interface{ ConnectionState() tls.ConnectionState }
	for _, hc := range handshakeCases {
		t.Run(hc.name, func(t *testing.T) {
			addr, dial := hc.start(t)
			c, err := dial(context.Background(), addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			echo(t, c, []byte{'x'})
			var st stater
			switch c := c.(type) {
			case *tls.Conn:
				st = c
			case *ratstls.Conn:
				st, _ = c.Session().(stater)
			}
			if st == nil {
				t.Fatalf("%T exposes no TLS connection state", c)
			}
			cs := st.ConnectionState()
			if cs.Version != tls.VersionTLS13 || cs.CurveID != tlsengine.DefaultCurves[0] || cs.DidResume {
				t.Errorf("negotiated %s, %s, resumed=%v; want TLS 1.3, %s, no resumption",
					tls.VersionName(cs.Version), cs.CurveID, cs.DidResume, tlsengine.DefaultCurves[0])
			}
			if len(cs.PeerCertificates) != 1 || cs.PeerCertificates[0].PublicKeyAlgorithm != x509.ECDSA {
				t.Errorf("peer presented %d certificates; want one ECDSA", len(cs.PeerCertificates))
			}
		})
	}
}

// serveEcho accepts on l until it is closed; each connection echoes one
// byte (its first Read runs the server handshake) and closes.
func serveEcho(b testing.TB, l net.Listener) {
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(waitFor))
				buf := make([]byte, 1)
				if _, err := io.ReadFull(c, buf); err != nil {
					b.Errorf("server: %v", err)
					return
				}
				if _, err := c.Write(buf); err != nil {
					b.Errorf("server: %v", err)
				}
			})
		}
	})
	b.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
}

// startPlain is crypto/tls TLS 1.3 on both sides with what tlsengine sets:
// a fresh self-signed ECDSA P-256 certificate, tlsengine.DefaultCurves, no
// session tickets. The client skips chain verification, as Rats-TLS leaves
// the self-signed certificate to its own checks.
func startPlain(b testing.TB) (string, func(context.Context, string) (net.Conn, error)) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "plain"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		b.Fatal(err)
	}
	base := tls.Config{
		MinVersion:             tls.VersionTLS13,
		MaxVersion:             tls.VersionTLS13,
		SessionTicketsDisabled: true,
		CurvePreferences:       tlsengine.DefaultCurves,
	}
	srv, cli := base.Clone(), base.Clone()
	srv.Certificates = []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}
	cli.InsecureSkipVerify = true
	l, err := tls.Listen("tcp", "127.0.0.1:0", srv)
	if err != nil {
		b.Fatal(err)
	}
	serveEcho(b, l)
	d := &tls.Dialer{Config: cli}
	return l.Addr().String(), func(ctx context.Context, addr string) (net.Conn, error) {
		return d.DialContext(ctx, "tcp", addr)
	}
}

// ratsCase is a Rats-TLS case: configs makes the server and client
// Configs, which serve every iteration and are closed at the end.
func ratsCase(configs func(tb testing.TB) (server, client *ratstls.Config)) func(testing.TB) (string, func(context.Context, string) (net.Conn, error)) {
	return func(b testing.TB) (string, func(context.Context, string) (net.Conn, error)) {
		srv, cli := configs(b)
		closeConfig(b, srv, cli)
		l, err := ratstls.Listen(context.Background(), "tcp", "127.0.0.1:0", srv)
		if err != nil {
			b.Fatal(err)
		}
		serveEcho(b, l)
		return l.Addr().String(), func(ctx context.Context, addr string) (net.Conn, error) {
			return ratstls.Dial(ctx, "tcp", addr, cli)
		}
	}
}

// The plugins are built once per test binary (removed by TestMain).
var (
	pluginsOnce sync.Once
	pluginsDir  string
	pluginsErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if pluginsDir != "" {
		os.RemoveAll(pluginsDir)
	}
	os.Exit(code)
}

// pluginCatalog builds the plugins into a temporary directory and returns
// a catalogue of them alone.
func pluginCatalog(tb testing.TB) *registry.Catalog {
	pluginsOnce.Do(func() {
		pluginsDir, pluginsErr = os.MkdirTemp("", "ratstls-bench-plugins-")
		if pluginsErr == nil {
			pluginsErr = testbuild.Plugins(pluginsDir)
		}
	})
	if pluginsErr != nil {
		tb.Fatal(pluginsErr)
	}
	regs, err := plugin.Discover(context.Background(), pluginsDir, quiet)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(plugin.CleanupClients)
	return registry.NewCatalog(true, regs, quiet)
}
