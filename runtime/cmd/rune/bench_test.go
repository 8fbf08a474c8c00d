package main_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/inclavare/inclavare/runtime/enclave"
)

// The benchmarks below time the whole runtime command, runc's and rune's,
// on the same bundle (busybox-static, read-only rootfs) in the same run, so
// that scripts/benchmedian can give every case's median against runc's:
// the runc case is the runc release whose libcontainer rune links (see
// buildRunc), the rune case is the same work through rune, and the
// rune-enclave cases add an enclave runtime.
//
// The cases of a benchmark are interleaved (see interleave): on a shared
// machine the load moves within seconds, and cases timed one after the
// other would each see another load.

// benchCase is one sub-benchmark: a runtime, the bundle it runs (whose
// annotations choose the enclave runtime, none for runc and rune) and the
// number of iterations run so far (for fresh container IDs).
type benchCase struct {
	name   string
	rt     ociRuntime
	ann    map[string]string
	bundle string
	n      int
}

// benchCases are the cases of a benchmark: runc, rune, then rune with each
// enclave runtime in enclaves (named rune-<name>, with their annotations).
// The runc case is left out, with the reason, when runc cannot be built
// (that fails instead with INCLAVARE_CI=1).
func benchCases(b *testing.B, e *env, enclaves ...benchCase) []*benchCase {
	var cases []*benchCase
	if _, _, err := runcBinary(); err == nil {
		cases = append(cases, &benchCase{name: "runc", rt: runcRuntime(b)})
	} else if os.Getenv("INCLAVARE_CI") == "1" {
		b.Fatal(err)
	} else {
		b.Logf("no runc case: %v", err)
	}
	cases = append(cases, &benchCase{name: "rune", rt: runeRuntime(e)})
	for _, c := range enclaves {
		c.name = "rune-" + c.name
		c.rt = runeRuntime(e)
		cases = append(cases, &c)
	}
	return cases
}

// interleave runs one sub-benchmark per case, timing op on that case;
// after each timed iteration it runs one untimed iteration of every other
// case, so that each case's figures are taken over the same seconds as
// the others' (a case then takes as long as all of them together).
func interleave(b *testing.B, cases []*benchCase, op func(b *testing.B, c *benchCase)) {
	for _, c := range cases {
		op(b, c) // warm: the page cache, the wasm module cache
	}
	for i, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				op(b, c)
				b.StopTimer()
				for j := 1; j < len(cases); j++ {
					op(b, cases[(i+j)%len(cases)])
				}
				b.StartTimer()
			}
		})
	}
}

// BenchmarkRun is one `run` of a container that exits at once
// (/bin/true), from the runtime's command to its exit: under runc, under
// rune, in a simulated enclave with the skeleton PAL v3 (probe, launcher
// mounts, runelet, PAL; /bin/true is then the PAL's workload), and in a
// wasm enclave with a warm compiled-module cache (the hello module).
func BenchmarkRun(b *testing.B) {
	e := newEnv(b)
	_, file, _, _ := runtimeCaller()
	module, err := os.ReadFile(filepath.Join(filepath.Dir(file), "..", "..", "..", "samples", "wasm-hello", "hello.wasm"))
	if err != nil {
		b.Fatal(err)
	}
	e.extra = []string{"RUNE_WASM_CACHE=" + b.TempDir()}
	cases := benchCases(b, e,
		benchCase{name: "enclave-skeleton", ann: map[string]string{enclave.AnnotationType: "simulated", enclave.AnnotationRuntimePath: skeleton(b, 3)}},
		benchCase{name: "wasm", ann: map[string]string{enclave.AnnotationType: "wasm"}},
	)
	// One bundle per configuration: runc and rune run the very same one.
	bundles := map[string]string{}
	for _, c := range cases {
		key := c.ann[enclave.AnnotationType]
		if p, ok := bundles[key]; ok {
			c.bundle = p
			continue
		}
		args := []string{"/bin/true"}
		if key == "wasm" {
			args = []string{"/app/hello.wasm"}
		}
		p := e.bundle("bench", args, func(s *specs.Spec) { s.Annotations = c.ann; s.Root.Readonly = true })
		if err := os.MkdirAll(filepath.Join(p, "rootfs", "app"), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(p, "rootfs", "app", "hello.wasm"), module, 0o644); err != nil {
			b.Fatal(err)
		}
		bundles[key], c.bundle = p, p
	}
	interleave(b, cases, func(b *testing.B, c *benchCase) {
		c.n++
		if r := c.rt.invoke(b, "run", "--bundle", c.bundle, "b"+strconv.Itoa(c.n)); r.code != 0 {
			b.Fatalf("%s: %s run: exit %d: %s", c.name, c.rt.name, r.code, r.stderr)
		}
	})
}

// BenchmarkExec is one `exec` of /bin/true into a running container:
// through libcontainer under runc and rune (join the namespaces, init), or,
// in a simulated enclave (skeleton PAL v3), through the runelet's exec
// socket into the same PAL instance.
func BenchmarkExec(b *testing.B) {
	e := newEnv(b)
	cases := benchCases(b, e,
		benchCase{name: "enclave", ann: map[string]string{enclave.AnnotationType: "simulated", enclave.AnnotationRuntimePath: skeleton(b, 3)}},
	)
	for _, c := range cases {
		c.bundle = e.bundle("bench-"+c.name, []string{"/bin/sleep", "1000"}, func(s *specs.Spec) { s.Annotations = c.ann; s.Root.Readonly = true })
		id := "exec-" + c.name
		c.rt.must(b, "run", "--detach", "--bundle", c.bundle, id)
		defer c.rt.must(b, "delete", "--force", id)
		c.rt.waitStatus(b, id, "running")
	}
	interleave(b, cases, func(b *testing.B, c *benchCase) {
		if r := c.rt.invoke(b, "exec", "exec-"+c.name, "/bin/true"); r.code != 0 {
			b.Fatalf("%s: %s exec: exit %d: %s", c.name, c.rt.name, r.code, r.stderr)
		}
	})
}

// BenchmarkLifecycle is one container's life as a container engine drives
// it: `create`, `start` and `delete --force` of a container whose process
// (/bin/sleep) would run on, under runc, under rune, and in a simulated
// enclave with the skeleton PAL v3.
func BenchmarkLifecycle(b *testing.B) {
	e := newEnv(b)
	cases := benchCases(b, e,
		benchCase{name: "enclave-skeleton", ann: map[string]string{enclave.AnnotationType: "simulated", enclave.AnnotationRuntimePath: skeleton(b, 3)}},
	)
	for _, c := range cases {
		c.bundle = e.bundle("bench-"+c.name, []string{"/bin/sleep", "1000"}, func(s *specs.Spec) { s.Annotations = c.ann; s.Root.Readonly = true })
	}
	interleave(b, cases, func(b *testing.B, c *benchCase) {
		c.n++
		id := "life-" + strconv.Itoa(c.n)
		c.rt.must(b, "create", "--bundle", c.bundle, id)
		c.rt.must(b, "start", id)
		c.rt.must(b, "delete", "--force", id)
	})
}
