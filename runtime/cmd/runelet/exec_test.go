package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/inclavare/inclavare/runtime/runelet/execproto"
)

func TestExecSocket(t *testing.T) {
	need(t)
	for v := 1; v <= 3; v++ {
		t.Run("v"+strconv.Itoa(v), func(t *testing.T) {
			runDir := t.TempDir()
			sock := filepath.Join(runDir, execproto.SocketName)
			p := start(t, nil, baseEnv, "--pal", skeletonPath(v), "--run-dir", runDir, "--", busybox, "sh", "-c",
				`echo ready; exec /bin/busybox sleep 30`)
			p.waitLine("ready")
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()

			cwd := t.TempDir()
			stdin, stdout, stderr, read := stdioPipes(t, "from stdin")
			req := execproto.Request{
				Args: []string{busybox, "sh", "-c", `pwd; echo "X=$X"; cat; echo oops >&2; exit 9`},
				Env:  []string{"X=exec", "PATH=/bin"},
				Cwd:  cwd,
			}
			code, err := execproto.Exec(ctx, sock, req, stdin, stdout, stderr)
			if err != nil {
				t.Fatal(err)
			}
			out, errOut := read()
			wantX := "X=exec"
			if v == 1 {
				wantX = "X=" // version 1 has no environment parameter
			}
			if code != 9 || out != cwd+"\n"+wantX+"\nfrom stdin" || errOut != "oops\n" {
				t.Errorf("exit %d, stdout %q, stderr %q", code, out, errOut)
			}

			stdin, stdout, stderr, _ = stdioPipes(t, "")
			_, err = execproto.Exec(ctx, sock, execproto.Request{Args: []string{"/nonexistent"}}, stdin, stdout, stderr)
			if !errors.Is(err, execproto.ErrRemote) || !strings.Contains(err.Error(), "no such file") {
				t.Errorf("exec of a missing executable: %v", err)
			}
			stdin, stdout, stderr, _ = stdioPipes(t, "")
			_, err = execproto.Exec(ctx, sock, execproto.Request{Args: []string{busybox, "true"}, Cwd: "/nonexistent"}, stdin, stdout, stderr)
			if !errors.Is(err, execproto.ErrRemote) || !strings.Contains(err.Error(), "/nonexistent") {
				t.Errorf("exec in a missing directory: %v", err)
			}

			// The workload's end ends the exec'd processes too (not
			// version 1, which cannot kill one process: pal_destroy does).
			stdin, stdout, stderr, _ = stdioPipes(t, "")
			type result struct {
				code int
				err  error
			}
			res := make(chan result, 1)
			go func() {
				code, err := execproto.Exec(ctx, sock, execproto.Request{Args: []string{busybox, "sleep", "30"}}, stdin, stdout, stderr)
				res <- result{code, err}
			}()
			time.Sleep(200 * time.Millisecond)
			p.observe()
			p.cmd.Process.Signal(syscall.SIGTERM)
			r := <-res
			if v >= 2 && (r.err != nil || r.code != 137) {
				t.Errorf("exec'd process when the workload ended: exit %d, %v; want 137", r.code, r.err)
			}
			if v == 1 && r.err == nil && r.code != 137 {
				t.Errorf("exec'd process when the instance was destroyed: exit %d", r.code)
			}
			if code := p.wait(); code != 143 {
				t.Errorf("exit code %d, want 143; stderr %q", code, p.stderr.String())
			}
			if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("the exec socket outlived the runelet (%v)", err)
			}
		})
	}
}

func TestExecCancelKills(t *testing.T) {
	need(t)
	runDir := t.TempDir()
	p := start(t, nil, baseEnv, "--pal", skeletonPath(3), "--run-dir", runDir, "--", busybox, "sh", "-c",
		`echo ready; exec /bin/busybox sleep 30`)
	p.waitLine("ready")
	stdin, stdout, stderr, _ := stdioPipes(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() {
		_, err := execproto.Exec(ctx, filepath.Join(runDir, execproto.SocketName),
			execproto.Request{Args: []string{busybox, "sh", "-c", "echo started; exec /bin/busybox sleep 30"}}, stdin, stdout, stderr)
		res <- err
	}()
	// Wait for the exec'd sleep to run, then give up on it.
	before := map[int]bool{}
	for pid := range p.seen {
		before[pid] = true
	}
	var sleeper int
	for deadline := time.Now().Add(10 * time.Second); sleeper == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, pid := range descendants(p.cmd.Process.Pid) {
			if strings.HasPrefix(comm(pid), busybox+" sleep 30") && !before[pid] {
				sleeper = pid
			}
		}
	}
	p.observe()
	if sleeper == 0 {
		t.Fatal("the exec'd process never ran")
	}
	cancel()
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Errorf("Exec: %v, want context.Canceled", err)
	}
	for deadline := time.Now().Add(5 * time.Second); syscall.Kill(sleeper, 0) == nil; time.Sleep(20 * time.Millisecond) {
		if state, _, _ := procStat(sleeper); state == "Z" {
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("the exec'd process %d still runs after its client left", sleeper)
		}
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(); code != 143 {
		t.Errorf("exit code %d, want 143", code)
	}
}
