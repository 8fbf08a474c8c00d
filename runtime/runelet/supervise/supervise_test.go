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
