// Package testvectors locates the shared attestation test vectors: real
// quotes, reports and certificates kept beside the checkout in
// ../shared/vectors (or where INCLAVARE_VECTORS points).
package testvectors

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the vectors directory. It fails the test when the directory
// is missing, since CI always has it: a silently skipped vector test would
// hide a regression.
func Dir(tb testing.TB) string {
	tb.Helper()
	if d := os.Getenv("INCLAVARE_VECTORS"); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			v := filepath.Join(filepath.Dir(d), "shared", "vectors")
			if _, err := os.Stat(v); err != nil {
				tb.Fatalf("test vectors not found at %s (set INCLAVARE_VECTORS): %v", v, err)
			}
			return v
		}
		if filepath.Dir(d) == d {
			tb.Fatalf("no go.mod above %s", wd)
		}
	}
}

// Read returns the contents of a vector file, by path relative to Dir.
func Read(tb testing.TB, rel string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(Dir(tb), rel))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}
