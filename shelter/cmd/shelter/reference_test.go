package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inclavare/inclavare/framework/ratstls"
	"github.com/inclavare/inclavare/internal/testbuild"
	"github.com/inclavare/inclavare/shelter/reference"
	"github.com/inclavare/inclavare/shelter/remote/remotetest"
	snp "github.com/inclavare/inclavare/tee/sevsnp"
)

// shelter runs the command line in-process and returns its output and
// exit code.
func shelter(args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return out.String(), errb.String(), code
}

// want checks an exit code and substrings of stdout and stderr.
func want(t *testing.T, args []string, code int, stdout, stderr string) string {
	t.Helper()
	out, errs, got := shelter(args...)
	if got != code || !strings.Contains(out, stdout) || !strings.Contains(errs, stderr) {
		t.Errorf("shelter %q: exit %d, want %d (stdout has %q, stderr has %q)\nstdout: %s\nstderr: %s", args, got, code, stdout, stderr, out, errs)
	}
	return out
}

var (
	snpMeasurement = strings.Repeat("ab", 48)
	snpHostData    = strings.Repeat("00", 32)
)

func TestReferenceCommands(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "shelter.db")
	t.Setenv(reference.EnvDB, db)

	// Nothing recorded yet: an empty list, and no file created.
	want(t, []string{"reference", "list"}, 0, "no reference values recorded", "")
	if out := want(t, []string{"reference", "list", "--json"}, 0, "[]", ""); strings.TrimSpace(out) != "[]" {
		t.Errorf("empty JSON list: %q", out)
	}
	want(t, []string{"reference", "remove", "web"}, 1, "", `no reference values recorded for workload "web"`)
	if _, err := os.Stat(db); err == nil {
		t.Errorf("list or remove created %s", db)
	}

	want(t, []string{"reference", "add", "web", "--evidence-type", "sev_snp", "--measurement", "measurement=" + snpMeasurement,
		"--measurement", "host_data=" + snpHostData}, 0, "recorded reference values of web", "")
	// Flags before the name, and the hex in capitals: stored in lower case.
	want(t, []string{"reference", "add", "--evidence-type", "sgx_ecdsa", "--measurement", "mrenclave=0x" + strings.Repeat("CD", 32), "enclave"}, 0,
		"mrenclave:     "+strings.Repeat("cd", 32), "")
	want(t, []string{"reference", "add", "web", "--evidence-type", "sev_snp", "--measurement", "measurement=" + snpDigest}, 1, "",
		"already recorded for web")
	out := want(t, []string{"reference", "list"}, 0, "NAME", "")
	for _, s := range []string{"enclave", "sgx_ecdsa", "web", "sev_snp", snpMeasurement, "host_data", "manual"} {
		if !strings.Contains(out, s) {
			t.Errorf("list lacks %q:\n%s", s, out)
		}
	}
	want(t, []string{"reference", "add", "web", "--force", "--evidence-type", "sev_snp", "--measurement", "measurement=" + snpDigest}, 0, "", "")
	var recs []reference.Record
	if err := json.Unmarshal([]byte(want(t, []string{"reference", "list", "--json"}, 0, "", "")), &recs); err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[1].Name != "web" || recs[1].Values.Measurements["measurement"] != snpDigest || len(recs[1].Values.Measurements) != 1 {
		t.Errorf("after --force: %+v", recs)
	}
	want(t, []string{"reference", "remove", "web"}, 0, "removed the reference values of web", "")
	want(t, []string{"reference", "remove", "web"}, 1, "", "no reference values recorded")
	// --db wins over $SHELTER_DB.
	other := filepath.Join(dir, "other.db")
	want(t, []string{"reference", "add", "x", "--db", other, "--evidence-type", "tdx_ecdsa", "--measurement", "mrtd=" + strings.Repeat("01", 48)}, 0, other, "")
	want(t, []string{"reference", "list", "--db", other}, 0, "tdx_ecdsa", "")
}

func TestReferenceUsage(t *testing.T) {
	db := filepath.Join(t.TempDir(), "shelter.db")
	for name, tc := range map[string]struct {
		args   []string
		stderr string
	}{
		"no subcommand":     {[]string{"reference"}, "usage: shelter reference"},
		"unknown":           {[]string{"reference", "purge"}, `unknown subcommand "purge"`},
		"no name":           {[]string{"reference", "add", "--evidence-type", "sev_snp"}, "want one workload NAME"},
		"two names":         {[]string{"reference", "add", "a", "b"}, "want one workload NAME"},
		"bad name":          {[]string{"reference", "add", "a b", "--evidence-type", "sev_snp", "--measurement", "measurement=" + snpDigest}, "invalid workload name"},
		"no values":         {[]string{"reference", "add", "w"}, "--evidence-type TYPE and at least one --measurement"},
		"no measurement":    {[]string{"reference", "add", "w", "--evidence-type", "sev_snp"}, "at least one --measurement"},
		"not claim=hex":     {[]string{"reference", "add", "w", "--evidence-type", "sev_snp", "--measurement", "00"}, "want CLAIM=HEX"},
		"twice":             {[]string{"reference", "add", "w", "--evidence-type", "sev_snp", "--measurement", "measurement=" + snpDigest, "--measurement", "measurement=" + snpDigest}, "given twice"},
		"not hex":           {[]string{"reference", "add", "w", "--evidence-type", "sev_snp", "--measurement", "measurement=zz"}, "not a hex string"},
		"foreign claim":     {[]string{"reference", "add", "w", "--evidence-type", "sev_snp", "--measurement", "measurement=" + snpDigest, "--measurement", "mrtd=00"}, "not a measurement of sev_snp"},
		"unknown type":      {[]string{"reference", "add", "w", "--evidence-type", "tpm", "--measurement", "pcr0=00"}, "no launch measurements"},
		"both sources":      {[]string{"reference", "add", "w", "--from-evidence", "f", "--evidence-type", "sev_snp"}, "not both"},
		"verify flags only": {[]string{"reference", "add", "w", "--allow-simulated", "--evidence-type", "sev_snp", "--measurement", "measurement=" + snpDigest}, "go with --from-evidence"},
		"missing evidence":  {[]string{"reference", "add", "w", "--from-evidence", "/nonexistent"}, "no such file"},
		"list argument":     {[]string{"reference", "list", "x"}, "unexpected arguments"},
		"remove no name":    {[]string{"reference", "remove"}, "want one workload NAME"},
	} {
		t.Run(name, func(t *testing.T) {
			want(t, append(tc.args, "--db", db), 1, "", tc.stderr)
		})
	}
	if _, err := os.Stat(db); err == nil {
		t.Errorf("refused commands created %s", db)
	}
}

// TestReferenceFromEvidence records a workload's values from its evidence,
// verified first: a certificate (DER or PEM) from a real simulated TEE, a
// raw report; and refuses evidence that does not verify or is refused.
func TestReferenceFromEvidence(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "shelter.db")
	w := remotetest.NewWorkload(t, "sev_snp_sim", ratstls.FreshnessNone)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	der := write("workload.der", w.Info.Certificate)
	pemFile := write("workload.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: w.Info.Certificate}))
	tampered := bytes.Clone(w.Info.Certificate)
	tampered[len(tampered)/2] ^= 1
	sim, err := snp.NewSimulator(snp.SimulatorOptions{})
	if err != nil {
		t.Fatal(err)
	}
	report, err := sim.Report(make([]byte, 64))
	if err != nil {
		t.Fatal(err)
	}
	debugSim, err := snp.NewSimulator(snp.SimulatorOptions{Debug: true})
	if err != nil {
		t.Fatal(err)
	}
	debugReport, err := debugSim.Report(make([]byte, 64))
	if err != nil {
		t.Fatal(err)
	}
	add := func(name, file string, extra ...string) []string {
		return append([]string{"reference", "add", name, "--db", db, "--from-evidence", file}, extra...)
	}

	// Refused: nothing is recorded, and no database is created.
	want(t, add("w", der), 2, "", "did not verify, nothing recorded")
	want(t, add("w", write("tampered.der", tampered), "--allow-simulated"), 2, "", "did not verify")
	want(t, add("w", write("garbage", []byte("garbage")), "--allow-simulated"), 2, "", "cannot tell the evidence type")
	want(t, add("w", write("debug.bin", debugReport), "--allow-simulated"), 3, "", "contraindicated, nothing recorded")
	want(t, add("w", der, "--allow-simulated", "--type", "tdx_ecdsa"), 2, "", "not tdx_ecdsa")
	if _, err := os.Stat(db); err == nil {
		t.Fatalf("refused evidence created %s", db)
	}

	want(t, add("web", der, "--allow-simulated"), 0, w.Values.Measurements["measurement"], "")
	want(t, add("web-pem", pemFile, "--allow-simulated", "--at", time.Now().Format(time.RFC3339)), 0, "", "")
	want(t, add("raw", write("report.bin", report), "--allow-simulated"), 0, "", "")
	var recs []reference.Record
	if err := json.Unmarshal([]byte(want(t, []string{"reference", "list", "--json", "--db", db}, 0, "", "")), &recs); err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("records: %+v", recs)
	}
	for _, r := range recs {
		if r.Values.EvidenceType != "sev_snp" || !strings.HasPrefix(r.Source, "evidence "+dir) || !strings.Contains(r.Source, "simulated") {
			t.Errorf("%s: %+v", r.Name, r)
		}
		if sum := sha256.Sum256(w.Info.Certificate); r.Name == "web" && !strings.Contains(r.Source, hex.EncodeToString(sum[:])) {
			t.Errorf("web's source %q lacks the SHA-256 of the DER file", r.Source)
		}
		if r.Name != "raw" && (r.Values.Measurements["measurement"] != w.Values.Measurements["measurement"] || r.Values.Measurements["host_data"] != w.Values.Measurements["host_data"]) {
			t.Errorf("%s: %v, want the workload's %v", r.Name, r.Values.Measurements, w.Values.Measurements)
		}
	}
}

// TestReferenceDamagedDatabase: a damaged file gives a clear error naming
// it, whatever the subcommand, and is left as it was.
func TestReferenceDamagedDatabase(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.db")
	want(t, []string{"reference", "add", "web", "--db", good, "--evidence-type", "sev_snp", "--measurement", "measurement=" + snpDigest}, 0, "", "")
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string][]byte{
		"garbage":   bytes.Repeat([]byte("not a database "), 2000),
		"truncated": b[:3*4096],
	} {
		t.Run(name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "shelter.db")
			os.WriteFile(db, content, 0o600)
			for _, args := range [][]string{
				{"reference", "list"},
				{"reference", "add", "x", "--evidence-type", "sev_snp", "--measurement", "measurement=" + snpDigest},
				{"reference", "remove", "web"},
				{"remoteattestation", "--addr", "tcp://127.0.0.1:1", "--workload", "web"},
			} {
				want(t, append(args, "--db", db), 1, "", db+": ")
				_, errs, _ := shelter(append(args, "--db", db)...)
				if !strings.Contains(errs, "corrupt") {
					t.Errorf("%q: %s", args, errs)
				}
			}
			if after, _ := os.ReadFile(db); !bytes.Equal(after, content) {
				t.Errorf("the damaged file was changed")
			}
		})
	}
}

// TestReferenceLocked: a database another process (here, another open
// file) holds gives a clear error after --lock-timeout, not a hang.
func TestReferenceLocked(t *testing.T) {
	db := filepath.Join(t.TempDir(), "shelter.db")
	s, err := reference.Open(context.Background(), db, reference.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	start := time.Now()
	want(t, []string{"reference", "add", "w", "--db", db, "--lock-timeout", "200ms", "--evidence-type", "sev_snp", "--measurement", "measurement=" + snpDigest},
		1, "", "locked by another process")
	want(t, []string{"reference", "list", "--db", db, "--lock-timeout", "200ms"}, 1, "", "is another shelter running?")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("two refusals with a 200ms lock timeout took %v", d)
	}
}

// TestReferenceProcesses runs the shelter binary: several processes adding
// at once all succeed, and a process holding the lock makes another give
// up with a clear error.
func TestReferenceProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	if err := testbuild.Go(dir, testbuild.Module+"/shelter/cmd/shelter"); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "shelter")
	db := filepath.Join(dir, "data", "shelter.db")
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for i := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(bin, "reference", "add", fmt.Sprintf("w%d", i), "--db", db,
				"--evidence-type", "sgx_ecdsa", "--measurement", fmt.Sprintf("mrenclave=%064x", i))
			if out, err := cmd.CombinedOutput(); err != nil {
				errs <- fmt.Errorf("w%d: %v\n%s", i, err, out)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	var recs []reference.Record
	out, err := exec.Command(bin, "reference", "list", "--json", "--db", db).Output()
	if err != nil || json.Unmarshal(out, &recs) != nil || len(recs) != 6 {
		t.Fatalf("after 6 concurrent adds: %v\n%s", err, out)
	}
	if ents, _ := os.ReadDir(filepath.Dir(db)); len(ents) != 1 {
		t.Errorf("%s holds %d files, want only the database", filepath.Dir(db), len(ents))
	}

	s, err := reference.Open(context.Background(), db, reference.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cmd := exec.Command(bin, "reference", "remove", "w1", "--db", db, "--lock-timeout", "300ms")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err = cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), "locked by another process") {
		t.Errorf("remove while another process holds the database: %v: %s", err, stderr.String())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("gave up after %v with a 300ms lock timeout", d)
	}
}

// snpDigest is a well-formed SEV-SNP launch measurement (48 bytes).
var snpDigest = strings.Repeat("00", 48)
