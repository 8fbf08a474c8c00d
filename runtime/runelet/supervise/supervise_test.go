package supervise

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestForwarded(t *testing.T) {
	for _, s := range []syscall.Signal{unix.SIGKILL, unix.SIGSTOP, unix.SIGCHLD, unix.SIGURG, 32, 33} {
		if slices.Contains(Forwarded, os.Signal(s)) {
			t.Errorf("%v is forwarded", s)
		}
	}
	for _, s := range []syscall.Signal{unix.SIGTERM, unix.SIGINT, unix.SIGHUP, unix.SIGUSR1, unix.SIGWINCH, unix.SIGCONT, 34, 64} {
		if !slices.Contains(Forwarded, os.Signal(s)) {
			t.Errorf("%v is not forwarded", s)
		}
	}
}

func TestExitCode(t *testing.T) {
	// A wait status: exit code in bits 8-15, or the signal in bits 0-6.
	for ws, want := range map[unix.WaitStatus]int{0: 0, 3 << 8: 3, 255 << 8: 255, 15: 143, 9: 137} {
		if got := exitCode(ws); got != want {
			t.Errorf("exitCode(%#x) = %d, want %d", uint32(ws), got, want)
		}
	}
}

func TestChildren(t *testing.T) {
	if kids := children(os.Getpid()); len(kids) != 0 {
		t.Fatalf("unexpected children %v", kids)
	}
	p, err := os.StartProcess("/proc/self/exe", []string{"sleep", "-test.run=^$"}, &os.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	kids := children(os.Getpid())
	p.Kill()
	p.Wait()
	if !slices.Contains(kids, p.Pid) {
		t.Errorf("children() = %v, missing %d", kids, p.Pid)
	}
}

// TestRunStartedHost: a PAL host forked before Run, and already gone when
// Run starts catching SIGCHLD, is still reaped and its exit code returned.
func TestRunStartedHost(t *testing.T) {
	p, err := os.StartProcess("/bin/sh", []string{"sh", "-c", "exit 7"}, &os.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(p.Pid), "stat"))
		if err != nil {
			t.Fatal(err)
		}
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && bytes.HasPrefix(stat[i+1:], []byte(" Z")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the host did not exit: %s", stat)
		}
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code, err := Run(ctx, Config{Pid: p.Pid})
	if err != nil || code != 7 {
		t.Fatalf("Run = %d, %v; want 7, nil", code, err)
	}
	if err := unix.Kill(p.Pid, 0); !errors.Is(err, unix.ESRCH) {
		t.Errorf("the host %d was not reaped (%v)", p.Pid, err)
	}
}
