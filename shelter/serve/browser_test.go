package serve

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/inclavare/inclavare/shelter/verify"
)

// chromium finds the headless browser: $INCLAVARE_CHROMIUM, else chromium
// on the PATH. Without one the test is skipped, unless INCLAVARE_CI=1
// (.ci/run installs Debian's chromium), where it fails.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("INCLAVARE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "/usr/bin/chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("INCLAVARE_CI") == "1" {
		t.Fatal("chromium not found, and INCLAVARE_CI=1: .ci/run installs it (apt-get install chromium), or set INCLAVARE_CHROMIUM")
	}
	t.Skip("chromium not found (set INCLAVARE_CHROMIUM, or INCLAVARE_CI=1 to make this a failure)")
	return ""
}

// dumpDOM loads url in headless Chromium and returns the DOM after load.
// The browser runs in its own process group with a fresh profile and is
// killed, group and all, when it is done or after the timeout.
func dumpDOM(t *testing.T, bin, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	home := t.TempDir()
	cmd := exec.CommandContext(ctx, bin,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+t.TempDir(), "--dump-dom", url)
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CONFIG_HOME="+home, "XDG_CACHE_HOME="+home)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if cmd.Process != nil {
		pgid := cmd.Process.Pid
		syscall.Kill(-pgid, syscall.SIGKILL)
		deadline := time.Now().Add(5 * time.Second)
		for syscall.Kill(-pgid, 0) == nil {
			if time.Now().After(deadline) {
				t.Errorf("chromium processes of group %d are still running", pgid)
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if err != nil {
		t.Fatalf("%s --dump-dom: %v\nstderr (tail): %s", bin, err, tail(stderr.String(), 2000))
	}
	return stdout.String()
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// rowRE matches one rendered entry of the status page.
var rowRE = regexp.MustCompile(`(?s)<tr class="entry" data-outcome="([a-z]+)">(.*?)</tr>`)

// The status page, rendered by headless Chromium after two verifications,
// lists both, newest first, with their verdicts; the browser asks the
// service for nothing but the page.
func TestStatusPageInChromium(t *testing.T) {
	bin := chromium(t)
	h, err := New(Config{Key: mustKey(t), Verify: verify.Options{AllowSimulated: true}})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			mu.Lock()
			paths = append(paths, r.URL.Path)
			mu.Unlock()
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()

	rd := bytes.Repeat([]byte{5}, 64)
	report := simulatedSNPReport(t, rd)
	if r := do(t, srv, http.MethodPost, "/v1/verify?report_data="+strings.Repeat("05", 64), "application/octet-stream", "", report); r.status != 200 {
		t.Fatalf("first verification: %d %s", r.status, r.body)
	}
	if r := do(t, srv, http.MethodPost, "/v1/verify?report_data=06", "application/octet-stream", `application/cose; cose-type="cose-sign1"`, report); r.status != 200 {
		t.Fatalf("second verification: %d %s", r.status, r.body)
	}

	start := time.Now()
	dom := dumpDOM(t, bin, srv.URL+"/")
	t.Logf("chromium rendered the page in %s", time.Since(start).Round(time.Millisecond))

	rows := rowRE.FindAllStringSubmatch(dom, -1)
	if len(rows) != 2 {
		t.Fatalf("the rendered page lists %d verifications, want 2:\n%s", len(rows), dom)
	}
	// Newest first: the contraindicated (signed) one, then the warning.
	for i, want := range []struct {
		outcome string
		has     []string
	}{
		{"contraindicated", []string{`class="verdict contraindicated">contraindicated</span> (signed)`, "sev_snp", "validation:", "127.0.0.1:"}},
		{"warning", []string{`class="verdict warning">warning</span>`, "sev_snp", "simulated: true", "127.0.0.1:"}},
	} {
		if rows[i][1] != want.outcome || !contains(rows[i][2], want.has...) {
			t.Errorf("row %d: outcome %q, want %q with %q:\n%s", i, rows[i][1], want.outcome, want.has, rows[i][2])
		}
	}
	if !contains(dom, `<p class="counts" id="counts">2 requests since start`, `id="simulated">trusted (test only)`) {
		t.Errorf("the page's summary is missing:\n%s", dom)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range paths {
		if !slices.Contains([]string{"/", "/favicon.ico"}, p) {
			t.Errorf("the browser fetched %s: the page must load nothing but itself", p)
		}
	}
	if !slices.Contains(paths, "/") {
		t.Errorf("the browser never fetched /: %q", paths)
	}
}
