package main_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/inclavare/inclavare/internal/testbuild"
)

// runeBin is the rune binary the tests run, built once by TestMain (with
// the runelets next to it); buildErr says why it could not be built.
var (
	runeBin  string
	buildErr error
)

func TestMain(m *testing.M) {
	code := func() int {
		dir, err := os.MkdirTemp("", "rune-e2e-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		if os.Geteuid() == 0 {
			buildErr = build(dir)
			runeBin = filepath.Join(dir, "rune")
		}
		return m.Run()
	}()
	os.Exit(code)
}

// build builds rune and the runelets (rune and the runelet need cgo, so gcc).
func build(dir string) error {
	if err := testbuild.Go(dir, testbuild.Module+"/runtime/cmd/rune", testbuild.Module+"/runtime/cmd/runelet"); err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-o", dir+"/", testbuild.Module+"/runtime/cmd/runelet-wasm")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building runelet-wasm: %w\n%s", err, out)
	}
	return nil
}

// needRoot skips a test that runs containers unless rune can: it needs root,
// busybox-static and a rune built (with gcc, for cgo). With INCLAVARE_CI=1
// a missing requirement fails.
func needRoot(t testing.TB) {
	t.Helper()
	skip := func(why string) {
		if os.Getenv("INCLAVARE_CI") == "1" {
			t.Fatal(why)
		}
		t.Skip(why)
	}
	if os.Geteuid() != 0 {
		skip("running containers needs root")
	}
	if buildErr != nil {
		skip("building rune and the runelets (they need gcc for cgo): " + buildErr.Error())
	}
	if _, err := busybox(); err != nil {
		skip(err.Error())
	}
}

// busybox finds a statically linked busybox.
func busybox() (string, error) {
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		out, err := exec.Command("file", "-L", p).Output()
		if err == nil && strings.Contains(string(out), "statically linked") {
			return p, nil
		}
		if _, err := os.Stat(p); err == nil {
			if _, lerr := exec.LookPath("file"); lerr != nil {
				return p, nil
			}
		}
	}
	return "", errors.New("a statically linked busybox is needed (apt-get install busybox-static)")
}

// env is one test's rune root and cgroup parent, checked empty at the end.
type env struct {
	t      testing.TB
	root   string
	cgroup string
	extra  []string // extra environment for rune
}

func newEnv(t testing.TB) *env {
	needRoot(t)
	e := &env{t: t, root: filepath.Join(t.TempDir(), "root"), cgroup: "/inclavare-rune-test-" + strings.ReplaceAll(t.Name(), "/", "-")}
	testDir := filepath.Dir(t.TempDir())
	t.Cleanup(func() {
		if t.Failed() {
			// Best effort, so that a failed test does not leak.
			for _, id := range e.ids() {
				exec.Command(runeBin, "--root", e.root, "delete", "--force", id).Run()
			}
			return
		}
		if ids := e.ids(); len(ids) != 0 {
			t.Errorf("containers left in %s: %v", e.root, ids)
		}
		if m := mountsUnder(t, testDir); len(m) != 0 {
			t.Errorf("mounts left under %s: %q", testDir, m)
		}
		for _, d := range cgroupDirs(e.cgroup) {
			entries, _ := os.ReadDir(d)
			for _, en := range entries {
				if en.IsDir() {
					t.Errorf("cgroup %s left behind", filepath.Join(d, en.Name()))
				}
			}
			os.Remove(d) // the parent, which libcontainer leaves as runc does
		}
	})
	return e
}

func (e *env) ids() []string {
	entries, _ := os.ReadDir(e.root)
	var ids []string
	for _, en := range entries {
		if !strings.HasPrefix(en.Name(), ".") { // rune's own files (.probe-cache)
			ids = append(ids, en.Name())
		}
	}
	return ids
}

// cgroupDirs are the directories of a cgroup path in every hierarchy.
func cgroupDirs(path string) []string {
	var dirs []string
	entries, _ := os.ReadDir("/sys/fs/cgroup")
	for _, en := range entries {
		d := filepath.Join("/sys/fs/cgroup", en.Name(), path)
		if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", en.Name(), "cgroup.procs")); err == nil {
			dirs = append(dirs, d)
		}
	}
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		dirs = append(dirs, filepath.Join("/sys/fs/cgroup", path))
	}
	return dirs
}

// mountsUnder lists the host mounts whose mount point or root is under dir.
func mountsUnder(t testing.TB, dir string) []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, dir) {
			found = append(found, line)
		}
	}
	return found
}

// result is one rune invocation.
type result struct {
	stdout, stderr string
	code           int
}

// rune runs rune with --root and args, stdin from /dev/null.
func (e *env) rune(args ...string) result {
	e.t.Helper()
	return e.runeIn("", args...)
}

func (e *env) runeIn(dir string, args ...string) result {
	e.t.Helper()
	cmd := exec.Command(runeBin, append([]string{"--root", e.root}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), e.extra...)
	// Files, not pipes: a detached container keeps rune's stdio open.
	dir2 := e.t.TempDir()
	stdoutF, err := os.Create(filepath.Join(dir2, "stdout"))
	if err != nil {
		e.t.Fatal(err)
	}
	defer stdoutF.Close()
	stderrF, err := os.Create(filepath.Join(dir2, "stderr"))
	if err != nil {
		e.t.Fatal(err)
	}
	defer stderrF.Close()
	cmd.Stdout, cmd.Stderr = stdoutF, stderrF
	read := func(f *os.File) string {
		b, _ := os.ReadFile(f.Name())
		return string(b)
	}
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		e.t.Fatalf("rune %v did not finish in 60s\nstdout: %s\nstderr: %s", args, read(stdoutF), read(stderrF))
	}
	return result{read(stdoutF), read(stderrF), cmd.ProcessState.ExitCode()}
}

// must runs rune and fails the test unless it exits 0.
func (e *env) must(args ...string) string {
	e.t.Helper()
	r := e.rune(args...)
	if r.code != 0 {
		e.t.Fatalf("rune %v: exit %d\nstdout: %s\nstderr: %s", args, r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// bundle makes a bundle whose rootfs is busybox-static with applet links,
// from `rune spec` with args, no terminal, and the test's cgroup.
func (e *env) bundle(id string, args []string, edit func(*specs.Spec)) string {
	e.t.Helper()
	dir := e.t.TempDir()
	bin := filepath.Join(dir, "rootfs", "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		e.t.Fatal(err)
	}
	bb, _ := busybox()
	data, err := os.ReadFile(bb)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "busybox"), data, 0o755); err != nil {
		e.t.Fatal(err)
	}
	for _, a := range []string{"sh", "echo", "sleep", "cat", "ls", "touch", "true", "false", "env", "pwd", "stat", "grep"} {
		if err := os.Symlink("busybox", filepath.Join(bin, a)); err != nil {
			e.t.Fatal(err)
		}
	}
	e.must("spec", "--bundle", dir)
	path := filepath.Join(dir, "config.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		e.t.Fatal(err)
	}
	var spec specs.Spec
	if err := json.Unmarshal(raw, &spec); err != nil {
		e.t.Fatal(err)
	}
	spec.Process.Args = args
	spec.Process.Terminal = false
	spec.Linux.CgroupsPath = e.cgroup + "/" + id
	if edit != nil {
		edit(&spec)
	}
	raw, err = json.Marshal(&spec)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		e.t.Fatal(err)
	}
	return dir
}

// state runs `rune state` and decodes it into a map (to see the field set).
func (e *env) state(id string) map[string]any {
	e.t.Helper()
	out := e.must("state", id)
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		e.t.Fatalf("state %s: %v\n%s", id, err, out)
	}
	return m
}

// waitStatus polls `rune state` until the container has status want.
func (e *env) waitStatus(id, want string) map[string]any {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st := e.state(id)
		if st["status"] == want {
			return st
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("container %s is %v, want %s", id, st["status"], want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitGone waits until pid no longer exists.
func waitGone(t testing.TB, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for unix.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still exists", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitFile waits until path exists and holds want.
func waitFile(t testing.TB, path, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s holds %q, want %q", path, b, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runtimeCaller is runtime.Caller(1): the test file's own path.
func runtimeCaller() (uintptr, string, int, bool) { return runtime.Caller(1) }
