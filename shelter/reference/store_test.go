package reference

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	appref "github.com/inclavare/inclavare/appraisal/reference"
)

var (
	snpValues = appref.Values{EvidenceType: "sev_snp", Measurements: map[string]string{
		"measurement": strings.Repeat("ab", 48), "host_data": strings.Repeat("00", 32)}}
	sgxValues = appref.Values{EvidenceType: "sgx_ecdsa", Measurements: map[string]string{
		"mrenclave": strings.Repeat("11", 32)}}
	added = time.Date(2026, time.November, 27, 6, 0, 0, 0, time.UTC)
)

// open opens path to write and closes it at the end of the test.
func open(t *testing.T, path string, opts Options) *Store {
	t.Helper()
	s, err := Open(context.Background(), path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// noStrays fails the test if dir holds anything but want at the end.
func noStrays(t *testing.T, dir string, want ...string) {
	t.Helper()
	t.Cleanup(func() {
		ents, _ := os.ReadDir(dir)
		var got []string
		for _, e := range ents {
			got = append(got, e.Name())
		}
		if !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Errorf("%s holds %q, want %q", dir, got, want)
		}
	})
}

func TestAddGetListRemove(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	noStrays(t, filepath.Join(dir, "sub"), "shelter.db")
	path := filepath.Join(dir, "sub", "shelter.db")
	s := open(t, path, Options{})
	if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("database file: %v, %v", info, err)
	}
	if recs, err := s.List(ctx); err != nil || len(recs) != 0 {
		t.Fatalf("new database lists %v, %v", recs, err)
	}
	web := Record{Name: "web", Values: snpValues, Added: added, Source: "manual"}
	if err := s.Add(ctx, web, false); err != nil {
		t.Fatal(err)
	}
	upper := sgxValues
	upper.Measurements = map[string]string{"mrenclave": "0x" + strings.Repeat("AA", 32)}
	if err := s.Add(ctx, Record{Name: "db", Values: upper, Added: added, Source: "evidence q.bin"}, false); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, "db")
	if err != nil {
		t.Fatal(err)
	}
	if got.Values.Measurements["mrenclave"] != strings.Repeat("aa", 32) || !got.Added.Equal(added) || got.Source != "evidence q.bin" {
		t.Errorf("Get(db) = %+v: want lower-case hex without 0x, and the metadata", got)
	}

	err = s.Add(ctx, Record{Name: "web", Values: sgxValues}, false)
	if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "--force") || !strings.Contains(err.Error(), "manual") {
		t.Errorf("second add without force: %v", err)
	}
	if got, _ := s.Get(ctx, "web"); !reflect.DeepEqual(got.Values, snpValues) {
		t.Errorf("a refused add changed the record: %+v", got)
	}
	if err := s.Add(ctx, Record{Name: "web", Values: sgxValues, Added: added, Source: "forced"}, true); err != nil {
		t.Fatal(err)
	}
	recs, err := s.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Name != "db" || recs[1].Name != "web" || recs[1].Source != "forced" || !reflect.DeepEqual(recs[1].Values, sgxValues) {
		t.Errorf("List = %+v", recs)
	}
	if err := s.Remove(ctx, "db"); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(ctx, "db"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `"db"`) {
		t.Errorf("second remove: %v", err)
	}
	if _, err := s.Get(ctx, "db"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after remove: %v", err)
	}
	s.Close()

	// The records survive a reopen, read-only.
	r := open(t, path, Options{ReadOnly: true})
	recs, err = r.List(ctx)
	if err != nil || len(recs) != 1 || recs[0].Name != "web" {
		t.Errorf("after reopening: %+v, %v", recs, err)
	}
}

func TestAddRefusesBadInput(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "db"), Options{})
	for name, tc := range map[string]struct {
		rec  Record
		want string
	}{
		"empty name":       {Record{Name: "", Values: snpValues}, "invalid workload name"},
		"name with space":  {Record{Name: "a b", Values: snpValues}, "invalid workload name"},
		"name with dash":   {Record{Name: "-x", Values: snpValues}, "invalid workload name"},
		"long name":        {Record{Name: strings.Repeat("a", 201), Values: snpValues}, "invalid workload name"},
		"unknown type":     {Record{Name: "w", Values: appref.Values{EvidenceType: "tpm", Measurements: map[string]string{"pcr0": "00"}}}, "no launch measurements"},
		"no primary":       {Record{Name: "w", Values: appref.Values{EvidenceType: "sev_snp", Measurements: map[string]string{"host_data": "00"}}}, `need at least "measurement"`},
		"foreign claim":    {Record{Name: "w", Values: appref.Values{EvidenceType: "sev_snp", Measurements: map[string]string{"measurement": "00", "mrtd": "00"}}}, "not a measurement of sev_snp"},
		"not hex":          {Record{Name: "w", Values: appref.Values{EvidenceType: "sev_snp", Measurements: map[string]string{"measurement": "xyz"}}}, "not a hex string"},
		"null evidence":    {Record{Name: "w", Values: appref.Values{EvidenceType: "null"}}, "no launch measurements"},
		"no measurements":  {Record{Name: "w", Values: appref.Values{EvidenceType: "sgx_ecdsa"}}, "need at least"},
		"image-like valid": {Record{Name: "registry.example/app:1.0@sha256", Values: snpValues}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			err := s.Add(ctx, tc.rec, false)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
	recs, err := s.List(ctx)
	if err != nil || len(recs) != 1 {
		t.Errorf("refused records were stored: %+v, %v", recs, err)
	}
}

func TestReadOnlyMissing(t *testing.T) {
	dir := t.TempDir()
	noStrays(t, dir)
	_, err := Open(context.Background(), filepath.Join(dir, "none.db"), Options{ReadOnly: true})
	if !errors.Is(err, ErrNoDatabase) || !strings.Contains(err.Error(), "none.db") {
		t.Fatalf("read-only open of a missing file: %v", err)
	}
}

func TestLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shelter.db")
	open(t, path, Options{})
	for _, ro := range []bool{false, true} {
		start := time.Now()
		_, err := Open(context.Background(), path, Options{ReadOnly: ro, LockTimeout: 200 * time.Millisecond})
		if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), path) {
			t.Errorf("read-only %v: second open while locked: %v", ro, err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("read-only %v: waited %v for a 200ms lock timeout", ro, d)
		}
	}
	// A context deadline shorter than the lock timeout wins.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := Open(ctx, path, Options{LockTimeout: time.Minute}); !errors.Is(err, ErrLocked) || time.Since(start) > 3*time.Second {
		t.Errorf("open under a 100ms context: %v after %v", err, time.Since(start))
	}
}

// TestConcurrent adds from many goroutines, each through its own Store (so
// each takes the file lock, as separate processes do) and through one
// shared Store; nothing is lost.
func TestConcurrent(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "shelter.db")
	shared := open(t, path, Options{})
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 20 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			errs <- shared.Add(ctx, Record{Name: fmt.Sprintf("shared-%02d", i), Values: snpValues}, false)
		}()
		go func() {
			defer wg.Done()
			errs <- shared.Add(ctx, Record{Name: fmt.Sprintf("again-%02d", i), Values: sgxValues}, false)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	shared.Close()

	dir := t.TempDir()
	path = filepath.Join(dir, "shelter.db")
	errs = make(chan error, 16)
	for i := range 8 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			s, err := Open(ctx, path, Options{LockTimeout: 20 * time.Second})
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			errs <- s.Add(ctx, Record{Name: fmt.Sprintf("own-%d", i), Values: snpValues}, false)
		}()
		// Readers at the same time see whole states, never damage.
		go func() {
			defer wg.Done()
			s, err := Open(ctx, path, Options{ReadOnly: true, LockTimeout: 20 * time.Second})
			if errors.Is(err, ErrNoDatabase) {
				errs <- nil
				return
			}
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			_, err = s.List(ctx)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	s := open(t, path, Options{ReadOnly: true})
	if recs, err := s.List(ctx); err != nil || len(recs) != 8 {
		t.Errorf("after 8 concurrent creators and adds: %d records, %v", len(recs), err)
	}
	noStrays(t, dir, "shelter.db")
}

// validDB makes a database with two records and returns its bytes.
func validDB(t testing.TB) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "valid.db")
	s, err := Open(context.Background(), path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []Record{{Name: "web", Values: snpValues, Added: added, Source: "manual"}, {Name: "db", Values: sgxValues, Added: added}} {
		if err := s.Add(context.Background(), r, false); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// foreignDB is a valid bbolt database that is not shelter's.
func foreignDB(t *testing.T) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "foreign.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error {
		b, _ := tx.CreateBucket([]byte("other"))
		return b.Put([]byte("k"), []byte("v"))
	})
	db.Close()
	b, _ := os.ReadFile(path)
	return b
}

// rewrite changes one record's stored bytes behind the Store's back.
func rewrite(t *testing.T, good []byte, name string, key []byte, value []byte) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "r.db")
	os.WriteFile(path, good, 0o600)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketWorkloads).Bucket([]byte(name)).Put(key, value)
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	b, _ := os.ReadFile(path)
	return b
}

// TestCorrupt opens damaged files: each is refused with ErrCorrupt naming
// the file, and left exactly as it was.
func TestCorrupt(t *testing.T) {
	good := validDB(t)
	garbage := make([]byte, 64<<10)
	rand.NewChaCha8([32]byte{1}).Read(garbage)
	used := int(binary.LittleEndian.Uint64(good[16+40:])) * 4096 // meta 0's high-water mark
	flipMeta := bytes.Clone(good)
	flipMeta[16+40] ^= 1 // meta 0's high-water mark: its checksum fails
	cases := map[string][]byte{
		"empty":             {},
		"short garbage":     []byte("not a database\n"),
		"garbage":           garbage,
		"text":              bytes.Repeat([]byte("reference values\n"), 1000),
		"truncated 100":     good[:100],
		"truncated 4096":    good[:4096],
		"truncated 8192":    good[:8192],
		"truncated 3 pages": good[:3*4096],
		"last page cut":     good[:used-4096],
		"truncated -1":      good[:len(good)-1],
		"damaged meta":      flipMeta,
		"foreign bbolt":     foreignDB(t),
		"bad values json":   rewrite(t, good, "web", keyValues, []byte(`{"evidence_type":`)),
		"changed value":     rewrite(t, good, "web", keyValues, []byte(`{"evidence_type":"sev_snp","measurements":{"measurement":"00"}}`)),
		"no checksum":       rewrite(t, good, "db", keyChecksum, []byte{}),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "shelter.db")
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			noStrays(t, dir, "shelter.db")
			for _, ro := range []bool{true, false} {
				s, err := Open(context.Background(), path, Options{ReadOnly: ro})
				if err == nil {
					s.Close()
					t.Fatalf("read-only %v: a damaged file opened", ro)
				}
				if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), path) {
					t.Errorf("read-only %v: %v: want ErrCorrupt naming %s", ro, err, path)
				}
			}
			after, _ := os.ReadFile(path)
			if !bytes.Equal(after, b) {
				t.Errorf("the damaged file was changed")
			}
		})
	}
}

// TestDamagedBytes flips bytes all over a valid file: each opens to exactly
// the original records or is refused with ErrCorrupt; never a different
// record, a panic or a crash.
func TestDamagedBytes(t *testing.T) {
	good := validDB(t)
	want := listBytes(t, good)
	if len(want) != 2 {
		t.Fatalf("the valid database lists %d records", len(want))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	dir := t.TempDir()
	path := filepath.Join(dir, "shelter.db")
	for range 300 {
		b := bytes.Clone(good)
		i := rng.IntN(len(b))
		b[i] ^= byte(1 + rng.IntN(255))
		os.WriteFile(path, b, 0o600)
		s, err := Open(context.Background(), path, Options{ReadOnly: true})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("byte %d damaged: %v, want ErrCorrupt", i, err)
			}
			continue
		}
		got, err := s.List(context.Background())
		s.Close()
		if err != nil && !errors.Is(err, ErrCorrupt) {
			t.Errorf("byte %d damaged: List: %v", i, err)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Errorf("byte %d damaged: silently read %+v, want %+v", i, got, want)
		}
	}
}

// listBytes opens a copy of b read-only and lists it.
func listBytes(t testing.TB, b []byte) []Record {
	t.Helper()
	path := filepath.Join(t.TempDir(), "l.db")
	os.WriteFile(path, b, 0o600)
	s, err := Open(context.Background(), path, Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	recs, err := s.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestDefaultPath(t *testing.T) {
	t.Setenv(EnvDB, "/x/y.db")
	if p, _ := DefaultPath(); p != "/x/y.db" {
		t.Errorf("with $SHELTER_DB: %s", p)
	}
	t.Setenv(EnvDB, "")
	t.Setenv("XDG_DATA_HOME", "/data")
	if p, _ := DefaultPath(); p != "/data/inclavare/shelter.db" {
		t.Errorf("with $XDG_DATA_HOME: %s", p)
	}
	t.Setenv("XDG_DATA_HOME", "")
	t.Setenv("HOME", "/home/u")
	if p, _ := DefaultPath(); p != "/home/u/.local/share/inclavare/shelter.db" {
		t.Errorf("with $HOME: %s", p)
	}
}

func TestContextDone(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "db"), Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Add(ctx, Record{Name: "w", Values: snpValues}, false); !errors.Is(err, context.Canceled) {
		t.Errorf("Add under a cancelled context: %v", err)
	}
	if _, err := Open(ctx, filepath.Join(t.TempDir(), "db"), Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Open under a cancelled context: %v", err)
	}
}

// FuzzOpen opens arbitrary bytes as a database: it must be refused with
// ErrCorrupt or open and list without a panic or a crash.
func FuzzOpen(f *testing.F) {
	good := validDB(f)
	f.Add(good)
	f.Add(good[:8192])
	f.Add(good[:len(good)/2])
	f.Add([]byte("garbage"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		// Each input gets its own file: the fuzzing workers run at once.
		f, err := os.CreateTemp(dir, "fuzz-*.db")
		if err != nil {
			t.Fatal(err)
		}
		path := f.Name()
		defer os.Remove(path)
		_, err = f.Write(b)
		if cerr := f.Close(); err != nil || cerr != nil {
			t.Fatal(err, cerr)
		}
		s, err := Open(context.Background(), path, Options{ReadOnly: true})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("%v: want ErrCorrupt", err)
			}
			return
		}
		defer s.Close()
		if _, err := s.List(context.Background()); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("List: %v", err)
		}
	})
}
