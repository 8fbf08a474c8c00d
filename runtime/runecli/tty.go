package runecli

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"

	"github.com/containerd/console"
	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/utils"
	"golang.org/x/sys/unix"
)

// tty carries a process's stdio: pipes copied to rune's own stdio, a
// pseudo-terminal whose master rune relays, or nothing (detached).
type tty struct {
	epoller     *console.Epoller
	console     *console.EpollConsole
	hostConsole console.Console
	closers     []io.Closer
	postStart   []io.Closer
	wg          sync.WaitGroup
	consoleC    chan error
}

// setupIO prepares process's stdio for a terminal or pipes, attached or
// detached, as runc does.
func setupIO(process *libcontainer.Process, ct *libcontainer.Container, terminal, detach bool, sockpath string) (_ *tty, retErr error) {
	if terminal {
		process.Stdin, process.Stdout, process.Stderr = nil, nil, nil
		t := &tty{}
		if !detach {
			if err := t.initHostConsole(); err != nil {
				return nil, err
			}
			parent, child, err := utils.NewSockPair("console")
			if err != nil {
				return nil, fmt.Errorf("creating the console socket pair: %w", err)
			}
			process.ConsoleSocket = child
			t.postStart = append(t.postStart, parent, child)
			t.consoleC = make(chan error, 1)
			go func() { t.consoleC <- t.recvtty(parent) }()
			return t, nil
		}
		conn, err := net.Dial("unix", sockpath)
		if err != nil {
			return nil, fmt.Errorf("connecting to --console-socket: %w", err)
		}
		defer func() {
			if retErr != nil {
				conn.Close()
			}
		}()
		t.postStart = append(t.postStart, conn)
		socket, err := conn.(*net.UnixConn).File()
		if err != nil {
			return nil, fmt.Errorf("duplicating the console socket: %w", err)
		}
		t.postStart = append(t.postStart, socket)
		process.ConsoleSocket = socket
		return t, nil
	}
	if detach {
		// The caller gave its stdio to rune for the container's process.
		process.Stdin, process.Stdout, process.Stderr = os.Stdin, os.Stdout, os.Stderr
		return &tty{}, nil
	}
	config := ct.Config()
	uid, err := config.HostRootUID()
	if err != nil {
		return nil, fmt.Errorf("finding the container's root uid: %w", err)
	}
	gid, err := config.HostRootGID()
	if err != nil {
		return nil, fmt.Errorf("finding the container's root gid: %w", err)
	}
	pio, err := process.InitializeIO(uid, gid)
	if err != nil {
		return nil, fmt.Errorf("creating the process's stdio pipes: %w", err)
	}
	t := &tty{closers: []io.Closer{pio.Stdin, pio.Stdout, pio.Stderr}}
	for _, s := range []any{process.Stdin, process.Stdout, process.Stderr} {
		if c, ok := s.(io.Closer); ok {
			t.postStart = append(t.postStart, c)
		}
	}
	go func() {
		_, _ = io.Copy(pio.Stdin, os.Stdin)
		_ = pio.Stdin.Close()
	}()
	t.wg.Add(2)
	go t.copyIO(os.Stdout, pio.Stdout)
	go t.copyIO(os.Stderr, pio.Stderr)
	return t, nil
}

func (t *tty) copyIO(w io.Writer, r io.ReadCloser) {
	defer t.wg.Done()
	_, _ = io.Copy(w, r)
	_ = r.Close()
}

func (t *tty) initHostConsole() error {
	for _, s := range []*os.File{os.Stderr, os.Stdout, os.Stdin} {
		c, err := console.ConsoleFromFile(s)
		if err == nil {
			t.hostConsole = c
			return nil
		}
		if !errors.Is(err, console.ErrNotAConsole) {
			return fmt.Errorf("getting the host console: %w", err)
		}
	}
	f, err := os.Open("/dev/tty")
	if err != nil {
		return fmt.Errorf("a terminal was asked for but rune has none (set process.terminal false, or run from a terminal): %w", err)
	}
	c, err := console.ConsoleFromFile(f)
	if err != nil {
		return fmt.Errorf("getting the host console: %w", err)
	}
	t.hostConsole = c
	return nil
}

// recvFile receives one file descriptor sent with SCM_RIGHTS on socket.
func recvFile(socket *os.File) (*os.File, error) {
	name := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(int(socket.Fd()), name, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("receiving the console: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return nil, fmt.Errorf("receiving the console: bad control message: %v", err)
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, fmt.Errorf("receiving the console: want one descriptor: %v", err)
	}
	return os.NewFile(uintptr(fds[0]), string(name[:n])), nil
}

func (t *tty) recvtty(socket *os.File) (retErr error) {
	f, err := recvFile(socket)
	if err != nil {
		return err
	}
	cons, err := console.ConsoleFromFile(f)
	if err != nil {
		return fmt.Errorf("using the container's console: %w", err)
	}
	if err := console.ClearONLCR(cons.Fd()); err != nil {
		return fmt.Errorf("configuring the container's console: %w", err)
	}
	epoller, err := console.NewEpoller()
	if err != nil {
		return fmt.Errorf("relaying the container's console: %w", err)
	}
	ec, err := epoller.Add(cons)
	if err != nil {
		return fmt.Errorf("relaying the container's console: %w", err)
	}
	defer func() {
		if retErr != nil {
			_ = ec.Close()
		}
	}()
	go func() { _ = epoller.Wait() }()
	go func() { _, _ = io.Copy(ec, os.Stdin) }()
	t.wg.Add(1)
	go t.copyIO(os.Stdout, ec)
	if err := t.hostConsole.SetRaw(); err != nil {
		return fmt.Errorf("setting the host terminal raw: %w", err)
	}
	t.epoller = epoller
	t.console = ec
	t.closers = []io.Closer{ec}
	return nil
}

func (t *tty) waitConsole() error {
	if t.consoleC != nil {
		return <-t.consoleC
	}
	return nil
}

// ClosePostStart closes rune's copies of what the process inherited.
func (t *tty) ClosePostStart() {
	for _, c := range t.postStart {
		_ = c.Close()
	}
}

// Close waits for the stdio relays and restores the host terminal.
func (t *tty) Close() {
	for _, c := range t.postStart {
		_ = c.Close()
	}
	if t.console != nil && t.epoller != nil {
		_ = t.console.Shutdown(t.epoller.CloseConsole)
	}
	t.wg.Wait()
	for _, c := range t.closers {
		_ = c.Close()
	}
	if t.hostConsole != nil {
		_ = t.hostConsole.Reset()
	}
}

func (t *tty) resize() error {
	if t.console == nil || t.hostConsole == nil {
		return nil
	}
	return t.console.ResizeFrom(t.hostConsole)
}

// setupPidfdSocket passes process's pidfd to the listener at sockpath.
func setupPidfdSocket(process *libcontainer.Process, sockpath string) (func(), error) {
	conn, err := net.Dial("unix", sockpath)
	if err != nil {
		return nil, fmt.Errorf("connecting to --pidfd-socket: %w", err)
	}
	socket, err := conn.(*net.UnixConn).File()
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("duplicating the pidfd socket: %w", err)
	}
	process.PidfdSocket = socket
	return func() { conn.Close(); socket.Close() }, nil
}
