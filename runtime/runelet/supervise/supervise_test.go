package supervise

import (
	"os"
	"slices"
	"syscall"
	"testing"

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
