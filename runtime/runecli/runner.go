package runecli

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/system"
	"github.com/opencontainers/runc/libcontainer/utils"
	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"
)

// action is what a runner does with its process.
type action int

const (
	actCreate action = iota + 1 // start the init and leave it waiting for `rune start`
	actRun                      // start a process and run it
)

// runner starts one process of a container and, unless detached, waits for
// it while forwarding signals, as runc does.
type runner struct {
	container     *libcontainer.Container
	action        action
	init          bool
	detach        bool
	subreaper     bool
	destroyOnExit bool
	preserveFDs   int
	extraFiles    []*os.File // after the preserved descriptors
	pidFile       string
	consoleSocket string
	pidfdSocket   string
	cgroupPaths   map[string]string
}

// run starts config and returns its exit status (0 once started when detached).
func (r *runner) run(config *specs.Process) (status int, err error) {
	defer func() {
		if err != nil {
			r.destroy()
		}
	}()
	detach := r.detach || r.action == actCreate
	if detach && config.Terminal && r.consoleSocket == "" {
		return -1, errors.New("cannot allocate tty if rune will detach without setting console socket")
	}
	if (!detach || !config.Terminal) && r.consoleSocket != "" {
		return -1, errors.New("cannot use console socket if rune will not detach or allocate tty")
	}
	process, err := newProcess(config)
	if err != nil {
		return -1, err
	}
	process.LogLevel = strconv.Itoa(int(logrus.GetLevel()))
	process.Init = r.init
	process.SubCgroupPaths = r.cgroupPaths
	for i := 3; i < 3+r.preserveFDs; i++ {
		if _, err := unix.FcntlInt(uintptr(i), unix.F_GETFD, 0); err != nil {
			return -1, fmt.Errorf("unable to stat preserved-fd %d (of %d): %w", i-3, r.preserveFDs, err)
		}
		process.ExtraFiles = append(process.ExtraFiles, os.NewFile(uintptr(i), "PreserveFD:"+strconv.Itoa(i)))
	}
	process.ExtraFiles = append(process.ExtraFiles, r.extraFiles...)

	signals := newSignalHandler(r.subreaper)
	defer signals.stop()
	t, err := setupIO(process, r.container, config.Terminal, detach, r.consoleSocket)
	if err != nil {
		return -1, err
	}
	defer t.Close()
	if r.pidfdSocket != "" {
		closeSock, err := setupPidfdSocket(process, r.pidfdSocket)
		if err != nil {
			return -1, err
		}
		defer closeSock()
	}

	switch r.action {
	case actCreate:
		err = r.container.Start(process)
	case actRun:
		err = r.container.Run(process)
	}
	if err != nil {
		return -1, fmt.Errorf("starting the container process: %w", err)
	}
	if err = t.waitConsole(); err != nil {
		r.terminate(process)
		return -1, err
	}
	t.ClosePostStart()
	if r.pidFile != "" {
		if err = createPidFile(r.pidFile, process); err != nil {
			r.terminate(process)
			return -1, err
		}
	}
	if detach {
		return 0, nil
	}
	status, err = signals.forward(process, t)
	if err != nil {
		r.terminate(process)
		return -1, err
	}
	r.destroy()
	return status, nil
}

func (r *runner) destroy() {
	if r.destroyOnExit {
		if err := r.container.Destroy(); err != nil {
			slog.Warn("destroying the container", "id", r.container.ID(), "err", err)
		}
	}
}

func (r *runner) terminate(p *libcontainer.Process) {
	_ = p.Signal(unix.SIGKILL)
	_, _ = p.Wait()
}

// createPidFile writes the process's pid to path atomically.
func createPidFile(path string, p *libcontainer.Process) error {
	pid, err := p.Pid()
	if err != nil {
		return fmt.Errorf("getting the container process's pid: %w", err)
	}
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path))
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)), 0o644); err != nil {
		return fmt.Errorf("writing --pid-file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing --pid-file: %w", err)
	}
	return nil
}

// signalHandler forwards rune's signals to the container process and reaps
// children, so that rune exits with the process's status.
type signalHandler struct {
	signals chan os.Signal
}

func newSignalHandler(subreaper bool) *signalHandler {
	if subreaper {
		if err := system.SetSubreaper(1); err != nil {
			slog.Warn("becoming a child subreaper", "err", err)
		}
	}
	s := make(chan os.Signal, 2048)
	signal.Notify(s)
	return &signalHandler{signals: s}
}

func (h *signalHandler) stop() { signal.Stop(h.signals) }

func (h *signalHandler) forward(process *libcontainer.Process, t *tty) (int, error) {
	pid1, err := process.Pid()
	if err != nil {
		return -1, fmt.Errorf("getting the container process's pid: %w", err)
	}
	_ = t.resize()
	for s := range h.signals {
		switch s {
		case unix.SIGWINCH:
			_ = t.resize()
		case unix.SIGCHLD:
			for {
				var ws unix.WaitStatus
				pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
				if err == unix.EINTR {
					continue
				}
				if err != nil || pid <= 0 {
					break
				}
				if pid == pid1 {
					// Wait flushes libcontainer's own bookkeeping (stdio copies).
					_, _ = process.Wait()
					return utils.ExitStatus(ws), nil
				}
			}
		case unix.SIGURG:
			// The Go runtime's preemption signal: not for the container.
		default:
			if err := process.Signal(s); err != nil {
				slog.Debug("forwarding a signal", "signal", s, "err", err)
			}
		}
	}
	return -1, errors.New("signal channel closed")
}
