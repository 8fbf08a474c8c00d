package main

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/inclavare/inclavare/runtime/pal/paltest"
)

// TestStartedThroughLoader runs the runelet as rune does in a container,
// through an explicitly called dynamic loader: the PAL host, forked before
// the Go runtime starts, runs the same program with the same arguments.
func TestStartedThroughLoader(t *testing.T) {
	need(t)
	loader, err := filepath.EvalSymlinks("/lib64/ld-linux-x86-64.so.2")
	if err != nil {
		paltest.Missing(t, "no x86-64 dynamic loader at /lib64/ld-linux-x86-64.so.2")
	}
	p := startCmd(t, nil, baseEnv, []string{loader, "--library-path", filepath.Dir(loader), runeletPath(),
		"--pal", skeletonPath(3), "--", busybox, "sh", "-c", `tr "\0" " " < /proc/$PPID/cmdline; echo`})
	if code := p.wait(); code != 0 {
		t.Fatalf("exit code %d; stderr %q", code, p.stderr.String())
	}
	want := loader + " --library-path " + filepath.Dir(loader) + " " + runeletPath() + " --pal " + skeletonPath(3) + " -- "
	if got := p.stdout.String(); !strings.HasPrefix(got, want) {
		t.Errorf("the PAL host ran as %q, want %q...", got, want)
	}
}

// TestPID1 runs the runelet as the init of a new PID namespace: it reaps
// the orphans of the whole namespace and forwards signals from outside.
func TestPID1(t *testing.T) {
	need(t)
	if os.Geteuid() != 0 {
		paltest.Missing(t, "a new PID namespace needs root")
	}
	attr := &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
	p := start(t, attr, baseEnv, "--pal", skeletonPath(3), "--loglevel", "debug", "--", busybox, "sh", "-c",
		`(/bin/busybox sleep 0.1 &); echo ready; exec /bin/busybox sleep 30`)
	p.waitLine("ready")
	status, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p.cmd.Process.Pid), "status"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^NSpid:\s+\d+\s+1$`).Match(status) {
		t.Errorf("the runelet is not PID 1 of its namespace:\n%s", status)
	}
	time.Sleep(500 * time.Millisecond)
	p.observe()
	if z := zombies(p.cmd.Process.Pid); len(z) > 0 {
		t.Errorf("unreaped children of the init: %v", z)
	}
	if len(p.seen) < 2 {
		t.Errorf("expected the PAL host and the workload under the init, saw %v", p.seen)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(); code != 143 {
		t.Errorf("exit code %d after SIGTERM, want 143; stderr %q", code, p.stderr.String())
	}
	if !strings.Contains(p.stderr.String(), `msg="reaped orphan"`) {
		t.Errorf("the init reaped no orphan; stderr %q", p.stderr.String())
	}
	if err := syscall.Kill(p.cmd.Process.Pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("the init is still there (%v)", err)
	}
}

// TestHostDiesWithInit: when the init is killed outright (SIGKILL, no
// forwarding possible), the PAL host does not outlive it.
func TestHostDiesWithInit(t *testing.T) {
	need(t)
	p := start(t, nil, baseEnv, "--pal", skeletonPath(3), "--", busybox, "sh", "-c", `echo ready; exec /bin/busybox sleep 30`)
	p.waitLine("ready")
	var host, workload int
	for _, pid := range childrenOf(p.cmd.Process.Pid) {
		host = pid
		for _, w := range childrenOf(pid) {
			workload = w
		}
	}
	if host == 0 || workload == 0 {
		t.Fatalf("no PAL host and workload under the runelet: host %d workload %d", host, workload)
	}
	// Outside a PID namespace the workload is an orphan once the init is
	// gone, as under runc; the test ends it itself.
	t.Cleanup(func() { syscall.Kill(workload, syscall.SIGKILL) })
	p.cmd.Process.Kill()
	p.cmd.Process.Wait() // not cmd.Wait: the orphan still holds stdout and stderr
	deadline := time.Now().Add(5 * time.Second)
	for {
		state, _, ok := procStat(host)
		if !ok || state == "Z" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the PAL host %d outlived the init (state %s)", host, state)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLeftoversKilled: outside a PID namespace, what the workload leaves
// running when it exits is killed and reaped by the init, which then
// exits with the workload's code.
func TestLeftoversKilled(t *testing.T) {
	need(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	p := start(t, nil, baseEnv, "--pal", skeletonPath(3), "--loglevel", "debug", "--", busybox, "sh", "-c",
		`/bin/busybox sleep 30 </dev/null >/dev/null 2>&1 & echo $! > `+pidFile+`; exit 4`)
	start := time.Now()
	if code := p.wait(); code != 4 {
		t.Errorf("exit code %d, want 4; stderr %q", code, p.stderr.String())
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the init took %s to end", d)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Errorf("the workload's leftover %d survived the init (%v)", pid, err)
	}
	if !strings.Contains(p.stderr.String(), `msg="killing a leftover process"`) {
		t.Errorf("no leftover killed; stderr %q", p.stderr.String())
	}
}
