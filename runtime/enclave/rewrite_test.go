package enclave

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

func baseSpec(args ...string) *specs.Spec {
	return &specs.Spec{
		Root:    &specs.Root{Path: "rootfs"},
		Process: &specs.Process{Args: args, Cwd: "/"},
		Mounts:  []specs.Mount{{Destination: "/proc", Type: "proc"}, {Destination: "/dev", Type: "tmpfs", Source: "tmpfs"}},
		Linux:   &specs.Linux{},
	}
}

func okProbe() *fakeProber {
	return &fakeProber{r: &ProbeResult{Version: 3, Symbols: []string{"pal_init"}}}
}

func TestValidatePAL(t *testing.T) {
	ft := newFakeTree(t)
	notELF := filepath.Join(ft.dir, "notelf.so")
	os.WriteFile(notELF, []byte("#!/bin/sh\n"), 0o755)
	exe := gcc(t, ft.dir, "static-exe", "int main(void) { return 0; }\n", "-static", "-no-pie")
	for _, tc := range []struct {
		name    string
		cfg     Config
		runelet string
		prober  *fakeProber
		wantErr string
	}{
		{"ok", Config{Type: TypeSimulated, RuntimePath: ft.pal, LogLevel: "info"}, ft.runelet, okProbe(), ""},
		{"ok with libs", Config{Type: TypeSimulated, RuntimePath: ft.pal, LogLevel: "info", Libs: []string{ft.extra}}, ft.runelet, okProbe(), ""},
		{"missing PAL", Config{Type: TypeSimulated, RuntimePath: filepath.Join(ft.dir, "nope.so"), LogLevel: "info"}, ft.runelet, okProbe(), "no such file"},
		{"PAL is a directory", Config{Type: TypeSimulated, RuntimePath: ft.dir, LogLevel: "info"}, ft.runelet, okProbe(), "not a regular file"},
		{"PAL not ELF", Config{Type: TypeSimulated, RuntimePath: notELF, LogLevel: "info"}, ft.runelet, okProbe(), "not an ELF shared object"},
		{"PAL is an executable", Config{Type: TypeSimulated, RuntimePath: exe, LogLevel: "info"}, ft.runelet, okProbe(), "ELF type is ET_EXEC"},
		{"lib not ELF", Config{Type: TypeSimulated, RuntimePath: ft.pal, LogLevel: "info", Libs: []string{notELF}}, ft.runelet, okProbe(), "library " + notELF},
		{"no runelet", Config{Type: TypeSimulated, RuntimePath: ft.pal, LogLevel: "info"}, "", okProbe(), "runelet was not found"},
		{"runelet missing", Config{Type: TypeSimulated, RuntimePath: ft.pal, LogLevel: "info"}, filepath.Join(ft.dir, "gone"), okProbe(), "RUNE_RUNELET"},
		{"probe fails", Config{Type: TypeSimulated, RuntimePath: ft.pal, LogLevel: "info"}, ft.runelet, &fakeProber{err: errors.New("dlopen: undefined symbol: foo")}, "undefined symbol: foo"},
		{"version too new", Config{Type: TypeSimulated, RuntimePath: ft.pal, LogLevel: "info"}, ft.runelet, &fakeProber{r: &ProbeResult{Version: 4}}, "version 4; rune supports versions 1 to 3"},
		{"version zero", Config{Type: TypeSimulated, RuntimePath: ft.pal, LogLevel: "info"}, ft.runelet, &fakeProber{r: &ProbeResult{Version: 0}}, "version 0"},
		{"missing symbols", Config{Type: TypeSimulated, RuntimePath: ft.pal, LogLevel: "info"}, ft.runelet, &fakeProber{r: &ProbeResult{Version: 2, Missing: []string{"pal_exec", "pal_kill"}}}, "lacks required symbols pal_exec, pal_kill"},
		{"probe reports an error", Config{Type: TypeSimulated, RuntimePath: ft.pal, LogLevel: "info"}, ft.runelet, &fakeProber{r: &ProbeResult{Version: 2, Error: "pal_get_version returned 0"}}, "unusable: pal_get_version returned 0"},
		{"bad type", Config{Type: "sgx", RuntimePath: ft.pal, LogLevel: "info"}, ft.runelet, okProbe(), "unknown enclave type"},
		{"PAL outside PALDirs", Config{Type: TypeSimulated, RuntimePath: ft.pal, LogLevel: "info"}, ft.runelet, okProbe(), "outside the allowed PAL directories"},
		{"lib outside PALDirs", Config{Type: TypeSimulated, RuntimePath: ft.pal, LogLevel: "info", Libs: []string{ft.extra}}, ft.runelet, okProbe(), "libother.so (enclave.runtime.libs): "},
		{"PAL inside PALDirs", Config{Type: TypeSimulated, RuntimePath: ft.pal, LogLevel: "info"}, ft.runelet, okProbe(), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			host := Host{Runelet: tc.runelet, Prober: tc.prober}
			switch {
			case strings.HasPrefix(tc.name, "PAL outside"):
				host.PALDirs = []string{filepath.Join(ft.dir, "libs")}
			case strings.HasPrefix(tc.name, "lib outside"):
				host.PALDirs = []string{ft.dir + "/../" + filepath.Base(ft.dir)}
				tc.cfg.Libs = []string{otherLib(t)}
			case strings.HasPrefix(tc.name, "PAL inside"):
				host.PALDirs = []string{"/nonexistent", ft.dir}
			}
			err := tc.cfg.Validate(context.Background(), host)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if tc.prober.calls != 1 {
					t.Errorf("probe called %d times, want 1", tc.prober.calls)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// otherLib builds a shared object outside the fake tree.
func otherLib(t *testing.T) string {
	t.Helper()
	return gcc(t, t.TempDir(), "libother.so", "int other(void) { return 2; }\n", "-shared", "-fPIC")
}

func mountFor(spec *specs.Spec, dst string) *specs.Mount {
	for i := range spec.Mounts {
		if spec.Mounts[i].Destination == dst {
			return &spec.Mounts[i]
		}
	}
	return nil
}

func TestRewritePAL(t *testing.T) {
	ft := newFakeTree(t)
	cfg := &Config{Type: TypeSimulated, RuntimePath: ft.pal, RuntimeArgs: "a b", LogLevel: "debug", Libs: []string{ft.extra}}
	spec := baseSpec("/bin/app", "-x")
	runDir := filepath.Join(ft.dir, "run")
	if err := cfg.Rewrite(spec, Host{Runelet: ft.runelet}, runDir, ""); err != nil {
		t.Fatal(err)
	}
	deps, err := Resolver{}.Resolve([]string{ft.runelet}, nil)
	if err != nil {
		t.Fatal(err)
	}
	loader := ContainerLibDir + "/" + filepath.Base(deps.Interp)
	want := []string{loader, "--library-path", ContainerLibDir, ContainerRunelet, "--pal", ContainerPALDir + "/liberpal-fake.so",
		"--pal-args", "a b", "--loglevel", "debug", "--run-dir", ContainerRunDir, "--", "/bin/app", "-x"}
	if !slices.Equal(spec.Process.Args, want) {
		t.Errorf("args = %q\nwant   %q", spec.Process.Args, want)
	}
	for dst, src := range map[string]string{
		ContainerRunelet:                      ft.runelet,
		ContainerPALDir + "/liberpal-fake.so": ft.pal,
		ContainerLibDir + "/libdep.so":        ft.dep,
		ContainerLibDir + "/libextra.so":      ft.extra,
		loader:                                deps.Interp,
		ContainerLibDir + "/libc.so.6":        deps.Libs["libc.so.6"],
	} {
		m := mountFor(spec, dst)
		if m == nil {
			t.Errorf("no mount at %s", dst)
			continue
		}
		if m.Source != src || m.Type != "bind" || !slices.Contains(m.Options, "ro") {
			t.Errorf("mount at %s = %+v, want a read-only bind of %s", dst, *m, src)
		}
	}
	if m := mountFor(spec, ContainerRunDir); m == nil || m.Source != runDir || !slices.Contains(m.Options, "rw") {
		t.Errorf("run dir mount = %+v, want a read-write bind of %s", m, runDir)
	}
	// The enclave mounts come after /dev, which they live in.
	if spec.Mounts[1].Destination != "/dev" {
		t.Errorf("the spec's own mounts must stay first: %+v", spec.Mounts[:2])
	}
}

func TestRewriteBadInputs(t *testing.T) {
	ft := newFakeTree(t)
	cfg := &Config{Type: TypeSimulated, RuntimePath: ft.pal, LogLevel: "info"}
	noDev := baseSpec("/bin/app")
	noDev.Mounts = noDev.Mounts[:1]
	static := gcc(t, ft.dir, "static-runelet", "int main(void) { return 0; }\n", "-static")
	for _, tc := range []struct {
		name    string
		spec    *specs.Spec
		host    Host
		wantErr string
	}{
		{"no args", baseSpec(), Host{Runelet: ft.runelet}, "without process args"},
		{"no /dev mount", noDev, Host{Runelet: ft.runelet}, "without a mount at /dev"},
		{"static runelet", baseSpec("/bin/app"), Host{Runelet: static}, "no program interpreter"},
		{"library not found", baseSpec("/bin/app"), Host{Runelet: ft.runelet, LibraryDirs: []string{t.TempDir()}}, "needs libc.so.6"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := cfg.Rewrite(tc.spec, tc.host, filepath.Join(ft.dir, "run"), "")
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(ft.dir, "run")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Rewrite created the run directory: %v", err)
	}
}

func TestRewriteSGX(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("making fake SGX device nodes needs root")
	}
	ft := newFakeTree(t)
	cfg := &Config{Type: TypeIntelSGX, RuntimePath: ft.pal, LogLevel: "info"}
	dev := t.TempDir()
	aesmd := t.TempDir()

	if err := cfg.Rewrite(baseSpec("/bin/app"), Host{Runelet: ft.runelet, DevDir: dev, AesmdDir: aesmd}, "/run/x", ""); err == nil || !strings.Contains(err.Error(), "needs the SGX device") {
		t.Fatalf("without devices: error = %v, want one saying the SGX device is needed", err)
	}

	if err := unix.Mknod(filepath.Join(dev, "sgx_enclave"), unix.S_IFCHR|0o666, int(unix.Mkdev(10, 125))); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mknod(filepath.Join(dev, "sgx_provision"), unix.S_IFCHR|0o660, int(unix.Mkdev(10, 126))); err != nil {
		t.Fatal(err)
	}
	spec := baseSpec("/bin/app")
	if err := cfg.Rewrite(spec, Host{Runelet: ft.runelet, DevDir: dev, AesmdDir: aesmd}, "/run/x", ""); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range spec.Linux.Devices {
		got = append(got, d.Path)
	}
	if !slices.Equal(got, []string{"/dev/sgx_enclave", "/dev/sgx_provision"}) {
		t.Errorf("devices = %q", got)
	}
	rules := spec.Linux.Resources.Devices
	if len(rules) != 2 || !rules[0].Allow || *rules[0].Major != 10 || *rules[0].Minor != 125 || rules[0].Access != "rwm" {
		t.Errorf("device rules = %+v", rules)
	}
	if m := mountFor(spec, ContainerAesmdDir); m == nil || m.Source != aesmd {
		t.Errorf("aesmd mount = %+v", m)
	}

	legacy := t.TempDir()
	if err := unix.Mknod(filepath.Join(legacy, "isgx"), unix.S_IFCHR|0o666, int(unix.Mkdev(243, 0))); err != nil {
		t.Fatal(err)
	}
	spec = baseSpec("/bin/app")
	if err := cfg.Rewrite(spec, Host{Runelet: ft.runelet, DevDir: legacy, AesmdDir: filepath.Join(legacy, "none")}, "/run/x", ""); err != nil {
		t.Fatal(err)
	}
	if len(spec.Linux.Devices) != 1 || spec.Linux.Devices[0].Path != "/dev/isgx" || mountFor(spec, ContainerAesmdDir) != nil {
		t.Errorf("legacy driver: devices %+v, aesmd mount %+v", spec.Linux.Devices, mountFor(spec, ContainerAesmdDir))
	}
}

func TestRewriteWasm(t *testing.T) {
	rootfs := t.TempDir()
	module := []byte("\x00asm\x01\x00\x00\x00")
	os.MkdirAll(filepath.Join(rootfs, "app"), 0o755)
	os.WriteFile(filepath.Join(rootfs, "app", "hello.wasm"), module, 0o644)
	os.WriteFile(filepath.Join(rootfs, "app", "text.wasm"), []byte("hello"), 0o644)
	os.Symlink("/../../../etc/passwd", filepath.Join(rootfs, "app", "escape.wasm"))
	cacheRoot := filepath.Join(t.TempDir(), "cache")
	host := Host{RuneletWasm: "/usr/bin/runelet-wasm", CacheDir: cacheRoot, CacheFD: 4}
	cfg := &Config{Type: TypeWasm, LogLevel: "info"}

	spec := baseSpec("/app/hello.wasm", "arg")
	limit := int64(64 << 20)
	spec.Linux.Resources = &specs.LinuxResources{Memory: &specs.LinuxMemory{Limit: &limit}}
	if err := cfg.Rewrite(spec, host, "", rootfs); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(module)
	cache := filepath.Join(cacheRoot, hex.EncodeToString(sum[:]))
	want := []string{ContainerRuneletWasm, "--cache-fd", "4", "--memory-limit", "67108864", "--measurement", hex.EncodeToString(sum[:]), "--", "/app/hello.wasm", "arg"}
	if !slices.Equal(spec.Process.Args, want) {
		t.Errorf("args = %q\nwant   %q", spec.Process.Args, want)
	}
	for _, m := range spec.Mounts {
		if strings.HasPrefix(m.Source, cacheRoot) {
			t.Errorf("the cache is mounted (%+v): the module could plant native code there", m)
		}
	}
	if m := mountFor(spec, ContainerRuneletWasm); m == nil || m.Source != host.RuneletWasm || !slices.Contains(m.Options, "ro") {
		t.Errorf("runelet-wasm mount = %+v", m)
	}
	if st, err := os.Stat(cache); err != nil || !st.IsDir() {
		t.Errorf("cache directory not created: %v", err)
	}
	if cfg.CacheDir() != cache {
		t.Errorf("CacheDir() = %q, want %q", cfg.CacheDir(), cache)
	}

	given := &Config{Type: TypeWasm, LogLevel: "debug", logLevelGiven: true}
	spec = baseSpec("/app/hello.wasm")
	if err := given.Rewrite(spec, host, "", rootfs); err != nil {
		t.Fatal(err)
	}
	if want := []string{ContainerRuneletWasm, "--cache-fd", "4", "--loglevel", "debug", "--measurement", hex.EncodeToString(sum[:]), "--", "/app/hello.wasm"}; !slices.Equal(spec.Process.Args, want) {
		t.Errorf("args with a log level = %q\nwant   %q", spec.Process.Args, want)
	}
	if err := cfg.Rewrite(baseSpec("/app/hello.wasm"), Host{RuneletWasm: host.RuneletWasm, CacheDir: cacheRoot}, "", rootfs); err == nil || !strings.Contains(err.Error(), "descriptor") {
		t.Errorf("cache descriptor 0: error = %v", err)
	}

	for _, tc := range []struct{ module, wantErr string }{
		{"/app/missing.wasm", "no such file"},
		{"/app/text.wasm", "not a WebAssembly binary"},
		{"app/hello.wasm", "not an absolute path"},
		{"/app/escape.wasm", "no such file"},
	} {
		t.Run(tc.module, func(t *testing.T) {
			err := cfg.Rewrite(baseSpec(tc.module), Host{RuneletWasm: host.RuneletWasm, CacheDir: filepath.Join(cacheRoot, "bad"), CacheFD: 3}, "", rootfs)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
			}
			if _, err := os.Stat(filepath.Join(cacheRoot, "bad")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a failed rewrite created the cache directory")
			}
		})
	}
}

func TestValidateWasm(t *testing.T) {
	ft := newFakeTree(t)
	cfg := &Config{Type: TypeWasm, LogLevel: "info"}
	static := gcc(t, ft.dir, "static-wasm", "int main(void) { return 0; }\n", "-static")
	if err := cfg.Validate(context.Background(), Host{RuneletWasm: static}); err != nil {
		t.Errorf("static runelet-wasm: %v", err)
	}
	if err := cfg.Validate(context.Background(), Host{RuneletWasm: ft.runelet}); err == nil || !strings.Contains(err.Error(), "dynamically linked") {
		t.Errorf("dynamic runelet-wasm: error = %v", err)
	}
	if err := cfg.Validate(context.Background(), Host{}); err == nil || !strings.Contains(err.Error(), "RUNE_RUNELET_WASM") {
		t.Errorf("no runelet-wasm: error = %v", err)
	}
}

func TestStateRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if s, err := ReadState(dir); s != nil || err != nil {
		t.Fatalf("ReadState of a plain container = %v, %v", s, err)
	}
	want := &State{Type: TypeSimulated, RunDir: filepath.Join(dir, RunDirName)}
	if err := WriteState(dir, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadState(dir)
	if err != nil || *got != *want {
		t.Fatalf("ReadState = %+v, %v; want %+v", got, err, want)
	}
	if got.ExecSocket() != filepath.Join(dir, RunDirName, ExecSocketName) {
		t.Errorf("ExecSocket = %s", got.ExecSocket())
	}
	os.WriteFile(filepath.Join(dir, StateFile), []byte("{"), 0o600)
	if _, err := ReadState(dir); err == nil {
		t.Error("a corrupt enclave state was accepted")
	}
}

func TestRewriteWasmAttestation(t *testing.T) {
	rootfs := t.TempDir()
	module := []byte("\x00asm\x01\x00\x00\x00")
	os.WriteFile(filepath.Join(rootfs, "greeter.wasm"), module, 0o644)
	host := Host{RuneletWasm: "/usr/bin/runelet-wasm", CacheDir: t.TempDir(), CacheFD: 3}
	sum := sha256.Sum256(module)
	digest := hex.EncodeToString(sum[:])

	cfg := &Config{Type: TypeWasm, LogLevel: "info", AttestationListen: "tcp://127.0.0.1:7000"}
	spec := baseSpec("/greeter.wasm")
	spec.Annotations = map[string]string{AnnotationMeasurement: "forged"}
	if err := cfg.Rewrite(spec, host, "", rootfs); err != nil {
		t.Fatal(err)
	}
	want := []string{ContainerRuneletWasm, "--cache-fd", "3", "--measurement", digest, "--serve", "tcp://127.0.0.1:7000", "--attester", "sgx_ecdsa_sim", "--", "/greeter.wasm"}
	if !slices.Equal(spec.Process.Args, want) {
		t.Errorf("args = %q\nwant   %q", spec.Process.Args, want)
	}
	if a := spec.Annotations; a[AnnotationMeasurement] != digest || a[AnnotationAttestationAttester] != "sgx_ecdsa_sim" || a[AnnotationAttestationListen] != "tcp://127.0.0.1:7000" {
		t.Errorf("annotations recorded for rune attest: %v", a)
	}
}
