package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	appref "github.com/inclavare/inclavare/appraisal/reference"
	_ "github.com/inclavare/inclavare/framework/builtins"
	"github.com/inclavare/inclavare/framework/ratstls"
	"github.com/inclavare/inclavare/inclavared/api"
	"github.com/inclavare/inclavare/shelter/remote"
	"github.com/inclavare/inclavare/shelter/verify"
)

// The workload's launch measurement (simulated SEV-SNP), and another.
var (
	goodDigest  = strings.Repeat("a1", 48)
	otherDigest = strings.Repeat("e7", 48)
	quiet       = slog.New(slog.DiscardHandler)
)

// startWorkload runs the sample server as a confidential workload with the
// simulated SEV-SNP TEE and launch measurement digest, on port ("0": any).
func startWorkload(t *testing.T, port, digest string) *server {
	t.Helper()
	return startBinaryEnv(t, []string{"RATS_TLS_SEV_SNP_SIM_LAUNCH_DIGEST=" + digest, "RATS_TLS_PLUGIN_DIR=" + noPlugins(t)},
		"rats-tls-server", "-a", "sev_snp_sim", "-p", port)
}

var adminRE = regexp.MustCompile(`admin=127\.0\.0\.1:(\d+)`)

// startInclavared runs inclavared in front of the workload at workloadPort,
// listening on listenPort ("0": any), attesting itself with the simulated
// SEV-SNP TEE, every instance a subprocess plugin from pluginDir, nonce
// freshness on both channels, with an admin address. It returns the
// server and its admin port.
func startInclavared(t *testing.T, listenPort, workloadPort string) (*server, string) {
	t.Helper()
	s := startBinary(t, "inclavared", "--listen", "tcp://127.0.0.1:"+listenPort, "--xfer", "tcp://127.0.0.1:"+workloadPort,
		"-a", "sev_snp_sim", "--allow-simulated", "--freshness", "nonce", "--admin", "tcp://127.0.0.1:0",
		"--no-builtin", "--plugin-dir", pluginDir)
	m := adminRE.FindStringSubmatch(s.logs())
	if m == nil {
		t.Fatalf("inclavared logged no admin address:\n%s", s.logs())
	}
	return s, m[1]
}

// shelterOptions are remote.Attest's options against inclavared on port,
// checking the workload against goodDigest.
func shelterOptions(port string) remote.Options {
	return remote.Options{
		Addr:          "tcp://127.0.0.1:" + port,
		Config:        &ratstls.Config{AllowSimulated: true, Freshness: ratstls.FreshnessNonce, Logger: quiet},
		Verify:        verify.Options{AllowSimulated: true},
		Reference:     &appref.Values{EvidenceType: "sev_snp", Measurements: map[string]string{"measurement": goodDigest}},
		ReferenceName: "web",
	}
}

// snapshot is what must not grow in inclavared under load.
type snapshot struct{ goroutines, fds, plugins int }

func (s snapshot) String() string {
	return fmt.Sprintf("%d goroutines, %d file descriptors, %d plugin processes", s.goroutines, s.fds, s.plugins)
}

func measure(t *testing.T, pid int, adminPort string) snapshot {
	t.Helper()
	resp, err := http.Get("http://127.0.0.1:" + adminPort + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s snapshot
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			s.goroutines, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	if s.goroutines == 0 {
		t.Fatal("inclavared's /metrics has no go_goroutines")
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	s.fds, s.plugins = len(fds), pluginProcesses()
	return s
}

// attestMany runs n remote attestations from workers concurrent shelters
// and returns the failures (errors, or verdicts not accepted).
func attestMany(t *testing.T, opts remote.Options, n, workers int) []error {
	t.Helper()
	var next atomic.Int64
	var mu sync.Mutex
	var failures []error
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				res, err := remote.Attest(ctx, opts)
				cancel()
				if err == nil && !res.Accepted() {
					err = fmt.Errorf("verdict %s: %v", res.Workload.Appraisal.Status, res.Workload.Appraisal.Reasons)
				}
				if err != nil {
					mu.Lock()
					failures = append(failures, err)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	return failures
}

// TestRemoteAttestationLoad: 1,000 remote attestations through inclavared
// (every instance a plugin) from 32 concurrent shelters: no failure, and
// afterwards no more goroutines, file descriptors or plugin processes in
// inclavared than before.
func TestRemoteAttestationLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 attestations")
	}
	w := startWorkload(t, "0", goodDigest)
	inc, admin := startInclavared(t, "0", w.port)
	opts := shelterOptions(inc.port)
	defer opts.Config.Close()
	const total, shelters = 1000, 32

	if f := attestMany(t, opts, 2*shelters, shelters); len(f) > 0 { // warm up: every plugin started
		t.Fatalf("warm-up: %d failures, first: %v", len(f), f[0])
	}
	before := measure(t, inc.cmd.Process.Pid, admin)
	localBefore := runtime.NumGoroutine()
	start := time.Now()
	failures := attestMany(t, opts, total, shelters)
	elapsed := time.Since(start)
	if len(failures) > 0 {
		t.Fatalf("%d of %d attestations failed; first: %v", len(failures), total, failures[0])
	}
	t.Logf("%d remote attestations, %d concurrent shelters: %v (%.0f/s)", total, shelters, elapsed.Round(time.Millisecond), total/elapsed.Seconds())

	// Sessions end asynchronously after the shelter closes: wait for
	// inclavared to settle, then compare.
	var after snapshot
	deadline := time.Now().Add(10 * time.Second)
	for {
		after = measure(t, inc.cmd.Process.Pid, admin)
		if after.goroutines <= before.goroutines && after.fds <= before.fds && after.plugins <= before.plugins {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("inclavared grew under load: before %v, after %v", before, after)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("inclavared before: %v; after: %v", before, after)
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > localBefore; {
		if time.Now().After(deadline) {
			t.Fatalf("shelter side: %d goroutines before, %d after", localBefore, runtime.NumGoroutine())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// shelterCmd runs the shelter binary with the database db and returns its
// output and exit code.
func shelterCmd(t *testing.T, db string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "shelter"), args...)
	cmd.Env = append(os.Environ(), "SHELTER_DB="+db, "RATS_TLS_PLUGIN_DIR="+filepath.Join(filepath.Dir(db), "no-plugins"))
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("shelter %v: %v", args, err)
		}
		code = ee.ExitCode()
	}
	return string(out), code
}

// TestRemoteAttestationRecovery: the workload killed in the middle of a
// session, inclavared's plugins killed, inclavared restarted: each gives a clear error
// where it must, and everything works again afterwards, with the
// reference values intact.
func TestRemoteAttestationRecovery(t *testing.T) {
	db := filepath.Join(t.TempDir(), "shelter.db")
	if out, code := shelterCmd(t, db, "reference", "add", "web", "--evidence-type", "sev_snp", "--measurement", "measurement="+goodDigest); code != 0 {
		t.Fatalf("reference add: exit %d\n%s", code, out)
	}
	wport, iport := freePort(t), freePort(t)
	w := startWorkload(t, wport, goodDigest)
	inc, _ := startInclavared(t, iport, wport)
	attest := func() (string, int) {
		return shelterCmd(t, db, "remoteattestation", "--addr", "tcp://127.0.0.1:"+iport, "--workload", "web",
			"--allow-simulated", "--freshness", "nonce", "--message", "ping")
	}
	mustAttest := func(t *testing.T, when string) {
		t.Helper()
		if out, code := attest(); code != 0 || !strings.Contains(out, "ping") {
			t.Fatalf("%s: exit %d\n%s", when, code, out)
		}
	}
	mustAttest(t, "at first")
	parent := t

	t.Run("workload killed mid-session", func(t *testing.T) {
		cfg := &ratstls.Config{AllowSimulated: true, Logger: quiet}
		defer cfg.Close()
		c, err := ratstls.Dial(context.Background(), "tcp", "127.0.0.1:"+iport, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		r := bufio.NewReader(c)
		if _, err := io.WriteString(c, api.GetEnclaveInfoLine+"hello\n"); err != nil {
			t.Fatal(err)
		}
		if _, err := r.ReadBytes('\n'); err != nil {
			t.Fatal(err)
		}
		if line, err := r.ReadString('\n'); err != nil || line != "hello\n" {
			t.Fatalf("echo through inclavared: %q, %v", line, err)
		}
		w.cmd.Process.Kill()
		w.cmd.Wait()
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := r.ReadByte(); !errors.Is(err, io.EOF) {
			t.Fatalf("after the workload died the session gave %v, want EOF", err)
		}
		out, code := attest()
		if code == 0 || !strings.Contains(out, "no verified workload") || !strings.Contains(out, "connection refused") {
			t.Fatalf("workload down: exit %d, want a failure saying why:\n%s", code, out)
		}
		w = startWorkload(parent, wport, goodDigest) // lives on after this subtest
		mustAttest(t, "workload restarted")
	})

	t.Run("plugin killed", func(t *testing.T) {
		killed := killPlugins(t, inc.cmd.Process.Pid)
		if killed == 0 {
			t.Fatal("inclavared has no plugin process to kill")
		}
		// The first attestation may fail, with a clear error, while the
		// plugins restart (a killed crypto plugin took inclavared's key
		// with it); the next must succeed.
		if out, code := attest(); code != 0 && !strings.Contains(out, "inclavared") {
			t.Fatalf("first attestation after %d plugins were killed: exit %d, no clear error:\n%s", killed, code, out)
		}
		if inc.cmd.ProcessState != nil {
			t.Fatal("inclavared exited")
		}
		mustAttest(t, "after the plugins restarted")
		mustAttest(t, "and again")
	})

	t.Run("inclavared restarted", func(t *testing.T) {
		inc.stop(t)
		if out, code := attest(); code != 1 || !strings.Contains(out, "127.0.0.1:"+iport) {
			t.Fatalf("inclavared down: exit %d, want 1 naming the address:\n%s", code, out)
		}
		inc, _ = startInclavared(parent, iport, wport)
		out, code := shelterCmd(t, db, "reference", "list")
		if code != 0 || !strings.Contains(out, goodDigest) {
			t.Fatalf("reference values after the restarts: exit %d\n%s", code, out)
		}
		mustAttest(t, "inclavared restarted")
	})
}

// killPlugins kills inclavared's plugin processes and returns how many.
func killPlugins(t *testing.T, parent int) int {
	t.Helper()
	n := 0
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) < 2 || f[1] != strconv.Itoa(parent) {
			continue
		}
		exe, err := os.Readlink(filepath.Join(filepath.Dir(p), "exe"))
		if err != nil || !strings.HasPrefix(exe, pluginDir+"/") {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if syscall.Kill(pid, syscall.SIGKILL) == nil {
			n++
		}
	}
	return n
}
