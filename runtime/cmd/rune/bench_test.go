package main_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/inclavare/inclavare/runtime/enclave"
)

// BenchmarkRun is one `rune run` of a container that exits at once, from
// the rune command to its exit: plain (as runc would), in a simulated
// enclave with the skeleton PAL v3 (probe, launcher mounts, runelet, PAL),
// and in a wasm enclave with a warm compiled-module cache.
func BenchmarkRun(b *testing.B) {
	e := newEnv(b)
	_, file, _, _ := runtimeCaller()
	module, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "..", "samples", "wasm-hello", "hello.wasm"))
	if err != nil {
		b.Fatal(err)
	}
	e.extra = []string{"RUNE_WASM_CACHE=" + b.TempDir()}
	for _, bc := range []struct {
		name string
		args []string
		ann  func() map[string]string
	}{
		{"plain", []string{"/bin/true"}, func() map[string]string { return nil }},
		{"simulated", []string{"/bin/true"}, func() map[string]string {
			return map[string]string{enclave.AnnotationType: "simulated", enclave.AnnotationRuntimePath: skeleton(b, 3)}
		}},
		{"wasm", []string{"/app/hello.wasm"}, func() map[string]string { return map[string]string{enclave.AnnotationType: "wasm"} }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ann := bc.ann()
			bundle := e.bundle("bench", bc.args, func(s *specs.Spec) { s.Annotations = ann; s.Root.Readonly = true })
			os.MkdirAll(filepath.Join(bundle, "rootfs", "app"), 0o755)
			if err := os.WriteFile(filepath.Join(bundle, "rootfs", "app", "hello.wasm"), module, 0o644); err != nil {
				b.Fatal(err)
			}
			e.must("run", "--bundle", bundle, "warm") // fills the wasm cache
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				if r := e.rune("run", "--bundle", bundle, "b"+strconv.Itoa(i)); r.code != 0 {
					b.Fatalf("run: exit %d: %s", r.code, r.stderr)
				}
			}
		})
	}
}

// BenchmarkExec is one `rune exec` of /bin/true into a running container:
// through libcontainer (plain) or through the runelet's exec socket into
// the same PAL instance (simulated).
func BenchmarkExec(b *testing.B) {
	e := newEnv(b)
	for _, bc := range []struct {
		name string
		ann  func() map[string]string
	}{
		{"plain", func() map[string]string { return nil }},
		{"simulated", func() map[string]string {
			return map[string]string{enclave.AnnotationType: "simulated", enclave.AnnotationRuntimePath: skeleton(b, 3)}
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ann := bc.ann()
			bundle := e.bundle("bench", []string{"/bin/sleep", "1000"}, func(s *specs.Spec) { s.Annotations = ann })
			id := "exec-" + bc.name
			e.must("run", "--detach", "--bundle", bundle, id)
			defer e.must("delete", "--force", id)
			e.waitStatus(id, "running")
			e.must("exec", id, "/bin/true") // the exec socket is up
			b.ResetTimer()
			for b.Loop() {
				if r := e.rune("exec", id, "/bin/true"); r.code != 0 {
					b.Fatalf("exec: exit %d: %s", r.code, r.stderr)
				}
			}
		})
	}
}
