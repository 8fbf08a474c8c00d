// Package supervise is the runelet's init: as PID 1 of a container (or,
// outside one, as a child subreaper) it starts the PAL host process,
// forwards every catchable signal to it, reaps the orphans that are
// reparented to it, and ends with the PAL host's exit code, killing
// whatever the workload left running.
//
// All waiting is done here with wait4(-1), so nothing else in the process
// may wait for children (no exec.Cmd.Wait). The PAL host waits for its own
// processes itself, so none of their exit statuses is taken from it.
package supervise

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Forwarded lists the signals passed on: every catchable signal but
// SIGCHLD (the init's own), SIGURG (the Go runtime's preemption signal)
// and the two real-time signals glibc keeps for itself.
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

// LeftoverTimeout bounds the killing and reaping of what the workload
// left running after the PAL host exits.
const LeftoverTimeout = 5 * time.Second

// Config says what to start, or which PAL host was started already.
type Config struct {
	// Pid, when not zero, is the PAL host already running as a child of
	// this process (the runelet forks it before the Go runtime starts);
	// Path, Args and Env are then unused. Such a child must have been
	// given its parent-death signal by whoever forked it.
	Pid int
	// Path is the PAL host's executable.
	Path string
	// Args are its arguments, Args[0] included.
	Args []string
	// Env is its environment.
	Env []string
	// Log receives the init's own messages; nil discards them.
	Log *slog.Logger
}

// Run starts the PAL host (unless cfg.Pid names it) and supervises it until it exits, then kills and
// reaps every remaining child and returns the PAL host's exit code (128+N
// when killed by signal N). If ctx ends first, the PAL host is killed.
func Run(ctx context.Context, cfg Config) (int, error) {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if os.Getpid() != 1 {
		// Outside a PID namespace of its own, orphans of the workload
		// come to the runelet rather than to the host's init.
		if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
			return 0, fmt.Errorf("becoming a child subreaper: %w", err)
		}
	}
	sigs := make(chan os.Signal, 64)
	signal.Notify(sigs, Forwarded...)
	defer signal.Stop(sigs)
	chld := make(chan os.Signal, 1)
	signal.Notify(chld, unix.SIGCHLD)
	defer signal.Stop(chld)

	host := cfg.Pid
	if host == 0 {
		// The PAL host dies with the init (SIGKILL included): the
		// parent-death signal follows the thread that started it, kept
		// for the whole run.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		proc, err := os.StartProcess(cfg.Path, cfg.Args, &os.ProcAttr{
			Env:   cfg.Env,
			Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
			Sys:   &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
		})
		if err != nil {
			return 0, fmt.Errorf("starting the PAL host %s: %w", cfg.Path, err)
		}
		host = proc.Pid
		// The status is collected with wait4 below, never through proc.
		_ = proc.Release()
		log.Debug("PAL host started", "pid", host)
	}

	// A host started before SIGCHLD was being caught may be gone already.
	code := reap(host, log)
	for code < 0 {
		select {
		case s := <-sigs:
			log.Debug("forwarding signal", "signal", s)
			if err := unix.Kill(host, s.(syscall.Signal)); err != nil && !errors.Is(err, unix.ESRCH) {
				log.Warn("forwarding a signal to the PAL host", "signal", s, "err", err)
			}
		case <-chld:
			code = reap(host, log)
		case <-ctx.Done():
			log.Debug("context ended: killing the PAL host")
			_ = unix.Kill(host, unix.SIGKILL)
			ctx = context.Background()
		}
	}
	killLeftovers(log)
	return code, nil
}

// reap collects every child that has exited; it returns the host's exit
// code once the host is among them, else -1.
func reap(host int, log *slog.Logger) int {
	code := -1
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || pid <= 0 {
			return code
		}
		if pid != host {
			log.Debug("reaped orphan", "pid", pid, "status", exitCode(ws))
			continue
		}
		code = exitCode(ws)
		log.Debug("PAL host exited", "pid", pid, "code", code)
	}
}

// exitCode is a shell's view of a wait status: the exit status, or
// 128+N for a process killed by signal N.
func exitCode(ws unix.WaitStatus) int {
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// killLeftovers kills every remaining child (the workload's processes,
// reparented here) and reaps them, for at most LeftoverTimeout. As PID 1
// there is nothing to do: the kernel kills the namespace when it exits.
func killLeftovers(log *slog.Logger) {
	if os.Getpid() == 1 {
		return
	}
	deadline := time.Now().Add(LeftoverTimeout)
	for {
		if _, err := unix.Wait4(-1, nil, unix.WNOHANG, nil); errors.Is(err, unix.ECHILD) {
			return // no child at all: nothing to look for in /proc
		}
		kids := children(os.Getpid())
		for _, pid := range kids {
			log.Debug("killing a leftover process", "pid", pid)
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		reaped := false
		for {
			pid, err := unix.Wait4(-1, nil, unix.WNOHANG, nil)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if errors.Is(err, unix.ECHILD) && len(kids) == 0 {
				return
			}
			if err != nil || pid <= 0 {
				break
			}
			reaped = true
		}
		if time.Now().After(deadline) {
			log.Warn("leftover processes did not end", "pids", kids)
			return
		}
		if !reaped {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// children lists the processes whose parent is pid, from /proc; in a PID
// namespace whose /proc is another's, it finds none.
func children(pid int) []int {
	var out []int
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	want := strconv.Itoa(pid)
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil || child == pid {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 || i+2 > len(stat) {
			continue
		}
		f := strings.Fields(string(stat[i+2:]))
		if len(f) > 1 && f[1] == want {
			out = append(out, child)
		}
	}
	return out
}
