package enclave

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// ProbeCacheName is the directory, under rune's root, of the probe cache.
const ProbeCacheName = ".probe-cache"

// maxProbeCacheEntry bounds a cache entry read back.
const maxProbeCacheEntry = maxProbeReport + 4096

// CachingProber remembers the probe reports of PALs that passed, so that a
// PAL probed once is not loaded again at every create. An entry is
// <Dir>/<SHA-256 of the PAL>.json and is used only for exactly those bytes,
// at the same path, with the same file identity (device, inode, size,
// modification time) and the same runelet (identity too): the PAL is
// hashed at every lookup. Malformed, foreign or stale entries are ignored
// and replaced. A report that fails the checks is never cached, so a PAL
// that failed is probed again each time.
type CachingProber struct {
	// Prober does the probing on a cache miss.
	Prober Prober
	// Dir holds the entries; it is created (mode 0700) when missing.
	Dir string
	// Runelet is the host path of the runelet that probes; a different
	// runelet binary makes every entry stale.
	Runelet string
}

// fileID is the identity of a file, as recorded in a cache entry.
type fileID struct {
	Dev   uint64 `json:"dev"`
	Ino   uint64 `json:"ino"`
	Size  int64  `json:"size"`
	Mtime int64  `json:"mtime_ns"`
}

// probeCacheEntry is one cache file.
type probeCacheEntry struct {
	Path    string       `json:"path"`
	SHA256  string       `json:"sha256"`
	PAL     fileID       `json:"pal"`
	Runelet fileID       `json:"runelet"`
	Result  *ProbeResult `json:"result"`
}

func idOf(fi os.FileInfo) (fileID, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	return fileID{Dev: st.Dev, Ino: st.Ino, Size: fi.Size(), Mtime: fi.ModTime().UnixNano()}, true
}

// Probe returns the cached report of pal when there is a valid one, else
// probes it with p.Prober and caches a report that passes the checks.
// Failing to use the cache is never an error: the PAL is then probed.
func (p CachingProber) Probe(ctx context.Context, pal string) (*ProbeResult, error) {
	sum, palID, runeletID, ok := p.identify(pal)
	if !ok {
		return p.Prober.Probe(ctx, pal)
	}
	entry := filepath.Join(p.Dir, sum+".json")
	if r := p.lookup(entry, pal, sum, palID, runeletID); r != nil {
		return r, nil
	}
	r, err := p.Prober.Probe(ctx, pal)
	if err != nil || checkProbe(pal, r) != nil {
		return r, err
	}
	// The PAL must still be the file that was hashed.
	if sum2, palID2, _, ok := p.identify(pal); ok && sum2 == sum && palID2 == palID {
		p.store(entry, probeCacheEntry{Path: pal, SHA256: sum, PAL: palID, Runelet: runeletID, Result: r})
	}
	return r, nil
}

// identify hashes pal and returns its identity and the runelet's.
func (p CachingProber) identify(pal string) (sum string, palID, runeletID fileID, ok bool) {
	if p.Dir == "" || p.Runelet == "" {
		return "", fileID{}, fileID{}, false
	}
	rfi, err := os.Stat(p.Runelet)
	if err != nil {
		return "", fileID{}, fileID{}, false
	}
	if runeletID, ok = idOf(rfi); !ok {
		return "", fileID{}, fileID{}, false
	}
	f, err := os.Open(pal)
	if err != nil {
		return "", fileID{}, fileID{}, false
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return "", fileID{}, fileID{}, false
	}
	if palID, ok = idOf(fi); !ok {
		return "", fileID{}, fileID{}, false
	}
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil || n != fi.Size() {
		return "", fileID{}, fileID{}, false
	}
	// A file written while it was hashed is not cached.
	if fi2, err := f.Stat(); err != nil || !fi2.ModTime().Equal(fi.ModTime()) || fi2.Size() != fi.Size() {
		return "", fileID{}, fileID{}, false
	}
	return hex.EncodeToString(h.Sum(nil)), palID, runeletID, true
}

// lookup reads a cache entry and returns its report when it is for
// exactly this PAL and runelet, else nil.
func (p CachingProber) lookup(entry, pal, sum string, palID, runeletID fileID) *ProbeResult {
	f, err := os.Open(entry)
	if err != nil {
		return nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o022 != 0 {
		return nil
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || int(st.Uid) != os.Geteuid() {
		return nil
	}
	data, err := io.ReadAll(io.LimitReader(f, maxProbeCacheEntry+1))
	if err != nil || len(data) > maxProbeCacheEntry {
		return nil
	}
	var e probeCacheEntry
	if err := json.Unmarshal(data, &e); err != nil || e.Result == nil {
		return nil
	}
	if subtle.ConstantTimeCompare([]byte(e.SHA256), []byte(sum)) != 1 ||
		e.Path != pal || e.PAL != palID || e.Runelet != runeletID {
		return nil
	}
	if checkProbe(pal, e.Result) != nil {
		return nil
	}
	return e.Result
}

// store writes a cache entry atomically (a temporary file renamed over
// it), mode 0600; a failure leaves no temporary file and is not an error:
// the PAL is probed again next time.
func (p CachingProber) store(entry string, e probeCacheEntry) {
	data, err := json.Marshal(e)
	if err != nil {
		return
	}
	if err := os.MkdirAll(p.Dir, 0o700); err != nil {
		return
	}
	tmp, err := os.CreateTemp(p.Dir, ".tmp-*") // mode 0600
	if err != nil {
		return
	}
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), entry)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
}

// ProbeCacheDir is the probe cache of the rune state root root.
func ProbeCacheDir(root string) string {
	return filepath.Join(root, ProbeCacheName)
}
