package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/inclavare/inclavare/appraisal/ear"
	"github.com/inclavare/inclavare/framework/ratstls"
	"github.com/inclavare/inclavare/inclavared/api"
	"github.com/inclavare/inclavare/internal/testbuild"
	"github.com/inclavare/inclavare/shelter/remote/remotetest"
)

// goroutinesSettle fails the test if more goroutines run at its end than
// at its start, once they had 3 seconds to finish. The goroutine of
// os/signal, which runs for the life of the process once the command asks
// for signals, is started first.
func goroutinesSettle(t *testing.T) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGUSR2)
	signal.Stop(c)
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		for deadline := time.Now().Add(3 * time.Second); runtime.NumGoroutine() > before; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				var b strings.Builder
				pprof.Lookup("goroutine").WriteTo(&b, 1)
				t.Errorf("%d goroutines before, %d after:\n%s", before, runtime.NumGoroutine(), b.String())
				return
			}
		}
	})
}

// TestRemoteAttestation runs the command in-process against the inclavared
// stand-in (simulated SGX) in front of a simulated SEV-SNP workload.
func TestRemoteAttestation(t *testing.T) {
	goroutinesSettle(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "shelter.db")
	w := remotetest.NewWorkload(t, "sev_snp_sim", ratstls.FreshnessNone)
	der := filepath.Join(dir, "workload.der")
	if err := os.WriteFile(der, w.Info.Certificate, 0o600); err != nil {
		t.Fatal(err)
	}
	want(t, []string{"reference", "add", "web", "--db", db, "--from-evidence", der, "--allow-simulated"}, 0, "", "")
	want(t, []string{"reference", "add", "other", "--db", db, "--evidence-type", "sev_snp", "--measurement", "measurement=" + snpMeasurement}, 0, "", "")
	policies := map[string]string{
		"accept": "id: accept\nevidence:\n  sev_snp:\n    allow_simulated: true\n    measurement: [" + w.Values.Measurements["measurement"] + "]\n",
		"refuse": "id: refuse\nevidence:\n  sev_snp:\n    allow_simulated: true\n    measurement: [" + snpMeasurement + "]\n",
		// Refuses inclavared, whose evidence is SGX.
		"snp-only": "id: snp-only\nevidence:\n  sev_snp:\n    allow_simulated: true\n",
		"sgx-sim":  "id: sgx-sim\nevidence:\n  sgx_ecdsa:\n    allow_simulated: true\n",
	}
	for name, body := range policies {
		p := filepath.Join(dir, name+".yaml")
		os.WriteFile(p, []byte(body), 0o600)
		policies[name] = p
	}

	honest := remotetest.Start(t, "tcp", remotetest.Honest(w.Info))
	exporter := remotetest.Start(t, "tcp", remotetest.Honest(remotetest.NewWorkload(t, "sev_snp_sim", ratstls.FreshnessExporter).Info))
	unix := remotetest.Start(t, "unix", remotetest.Honest(w.Info))
	tampered := w.Info
	tampered.Measurements = map[string]string{"measurement": snpMeasurement, "host_data": w.Values.Measurements["host_data"]}
	lying := remotetest.Start(t, "tcp", remotetest.Honest(tampered))
	errorAnswer := remotetest.Start(t, "tcp", remotetest.Raw(remotetest.Line(api.EnclaveInfo{MsgType: api.MsgError, Version: 1, Error: "no workload"})))
	garbage := remotetest.Start(t, "tcp", remotetest.Raw([]byte("garbage\n")))
	silent := remotetest.Start(t, "tcp", remotetest.Silent())
	// The stand-ins replay fixed answers: no nonce.
	ra := func(addr string, args ...string) []string {
		return append([]string{"remoteattestation", "--addr", addr, "--db", db, "--no-nonce"}, args...)
	}
	for name, tc := range map[string]struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		"accepted": {args: ra(honest.Addr, "--allow-simulated"), stdout: "workload:    " + w.Info.ID},
		"unix":     {args: ra(unix.Addr, "--allow-simulated"), stdout: "reference:   none checked"},
		"channel shown": {args: ra(honest.Addr, "--allow-simulated"),
			stdout: "attested:  sgx_ecdsa evidence, verified by sgx_ecdsa"},
		"bound":              {args: ra(honest.Addr, "--allow-simulated"), stdout: "evidence:    in the workload's certificate, bound to its key"},
		"exporter mode":      {args: ra(exporter.Addr, "--allow-simulated", "--workload", "web"), stdout: "forwarded by inclavared (exporter mode)"},
		"reference match":    {args: ra(honest.Addr, "--allow-simulated", "--workload", "web"), stdout: "reference:   web: match"},
		"reference mismatch": {args: ra(honest.Addr, "--allow-simulated", "--workload", "other"), code: 3, stdout: "reference:   other: MISMATCH", stderr: "contraindicated"},
		"no such workload":   {args: ra(honest.Addr, "--allow-simulated", "--workload", "nobody"), code: 1, stderr: `no reference values recorded for workload "nobody"`},
		"policy accepts":     {args: ra(honest.Addr, "--allow-simulated", "--policy", policies["accept"]), stdout: "policy:      accept"},
		"policy refuses":     {args: ra(honest.Addr, "--allow-simulated", "--policy", policies["refuse"]), code: 3, stdout: "contraindicated", stderr: "measurement"},
		"inclavared policy accepts": {args: ra(honest.Addr, "--allow-simulated", "--inclavared-policy", policies["sgx-sim"]),
			stdout: "appraisal: warning (policy sgx-sim)"},
		"inclavared policy refuses": {args: ra(honest.Addr, "--allow-simulated", "--inclavared-policy", policies["snp-only"]), code: 2, stderr: "attestation was refused"},
		"message":                   {args: ra(honest.Addr, "--allow-simulated", "--message", "hello workload"), stdout: `reply:       "hello workload\n"`},
		"simulated not allowed":     {args: ra(honest.Addr), code: 2, stderr: "attestation was refused"},
		"lying inclavared":          {args: ra(lying.Addr, "--allow-simulated"), code: 2, stderr: "disagrees with the workload's verified evidence"},
		"error answer":              {args: ra(errorAnswer.Addr, "--allow-simulated"), code: 2, stderr: "no verified workload: no workload"},
		"garbage answer":            {args: ra(garbage.Addr, "--allow-simulated"), code: 2, stderr: "not an EnclaveInfo"},
		"no answer":                 {args: ra(silent.Addr, "--allow-simulated", "--timeout", "300ms"), code: 1, stderr: "context deadline exceeded"},
		"nothing listening":         {args: ra("tcp://127.0.0.1:1", "--allow-simulated"), code: 1, stderr: "connection to inclavared failed"},
		"bad address":               {args: ra("127.0.0.1:1"), code: 1, stderr: "want tcp://HOST:PORT or unix://PATH"},
		"no address":                {args: []string{"remoteattestation", "--allow-simulated"}, code: 1, stderr: "--addr tcp://HOST:PORT or unix://PATH (inclavared's address) is required"},
		"list instances":            {args: []string{"remoteattestation", "--list-instances"}, stdout: "sev_snp_sim"},
		"bad policy":                {args: ra(honest.Addr, "--policy", filepath.Join(dir, "none.yaml")), code: 1, stderr: "--policy"},
		"argument":                  {args: ra(honest.Addr, "extra"), code: 1, stderr: "unexpected arguments"},
		"unknown flag":              {args: ra(honest.Addr, "--bogus"), code: 1, stderr: "flag provided but not defined"},
	} {
		t.Run(name, func(t *testing.T) {
			want(t, tc.args, tc.code, tc.stdout, tc.stderr)
		})
	}

	t.Run("json", func(t *testing.T) {
		out := want(t, ra(honest.Addr, "--allow-simulated", "--json", "--workload", "web"), 0, "", "")
		var r ear.Result
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if r.Status != ear.Warning || r.EvidenceType != "sev_snp" || r.Claims["measurement"] != w.Values.Measurements["measurement"] {
			t.Errorf("EAR result %+v", r)
		}
		out = want(t, ra(honest.Addr, "--allow-simulated", "--json", "--workload", "other"), 3, "", "")
		if err := json.Unmarshal([]byte(out), &r); err != nil || r.Status != ear.Contraindicated {
			t.Errorf("mismatch as JSON: %v %+v", err, r)
		}
	})
}

// proc is a running binary whose stderr is collected.
type proc struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	log  bytes.Buffer
	done chan struct{}
}

// launch starts bin with args and env; it is stopped with SIGTERM at the
// end of the test, and one that ignores it fails the test.
func launch(t *testing.T, env []string, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.log.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
		}
		p.cmd.Wait()
	}()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
			t.Errorf("%s ignored SIGTERM for 15s:\n%s", bin, p.logs())
		}
	})
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
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); {
		if m := re.FindStringSubmatch(p.logs()); m != nil {
			return m[1]
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited before logging %s:\n%s", p.cmd.Path, re, p.logs())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("%s did not log %s within 30s:\n%s", p.cmd.Path, re, p.logs())
	return ""
}

var (
	serverAddrRE     = regexp.MustCompile(`rats-tls server listening.* addr=127\.0\.0\.1:(\d+)`)
	inclavaredAddrRE = regexp.MustCompile(`inclavared listening.* addr=127\.0\.0\.1:(\d+)`)
)

// TestRemoteAttestationBinaries runs the real binaries end to end on
// loopback: a rats-tls-server workload (simulated SEV-SNP, with its own
// launch digest), inclavared in front of it (simulated SGX), and shelter
// recording the reference values and attesting the workload, with
// inclavared reaching the workload in its default freshness (exporter:
// the evidence is forwarded, unbound) and in nonce mode (the evidence is
// in the workload's certificate, bound to its key).
func TestRemoteAttestationBinaries(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries")
	}
	dir := t.TempDir()
	if err := testbuild.Go(dir, testbuild.Module+"/shelter/cmd/shelter", testbuild.Module+"/samples/rats-tls-server",
		testbuild.Module+"/inclavared/cmd/inclavared"); err != nil {
		t.Fatal(err)
	}
	digest := strings.Repeat("5a", 48)
	workload := launch(t, []string{"RATS_TLS_SEV_SNP_SIM_LAUNCH_DIGEST=" + digest}, filepath.Join(dir, "rats-tls-server"), "-a", "sev_snp_sim", "-p", "0")
	xfer := "tcp://127.0.0.1:" + workload.await(t, serverAddrRE)

	db := filepath.Join(dir, "shelter.db")
	shelterBin := func(code int, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, filepath.Join(dir, "shelter"), args...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		got := 0
		if ee, ok := err.(*exec.ExitError); ok {
			got = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if got != code {
			t.Fatalf("shelter %q: exit %d, want %d\nstdout: %s\nstderr: %s", args, got, code, out.String(), errb.String())
		}
		return out.String()
	}
	shelterBin(0, "reference", "add", "web", "--db", db, "--evidence-type", "sev_snp", "--measurement", "measurement="+digest)
	shelterBin(0, "reference", "add", "old", "--db", db, "--evidence-type", "sev_snp", "--measurement", "measurement="+snpMeasurement)
	greeting := "Hello and welcome to RATS-TLS!"

	for _, mode := range []struct{ freshness, evidence string }{
		// Whatever inclavared's own mode, shelter's nonce makes the
		// workload's evidence fresh for shelter.
		{"auto", "in the workload's certificate, bound to its key and to shelter's nonce (fresh)"},
		{"nonce", "in the workload's certificate, bound to its key and to shelter's nonce (fresh)"},
		{"exporter", "in the workload's certificate, bound to its key and to shelter's nonce (fresh)"},
	} {
		t.Run(mode.freshness, func(t *testing.T) {
			inclavared := launch(t, nil, filepath.Join(dir, "inclavared"), "--listen", "tcp://127.0.0.1:0", "--xfer", xfer,
				"-a", "sgx_ecdsa_sim", "--allow-simulated", "--freshness", mode.freshness)
			addr := "tcp://127.0.0.1:" + inclavared.await(t, inclavaredAddrRE)
			out := shelterBin(0, "remoteattestation", "--addr", addr, "--allow-simulated", "--db", db, "--workload", "web", "--message", greeting)
			for _, s := range []string{"attested:  sgx_ecdsa evidence", "workload:    sev_snp:" + digest, "evidence:    " + mode.evidence,
				"reference:   web: match", "verdict:     warning", `reply:       "` + greeting + `\n"`} {
				if !strings.Contains(out, s) {
					t.Errorf("stdout lacks %q:\n%s", s, out)
				}
			}
			out = shelterBin(0, "remoteattestation", "--addr", addr, "--allow-simulated", "--db", db, "--workload", "web", "--json")
			var r ear.Result
			if err := json.Unmarshal([]byte(out), &r); err != nil || r.Status != ear.Warning || r.Claims["measurement"] != digest {
				t.Errorf("--json: %v %+v", err, r)
			}
			out = shelterBin(3, "remoteattestation", "--addr", addr, "--allow-simulated", "--db", db, "--workload", "old", "--message", greeting)
			if !strings.Contains(out, "MISMATCH") || strings.Contains(out, "reply:") {
				t.Errorf("a mismatched workload: %s", out)
			}
			// Without --allow-simulated shelter refuses inclavared itself.
			shelterBin(2, "remoteattestation", "--addr", addr, "--db", db)
		})
	}
}
