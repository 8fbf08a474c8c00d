package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// runcModule is the module whose libcontainer rune is built on; its own
// command, at the version go.mod requires, is the reference rune is held to.
const runcModule = "github.com/opencontainers/runc"

// runcBuild is the runc command built once per test binary by needRunc.
var runcBuild struct {
	once    sync.Once
	bin     string // the runc binary, next to rune (removed by TestMain)
	version string // the module version it was built from, e.g. v1.5.2
	err     error  // why it could not be built
}

// buildRunc builds runc from the module cache, at the version of runc
// whose libcontainer rune links (the one go.mod requires), into dir.
//
// It is built inside runc's own module directory, with runc's own go.mod
// and go.sum, rather than as `go build github.com/opencontainers/runc`
// from this repository: runc's command imports modules that libcontainer
// does not (go-units, for one), which this repository's go.sum does not
// list, and the tests must never modify go.mod or go.sum. runc's own
// go.sum is the dependency set runc v1.5.2 was released with, so the
// binary is the released runc's code; like rune it is built without the
// seccomp build tag (so without libseccomp): Go and gcc are all it needs.
// The module cache is read-only; -mod=readonly only reads it.
func buildRunc(ctx context.Context, dir string) (bin, version string, err error) {
	out, err := exec.CommandContext(ctx, "go", "mod", "download", "-json", runcModule).Output()
	if err != nil {
		return "", "", fmt.Errorf("finding %s in the module cache (go mod download; needs the Go module proxy the first time): %w", runcModule, err)
	}
	var mod struct{ Version, Dir, Error string }
	if err := json.Unmarshal(out, &mod); err != nil {
		return "", "", fmt.Errorf("reading `go mod download -json %s`: %w\n%s", runcModule, err, out)
	}
	if mod.Error != "" || mod.Dir == "" {
		return "", "", fmt.Errorf("downloading %s: %s", runcModule, mod.Error)
	}
	bin = filepath.Join(dir, "runc")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, ".")
	cmd.Dir = mod.Dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly -buildvcs=false", "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("building runc %s in %s (needs gcc for cgo, and runc's dependencies from the Go module proxy the first time): %w\n%s", mod.Version, mod.Dir, err, out)
	}
	return bin, mod.Version, nil
}

// runcBinary builds runc once per test binary (see buildRunc), next to
// rune, and returns it with its version or why it could not be built. Call
// it after needRoot.
func runcBinary() (bin, version string, err error) {
	runcBuild.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		runcBuild.bin, runcBuild.version, runcBuild.err = buildRunc(ctx, filepath.Dir(runeBin))
	})
	return runcBuild.bin, runcBuild.version, runcBuild.err
}

// needRunc returns the runc binary and its version, after needRoot; it
// skips when runc cannot be built, and fails instead with INCLAVARE_CI=1.
func needRunc(t testing.TB) (bin, version string) {
	t.Helper()
	needRoot(t)
	bin, version, err := runcBinary()
	if err != nil {
		if os.Getenv("INCLAVARE_CI") == "1" {
			t.Fatal(err)
		}
		t.Skip(err.Error())
	}
	return bin, version
}

// ociRuntime is one OCI runtime command line, runc or rune, with its own
// state root. Both are run through invoke, so that a benchmark times them
// the same way.
type ociRuntime struct {
	name string
	bin  string
	root string
	env  []string // extra environment
}

// runeRuntime is the rune of env e.
func runeRuntime(e *env) ociRuntime {
	return ociRuntime{name: "rune", bin: runeBin, root: e.root, env: e.extra}
}

// runcRuntime is the runc built by needRunc, with a state root of its own
// that must be empty when the test ends (the containers of a failed test
// are force-deleted). Register it after newEnv, so that its containers
// are gone when env checks for mounts and cgroups.
func runcRuntime(t testing.TB) ociRuntime {
	t.Helper()
	bin, _ := needRunc(t)
	rt := ociRuntime{name: "runc", bin: bin, root: filepath.Join(t.TempDir(), "runc-root")}
	t.Cleanup(func() {
		entries, _ := os.ReadDir(rt.root)
		for _, en := range entries {
			if !t.Failed() {
				t.Errorf("runc container %s left in %s", en.Name(), rt.root)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			exec.CommandContext(ctx, rt.bin, "--root", rt.root, "delete", "--force", en.Name()).Run()
			cancel()
		}
	})
	return rt
}

// invoke runs the runtime with --root and args, stdin from /dev/null and
// stdout and stderr to files (a detached container keeps them open), and
// fails the test if it does not finish within a minute.
func (rt ociRuntime) invoke(t testing.TB, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, rt.bin, append([]string{"--root", rt.root}, args...)...)
	cmd.Env = append(os.Environ(), rt.env...)
	dir := t.TempDir()
	stdout, err := os.Create(filepath.Join(dir, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	stderr, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	cmd.Stdout, cmd.Stderr = stdout, stderr
	runErr := cmd.Run()
	o, _ := os.ReadFile(stdout.Name())
	e, _ := os.ReadFile(stderr.Name())
	if ctx.Err() != nil {
		t.Fatalf("%s %v did not finish in a minute\nstdout: %s\nstderr: %s", rt.name, args, o, e)
	}
	if cmd.ProcessState == nil {
		t.Fatalf("%s %v: %v", rt.name, args, runErr)
	}
	return result{string(o), string(e), cmd.ProcessState.ExitCode()}
}

// must runs the runtime and fails the test unless it exits 0.
func (rt ociRuntime) must(t testing.TB, args ...string) string {
	t.Helper()
	r := rt.invoke(t, args...)
	if r.code != 0 {
		t.Fatalf("%s %v: exit %d\nstdout: %s\nstderr: %s", rt.name, args, r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// state decodes `state id` into a map, to compare field sets and values.
func (rt ociRuntime) state(t testing.TB, id string) map[string]any {
	t.Helper()
	out := rt.must(t, "state", id)
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("%s state %s: %v\n%s", rt.name, id, err, out)
	}
	return m
}

// waitStatus polls `state id` until the container has status want.
func (rt ociRuntime) waitStatus(t testing.TB, id, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := rt.state(t, id)
		if st["status"] == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: container %s is %v, want %s", rt.name, id, st["status"], want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRuncVersion checks that the runc the comparisons run is the version
// whose libcontainer rune is built on.
func TestRuncVersion(t *testing.T) {
	bin, version := needRunc(t)
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatalf("runc --version: %v", err)
	}
	if want := "runc version " + strings.TrimPrefix(version, "v") + "\n"; !strings.HasPrefix(string(out), want) {
		t.Errorf("runc --version = %q, want it to start with %q (go.mod requires %s %s)", out, want, runcModule, version)
	}
}

// TestRuncSameBundle runs one bundle under the real runc and under rune
// and compares what a caller of either sees: the exit code and output of
// `run`, the JSON of `state` (field set, value types, and the values that
// do not depend on the instance) for a created and for a running container,
// the field set of `list --format json`, and the error of `state` for a
// container that does not exist.
func TestRuncSameBundle(t *testing.T) {
	e := newEnv(t)
	runc, rune := runcRuntime(t), runeRuntime(e)
	t.Parallel()

	run := e.bundle("same-run", []string{"sh", "-c", "echo out; echo err >&2; exit 3"}, nil)
	long := e.bundle("same-long", []string{"sleep", "1000"}, func(s *specs.Spec) {
		s.Annotations = map[string]string{"org.example.key": "value"}
		s.Root.Readonly = true
	})

	var got [2]result
	var states [2][2]map[string]any // [runtime][created, running]
	var lists [2][]map[string]any
	for i, rt := range []ociRuntime{runc, rune} {
		got[i] = rt.invoke(t, "run", "--bundle", run, "same-run")

		id := "same-" + rt.name
		rt.must(t, "create", "--bundle", long, id)
		states[i][0] = rt.state(t, id)
		rt.must(t, "start", id)
		rt.waitStatus(t, id, "running")
		states[i][1] = rt.state(t, id)
		if err := json.Unmarshal([]byte(rt.must(t, "list", "--format", "json")), &lists[i]); err != nil {
			t.Fatalf("%s list: %v", rt.name, err)
		}
		rt.must(t, "delete", "--force", id)

		if r := rt.invoke(t, "state", "nope"); r.code != 1 || !strings.Contains(r.stderr, "does not exist") {
			t.Errorf("%s state of a missing container: exit %d, stderr %q", rt.name, r.code, r.stderr)
		}
	}

	if got[0].code != 3 || got[1].code != got[0].code || got[1].stdout != got[0].stdout || !strings.Contains(got[1].stderr, "err\n") {
		t.Errorf("run: runc exit %d, stdout %q, stderr %q; rune exit %d, stdout %q, stderr %q",
			got[0].code, got[0].stdout, got[0].stderr, got[1].code, got[1].stdout, got[1].stderr)
	}
	for phase, name := range []string{"created", "running"} {
		r, n := states[0][phase], states[1][phase]
		if k, kn := slices.Sorted(maps.Keys(r)), slices.Sorted(maps.Keys(n)); !slices.Equal(k, kn) {
			t.Errorf("%s: state fields: runc %v, rune %v", name, k, kn)
		}
		for k, v := range r {
			if fmt.Sprintf("%T", v) != fmt.Sprintf("%T", n[k]) {
				t.Errorf("%s: state field %q: runc has %T (%v), rune %T (%v)", name, k, v, v, n[k], n[k])
			}
		}
		for _, k := range []string{"ociVersion", "status", "bundle", "rootfs", "owner", "annotations"} {
			if !equalJSON(r[k], n[k]) {
				t.Errorf("%s: state %q: runc %v, rune %v", name, k, r[k], n[k])
			}
		}
		if r["status"] != name {
			t.Errorf("runc state status %v, want %s", r["status"], name)
		}
	}
	if len(lists[0]) != 1 || len(lists[1]) != 1 {
		t.Fatalf("list: runc %v, rune %v", lists[0], lists[1])
	}
	if k, kn := slices.Sorted(maps.Keys(lists[0][0])), slices.Sorted(maps.Keys(lists[1][0])); !slices.Equal(k, kn) {
		t.Errorf("list fields: runc %v, rune %v", k, kn)
	}
}

// equalJSON compares two decoded JSON values.
func equalJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}
