package enclave

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// countingProber answers with a fixed report and counts its calls.
type countingProber struct {
	r     ProbeResult
	calls int
}

func (c *countingProber) Probe(context.Context, string) (*ProbeResult, error) {
	c.calls++
	r := c.r
	return &r, nil
}

// cacheFixture is a PAL file, a runelet file and an empty cache directory.
type cacheFixture struct {
	pal, runelet, dir string
	inner             *countingProber
	p                 CachingProber
}

func newCacheFixture(t *testing.T) *cacheFixture {
	t.Helper()
	d := t.TempDir()
	f := &cacheFixture{
		pal:     filepath.Join(d, "liberpal-test.so"),
		runelet: filepath.Join(d, "runelet"),
		dir:     filepath.Join(d, "root", ProbeCacheName),
		inner:   &countingProber{r: ProbeResult{Version: 3, Symbols: []string{"pal_init"}}},
	}
	for _, p := range []string{f.pal, f.runelet} {
		if err := os.WriteFile(p, []byte("bytes of "+filepath.Base(p)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f.p = CachingProber{Prober: f.inner, Dir: f.dir, Runelet: f.runelet}
	return f
}

// probe probes the PAL and checks the report and the number of real
// probes so far.
func (f *cacheFixture) probe(t *testing.T, wantCalls int) {
	t.Helper()
	r, err := f.p.Probe(context.Background(), f.pal)
	if err != nil {
		t.Fatal(err)
	}
	if r.Version != f.inner.r.Version {
		t.Errorf("version %d, want %d", r.Version, f.inner.r.Version)
	}
	if f.inner.calls != wantCalls {
		t.Errorf("%d real probes, want %d", f.inner.calls, wantCalls)
	}
}

// entries lists the cache directory, failing on a leftover temporary file
// or an entry that is not mode 0600.
func (f *cacheFixture) entries(t *testing.T) []string {
	t.Helper()
	es, err := os.ReadDir(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", e.Name(), fi.Mode().Perm())
		}
		names = append(names, e.Name())
	}
	return names
}

func TestCachingProberHit(t *testing.T) {
	f := newCacheFixture(t)
	f.probe(t, 1)
	f.probe(t, 1)
	if names := f.entries(t); len(names) != 1 || !strings.HasSuffix(names[0], ".json") || len(names[0]) != 64+5 {
		t.Errorf("cache holds %v, want one <sha256>.json", names)
	}
	if fi, err := os.Stat(f.dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("cache directory: %v, %v; want mode 0700", fi, err)
	}
}

// TestCachingProberSameIdentityOtherBytes: bytes changed in place with the
// same size and modification time are probed again: the hash decides.
func TestCachingProberSameIdentityOtherBytes(t *testing.T) {
	f := newCacheFixture(t)
	f.probe(t, 1)
	fi, err := os.Stat(f.pal)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(f.pal)
	if err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if err := os.WriteFile(f.pal, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(f.pal, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	f.inner.r.Version = 2
	f.probe(t, 2)
}

func TestCachingProberStale(t *testing.T) {
	for name, change := range map[string]func(t *testing.T, f *cacheFixture){
		"PAL touched": func(t *testing.T, f *cacheFixture) {
			later := time.Now().Add(time.Hour)
			if err := os.Chtimes(f.pal, later, later); err != nil {
				t.Fatal(err)
			}
		},
		"PAL copied to another inode": func(t *testing.T, f *cacheFixture) {
			b, _ := os.ReadFile(f.pal)
			if err := os.Remove(f.pal); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(f.pal, b, 0o755); err != nil {
				t.Fatal(err)
			}
		},
		"runelet replaced": func(t *testing.T, f *cacheFixture) {
			if err := os.WriteFile(f.runelet, []byte("another runelet"), 0o755); err != nil {
				t.Fatal(err)
			}
		},
		"PAL at another path": func(t *testing.T, f *cacheFixture) {
			other := filepath.Join(filepath.Dir(f.pal), "other.so")
			if err := os.Link(f.pal, other); err != nil {
				t.Fatal(err)
			}
			f.pal = other
		},
		"malformed entry": func(t *testing.T, f *cacheFixture) {
			for _, n := range f.entries(t) {
				if err := os.WriteFile(filepath.Join(f.dir, n), []byte("{not json"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
		},
		"entry writable by others": func(t *testing.T, f *cacheFixture) {
			for _, n := range f.entries(t) {
				if err := os.Chmod(filepath.Join(f.dir, n), 0o666); err != nil {
					t.Fatal(err)
				}
			}
		},
		"entry for other bytes": func(t *testing.T, f *cacheFixture) {
			for _, n := range f.entries(t) {
				p := filepath.Join(f.dir, n)
				b, _ := os.ReadFile(p)
				var e probeCacheEntry
				if err := json.Unmarshal(b, &e); err != nil {
					t.Fatal(err)
				}
				e.SHA256 = strings.Repeat("0", 64)
				b, _ = json.Marshal(e)
				if err := os.WriteFile(p, b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newCacheFixture(t)
			f.probe(t, 1)
			change(t, f)
			f.probe(t, 2)
			f.probe(t, 2) // cached again
			f.entries(t)
		})
	}
}

// TestCachingProberFailureNotCached: a report that fails the checks is
// returned as it is and probed again next time.
func TestCachingProberFailureNotCached(t *testing.T) {
	f := newCacheFixture(t)
	f.inner.r = ProbeResult{Version: 4}
	f.probe(t, 1)
	f.probe(t, 2)
	if _, err := os.Stat(f.dir); !os.IsNotExist(err) {
		t.Errorf("cache directory exists (%v) after failed probes only", err)
	}
}

// TestCachingProberUnusableCache: a cache that cannot be written costs a
// probe each time, never an error.
func TestCachingProberUnusableCache(t *testing.T) {
	f := newCacheFixture(t)
	if err := os.WriteFile(filepath.Dir(f.dir), nil, 0o600); err != nil { // a file where the root should be
		t.Fatal(err)
	}
	f.probe(t, 1)
	f.probe(t, 2)
}

// FuzzProbeCacheEntry: whatever a cache entry holds, lookup does not
// panic and returns a report only for an entry naming exactly this PAL.
func FuzzProbeCacheEntry(f *testing.F) {
	f.Add([]byte(`{"path":"P","sha256":"S","pal":{},"runelet":{},"result":{"version":3}}`))
	f.Add([]byte(`{"result":null}`))
	f.Add([]byte(`[]`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		entry := filepath.Join(dir, "e.json")
		if err := os.WriteFile(entry, data, 0o600); err != nil {
			t.Fatal(err)
		}
		p := CachingProber{Dir: dir, Runelet: "/r"}
		sum := strings.Repeat("ab", 32)
		r := p.lookup(entry, "/p.so", sum, fileID{Dev: 1, Ino: 2, Size: 3, Mtime: 4}, fileID{Dev: 5})
		if r == nil {
			return
		}
		var e probeCacheEntry
		if err := json.Unmarshal(data, &e); err != nil || e.SHA256 != sum || e.Path != "/p.so" {
			t.Fatalf("lookup accepted %q", data)
		}
	})
}

// TestValidateProbeCache: with ProbeCacheDir, a second create of the same
// PAL does not run the runelet's probe again.
func TestValidateProbeCache(t *testing.T) {
	ft := newFakeTree(t)
	calls := filepath.Join(t.TempDir(), "calls")
	runelet := script(t, `echo probe >> `+calls+`; echo '{"version": 3, "symbols": ["pal_init"], "missing": []}'`)
	h := Host{Runelet: runelet, ProbeCacheDir: filepath.Join(t.TempDir(), ProbeCacheName)}
	cfg := Config{Type: TypeSimulated, RuntimePath: ft.pal, LogLevel: "info"}
	for range 2 {
		if err := cfg.Validate(context.Background(), h); err != nil {
			t.Fatal(err)
		}
	}
	if b, _ := os.ReadFile(calls); strings.Count(string(b), "probe") != 1 {
		t.Errorf("the runelet probed %d times, want 1", strings.Count(string(b), "probe"))
	}
}
