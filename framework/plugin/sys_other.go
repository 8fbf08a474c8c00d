//go:build !linux

package plugin

import "os/exec"

// setParentDeathSignal does nothing without Linux's parent-death signal;
// the plugin's poll of its parent PID remains.
func setParentDeathSignal(*exec.Cmd) {}

func setOwnParentDeathSignal() {}
