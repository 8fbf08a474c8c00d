package main

import (
	"os"
	"slices"
	"syscall"
	"testing"

	"github.com/inclavare/inclavare/runtime/runelet/supervise"
)

// TestInitForwarded: the C init forwards exactly the signals the PAL host
// catches.
func TestInitForwarded(t *testing.T) {
	for sig := 1; sig <= 64; sig++ {
		want := slices.Contains(supervise.Forwarded, os.Signal(syscall.Signal(sig)))
		if got := initForwards(sig); got != want {
			t.Errorf("signal %d: the C init forwards it: %v; supervise.Forwarded: %v", sig, got, want)
		}
	}
}
