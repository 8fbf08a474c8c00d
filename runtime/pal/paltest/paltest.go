// Package paltest builds PALs for tests: the skeleton PAL of
// samples/pal-skeleton at each API version, and small PALs from test
// sources. Tests that need gcc call Require, which skips them when gcc is
// missing, unless INCLAVARE_CI=1.
package paltest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
)

// CFlags are the flags every PAL is built with, as `make build` does.
var CFlags = []string{"-std=gnu11", "-O2", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared", "-fvisibility=hidden", "-pthread"}

// Require skips t when gcc is missing, or fails it under INCLAVARE_CI=1.
func Require(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		Missing(t, "gcc is not installed (apt-get install gcc)")
	}
}

// Missing skips t saying why, or fails it when INCLAVARE_CI=1, where
// nothing may be skipped.
func Missing(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("INCLAVARE_CI") == "1" {
		t.Fatalf("INCLAVARE_CI=1 and %s", why)
	}
	t.Skip(why)
}

// SkeletonDir is the directory of the skeleton PAL's sources.
func SkeletonDir() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("cannot locate the paltest package's source")
	}
	dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "samples", "pal-skeleton")
	if _, err := os.Stat(filepath.Join(dir, "skeleton.c")); err != nil {
		return "", fmt.Errorf("the skeleton PAL's sources: %w", err)
	}
	return dir, nil
}

// SkeletonName is the file name of the skeleton PAL of a version.
func SkeletonName(version int) string {
	return "liberpal-skeleton-v" + strconv.Itoa(version) + ".so"
}

// BuildSkeleton builds the skeleton PAL of a version (1, 2 or 3) into
// dir and returns its path.
func BuildSkeleton(ctx context.Context, dir string, version int) (string, error) {
	src, err := SkeletonDir()
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, SkeletonName(version))
	return out, Build(ctx, out, []string{"-DPAL_VERSION=" + strconv.Itoa(version)},
		filepath.Join(src, "skeleton.c"), filepath.Join(src, "sha256.c"))
}

// Build compiles C sources into the shared object out with CFlags and
// extra flags.
func Build(ctx context.Context, out string, extra []string, srcs ...string) error {
	args := append(append(append([]string{}, CFlags...), extra...), "-o", out)
	cmd := exec.CommandContext(ctx, "gcc", append(args, srcs...)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("gcc %v: %w\n%s", srcs, err, b)
	}
	return nil
}
