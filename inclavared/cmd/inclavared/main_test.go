package main

// End-to-end tests: the real inclavared binary between a Go client playing
// shelter and the real rats-tls-server sample as the workload, attesting
// with a simulated TEE, on loopback.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/inclavare/inclavare/framework/builtins"
	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/ratstls"
	"github.com/inclavare/inclavare/inclavared/api"
	"github.com/inclavare/inclavare/internal/testbuild"
)

var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "inclavared-e2e-")
	if err != nil {
		panic(err)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		binDir = dir
		if err := testbuild.Go(binDir, testbuild.Module+"/inclavared/cmd/inclavared", testbuild.Module+"/samples/rats-tls-server"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return m.Run()
	}()
	os.Exit(code)
}

// waitFor bounds every wait.
const waitFor = 30 * time.Second

// proc is a running binary whose stderr is collected.
type proc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	log  bytes.Buffer
	done chan struct{}
	err  error // from Wait, once done is closed
}

// launch starts bin with args and env, collecting its stderr.
func launch(t *testing.T, env []string, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{done: make(chan struct{})}
	p.cmd = exec.Command(filepath.Join(binDir, bin), args...)
	p.cmd.Env = append(os.Environ(), env...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.stop(t) })
	return p
}

func (p *proc) logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.String()
}

// await waits for a log line matching re and returns its first group.
func (p *proc) await(t *testing.T, re *regexp.Regexp) string {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(p.logs()); m != nil {
			return m[1]
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited (%v) before logging %s:\n%s", p.cmd.Path, p.err, re, p.logs())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("%s did not log %s within %s:\n%s", p.cmd.Path, re, waitFor, p.logs())
	return ""
}

// exited waits for the process to end by itself and returns its exit code.
func (p *proc) exited(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(within):
		t.Fatalf("%s still running after %s:\n%s", p.cmd.Path, within, p.logs())
	}
	return p.cmd.ProcessState.ExitCode()
}

// stop sends SIGTERM and waits; a process ignoring it fails the test.
func (p *proc) stop(t *testing.T) {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(waitFor):
		p.cmd.Process.Kill()
		<-p.done
		t.Errorf("%s ignored SIGTERM:\n%s", p.cmd.Path, p.logs())
	}
}

var (
	serverAddrRE = regexp.MustCompile(`msg="rats-tls server listening" addr=(\S+)`)
	listenRE     = regexp.MustCompile(`msg="inclavared listening" addr=(\S+)`)
	adminRE      = regexp.MustCompile(`msg="inclavared admin listening" admin=(\S+)`)
)

// tee is a simulated TEE and the environment variable of its measurement.
type tee struct {
	attester, evidence, env, claim string
	size                           int
}

var (
	snpSim = tee{"sev_snp_sim", "sev_snp", "RATS_TLS_SEV_SNP_SIM_LAUNCH_DIGEST", "measurement", 48}
	sgxSim = tee{"sgx_ecdsa_sim", "sgx_ecdsa", "RATS_TLS_SGX_ECDSA_SIM_MRENCLAVE", "mrenclave", 32}
	tdxSim = tee{"tdx_ecdsa_sim", "tdx_ecdsa", "RATS_TLS_TDX_ECDSA_SIM_MRTD", "mrtd", 48}
)

// measurement is a measurement of the TEE's size made of b.
func (tt tee) measurement(b byte) string {
	return strings.Repeat(fmt.Sprintf("%02x", b), tt.size)
}

// workload starts rats-tls-server attesting with tt, with measurement m,
// and returns its xfer address.
func workload(t *testing.T, tt tee, m string, extra ...string) string {
	t.Helper()
	args := append([]string{"-p", "0", "-a", tt.attester, "--plugin-dir", t.TempDir()}, extra...)
	p := launch(t, []string{tt.env + "=" + m}, "rats-tls-server", args...)
	return "tcp://" + p.await(t, serverAddrRE)
}

// daemon is a running inclavared.
type daemon struct {
	*proc
	network, addr, admin string
}

// start runs inclavared with args (an empty plugin directory is added)
// and waits until it listens.
func start(t *testing.T, args ...string) *daemon {
	t.Helper()
	p := launch(t, nil, "inclavared", append([]string{"--plugin-dir", t.TempDir()}, args...)...)
	d := &daemon{proc: p, network: "tcp"}
	d.addr = p.await(t, listenRE)
	if strings.HasPrefix(d.addr, "/") {
		d.network = "unix"
	}
	if slices.Contains(args, "--admin") || slices.Contains(args, "--config") {
		if m := adminRE.FindStringSubmatch(p.logs()); m != nil {
			d.admin = m[1]
		}
	}
	return d
}

// shelter connects to d as shelter does. inclavared attests with the null
// attester here (no TEE), so shelter names the null verifier.
func (d *daemon) shelter(t *testing.T) *ratstls.Conn {
	t.Helper()
	c, err := d.dial(t)
	if err != nil {
		t.Fatalf("shelter handshake with inclavared: %v\n%s", err, d.logs())
	}
	return c
}

func (d *daemon) dial(t *testing.T) (*ratstls.Conn, error) {
	cfg := &ratstls.Config{Verifier: instance.NullVerifierName, Logger: slog.New(slog.DiscardHandler)}
	t.Cleanup(func() { cfg.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	c, err := ratstls.Dial(ctx, d.network, d.addr, cfg)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(waitFor))
	t.Cleanup(func() { c.Close() })
	return c, nil
}

// ask sends GETENCLAVEINFO and reads the answer.
func ask(t *testing.T, c *ratstls.Conn) (*api.EnclaveInfo, *bufio.Reader) {
	t.Helper()
	if _, err := io.WriteString(c, api.GetEnclaveInfoLine); err != nil {
		t.Fatalf("sending GETENCLAVEINFO: %v", err)
	}
	r := bufio.NewReader(c)
	line, err := r.ReadBytes('\n')
	if err != nil {
		t.Fatalf("reading the answer: %v (%q)", err, line)
	}
	var info api.EnclaveInfo
	if err := json.Unmarshal(line, &info); err != nil {
		t.Fatalf("answer %q: %v", line, err)
	}
	return &info, r
}

// closeWrite half-closes shelter's side.
func closeWrite(t *testing.T, c *ratstls.Conn) {
	t.Helper()
	if err := c.Session().(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		t.Fatal(err)
	}
}

// echo sends msg through c, half-closes, and checks the workload's echo.
func echo(t *testing.T, c *ratstls.Conn, r io.Reader, msg string) {
	t.Helper()
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatal(err)
	}
	closeWrite(t, c)
	got, err := io.ReadAll(r)
	if err != nil || string(got) != msg {
		t.Fatalf("echo %q, %v; want %q", got, err, msg)
	}
}

// httpGet fetches an admin URL.
func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	cl := &http.Client{Timeout: waitFor}
	resp, err := cl.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestEnclaveInfoEachSimulatedTEE(t *testing.T) {
	for i, tt := range []tee{snpSim, sgxSim, tdxSim} {
		t.Run(tt.attester, func(t *testing.T) {
			m := tt.measurement(byte(0xa0 + i))
			xfer := workload(t, tt, m)
			listen := "tcp://127.0.0.1:0"
			if tt == snpSim {
				listen = "unix://" + filepath.Join(sockDir(t), "inclavared.sock")
			}
			d := start(t, "--listen", listen, "--xfer", xfer, "--allow-simulated", "--admin", "tcp://127.0.0.1:0")
			c := d.shelter(t)
			info, r := ask(t, c)
			if info.MsgType != api.MsgEnclaveInfo || info.Version != 1 || info.ID != tt.evidence+":"+m {
				t.Fatalf("answer %+v, want ENCLAVEINFO with id %s:%s", info, tt.evidence, m)
			}
			if info.EvidenceType != tt.evidence || info.Measurements[tt.claim] != m || info.Freshness != "exporter" || info.Claims["simulated"] != true {
				t.Errorf("answer: evidence %s, measurements %v, freshness %s, simulated %v", info.EvidenceType, info.Measurements, info.Freshness, info.Claims["simulated"])
			}
			if _, err := x509.ParseCertificate(info.Certificate); err != nil || len(info.Evidence) == 0 {
				t.Errorf("workload certificate: %v; %d bytes of evidence", err, len(info.Evidence))
			}
			echo(t, c, r, "through inclavared to "+tt.attester+"\n")

			if code, body := httpGet(t, "http://"+d.admin+"/healthz"); code != 200 || body != "ok\n" {
				t.Errorf("/healthz: %d %q", code, body)
			}
			code, body := httpGet(t, "http://"+d.admin+"/metrics")
			for _, want := range []string{
				`inclavared_handshakes_total{peer="workload",result="ok"} 1`,
				`inclavared_handshakes_total{peer="shelter",result="ok"} 1`,
				`inclavared_enclave_info_requests_total{result="answered"} 1`,
				`inclavared_handshake_seconds_count{peer="workload"} 1`,
				`inclavared_forwarded_bytes_total{direction="to_workload"}`,
			} {
				if code != 200 || !strings.Contains(body, want) {
					t.Errorf("/metrics (%d) lacks %q", code, want)
				}
			}
		})
	}
}

func TestForwardWithoutRequestAndConfigFile(t *testing.T) {
	xfer := workload(t, snpSim, snpSim.measurement(1))
	cfg := filepath.Join(t.TempDir(), "inclavared.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("listen = \"tcp://127.0.0.1:0\"\nxfer = %q\nallow_simulated = true\nlog_level = \"debug\"\nrequest_wait = \"200ms\"\n", xfer)), 0o600)
	d := start(t, "--config", cfg, "-l", "info")
	c := d.shelter(t)
	echo(t, c, c, "plain bytes, no request\n")
	if strings.Contains(d.logs(), "level=DEBUG") {
		t.Error("the command line's -l info did not win over the file's log_level")
	}
}

func TestWorkloadFailures(t *testing.T) {
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	down, _ := net.Listen("tcp", "127.0.0.1:0")
	downAddr := down.Addr().String()
	down.Close()
	snp := workload(t, snpSim, snpSim.measurement(2))
	policy := filepath.Join(t.TempDir(), "policy.yaml")
	os.WriteFile(policy, []byte("id: e2e\nevidence:\n  sev_snp:\n    allow_simulated: true\n    measurement:\n      - "+snpSim.measurement(3)+"\n"), 0o600)

	for _, tc := range []struct {
		name   string
		args   []string
		reason string
		text   string
	}{
		{"down", []string{"--xfer", "tcp://" + downAddr}, api.ReasonUnreachable, "connection refused"},
		{"slow", []string{"--xfer", "tcp://" + silent.Addr().String(), "--upstream-timeout", "500ms"}, api.ReasonTimeout, "within 500ms"},
		{"simulated not trusted", []string{"--xfer", snp}, api.ReasonRefused, "allow-simulated"},
		{"policy", []string{"--xfer", snp, "--allow-simulated", "--policy", policy}, api.ReasonPolicy, "policy e2e"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := start(t, append([]string{"--listen", "tcp://127.0.0.1:0", "--admin", "tcp://127.0.0.1:0", "--request-wait", "300ms"}, tc.args...)...)
			for range 2 { // inclavared keeps running and answers again
				t0 := time.Now()
				info, r := ask(t, d.shelter(t))
				if info.MsgType != api.MsgError || info.Reason != tc.reason || !strings.Contains(info.Error, tc.text) {
					t.Fatalf("answer %+v, want an error (%s) saying %q", info, tc.reason, tc.text)
				}
				if el := time.Since(t0); el > 5*time.Second {
					t.Errorf("the error took %s", el)
				}
				if rest, err := io.ReadAll(r); len(rest) != 0 || err != nil {
					t.Errorf("after the error: %q, %v", rest, err)
				}
			}
			c := d.shelter(t)
			io.WriteString(c, "hello")
			if got, _ := io.ReadAll(c); len(got) != 0 {
				t.Errorf("without a request the channel carried %q", got)
			}
			_, body := httpGet(t, "http://"+d.admin+"/metrics")
			if want := fmt.Sprintf(`inclavared_verification_failures_total{reason=%q} 3`, tc.reason); !strings.Contains(body, want) {
				t.Errorf("/metrics lacks %s", want)
			}
			if code, _ := httpGet(t, "http://"+d.admin+"/healthz"); code != 200 {
				t.Errorf("/healthz %d after failures", code)
			}
		})
	}
}

func TestManySessions(t *testing.T) {
	m := snpSim.measurement(4)
	d := start(t, "--listen", "tcp://127.0.0.1:0", "--xfer", workload(t, snpSim, m), "--allow-simulated", "--admin", "tcp://127.0.0.1:0")
	const n = 24
	var wg sync.WaitGroup
	errs := make(chan string, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := d.dial(t)
			if err != nil {
				errs <- err.Error()
				return
			}
			defer c.Close()
			io.WriteString(c, api.GetEnclaveInfoLine)
			r := bufio.NewReader(c)
			line, _ := r.ReadBytes('\n')
			var info api.EnclaveInfo
			if json.Unmarshal(line, &info) != nil || info.ID != "sev_snp:"+m {
				errs <- fmt.Sprintf("session %d: answer %q", i, line)
				return
			}
			msg := strings.Repeat(fmt.Sprintf("session %d;", i), 2000)
			go func() {
				io.WriteString(c, msg)
				c.Session().(interface{ CloseWrite() error }).CloseWrite()
			}()
			if got, err := io.ReadAll(r); err != nil || string(got) != msg {
				errs <- fmt.Sprintf("session %d: echo of %d bytes gave %d, %v", i, len(msg), len(got), err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	deadline := time.Now().Add(waitFor)
	for {
		_, body := httpGet(t, "http://"+d.admin+"/metrics")
		if strings.Contains(body, fmt.Sprintf(`inclavared_sessions_total{outcome="forwarded"} %d`, n)) && strings.Contains(body, "inclavared_sessions_active 0") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sessions not all counted and closed:\n%s", body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSIGTERM(t *testing.T) {
	xfer := workload(t, snpSim, snpSim.measurement(5))
	t.Run("session finishes within the grace period", func(t *testing.T) {
		sock := filepath.Join(sockDir(t), "inclavared.sock")
		d := start(t, "--listen", "unix://"+sock, "--xfer", xfer, "--allow-simulated", "--grace-period", "20s")
		c := d.shelter(t)
		_, r := ask(t, c)
		d.cmd.Process.Signal(syscall.SIGTERM)
		d.await(t, regexp.MustCompile(`msg="inclavared (stopping)"`))
		if _, err := d.dial(t); err == nil {
			t.Error("a new session was accepted after SIGTERM")
		}
		echo(t, c, r, "finishing after SIGTERM\n")
		if code := d.exited(t, 10*time.Second); code != 0 {
			t.Errorf("exit %d after SIGTERM:\n%s", code, d.logs())
		}
		if _, err := os.Lstat(sock); !os.IsNotExist(err) {
			t.Errorf("socket left behind: %v", err)
		}
	})
	t.Run("grace period ends", func(t *testing.T) {
		d := start(t, "--listen", "tcp://127.0.0.1:0", "--xfer", xfer, "--allow-simulated", "--grace-period", "300ms")
		c := d.shelter(t)
		ask(t, c)
		t0 := time.Now()
		d.cmd.Process.Signal(syscall.SIGTERM)
		if code := d.exited(t, 10*time.Second); code != 0 {
			t.Errorf("exit %d:\n%s", code, d.logs())
		}
		if el := time.Since(t0); el > 5*time.Second {
			t.Errorf("exit %s after SIGTERM with a 300ms grace period", el)
		}
		if got, _ := io.ReadAll(c); len(got) != 0 {
			t.Errorf("read %q from a closed session", got)
		}
		if !strings.Contains(d.logs(), "sessions closed at the end of the grace period") {
			t.Errorf("no log of the closed session:\n%s", d.logs())
		}
	})
}

func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.toml")
	os.WriteFile(garbage, []byte("\x7fELF\x02\x01 = = ["), 0o600)
	typo := filepath.Join(dir, "typo.toml")
	os.WriteFile(typo, []byte("listen = \"tcp://127.0.0.1:0\"\nxfer = \"tcp://127.0.0.1:1\"\nallow_simulatd = true\n"), 0o600)
	wrongType := filepath.Join(dir, "type.toml")
	os.WriteFile(wrongType, []byte("allow_simulated = \"yes\"\n"), 0o600)
	notSocket := filepath.Join(dir, "not-a-socket")
	os.WriteFile(notSocket, []byte("data"), 0o600)
	sock := filepath.Join(dir, "never.sock")
	ok := []string{"--listen", "unix://" + sock, "--xfer", "tcp://127.0.0.1:1"}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--config", garbage}, "configuration file " + garbage + ": toml:"},
		{[]string{"--config", typo}, `unknown key "allow_simulatd"`},
		{[]string{"--config", wrongType}, "key allow_simulated: want true or false, got a string"},
		{[]string{"--config", filepath.Join(dir, "missing.toml")}, "no such file"},
		{[]string{"--xfer", "tcp://127.0.0.1:1"}, "--listen is required"},
		{[]string{"--listen", "tcp://127.0.0.1:0"}, "--xfer is required"},
		{[]string{"--listen", "127.0.0.1:0", "--xfer", "tcp://127.0.0.1:1"}, "want tcp://HOST:PORT or unix://PATH"},
		{[]string{"--listen", "tcp://127.0.0.1:0", "--xfer", "https://workload:443"}, `unknown scheme "https"`},
		{[]string{"--listen", "tcp://127.0.0.1:99999", "--xfer", "tcp://127.0.0.1:1"}, `port "99999"`},
		{[]string{"--listen", "unix://" + notSocket, "--xfer", "tcp://127.0.0.1:1"}, "exists and is not a socket"},
		{append([]string{"--admin", "ftp://x"}, ok...), "--admin: address"},
		{append([]string{"--verifier", "nullverifier"}, ok...), "inclavared must verify the workload"},
		{append([]string{"--attester", "no_such_attester"}, ok...), "no_such_attester"},
		{append([]string{"--tls", "nulltls"}, ok...), "only TLS 1.3"},
		{append([]string{"--freshness", "sometimes"}, ok...), "freshness"},
		{append([]string{"--policy", filepath.Join(dir, "missing.yaml")}, ok...), "missing.yaml"},
		{append(ok, "extra"), "unexpected arguments"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			p := launch(t, nil, "inclavared", append([]string{"--plugin-dir", t.TempDir()}, tc.args...)...)
			if code := p.exited(t, waitFor); code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if out := p.logs(); !strings.Contains(out, "inclavared: ") || !strings.Contains(out, tc.want) {
				t.Errorf("stderr does not say %q:\n%s", tc.want, out)
			}
			if _, err := os.Lstat(sock); !os.IsNotExist(err) {
				t.Errorf("a socket file was left behind: %v", err)
			}
			if b, _ := os.ReadFile(notSocket); string(b) != "data" {
				t.Errorf("the file at the listen path was changed: %q", b)
			}
		})
	}
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
