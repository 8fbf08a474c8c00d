package reference

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	appref "github.com/inclavare/inclavare/appraisal/reference"
)

// DefaultLockTimeout is how long Open waits for another process's lock.
const DefaultLockTimeout = 5 * time.Second

// SchemaVersion is the layout version this package reads and writes.
const SchemaVersion = "1"

var (
	bucketShelter   = []byte("shelter")
	bucketWorkloads = []byte("workloads")
	keySchema       = []byte("schema")
	keyValues       = []byte("values")
	keyMetadata     = []byte("metadata")
	keyChecksum     = []byte("checksum")
)

// checksum covers a record's name, values and metadata, so that a damaged
// byte in any of them is found rather than read as a different record.
func checksum(name string, values, meta []byte) [sha256.Size]byte {
	h := sha256.New()
	for _, b := range [][]byte{[]byte("inclavare shelter reference record v1"), []byte(name), values, meta} {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	return [sha256.Size]byte(h.Sum(nil))
}

// Options configure Open.
type Options struct {
	// ReadOnly opens the database to read only (a shared lock); a missing
	// file is then ErrNoDatabase. Otherwise a missing file is created,
	// with its directory (mode 0700; the file 0600).
	ReadOnly bool
	// LockTimeout bounds the wait for another process's lock (default
	// DefaultLockTimeout; the context's deadline, if sooner, wins).
	LockTimeout time.Duration
}

// Record is the reference values of one workload, with their metadata.
type Record struct {
	// Name is the workload name.
	Name string `json:"name"`
	// Values are the expected launch measurements.
	Values appref.Values `json:"values"`
	// Added is when the values were recorded.
	Added time.Time `json:"added"`
	// Source says where they came from: "manual", or the evidence file
	// they were taken from.
	Source string `json:"source"`
}

// metadata is the stored form of a record's metadata.
type metadata struct {
	Added  time.Time `json:"added"`
	Source string    `json:"source"`
}

// Store is an open reference database.
type Store struct {
	db   *bolt.DB
	path string
}

// Open opens (or, unless opts.ReadOnly, creates) the reference database at
// path, waiting for another process's lock at most opts.LockTimeout. It
// checks the whole file first (see the package doc); a damaged file gives
// ErrCorrupt, a lock held too long ErrLocked.
func Open(ctx context.Context, path string, opts Options) (*Store, error) {
	if err := checkContext(ctx, "opening the reference database"); err != nil {
		return nil, err
	}
	timeout := opts.LockTimeout
	if timeout <= 0 {
		timeout = DefaultLockTimeout
	}
	if d, ok := ctx.Deadline(); ok && time.Until(d) < timeout {
		timeout = max(time.Until(d), time.Millisecond)
	}
	var db *bolt.DB
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		if opts.ReadOnly {
			return nil, fmt.Errorf("%w: %s (record reference values with shelter reference add, or give --db)", ErrNoDatabase, path)
		}
		if err := create(path); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, fmt.Errorf("opening the reference database: %w", err)
	}
	deadline := time.Now().Add(timeout)
	err := preflightLocked(path, deadline)
	if err == nil {
		db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: max(time.Until(deadline), time.Millisecond), ReadOnly: opts.ReadOnly})
	}
	switch {
	case errors.Is(err, berrors.ErrTimeout), errors.Is(err, errLockTimeout):
		return nil, fmt.Errorf("%w: %s: still locked after %v; is another shelter running? (wait, or raise --lock-timeout)", ErrLocked, path, timeout)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum), errors.Is(err, berrors.ErrVersionMismatch):
		return nil, fmt.Errorf("%w: %s: %w (move it aside and add the reference values again)", ErrCorrupt, path, err)
	case errors.Is(err, ErrCorrupt):
		return nil, err
	case err != nil:
		return nil, fmt.Errorf("opening the reference database %s: %w", path, err)
	}
	s := &Store{db: db, path: path}
	if err := s.check(); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Close releases the database and its lock.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("closing the reference database %s: %w", s.path, err)
	}
	return nil
}

// corrupt wraps ErrCorrupt with the file and what is wrong.
func (s *Store) corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s (move it aside and add the reference values again)", ErrCorrupt, s.path, fmt.Sprintf(format, args...))
}

// guard runs f, turning a panic or a memory fault in the mapped file (a
// damaged page bbolt follows) into ErrCorrupt.
func (s *Store) guard(f func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = s.corrupt("reading it failed: %v", r)
		}
	}()
	return f()
}

// check reads the whole database: the schema, and every record with its
// checksum. (bbolt's own Tx.Check reads pages in a goroutine of its own,
// where a damaged page reference would crash the process rather than
// fault into guard.)
func (s *Store) check() error {
	return s.guard(func() error {
		return s.db.View(func(tx *bolt.Tx) error {
			sh := tx.Bucket(bucketShelter)
			if sh == nil || tx.Bucket(bucketWorkloads) == nil {
				return s.corrupt("a bbolt database without shelter's buckets")
			}
			if v := sh.Get(keySchema); string(v) != SchemaVersion {
				return s.corrupt("schema version %q, this shelter reads %q", v, SchemaVersion)
			}
			_, err := s.list(tx)
			return err
		})
	})
}

// Add records rec. An existing record of the same name is replaced only
// with force; otherwise the error wraps ErrExists.
func (s *Store) Add(ctx context.Context, rec Record, force bool) error {
	if err := checkContext(ctx, "adding reference values"); err != nil {
		return err
	}
	if err := ValidName(rec.Name); err != nil {
		return err
	}
	rec.Values = normalize(rec.Values)
	if err := rec.Values.Validate(); err != nil {
		return fmt.Errorf("reference values of %s: %w", rec.Name, err)
	}
	if rec.Added.IsZero() {
		rec.Added = time.Now()
	}
	values, err := json.Marshal(rec.Values)
	if err != nil {
		return fmt.Errorf("encoding the reference values of %s: %w", rec.Name, err)
	}
	meta, err := json.Marshal(metadata{Added: rec.Added.UTC().Truncate(time.Second), Source: rec.Source})
	if err != nil {
		return fmt.Errorf("encoding the metadata of %s: %w", rec.Name, err)
	}
	return s.guard(func() error {
		return s.db.Update(func(tx *bolt.Tx) error {
			w := tx.Bucket(bucketWorkloads)
			if b := w.Bucket([]byte(rec.Name)); b != nil {
				if !force {
					old, err := s.decode(rec.Name, b)
					if err != nil {
						return err
					}
					return fmt.Errorf("%w for %s in %s (added %s from %s); give --force to replace them",
						ErrExists, rec.Name, s.path, old.Added.Format(time.RFC3339), old.Source)
				}
				if err := w.DeleteBucket([]byte(rec.Name)); err != nil {
					return fmt.Errorf("replacing the reference values of %s in %s: %w", rec.Name, s.path, err)
				}
			}
			b, err := w.CreateBucket([]byte(rec.Name))
			if err == nil {
				err = b.Put(keyValues, values)
			}
			if err == nil {
				err = b.Put(keyMetadata, meta)
			}
			if err == nil {
				sum := checksum(rec.Name, values, meta)
				err = b.Put(keyChecksum, sum[:])
			}
			if err != nil {
				return fmt.Errorf("recording the reference values of %s in %s: %w", rec.Name, s.path, err)
			}
			return nil
		})
	})
}

// Get returns the record of name; the error wraps ErrNotFound when there
// is none.
func (s *Store) Get(ctx context.Context, name string) (Record, error) {
	if err := checkContext(ctx, "reading reference values"); err != nil {
		return Record{}, err
	}
	var rec Record
	err := s.guard(func() error {
		return s.db.View(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketWorkloads).Bucket([]byte(name))
			if b == nil {
				return fmt.Errorf("%w for workload %q in %s (shelter reference list shows what is)", ErrNotFound, name, s.path)
			}
			var err error
			rec, err = s.decode(name, b)
			return err
		})
	})
	return rec, err
}

// List returns every record, sorted by name.
func (s *Store) List(ctx context.Context) ([]Record, error) {
	if err := checkContext(ctx, "listing reference values"); err != nil {
		return nil, err
	}
	var recs []Record
	err := s.guard(func() error {
		return s.db.View(func(tx *bolt.Tx) error {
			var err error
			recs, err = s.list(tx)
			return err
		})
	})
	return recs, err
}

// Remove deletes the record of name; the error wraps ErrNotFound when there
// is none.
func (s *Store) Remove(ctx context.Context, name string) error {
	if err := checkContext(ctx, "removing reference values"); err != nil {
		return err
	}
	return s.guard(func() error {
		return s.db.Update(func(tx *bolt.Tx) error {
			w := tx.Bucket(bucketWorkloads)
			if w.Bucket([]byte(name)) == nil {
				return fmt.Errorf("%w for workload %q in %s (shelter reference list shows what is)", ErrNotFound, name, s.path)
			}
			if err := w.DeleteBucket([]byte(name)); err != nil {
				return fmt.Errorf("removing the reference values of %s from %s: %w", name, s.path, err)
			}
			return nil
		})
	})
}

// list decodes every record of tx, sorted by name (bbolt's key order).
func (s *Store) list(tx *bolt.Tx) ([]Record, error) {
	var recs []Record
	err := tx.Bucket(bucketWorkloads).ForEach(func(k, v []byte) error {
		if v != nil {
			return s.corrupt("workloads/%q is a value, not a bucket", k)
		}
		r, err := s.decode(string(k), tx.Bucket(bucketWorkloads).Bucket(k))
		if err != nil {
			return err
		}
		recs = append(recs, r)
		return nil
	})
	return recs, err
}

// decode reads the record of name from its bucket; anything missing or
// malformed is ErrCorrupt.
func (s *Store) decode(name string, b *bolt.Bucket) (Record, error) {
	if err := ValidName(name); err != nil {
		return Record{}, s.corrupt("workload %q: %v", name, err)
	}
	rec := Record{Name: name}
	values, meta := b.Get(keyValues), b.Get(keyMetadata)
	sum := checksum(name, values, meta)
	if subtle.ConstantTimeCompare(sum[:], b.Get(keyChecksum)) != 1 {
		return Record{}, s.corrupt("workload %q: the record does not match its checksum", name)
	}
	if err := strictJSON(values, &rec.Values); err != nil {
		return Record{}, s.corrupt("workload %s: values: %v", name, err)
	}
	if err := rec.Values.Validate(); err != nil {
		return Record{}, s.corrupt("workload %s: values: %v", name, err)
	}
	var m metadata
	if err := strictJSON(meta, &m); err != nil {
		return Record{}, s.corrupt("workload %s: metadata: %v", name, err)
	}
	rec.Added, rec.Source = m.Added, m.Source
	return rec, nil
}

// strictJSON decodes one JSON object, refusing unknown fields and
// trailing data.
func strictJSON(b []byte, v any) error {
	if b == nil {
		return errors.New("missing")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON object")
	}
	return nil
}

// normalize returns v with lower-case hex values, without a 0x prefix.
func normalize(v appref.Values) appref.Values {
	out := appref.Values{EvidenceType: v.EvidenceType, Measurements: make(map[string]string, len(v.Measurements))}
	for k, m := range v.Measurements {
		out.Measurements[k] = strings.ToLower(strings.TrimPrefix(m, "0x"))
	}
	return out
}

// create makes a new, empty database at path without ever leaving a
// partial file there: it is built under a temporary name in the same
// directory and linked into place, so a concurrent Open sees either no
// file or a complete one. If another process created path first, its file
// is kept.
func create(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating the reference database directory: %w", err)
	}
	var rnd [8]byte
	rand.Read(rnd[:])
	tmp := filepath.Join(dir, "."+filepath.Base(path)+".new-"+hex.EncodeToString(rnd[:]))
	defer os.Remove(tmp)
	db, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("creating the reference database %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		sh, err := tx.CreateBucket(bucketShelter)
		if err != nil {
			return err
		}
		if err := sh.Put(keySchema, []byte(SchemaVersion)); err != nil {
			return err
		}
		_, err = tx.CreateBucket(bucketWorkloads)
		return err
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("creating the reference database %s: %w", path, err)
	}
	if err := os.Link(tmp, path); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("creating the reference database %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
