package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/inclavare/inclavare/runtime/runelet/execproto"
)

// BenchmarkStartTrue is the cost of a container's init with the skeleton
// PAL v3: runelet, PAL host, pal_init, `busybox true`, pal_destroy.
func BenchmarkStartTrue(b *testing.B) {
	if buildErr != nil {
		b.Skip(buildErr)
	}
	for b.Loop() {
		cmd := exec.Command(runeletPath(), "--pal", skeletonPath(3), "--", busybox, "true")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
	}
}

// BenchmarkDirectTrue is `busybox true` alone, the baseline.
func BenchmarkDirectTrue(b *testing.B) {
	for b.Loop() {
		if err := exec.Command(busybox, "true").Run(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExecTrue is one `busybox true` through the exec socket of a
// running runelet (skeleton PAL v3).
func BenchmarkExecTrue(b *testing.B) {
	if buildErr != nil {
		b.Skip(buildErr)
	}
	runDir := b.TempDir()
	cmd := exec.Command(runeletPath(), "--pal", skeletonPath(3), "--run-dir", runDir, "--", busybox, "sleep", "600")
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer null.Close()
	sock := filepath.Join(runDir, execproto.SocketName)
	req := execproto.Request{Args: []string{busybox, "true"}}
	ctx := context.Background()
	if _, err := execproto.Exec(ctx, sock, req, null, null, null); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if code, err := execproto.Exec(ctx, sock, req, null, null, null); err != nil || code != 0 {
			b.Fatalf("exit %d, %v", code, err)
		}
	}
}
