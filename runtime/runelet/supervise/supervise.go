// Package supervise says what the runelet's init does with signals. The
// init itself is C (runtime/cmd/runelet/initc.go), so that it never
// starts a Go runtime: as PID 1 of a container (or, outside one, as a
// child subreaper) it forwards every signal in Forwarded to the PAL host,
// reaps the orphans that are reparented to it, and ends with the PAL
// host's exit code (128+N when killed by signal N), killing whatever the
// workload left running. The PAL host, in Go, catches the same signals
// and delivers them to the workload through pal_kill.
package supervise

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Forwarded lists the signals passed on: every catchable signal but
// SIGCHLD (the init's own), SIGURG (the Go runtime's preemption signal)
// and the two real-time signals glibc keeps for itself. The C init's
// init_forwarded must agree (TestInitForwarded in runtime/cmd/runelet).
var Forwarded = forwarded()

func forwarded() []os.Signal {
	var out []os.Signal
	for s := syscall.Signal(1); s <= 64; s++ {
		switch s {
		case unix.SIGKILL, unix.SIGSTOP, unix.SIGCHLD, unix.SIGURG, 32, 33:
			continue
		}
		out = append(out, s)
	}
	return out
}
