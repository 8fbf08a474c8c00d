package enclave

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// needGCC skips the test when gcc is missing, unless INCLAVARE_CI=1.
func needGCC(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("gcc"); err != nil {
		if os.Getenv("INCLAVARE_CI") == "1" {
			t.Fatal("gcc is needed to build the test's ELF objects")
		}
		t.Skip("gcc not found: these tests build real ELF shared objects with it")
	}
}

// gcc compiles src into dir/out with args.
func gcc(t *testing.T, dir, out, src string, args ...string) string {
	t.Helper()
	c := filepath.Join(dir, out+".c")
	if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, out)
	cmd := exec.Command("gcc", append([]string{"-o", p, c}, args...)...)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gcc %s: %v\n%s", out, err, b)
	}
	return p
}

// fakeTree is a PAL and a runelet built for a test: the PAL needs libdep.so
// (found through its RUNPATH), and the runelet is a dynamic executable.
type fakeTree struct {
	dir, pal, dep, runelet, extra string
}

var (
	sharedTree    *fakeTree
	sharedTreeDir string
)

// TestMain removes the fake tree the tests share.
func TestMain(m *testing.M) {
	code := m.Run()
	if sharedTreeDir != "" {
		os.RemoveAll(sharedTreeDir)
	}
	os.Exit(code)
}

// newFakeTree returns the package's fake tree, building it on first use.
func newFakeTree(t *testing.T) *fakeTree {
	t.Helper()
	needGCC(t)
	if sharedTree != nil {
		return sharedTree
	}
	dir, err := os.MkdirTemp("", "enclave-test-")
	if err != nil {
		t.Fatal(err)
	}
	sharedTreeDir = dir
	libs := filepath.Join(dir, "libs")
	if err := os.Mkdir(libs, 0o755); err != nil {
		t.Fatal(err)
	}
	ft := &fakeTree{dir: dir}
	ft.dep = gcc(t, libs, "libdep.so", "int dep(void) { return 7; }\n", "-shared", "-fPIC")
	ft.pal = gcc(t, dir, "liberpal-fake.so", "int dep(void);\nint pal_get_version(void) { return dep() - 4; }\n",
		"-shared", "-fPIC", "-L"+libs, "-ldep", "-Wl,-rpath,$ORIGIN/libs", "-Wl,--enable-new-dtags")
	ft.extra = gcc(t, libs, "libextra.so", "int extra(void) { return 1; }\n", "-shared", "-fPIC")
	ft.runelet = gcc(t, dir, "runelet", "int main(void) { return 0; }\n")
	sharedTree = ft
	return ft
}

// fakeProber answers every probe with its result or error.
type fakeProber struct {
	r     *ProbeResult
	err   error
	calls int
}

func (p *fakeProber) Probe(ctx context.Context, pal string) (*ProbeResult, error) {
	p.calls++
	return p.r, p.err
}
