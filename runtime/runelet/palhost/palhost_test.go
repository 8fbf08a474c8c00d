package palhost

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestInDirChangesOnlyItsThread(t *testing.T) {
	before, err := unix.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var inside string
	if err := inDir(dir, func() error {
		var err error
		inside, err = unix.Getwd()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if inside != dir {
		t.Errorf("working directory inside %q, want %q", inside, dir)
	}
	if after, _ := unix.Getwd(); after != before {
		t.Errorf("the process's working directory changed from %q to %q", before, after)
	}
	err = inDir(filepath.Join(dir, "missing"), func() error { t.Error("fn ran in a missing directory"); return nil })
	if !errors.Is(err, syscall.ENOENT) || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing directory: %v", err)
	}
}

func TestTerminates(t *testing.T) {
	for sig, want := range map[syscall.Signal]bool{
		unix.SIGTERM: true, unix.SIGINT: true, unix.SIGHUP: true, unix.SIGUSR1: true,
		unix.SIGWINCH: false, unix.SIGCHLD: false, unix.SIGCONT: false, unix.SIGTSTP: false,
	} {
		if terminates(sig) != want {
			t.Errorf("terminates(%v) = %v", sig, !want)
		}
	}
}

func TestCreateError(t *testing.T) {
	var e *Error
	if err := createError("x", syscall.ENOENT); !errors.As(err, &e) || e.Code != ExitNotFound || !errors.Is(err, syscall.ENOENT) {
		t.Errorf("ENOENT: %v", err)
	}
	if err := createError("x", syscall.EACCES); !errors.As(err, &e) || e.Code != ExitCannotRun {
		t.Errorf("EACCES: %v", err)
	}
}

func TestRunRefusesBadConfig(t *testing.T) {
	var e *Error
	_, err := Run(context.Background(), Config{PAL: "/nonexistent.so"}, nil)
	if !errors.As(err, &e) || e.Code != ExitFailed || !strings.Contains(err.Error(), "no workload") {
		t.Errorf("no command: %v", err)
	}
	_, err = Run(context.Background(), Config{PAL: filepath.Join(t.TempDir(), "none.so"), Command: []string{"true"}}, nil)
	if !errors.As(err, &e) || e.Code != ExitFailed || !strings.Contains(err.Error(), "none.so") {
		t.Errorf("missing PAL: %v", err)
	}
}
