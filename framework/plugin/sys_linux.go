package plugin

import (
	"os/exec"
	"syscall"

	"golang.org/x/sys/unix"
)

// setParentDeathSignal has the kernel SIGKILL the plugin when the host
// (strictly, the host thread that started it) dies.
func setParentDeathSignal(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}

// setOwnParentDeathSignal is the plugin side of the same: in case the host
// did not ask for it.
func setOwnParentDeathSignal() {
	_ = unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0)
}
