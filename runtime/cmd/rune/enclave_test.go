package main_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/inclavare/inclavare/runtime/enclave"
	"github.com/inclavare/inclavare/runtime/pal/paltest"
)

// skeleton builds the skeleton PAL of version v into a test directory.
func skeleton(t testing.TB, v int) string {
	t.Helper()
	paltest.Require(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := paltest.BuildSkeleton(ctx, t.TempDir(), v)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func withEnclave(ann map[string]string, readonly bool) func(*specs.Spec) {
	return func(s *specs.Spec) {
		s.Annotations = ann
		s.Root.Readonly = readonly
	}
}

// TestEnclaveSkeleton runs a simulated enclave container with the skeleton
// PAL of each API version, on busybox-static (no libc in the rootfs).
func TestEnclaveSkeleton(t *testing.T) {
	e := newEnv(t)
	t.Parallel()
	for v := 1; v <= 3; v++ {
		t.Run("v"+strconv.Itoa(v), func(t *testing.T) {
			pal := skeleton(t, v)
			readonly := v != 1
			b := e.bundle("sk", []string{"/bin/sh", "-c", `echo "in enclave, ENCLAVE_TYPE=[$ENCLAVE_TYPE] KEEP=$KEEP"; ls /dev/.rune/pal; exit 7`},
				func(s *specs.Spec) {
					withEnclave(map[string]string{enclave.AnnotationType: "simulated", enclave.AnnotationRuntimePath: pal, enclave.AnnotationLogLevel: "debug"}, readonly)(s)
					if v == 2 {
						// The environment overrides the annotation, and is removed.
						s.Annotations[enclave.AnnotationType] = "intelSgx"
						s.Process.Env = append(s.Process.Env, "ENCLAVE_TYPE=simulated")
					}
					s.Process.Env = append(s.Process.Env, "KEEP=kept")
				})
			r := e.rune("run", "--bundle", b, "sk"+strconv.Itoa(v))
			want := "in enclave, ENCLAVE_TYPE=[] KEEP=kept\n" + filepath.Base(pal) + "\n"
			if r.code != 7 || r.stdout != want {
				t.Errorf("code %d, stdout %q (want 7, %q), stderr %q", r.code, r.stdout, want, r.stderr)
			}
		})
	}
}

// TestEnclaveExecKillDelete: exec into a running enclave container goes
// into the same PAL instance; kill reaches the workload; delete removes all.
func TestEnclaveExecKillDelete(t *testing.T) {
	e := newEnv(t)
	t.Parallel()
	pal := skeleton(t, 3)
	logDir := t.TempDir()
	b := e.bundle("ek", []string{"/bin/sh", "-c", `trap "echo got-term > /out/log; exit 9" TERM; echo up > /out/log; while true; do sleep 0.05; done`},
		func(s *specs.Spec) {
			withEnclave(map[string]string{enclave.AnnotationType: "simulated", enclave.AnnotationRuntimePath: pal}, true)(s)
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/out", Type: "bind", Source: logDir, Options: []string{"bind", "rw"}})
			s.Process.Env = append(s.Process.Env, "FROM_SPEC=yes", "ENCLAVE_RUNTIME_LOGLEVEL=info")
		})
	e.must("create", "--bundle", b, "ek")
	runDir := filepath.Join(e.root, "ek", enclave.RunDirName)
	if _, err := os.Stat(runDir); err != nil {
		t.Fatalf("enclave run directory: %v", err)
	}
	e.must("start", "ek")
	waitFile(t, filepath.Join(logDir, "log"), "up")
	pid := int(e.waitStatus("ek", "running")["pid"].(float64))

	r := e.rune("exec", "--env", "FROM_EXEC=1", "--cwd", "/bin", "ek", "/bin/sh", "-c", `echo "$FROM_SPEC $FROM_EXEC [$ENCLAVE_RUNTIME_LOGLEVEL] $(pwd)"; echo to-stderr >&2; exit 4`)
	if r.code != 4 || r.stdout != "yes 1 [] /bin\n" || !strings.Contains(r.stderr, "to-stderr") {
		t.Errorf("exec: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := e.rune("exec", "ek", "/bin/no-such-program"); r.code == 0 {
		t.Errorf("exec of a missing program in the enclave succeeded: %q", r.stdout)
	}
	if r := e.rune("exec", "--tty", "ek", "/bin/true"); r.code != 255 || !strings.Contains(r.stderr, "does not support a terminal") {
		t.Errorf("exec --tty: code %d, stderr %q", r.code, r.stderr)
	}
	pids := psPids(e, "ek")
	if len(pids) < 3 {
		t.Errorf("ps: %v, want the runelet, the PAL host and the workload", pids)
	}

	// SIGTERM to `rune exec` ends the request; the runelet kills the process.
	cmd := exec.Command(runeBin, "--root", e.root, "exec", "ek", "/bin/sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(psPids(e, "ek")) <= len(pids) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(unix.SIGTERM)
	if err := cmd.Wait(); cmd.ProcessState.ExitCode() != 255 {
		t.Errorf("exec after SIGTERM: %v, exit %d; want 255", err, cmd.ProcessState.ExitCode())
	}
	for n := len(psPids(e, "ek")); n > len(pids); n = len(psPids(e, "ek")) {
		if time.Now().After(deadline) {
			t.Fatalf("the exec'd process outlived its rune exec: %d processes, %d before", n, len(pids))
		}
		time.Sleep(20 * time.Millisecond)
	}

	e.must("kill", "ek", "TERM")
	waitFile(t, filepath.Join(logDir, "log"), "got-term")
	e.waitStatus("ek", "stopped")
	e.must("delete", "ek")
	waitGone(t, pid)
	for _, p := range pids {
		waitGone(t, p)
	}
	if _, err := os.Stat(runDir); !os.IsNotExist(err) {
		t.Errorf("run directory after delete: %v", err)
	}
}

// TestEnclaveBadInputs: every bad enclave configuration fails create with
// a clear error and leaves nothing (state, cgroup, mount: checked by env).
func TestEnclaveBadInputs(t *testing.T) {
	e := newEnv(t)
	t.Parallel()
	pal := skeleton(t, 3)
	dir := t.TempDir()
	notELF := filepath.Join(dir, "liberpal-text.so")
	os.WriteFile(notELF, []byte("not a library\n"), 0o644)
	build := func(name, src string) string {
		c := filepath.Join(dir, name+".c")
		os.WriteFile(c, []byte(src), 0o644)
		out := filepath.Join(dir, name+".so")
		if err := paltest.Build(context.Background(), out, nil, c); err != nil {
			t.Fatal(err)
		}
		return out
	}
	const exported = "__attribute__((visibility(\"default\")))"
	v4 := build("liberpal-v4", exported+" int pal_get_version(void) { return 4; }\n")
	partial := build("liberpal-partial", exported+" int pal_get_version(void) { return 2; }\n"+exported+" int pal_init(const void *a) { (void)a; return 0; }\n")
	noSGX := "/dev/sgx_enclave"
	if _, err := os.Stat(noSGX); err == nil {
		noSGX = ""
	}

	for _, tc := range []struct {
		name    string
		ann     map[string]string
		env     []string
		extra   []string
		wantErr string
	}{
		{"unknown type", map[string]string{"enclave.type": "tdx"}, nil, nil, `unknown enclave type "tdx"`},
		{"no PAL", map[string]string{"enclave.type": "simulated"}, nil, nil, "needs the PAL"},
		{"missing PAL", map[string]string{"enclave.type": "simulated", "enclave.runtime.path": filepath.Join(dir, "gone.so")}, nil, nil, "no such file"},
		{"PAL not ELF", map[string]string{"enclave.type": "simulated", "enclave.runtime.path": notELF}, nil, nil, "not an ELF shared object"},
		{"PAL version 4", map[string]string{"enclave.type": "simulated", "enclave.runtime.path": v4}, nil, nil, "4"},
		{"PAL missing symbols", map[string]string{"enclave.type": "simulated", "enclave.runtime.path": partial}, nil, nil, "pal_create_process"},
		{"bad log level", map[string]string{"enclave.type": "simulated", "enclave.runtime.path": pal}, []string{"ENCLAVE_RUNTIME_LOGLEVEL=verbose"}, nil, `bad enclave log level "verbose"`},
		{"bad type from env", map[string]string{"enclave.type": "simulated", "enclave.runtime.path": pal}, []string{"ENCLAVE_TYPE=sgx"}, nil, `unknown enclave type "sgx"`},
		{"PAL outside RUNE_PAL_DIRS", map[string]string{"enclave.type": "simulated", "enclave.runtime.path": pal}, nil, []string{"RUNE_PAL_DIRS=" + dir}, "outside the allowed PAL directories"},
		{"no runelet", map[string]string{"enclave.type": "simulated", "enclave.runtime.path": pal}, nil, []string{"RUNE_RUNELET=" + filepath.Join(dir, "no-runelet")}, "RUNE_RUNELET"},
		{"wasm with a PAL", map[string]string{"enclave.type": "wasm", "enclave.runtime.path": pal}, nil, nil, "not used with enclave type wasm"},
		{"wasm module missing", map[string]string{"enclave.type": "wasm"}, nil, nil, "wasm module /bin/sh"},
		{"missing extra library", map[string]string{"enclave.type": "simulated", "enclave.runtime.path": pal, "enclave.runtime.libs": filepath.Join(dir, "libgone.so")}, nil, nil, "libgone.so"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := e.bundle("bad", []string{"/bin/sh", "-c", "exit 0"}, func(s *specs.Spec) {
				s.Annotations = tc.ann
				s.Process.Env = append(s.Process.Env, tc.env...)
			})
			e.extra = tc.extra
			defer func() { e.extra = nil }()
			r := e.rune("create", "--bundle", b, "bad")
			if r.code != 1 || !strings.Contains(r.stderr, "enclave") || !strings.Contains(r.stderr, tc.wantErr) {
				t.Errorf("create: code %d, stderr %q; want 1 and an error containing %q", r.code, r.stderr, tc.wantErr)
			}
			if _, err := os.Stat(filepath.Join(e.root, "bad")); !os.IsNotExist(err) {
				t.Errorf("state directory left: %v", err)
			}
		})
	}
	// A failure after libcontainer made the container (here a mount whose
	// source is missing) removes the state and run directories too.
	t.Run("init fails after create", func(t *testing.T) {
		b := e.bundle("bad", []string{"/bin/sh"}, func(s *specs.Spec) {
			withEnclave(map[string]string{"enclave.type": "simulated", "enclave.runtime.path": pal}, true)(s)
			s.Mounts = append(s.Mounts, specs.Mount{Destination: "/data", Type: "bind", Source: filepath.Join(dir, "no-such-dir"), Options: []string{"bind"}})
		})
		if r := e.rune("create", "--bundle", b, "bad"); r.code != 1 || !strings.Contains(r.stderr, "no-such-dir") {
			t.Errorf("create: code %d, stderr %q", r.code, r.stderr)
		}
		if _, err := os.Stat(filepath.Join(e.root, "bad")); !os.IsNotExist(err) {
			t.Errorf("state directory left: %v", err)
		}
	})
	if noSGX != "" {
		t.Run("intelSgx without device", func(t *testing.T) {
			b := e.bundle("bad", []string{"/bin/sh"}, withEnclave(map[string]string{"enclave.type": "intelSgx", "enclave.runtime.path": pal}, false))
			if r := e.rune("create", "--bundle", b, "bad"); r.code != 1 || !strings.Contains(r.stderr, "needs the SGX device") {
				t.Errorf("create: code %d, stderr %q", r.code, r.stderr)
			}
		})
	}
}

// TestEnclaveWasm runs the sample WASI module in a wasm enclave container,
// twice (the second start uses the compiled-module cache).
func TestEnclaveWasm(t *testing.T) {
	e := newEnv(t)
	t.Parallel()
	_, file, _, _ := runtime.Caller(0)
	module, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "..", "samples", "wasm-hello", "hello.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	e.extra = []string{"RUNE_WASM_CACHE=" + cache}
	b := e.bundle("w", []string{"/app/hello.wasm", "one", "exit=5"}, func(s *specs.Spec) {
		withEnclave(map[string]string{"enclave.type": "wasm"}, true)(s)
		limit := int64(32 << 20)
		s.Linux.Resources.Memory = &specs.LinuxMemory{Limit: &limit}
		s.Process.User = specs.User{UID: 1000, GID: 1000} // the cache must be writable for it
	})
	if err := os.MkdirAll(filepath.Join(b, "rootfs", "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(b, "rootfs", "app", "hello.wasm"), module, 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		r := e.rune("run", "--bundle", b, "w")
		if r.code != 5 || !strings.Contains(r.stdout, "Hello from WebAssembly") || !strings.Contains(r.stdout, "arg: one\n") || strings.Contains(r.stderr, "cache") {
			t.Errorf("run %d: code %d, stdout %q, stderr %q", i, r.code, r.stdout, r.stderr)
		}
	}
	entries, _ := os.ReadDir(cache)
	if len(entries) != 1 {
		t.Fatalf("cache %s holds %d module directories, want 1", cache, len(entries))
	}
	if compiled, _ := os.ReadDir(filepath.Join(cache, entries[0].Name())); len(compiled) == 0 {
		t.Errorf("the module's cache directory is empty: nothing was compiled into it")
	}

	b2 := e.bundle("w2", []string{"/app/hello.wasm"}, withEnclave(map[string]string{"enclave.type": "wasm"}, false))
	os.MkdirAll(filepath.Join(b2, "rootfs", "app"), 0o755)
	os.WriteFile(filepath.Join(b2, "rootfs", "app", "hello.wasm"), module, 0o644)
	e.must("create", "--bundle", b2, "w2")
	if r := e.rune("exec", "w2", "/bin/true"); r.code != 255 || !strings.Contains(r.stderr, "not supported in a wasm enclave") {
		t.Errorf("exec into a wasm container: code %d, stderr %q", r.code, r.stderr)
	}
	e.must("delete", "--force", "w2")
}

// psPids is `rune ps --format json id`.
func psPids(e *env, id string) []int {
	e.t.Helper()
	var pids []int
	if err := json.Unmarshal([]byte(e.must("ps", "--format", "json", id)), &pids); err != nil {
		e.t.Fatal(err)
	}
	return pids
}

// TestEnclaveNonRootUser: the runelet of a container whose process runs as
// an unprivileged user can still serve exec (the run directory is its).
func TestEnclaveNonRootUser(t *testing.T) {
	e := newEnv(t)
	t.Parallel()
	pal := skeleton(t, 3)
	b := e.bundle("nr", []string{"/bin/sleep", "1000"}, func(s *specs.Spec) {
		withEnclave(map[string]string{enclave.AnnotationType: "simulated", enclave.AnnotationRuntimePath: pal}, true)(s)
		s.Process.User = specs.User{UID: 1000, GID: 1000}
	})
	e.must("run", "--detach", "--bundle", b, "nr")
	if r := e.rune("exec", "nr", "/bin/sh", "-c", "echo $(id -u):$(id -g)"); r.code != 0 || r.stdout != "1000:1000\n" {
		t.Errorf("exec as the container user: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	e.must("delete", "--force", "nr")
}
