package main_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/inclavare/inclavare/runtime/enclave"
)

// TestRunForwardsSignals: a signal to a foreground `rune run` reaches the
// workload (through the runelet and pal_kill in an enclave container), and
// rune exits with the workload's status.
func TestRunForwardsSignals(t *testing.T) {
	e := newEnv(t)
	t.Parallel()
	for _, kind := range []string{"plain", "simulated"} {
		t.Run(kind, func(t *testing.T) {
			logDir := t.TempDir()
			var ann map[string]string
			if kind == "simulated" {
				ann = map[string]string{enclave.AnnotationType: "simulated", enclave.AnnotationRuntimePath: skeleton(t, 3)}
			}
			b := e.bundle("sig", []string{"/bin/sh", "-c", `trap "echo got-usr1 > /out/log; exit 9" USR1; echo up > /out/log; while true; do sleep 0.05; done`}, func(s *specs.Spec) {
				s.Annotations = ann
				s.Mounts = append(s.Mounts, specs.Mount{Destination: "/out", Type: "bind", Source: logDir, Options: []string{"bind", "rw"}})
			})
			cmd := exec.Command(runeBin, "--root", e.root, "run", "--bundle", b, "sig-"+kind)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			waitFile(t, filepath.Join(logDir, "log"), "up")
			if err := cmd.Process.Signal(unix.SIGUSR1); err != nil {
				t.Fatal(err)
			}
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
				<-done
				t.Fatal("rune run did not exit after the workload's trap")
			}
			if code := cmd.ProcessState.ExitCode(); code != 9 {
				t.Errorf("rune run exit %d, want the workload's 9", code)
			}
			if b, _ := os.ReadFile(filepath.Join(logDir, "log")); string(b) != "got-usr1\n" {
				t.Errorf("workload log %q", b)
			}
		})
	}
}
