package plugin

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ManifestName is the file, in a plugin directory, that lists the SHA-256 of
// every plugin allowed to run, in sha256sum format ("<hex>  <file name>" per
// line). WriteManifest (and the rats-tls-manifest command that make build
// runs) writes it; `sha256sum rats-tls-* > rats-tls-plugins.sha256` does too.
const ManifestName = "rats-tls-plugins.sha256"

// WriteManifest writes ManifestName in dir, listing every plugin binary
// there (files named rats-tls-<kind>-<name> with a known kind). It replaces
// the manifest atomically.
func WriteManifest(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("writing plugin manifest: %w", err)
	}
	var buf bytes.Buffer
	for _, e := range entries {
		if _, _, ok := parseFileName(e.Name()); !ok {
			continue
		}
		path := filepath.Join(dir, e.Name())
		fi, err := os.Stat(path)
		if err != nil {
			return fmt.Errorf("writing plugin manifest: %w", err)
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		sum, err := fileSHA256(path)
		if err != nil {
			return fmt.Errorf("writing plugin manifest: %w", err)
		}
		fmt.Fprintf(&buf, "%x  %s\n", sum, e.Name())
	}
	tmp, err := os.CreateTemp(dir, "."+ManifestName+".*")
	if err != nil {
		return fmt.Errorf("writing plugin manifest: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename this fails harmlessly
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("writing plugin manifest %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("writing plugin manifest %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing plugin manifest %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, ManifestName)); err != nil {
		return fmt.Errorf("writing plugin manifest: %w", err)
	}
	return nil
}

func fileSHA256(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return nil, fmt.Errorf("hashing %s: %w", path, err)
	}
	return h.Sum(nil), nil
}

func untrusted(format string, args ...any) error {
	return &pluginError{msg: fmt.Sprintf(format, args...), errs: []error{ErrUntrusted}}
}

// othersWritable reports whether group or others may write a file of mode m.
func othersWritable(m fs.FileMode) bool { return m.Perm()&0o022 != 0 }

// readManifest parses the manifest at path into file name -> SHA-256.
func readManifest(path string) (map[string][]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if othersWritable(fi.Mode()) {
		return nil, untrusted("plugin manifest %s is group- or world-writable (mode %s): refusing to trust it", path, fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	sums := map[string][]byte{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		// sha256sum writes "<hex>  <name>", or "<hex> *<name>" in binary mode.
		hexSum, name, ok := strings.Cut(line, " ")
		name = strings.TrimPrefix(strings.TrimPrefix(name, " "), "*")
		sum, err := hex.DecodeString(hexSum)
		if !ok || err != nil || len(sum) != sha256.Size || name == "" || strings.ContainsRune(name, '/') {
			return nil, untrusted("plugin manifest %s line %d is not \"<sha256 hex>  <file name>\": %q", path, n, line)
		}
		if prev, dup := sums[name]; dup && !bytes.Equal(prev, sum) {
			return nil, untrusted("plugin manifest %s lists %s twice with different checksums", path, name)
		}
		sums[name] = sum
	}
	return sums, nil
}

// checkPlugin refuses a plugin that is writable by others, absent from its
// directory's manifest, or different from it, and returns the expected
// SHA-256 for go-plugin's own check.
func checkPlugin(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w", path, err)
	}
	if othersWritable(fi.Mode()) {
		return nil, untrusted("plugin %s is group- or world-writable (mode %s): refusing to run it (chmod go-w it)", path, fi.Mode().Perm())
	}
	manifest := filepath.Join(filepath.Dir(path), ManifestName)
	sums, err := readManifest(manifest)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, untrusted("plugin %s is not listed in manifest %s (no such file): run make build or add it", path, manifest)
	}
	if err != nil {
		if errors.Is(err, ErrUntrusted) {
			return nil, &pluginError{msg: fmt.Sprintf("plugin %s cannot be checked: %v", path, err), errs: []error{err}}
		}
		return nil, fmt.Errorf("plugin %s: reading its manifest: %w", path, err)
	}
	want, ok := sums[filepath.Base(path)]
	if !ok {
		return nil, untrusted("plugin %s is not listed in manifest %s: run make build or add it", path, manifest)
	}
	got, err := fileSHA256(path)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w", path, err)
	}
	if !bytes.Equal(got, want) {
		return nil, untrusted("plugin %s does not match its manifest checksum: refusing to run it (%s lists sha256 %x, the file has %x)", path, manifest, want, got)
	}
	return slices.Clone(want), nil
}
