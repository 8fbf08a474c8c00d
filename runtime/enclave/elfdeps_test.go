package enclave

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestResolveRunpathAndExtra(t *testing.T) {
	ft := newFakeTree(t)
	d, err := Resolver{}.Resolve([]string{ft.runelet, ft.pal}, []string{ft.extra})
	if err != nil {
		t.Fatal(err)
	}
	if d.Interp == "" {
		t.Error("no interpreter found for a dynamic executable")
	}
	for name, want := range map[string]string{"libdep.so": ft.dep, "libextra.so": ft.extra} {
		if got := d.Libs[name]; !sameFile(got, want) {
			t.Errorf("Libs[%s] = %q, want %q", name, got, want)
		}
	}
	if _, ok := d.Libs["libc.so.6"]; !ok {
		t.Errorf("libc.so.6 missing from %v", d.Libs)
	}
}

// TestResolveMatchesLdd compares the closure of a host program with what
// the host's own loader reports.
func TestResolveMatchesLdd(t *testing.T) {
	ldd, err := exec.LookPath("ldd")
	if err != nil {
		t.Skip("ldd not found")
	}
	const prog = "/bin/ls"
	out, err := exec.Command(ldd, prog).Output()
	if err != nil {
		t.Skipf("ldd %s: %v", prog, err)
	}
	d, err := Resolver{}.Resolve([]string{prog}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		name, path, ok := strings.Cut(strings.TrimSpace(line), " => ")
		if !ok {
			continue
		}
		path, _, _ = strings.Cut(path, " (")
		if got := d.Libs[name]; !sameFile(got, path) {
			t.Errorf("%s: Resolve found %q, ldd %q", name, got, path)
		}
	}
}

func TestResolveMissingLibrary(t *testing.T) {
	needGCC(t)
	dir := t.TempDir()
	libs := filepath.Join(dir, "libs")
	os.Mkdir(libs, 0o755)
	gcc(t, libs, "libgone.so", "int gone(void) { return 1; }\n", "-shared", "-fPIC")
	pal := gcc(t, dir, "pal.so", "int gone(void);\nint f(void) { return gone(); }\n", "-shared", "-fPIC", "-L"+libs, "-lgone")
	_, err := Resolver{Dirs: []string{t.TempDir()}}.Resolve([]string{pal}, nil)
	if err == nil || !strings.Contains(err.Error(), "needs libgone.so") {
		t.Fatalf("error = %v, want one naming the missing libgone.so", err)
	}
}

func TestReadLdSoConfIncludes(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "conf.d"), 0o755)
	os.WriteFile(filepath.Join(dir, "ld.so.conf"), []byte("# comment\ninclude conf.d/*.conf\n/opt/one\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "conf.d", "a.conf"), []byte("/opt/two # trailing\n\n"), 0o644)
	var dirs []string
	readLdSoConf(filepath.Join(dir, "ld.so.conf"), &dirs, map[string]bool{})
	if strings.Join(dirs, ",") != "/opt/two,/opt/one" {
		t.Errorf("dirs = %q", dirs)
	}
}

// FuzzDynamicInfo reads the dynamic linking information of arbitrary bytes
// as an ELF file: a PAL named by a bundle is untrusted input.
func FuzzDynamicInfo(f *testing.F) {
	for _, p := range []string{"testdata/tiny.so", "testdata/tiny-exe"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("\x7fELF\x02\x01\x01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ef, err := elf.NewFile(bytes.NewReader(data))
		if err != nil {
			return
		}
		_, search, interp, err := dynamicInfo(ef, "/lib/x.so")
		for _, d := range search {
			if d == "" {
				t.Fatal("an empty search directory")
			}
		}
		if err == nil && len(interp) > maxInterp {
			t.Fatalf("interpreter of %d bytes accepted", len(interp))
		}
	})
}

func TestResolveNameCollision(t *testing.T) {
	needGCC(t)
	a, b := t.TempDir(), t.TempDir()
	one := gcc(t, a, "libsame.so", "int one(void) { return 1; }\n", "-shared", "-fPIC")
	two := gcc(t, b, "libsame.so", "int two(void) { return 2; }\n", "-shared", "-fPIC")
	_, err := Resolver{}.Resolve([]string{one}, []string{one, two})
	if err == nil || !strings.Contains(err.Error(), "two libraries named libsame.so") {
		t.Fatalf("error = %v, want one naming both libsame.so", err)
	}
}
