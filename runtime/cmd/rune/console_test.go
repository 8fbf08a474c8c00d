package main_test

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// TestConsoleSocket: a terminal container created with --console-socket
// sends the pseudo-terminal's master to the socket, as containerd expects.
func TestConsoleSocket(t *testing.T) {
	e := newEnv(t)
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "console.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan *os.File, 1)
	go func() {
		defer close(got)
		c, err := l.AcceptUnix()
		if err != nil {
			return
		}
		defer c.Close()
		buf, oob := make([]byte, 4096), make([]byte, unix.CmsgSpace(4))
		_, oobn, _, _, err := c.ReadMsgUnix(buf, oob)
		if err != nil {
			return
		}
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil || len(msgs) != 1 {
			return
		}
		fds, err := unix.ParseUnixRights(&msgs[0])
		if err != nil || len(fds) != 1 {
			return
		}
		got <- os.NewFile(uintptr(fds[0]), "console-master")
	}()

	b := e.bundle("tty", []string{"sh", "-c", "tty; echo on-the-terminal"}, func(s *specs.Spec) { s.Process.Terminal = true })
	if r := e.rune("create", "--bundle", b, "tty"); r.code != 1 || !strings.Contains(r.stderr, "console socket") {
		t.Errorf("terminal without --console-socket: code %d, stderr %q", r.code, r.stderr)
	}
	e.must("create", "--bundle", b, "--console-socket", sock, "tty")
	var master *os.File
	select {
	case master = <-got:
	case <-time.After(10 * time.Second):
	}
	if master == nil {
		t.Fatal("no console master received on the socket")
	}
	defer master.Close()
	e.must("start", "tty")
	var out strings.Builder
	buf := make([]byte, 1024)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "on-the-terminal") && time.Now().Before(deadline) {
		master.SetReadDeadline(time.Now().Add(time.Second))
		n, _ := master.Read(buf)
		out.Write(buf[:n])
	}
	if !strings.Contains(out.String(), "/dev/pts/") || !strings.Contains(out.String(), "on-the-terminal") {
		t.Errorf("terminal output %q", out.String())
	}
	e.waitStatus("tty", "stopped")
	e.must("delete", "tty")
}
