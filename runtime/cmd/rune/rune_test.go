package main_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	runc "github.com/containerd/go-runc"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/inclavare/inclavare/runtime/enclave"
)

func TestRunExitCodeAndStdio(t *testing.T) {
	e := newEnv(t)
	t.Parallel()
	for _, code := range []int{0, 3, 130} {
		b := e.bundle("run", []string{"sh", "-c", "echo out; echo err >&2; exit " + strconv.Itoa(code)}, nil)
		r := e.rune("run", "--bundle", b, "run")
		if r.code != code || r.stdout != "out\n" || !strings.Contains(r.stderr, "err\n") {
			t.Errorf("run exit %d: got code %d, stdout %q, stderr %q", code, r.code, r.stdout, r.stderr)
		}
	}
}

// runcStateFields is the field set of `runc state` (runc's containerState).
var runcStateFields = []string{"annotations", "bundle", "created", "id", "ociVersion", "owner", "pid", "rootfs", "status"}

func TestLifecycle(t *testing.T) {
	e := newEnv(t)
	t.Parallel()
	out := filepath.Join(t.TempDir(), "out")
	b := e.bundle("life", []string{"sh", "-c", `trap "echo got-term >> /out/log; exit 42" TERM; echo started >> /out/log; while true; do sleep 0.05; done`}, func(s *specs.Spec) {
		s.Annotations = map[string]string{"org.example.key": "value"}
		s.Mounts = append(s.Mounts, specs.Mount{Destination: "/out", Type: "bind", Source: filepath.Dir(out), Options: []string{"bind", "rw"}})
		s.Process.Env = append(s.Process.Env, "FROM_SPEC=yes")
	})
	pidFile := filepath.Join(t.TempDir(), "pid")
	e.must("create", "--bundle", b, "--pid-file", pidFile, "life")

	st := e.state("life")
	var keys []string
	for k := range st {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, runcStateFields) {
		t.Errorf("state fields %v, runc has %v", keys, runcStateFields)
	}
	if st["status"] != "created" || st["id"] != "life" || st["bundle"] != b || st["rootfs"] != filepath.Join(b, "rootfs") {
		t.Errorf("state after create: %v", st)
	}
	if ann, _ := st["annotations"].(map[string]any); ann["org.example.key"] != "value" {
		t.Errorf("annotations = %v", st["annotations"])
	}
	pid := int(st["pid"].(float64))
	if b, _ := os.ReadFile(pidFile); string(b) != strconv.Itoa(pid) {
		t.Errorf("pid file %q, state pid %d", b, pid)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(out), "log")); err == nil {
		t.Error("the process ran before start")
	}

	e.must("start", "life")
	e.waitStatus("life", "running")
	waitFile(t, filepath.Join(filepath.Dir(out), "log"), "started")

	var list []map[string]any
	if err := json.Unmarshal([]byte(e.must("list", "--format", "json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0]["id"] != "life" || list[0]["status"] != "running" || list[0]["owner"] != "root" {
		t.Errorf("list = %v", list)
	}
	if q := e.must("list", "-q"); q != "life\n" {
		t.Errorf("list -q = %q", q)
	}

	var pids []int
	if err := json.Unmarshal([]byte(e.must("ps", "--format", "json", "life")), &pids); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(pids, pid) {
		t.Errorf("ps pids %v lack the init %d", pids, pid)
	}

	r := e.rune("exec", "--env", "FROM_EXEC=1", "life", "sh", "-c", `echo "$FROM_SPEC $FROM_EXEC $(pwd)"; exit 5`)
	if r.code != 5 || r.stdout != "yes 1 /\n" {
		t.Errorf("exec: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if r := e.rune("exec", "life", "/bin/no-such-program"); r.code != 255 || !strings.Contains(r.stderr, "exec failed") {
		t.Errorf("exec of a missing program: code %d, stderr %q", r.code, r.stderr)
	}

	if r := e.rune("delete", "life"); r.code == 0 || !strings.Contains(r.stderr, "not stopped") {
		t.Errorf("delete of a running container: code %d, stderr %q", r.code, r.stderr)
	}
	if r := e.rune("kill", "life", "NOSUCHSIG"); r.code != 1 || !strings.Contains(r.stderr, `unknown signal "NOSUCHSIG"`) {
		t.Errorf("kill with a bad signal: code %d, stderr %q", r.code, r.stderr)
	}
	e.must("kill", "life", "TERM")
	waitFile(t, filepath.Join(filepath.Dir(out), "log"), "got-term")
	st = e.waitStatus("life", "stopped")
	if st["pid"].(float64) != 0 {
		t.Errorf("stopped container has pid %v", st["pid"])
	}
	waitGone(t, pid)
	if r := e.rune("start", "life"); r.code == 0 || !strings.Contains(r.stderr, "stopped") {
		t.Errorf("start of a stopped container: code %d, stderr %q", r.code, r.stderr)
	}
	e.must("delete", "life")
	if r := e.rune("state", "life"); r.code != 1 || !strings.Contains(r.stderr, "does not exist") {
		t.Errorf("state after delete: code %d, stderr %q", r.code, r.stderr)
	}
}

func TestPauseResume(t *testing.T) {
	e := newEnv(t)
	t.Parallel()
	if _, err := os.Stat("/sys/fs/cgroup/freezer"); err != nil {
		if _, err := os.Stat("/sys/fs/cgroup/cgroup.freeze"); err != nil {
			if os.Getenv("INCLAVARE_CI") == "1" {
				t.Fatal("no cgroup freezer")
			}
			t.Skip("no cgroup freezer (v1 freezer hierarchy or v2 cgroup.freeze) on this host")
		}
	}
	b := e.bundle("p", []string{"sleep", "1000"}, nil)
	e.must("run", "--detach", "--bundle", b, "p")
	st := e.waitStatus("p", "running")
	pid := int(st["pid"].(float64))
	e.must("pause", "p")
	e.waitStatus("p", "paused")
	if stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err != nil || !strings.Contains(string(stat), ") S ") && !strings.Contains(string(stat), ") D ") {
		t.Logf("paused init: %s", stat)
	}
	if r := e.rune("exec", "p", "true"); r.code != 255 || !strings.Contains(r.stderr, "paused") {
		t.Errorf("exec in a paused container: code %d, stderr %q", r.code, r.stderr)
	}
	e.must("resume", "p")
	e.waitStatus("p", "running")
	e.must("exec", "p", "true")
	e.must("delete", "--force", "p")
	waitGone(t, pid)
}

func TestReadOnlyRootfs(t *testing.T) {
	e := newEnv(t)
	t.Parallel()
	b := e.bundle("ro", []string{"sh", "-c", "cat /etc/hostname 2>/dev/null; touch /bin/x && echo wrote; ls /bin/busybox"}, func(s *specs.Spec) {
		s.Root.Readonly = true
	})
	r := e.rune("run", "--bundle", b, "ro")
	if r.code != 0 || strings.Contains(r.stdout, "wrote") || !strings.Contains(r.stderr, "Read-only file system") || !strings.Contains(r.stdout, "/bin/busybox") {
		t.Errorf("read-only rootfs: code %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(b, "rootfs", "bin", "x")); err == nil {
		t.Error("the container wrote to its read-only rootfs")
	}
}

func TestDeleteForceCreated(t *testing.T) {
	e := newEnv(t)
	t.Parallel()
	b := e.bundle("df", []string{"sleep", "1000"}, nil)
	e.must("create", "--bundle", b, "df")
	pid := int(e.state("df")["pid"].(float64))
	e.must("delete", "--force", "df")
	waitGone(t, pid)
	// delete of a created container kills it too, as runc's does.
	e.must("create", "--bundle", b, "df2")
	pid = int(e.state("df2")["pid"].(float64))
	e.must("delete", "df2")
	waitGone(t, pid)
}

func TestBadInputs(t *testing.T) {
	e := newEnv(t)
	t.Parallel()
	empty := t.TempDir()
	if r := e.rune("create", "--bundle", empty, "x"); r.code != 1 || !strings.Contains(r.stderr, "config.json not found") {
		t.Errorf("create without config.json: code %d, stderr %q", r.code, r.stderr)
	}
	b := e.bundle("bad", []string{"/bin/no-such-program"}, nil)
	if r := e.rune("create", "--bundle", b, "bad"); r.code != 1 || !strings.Contains(r.stderr, "no-such-program") {
		t.Errorf("create with a missing program: code %d, stderr %q", r.code, r.stderr)
	}
	if r := e.rune("run", "--bundle", b, "bad"); r.code != 1 {
		t.Errorf("run with a missing program: code %d, stderr %q", r.code, r.stderr)
	}
	b = e.bundle("dup", []string{"sleep", "1000"}, nil)
	e.must("create", "--bundle", b, "dup")
	if r := e.rune("create", "--bundle", b, "dup"); r.code != 1 || !strings.Contains(r.stderr, "exist") {
		t.Errorf("create of an existing id: code %d, stderr %q", r.code, r.stderr)
	}
	e.must("delete", "--force", "dup")
	if r := e.rune("create", "--bundle", b, ".probe-cache"); r.code != 1 || !strings.Contains(r.stderr, "may not start with a dot") {
		t.Errorf("create of a dot id: code %d, stderr %q", r.code, r.stderr)
	}
	for _, args := range [][]string{{"start", "nope"}, {"kill", "nope"}, {"state", "nope"}, {"pause", "nope"}, {"delete", "nope"}} {
		if r := e.rune(args...); r.code != 1 || !strings.Contains(r.stderr, "does not exist") {
			t.Errorf("%v: code %d, stderr %q", args, r.code, r.stderr)
		}
	}
	if r := e.rune("exec", "nope", "true"); r.code != 255 {
		t.Errorf("exec in a missing container: code %d", r.code)
	}
	if r := e.rune("--log-format", "yaml", "list"); r.code != 1 || !strings.Contains(r.stderr, "invalid --log-format") {
		t.Errorf("bad --log-format: code %d, stderr %q", r.code, r.stderr)
	}
	if r := e.rune("--rootless", "maybe", "create", "--bundle", b, "rl"); r.code != 1 || !strings.Contains(r.stderr, "invalid --rootless") {
		t.Errorf("bad --rootless: code %d, stderr %q", r.code, r.stderr)
	}
	if r := e.rune("delete", "--force", "nope"); r.code != 0 {
		t.Errorf("delete --force of a missing container: code %d, stderr %q", r.code, r.stderr)
	}
}

// TestGoRunc drives rune through containerd's go-runc, as containerd's
// shim does, for a plain and an enclave container.
func TestGoRunc(t *testing.T) {
	e := newEnv(t)
	t.Parallel()
	for _, kind := range []string{"plain", "simulated"} {
		t.Run(kind, func(t *testing.T) {
			var ann map[string]string
			if kind == "simulated" {
				ann = map[string]string{enclave.AnnotationType: "simulated", enclave.AnnotationRuntimePath: skeleton(t, 2)}
			}
			goRunc(t, e, "gr-"+kind, ann)
		})
	}
}

func goRunc(t *testing.T, e *env, id string, ann map[string]string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	logFile := filepath.Join(t.TempDir(), "rune.log")
	r := &runc.Runc{Command: runeBin, Root: e.root, Log: logFile, LogFormat: runc.JSON}
	b := e.bundle(id, []string{"sleep", "1000"}, func(s *specs.Spec) { s.Annotations = ann })
	io, err := runc.NewNullIO()
	if err != nil {
		t.Fatal(err)
	}
	defer io.Close()
	if err := r.Create(ctx, id, b, &runc.CreateOpts{IO: io}); err != nil {
		t.Fatal(err)
	}
	c, err := r.State(ctx, id)
	if err != nil || c.Status != "created" || c.Pid == 0 || c.Bundle != b {
		t.Fatalf("State = %+v, %v", c, err)
	}
	if err := r.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	if c, err := r.State(ctx, id); err != nil || c.Status != "running" {
		t.Fatalf("State after start = %+v, %v", c, err)
	}
	if pids, err := r.Ps(ctx, id); err != nil || !slices.Contains(pids, c.Pid) {
		t.Errorf("Ps = %v, %v; want the init %d", pids, err, c.Pid)
	}
	if err := r.Kill(ctx, id, int(unix.SIGKILL), nil); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(id, "stopped")
	if err := r.Delete(ctx, id, nil); err != nil {
		t.Fatal(err)
	}
	waitGone(t, c.Pid)
	if err := r.Delete(ctx, id, nil); err == nil {
		t.Error("a second Delete succeeded")
	}
	if list, err := r.List(ctx); err != nil || len(list) != 0 {
		t.Errorf("List after delete = %v, %v", list, err)
	}
}
