package reference

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"syscall"
	"time"
)

// The bbolt file format, as far as preflight reads it: each of the first
// two pages holds a 16-byte page header and a meta record (magic, version,
// page size, flags, root bucket, freelist page, high-water page id, txid,
// and an FNV-64a checksum of the fields before it), little-endian.
const (
	boltMagic        = 0xED0CDAED
	boltVersion      = 2
	boltPageHeader   = 16
	boltMetaSize     = 64
	boltDefaultPage  = 4096
	boltMinPageSize  = 512
	boltMaxPageSize  = 1 << 16
	boltMetaChecksum = 56 // offset of the checksum in the meta record
	noFreelist       = ^uint64(0)
)

// meta is the part of a bbolt meta page preflight needs.
type meta struct {
	pageSize uint32
	pgid     uint64 // high-water mark: pages [0, pgid) are in use
	txid     uint64
}

// parseMeta reads the meta record of a page starting at p.
func parseMeta(p []byte) (meta, error) {
	if len(p) < boltPageHeader+boltMetaSize {
		return meta{}, errors.New("too short for a meta page")
	}
	m := p[boltPageHeader : boltPageHeader+boltMetaSize]
	if binary.LittleEndian.Uint32(m[0:]) != boltMagic {
		return meta{}, errors.New("no bbolt magic number")
	}
	if v := binary.LittleEndian.Uint32(m[4:]); v != boltVersion {
		return meta{}, fmt.Errorf("bbolt format version %d, want %d", v, boltVersion)
	}
	h := fnv.New64a()
	h.Write(m[:boltMetaChecksum])
	if h.Sum64() != binary.LittleEndian.Uint64(m[boltMetaChecksum:]) {
		return meta{}, errors.New("meta page checksum mismatch")
	}
	ps := binary.LittleEndian.Uint32(m[8:])
	if ps < boltMinPageSize || ps > boltMaxPageSize || ps&(ps-1) != 0 {
		return meta{}, fmt.Errorf("page size %d", ps)
	}
	out := meta{pageSize: ps, pgid: binary.LittleEndian.Uint64(m[40:]), txid: binary.LittleEndian.Uint64(m[48:])}
	if root := binary.LittleEndian.Uint64(m[16:]); root >= out.pgid {
		return meta{}, fmt.Errorf("root page %d is past the last page %d", root, out.pgid)
	}
	if fl := binary.LittleEndian.Uint64(m[32:]); fl >= out.pgid && fl != noFreelist {
		return meta{}, fmt.Errorf("freelist page %d is past the last page %d", fl, out.pgid)
	}
	return out, nil
}

// preflightLocked runs preflight under a shared lock on the file, the
// lock bbolt's readers take, waiting for it until deadline: no writer has
// the database open meanwhile, so its pages are not read half-written.
func preflightLocked(path string, deadline time.Time) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("opening the reference database: %w", err)
	}
	defer f.Close()
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			return fmt.Errorf("locking the reference database %s: %w", path, err)
		}
		if time.Now().After(deadline) {
			return errLockTimeout
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Closing f releases the lock.
	return preflight(path)
}

// errLockTimeout is turned into ErrLocked by Open.
var errLockTimeout = errors.New("lock timeout")

// preflight checks, with plain reads, what bbolt assumes when it maps the
// file: an empty file is refused (shelter never leaves one: see create);
// both meta pages must be valid (bbolt would fall back to the older one,
// silently losing the last change); and the file must hold every page the
// newest meta counts, so that a truncated file is refused here rather than
// faulting when a page past its end is read.
func preflight(path string) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s (move it aside and add the reference values again)", ErrCorrupt, path, fmt.Sprintf(format, args...))
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("opening the reference database: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("opening the reference database: %w", err)
	}
	size := info.Size()
	if !info.Mode().IsRegular() {
		return bad("not a regular file")
	}
	if size == 0 {
		return bad("the file is empty")
	}
	buf := make([]byte, boltDefaultPage+boltPageHeader+boltMetaSize)
	n, err := f.ReadAt(buf, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("reading the reference database %s: %w", path, err)
	}
	buf = buf[:n]
	m0, err0 := parseMeta(buf)
	var m1 meta
	err1 := errors.New("the file ends before it")
	if err0 == nil {
		// The second meta page follows the first, at its page size.
		second := make([]byte, boltPageHeader+boltMetaSize)
		if n, _ := f.ReadAt(second, int64(m0.pageSize)); n == len(second) {
			m1, err1 = parseMeta(second)
		}
	} else if len(buf) > boltDefaultPage {
		m1, err1 = parseMeta(buf[boltDefaultPage:])
	}
	switch {
	case err0 != nil && err1 != nil:
		return bad("not a bbolt database: first meta page: %v; second: %v", err0, err1)
	case err0 != nil:
		return bad("the first meta page is damaged (%v): bbolt would fall back to an older state and lose the last change", err0)
	case err1 != nil:
		return bad("the second meta page is damaged (%v): bbolt would fall back to an older state and lose the last change", err1)
	}
	m := m0
	if m1.txid > m0.txid {
		m = m1
	}
	if m.pgid < 4 || m.pgid > uint64(size)/uint64(m.pageSize) {
		return bad("truncated: %d bytes, but the database has %d pages of %d bytes", size, m.pgid, m.pageSize)
	}
	if size%int64(m.pageSize) != 0 {
		return bad("truncated: %d bytes is not a whole number of %d-byte pages", size, m.pageSize)
	}
	return nil
}
