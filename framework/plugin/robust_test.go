package plugin

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/inclavare/inclavare/framework/instance"
)

func setMode(t testing.TB, dir, mode string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "testplugin.mode"), []byte(mode), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestManifestRefusals(t *testing.T) {
	for name, tc := range map[string]struct {
		spoil func(t *testing.T, dir, path string)
		want  []string
	}{
		"missing manifest": {
			spoil: func(t *testing.T, dir, _ string) { os.Remove(filepath.Join(dir, ManifestName)) },
			want:  []string{"is not listed in manifest", "(no such file): run make build or add it"},
		},
		"unlisted": {
			spoil: func(t *testing.T, dir, _ string) {
				os.WriteFile(filepath.Join(dir, ManifestName), []byte(strings.Repeat("ab", 32)+"  rats-tls-attester-other\n"), 0o644)
			},
			want: []string{"is not listed in manifest " + ManifestName[:0], ManifestName + ": run make build or add it"},
		},
		"checksum mismatch": {
			spoil: func(t *testing.T, dir, _ string) {
				os.WriteFile(filepath.Join(dir, ManifestName), []byte(strings.Repeat("ab", 32)+"  "+nullAttester+"\n"), 0o644)
			},
			want: []string{"does not match its manifest checksum: refusing to run it"},
		},
		"modified binary": {
			spoil: func(t *testing.T, dir, path string) {
				os.Remove(path)
				copyFile(t, filepath.Join(binDir, nullVerifier), path)
			},
			want: []string{"does not match its manifest checksum: refusing to run it"},
		},
		"group-writable binary": {
			spoil: func(t *testing.T, dir, path string) {
				os.Remove(path)
				copyFile(t, filepath.Join(binDir, nullAttester), path)
				os.Chmod(path, 0o775)
			},
			want: []string{"is group- or world-writable (mode -rwxrwxr-x): refusing to run it"},
		},
		"world-writable manifest": {
			spoil: func(t *testing.T, dir, _ string) { os.Chmod(filepath.Join(dir, ManifestName), 0o666) },
			want:  []string{"manifest", "is group- or world-writable", "refusing to trust it"},
		},
		"malformed manifest": {
			spoil: func(t *testing.T, dir, _ string) {
				os.WriteFile(filepath.Join(dir, ManifestName), []byte("not a checksum line\n"), 0o644)
			},
			want: []string{"line 1 is not"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := pluginDir(t, nullAttester)
			path := filepath.Join(dir, nullAttester)
			tc.spoil(t, dir, path)
			r := load(t, testConfig(t), dir, nullAttester)
			_, err := r.New(context.Background(), instance.Options{})
			wantErr(t, err, ErrUntrusted, append([]string{path}, tc.want...)...)
			_, err = r.Resolve(context.Background())
			wantErr(t, err, ErrUntrusted, tc.want...)
			if pids := processesOf(path); len(pids) != 0 {
				t.Errorf("a refused plugin runs as %v", pids)
			}
		})
	}
}

func TestManifestFormat(t *testing.T) {
	dir := pluginDir(t, nullAttester, nullVerifier)
	os.WriteFile(filepath.Join(dir, "README"), []byte("not a plugin"), 0o644)
	b, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 {
		t.Fatalf("manifest has %d lines, want 2:\n%s", len(lines), b)
	}
	for i, name := range []string{nullAttester, nullVerifier} {
		sum, err := fileSHA256(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("%x  %s", sum, name); lines[i] != want {
			t.Errorf("manifest line %d = %q, want %q (sha256sum format)", i+1, lines[i], want)
		}
	}
	// sha256sum's binary-mode marker is read too.
	sums, err := readManifestText(t, strings.Repeat("cd", 32)+" *"+nullAttester+"\n# comment\n\n")
	if err != nil || len(sums[nullAttester]) != 32 {
		t.Errorf("binary-mode line: %v, %v", sums, err)
	}
}

func readManifestText(t *testing.T, text string) (map[string][]byte, error) {
	path := filepath.Join(t.TempDir(), ManifestName)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return readManifest(path)
}

func TestMisbehavingPlugin(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		mode    string
		atStart bool
		cfg     func(*Config)
		want    []string
		wantIs  error
		bound   time.Duration
	}{
		"crash on Collect": {
			mode: "crash-collect", wantIs: ErrExited, bound: 2 * time.Second,
			want: []string{"exited during Collect (exit status 2: panic: testplugin: crash requested)"},
		},
		"hang on Collect": {
			mode: "hang-collect", wantIs: ErrTimeout, bound: 2 * time.Second,
			want: []string{"did not answer Collect within 2s"},
		},
		"garbage on Collect": {
			mode: "garbage-collect", wantIs: ErrMalformed, bound: 2 * time.Second,
			want: []string{"returned malformed Collect response: empty evidence type"},
		},
		"garbage handshake": {
			mode: "garbage-handshake", atStart: true, wantIs: ErrMalformed, bound: 5 * time.Second,
			want: []string{`returned a malformed handshake line "this is not a go-plugin handshake"`},
		},
		"exit at start": {
			mode: "exit-start", atStart: true, wantIs: ErrExited, bound: 5 * time.Second,
			want: []string{"exited before its handshake (exit status 3: testplugin: exiting at start as asked)"},
		},
		"silent at start": {
			mode: "silent-start", atStart: true, wantIs: ErrTimeout, bound: 2 * time.Second,
			cfg:  func(c *Config) { c.StartTimeout = 2 * time.Second },
			want: []string{"did not start within 2s"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := pluginDir(t, testPlugin)
			path := filepath.Join(dir, testPlugin)
			cfg := testConfig(t)
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			r := load(t, cfg, dir, testPlugin)
			ctx := context.Background()
			var a instance.Attester
			if !tc.atStart {
				inst, err := r.New(ctx, instance.Options{})
				if err != nil {
					t.Fatal(err)
				}
				defer inst.Close()
				a = inst.(instance.Attester)
			}
			setMode(t, dir, tc.mode)
			start := time.Now()
			var err error
			if tc.atStart {
				_, err = r.New(ctx, instance.Options{})
			} else {
				_, err = a.Collect(ctx, make([]byte, instance.ReportDataSize))
			}
			elapsed := time.Since(start)
			wantErr(t, err, tc.wantIs, append([]string{"plugin " + path + " "}, tc.want...)...)
			// The bound, plus room for killing and reaping on a busy machine.
			if limit := tc.bound + 4*time.Second; elapsed > limit {
				t.Errorf("the error took %s, want at most %s", elapsed, limit)
			}
			waitNoProcess(t, path, 10*time.Second)

			// The next use starts a fresh process that behaves.
			setMode(t, dir, "")
			if tc.atStart {
				inst, err := r.New(ctx, instance.Options{})
				if err != nil {
					t.Fatalf("creating after the failure: %v", err)
				}
				defer inst.Close()
				a = inst.(instance.Attester)
			}
			ev, err := a.Collect(ctx, []byte("rd"))
			if err != nil || ev.Type != "test" || string(ev.Data) != "test:rd" {
				t.Fatalf("Collect after the failure = %+v, %v", ev, err)
			}
			if err := a.Close(); err != nil {
				t.Fatal(err)
			}
			waitNoProcess(t, path, 10*time.Second)
		})
	}
}

func TestPluginRefusedOrMisnamed(t *testing.T) {
	t.Parallel()
	dir := pluginDir(t, testPlugin+"=rats-tls-tls-testplugin", testPlugin+"=rats-tls-verifier-testplugin")
	renamed := pluginDir(t, nullAttester+"=rats-tls-attester-renamed")
	cfg := testConfig(t)
	ctx := context.Background()

	// Serve refuses a TLS wrapper without a profile, with a clear message.
	setMode(t, dir, "no-profiler")
	_, err := load(t, cfg, dir, "rats-tls-tls-testplugin").New(ctx, instance.Options{})
	wantErr(t, err, ErrExited, "exited before its handshake (exit status 1: ", "does not implement instance.TLSProfiler")

	// A binary whose name says verifier but serves an attester.
	setMode(t, dir, "")
	_, err = load(t, cfg, dir, "rats-tls-verifier-testplugin").Resolve(ctx)
	wantErr(t, err, instance.ErrUnsupported, "does not serve the verifier service (unknown service ratstls.plugin.v1.Verifier)")
	// A binary renamed to another instance name.
	_, err = load(t, cfg, renamed, "rats-tls-attester-renamed").Resolve(ctx)
	wantErr(t, err, nil, `describes itself as attester "nullattester", but its file name says attester "renamed"`)
	waitNoProcess(t, filepath.Join(renamed, "rats-tls-attester-renamed"), 10*time.Second)
	for _, n := range []string{"rats-tls-tls-testplugin", "rats-tls-verifier-testplugin"} {
		waitNoProcess(t, filepath.Join(dir, n), 10*time.Second)
	}
}

func TestCallerDeadlineBoundsCall(t *testing.T) {
	t.Parallel()
	dir := pluginDir(t, testPlugin)
	cfg := testConfig(t)
	cfg.CallTimeout = time.Minute
	a := newInstance[instance.Attester](t, cfg, dir, testPlugin)
	setMode(t, dir, "hang-collect")
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := a.Collect(ctx, nil)
	wantErr(t, err, ErrTimeout, "did not answer Collect within 500ms")
	if elapsed := time.Since(start); elapsed > 4*time.Second {
		t.Errorf("a 500ms deadline took %s", elapsed)
	}
	waitNoProcess(t, filepath.Join(dir, testPlugin), 10*time.Second)
}

// recorder keeps the records logged to it.
type recorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }

func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec.Clone())
	return nil
}

func (r *recorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &withAttrs{r, as}
}

func (r *recorder) WithGroup(string) slog.Handler { return r }

type withAttrs struct {
	*recorder
	attrs []slog.Attr
}

func (w *withAttrs) Handle(ctx context.Context, rec slog.Record) error {
	rec = rec.Clone()
	rec.AddAttrs(w.attrs...)
	return w.recorder.Handle(ctx, rec)
}

func (w *withAttrs) WithAttrs(as []slog.Attr) slog.Handler {
	return &withAttrs{w.recorder, append(append([]slog.Attr(nil), w.attrs...), as...)}
}

func (r *recorder) find(msg string) (slog.Record, map[string]string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.records {
		if rec.Message == msg {
			attrs := map[string]string{}
			rec.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
			return rec, attrs, true
		}
	}
	return slog.Record{}, nil, false
}

func TestPluginLogsReachHost(t *testing.T) {
	t.Parallel()
	dir := pluginDir(t, testPlugin)
	path := filepath.Join(dir, testPlugin)
	rec := &recorder{}
	cfg := Config{Logger: slog.New(rec)}
	a := newInstance[instance.Attester](t, cfg, dir, testPlugin)
	if _, err := a.Collect(context.Background(), make([]byte, 64)); err != nil {
		t.Fatal(err)
	}
	// The plugin's stderr is read asynchronously.
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, attrs, ok := rec.find("testplugin collecting")
		if ok {
			if r.Level != slog.LevelInfo || attrs["plugin"] != path || attrs["report_data_bytes"] != "64" {
				t.Errorf("plugin log record: level %v, attrs %v; want INFO with plugin=%s report_data_bytes=64", r.Level, attrs, path)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the plugin's log line did not reach the host's logger")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	// A normal life makes no noise above Debug but the plugin's own line.
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, r := range rec.records {
		if r.Level > slog.LevelDebug && r.Message != "testplugin collecting" {
			t.Errorf("unexpected %v log: %s", r.Level, r.Message)
		}
	}
}

func TestCleanupClients(t *testing.T) {
	dir := pluginDir(t, nullAttester)
	newInstance[instance.Attester](t, testConfig(t), dir, nullAttester)
	path := filepath.Join(dir, nullAttester)
	if len(processesOf(path)) != 1 {
		t.Fatal("the plugin is not running")
	}
	CleanupClients()
	waitNoProcess(t, path, time.Second)
}

// BenchmarkPluginCall measures one Collect round trip to the null attester
// plugin.
func BenchmarkPluginCall(b *testing.B) {
	dir := pluginDir(b, nullAttester)
	a := newInstance[instance.Attester](b, Config{Logger: slog.New(slog.DiscardHandler)}, dir, nullAttester)
	ctx := context.Background()
	rd := make([]byte, instance.ReportDataSize)
	for b.Loop() {
		if _, err := a.Collect(ctx, rd); err != nil {
			b.Fatal(err)
		}
	}
}
