package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/inclavare/inclavare/internal/testbuild"
	"github.com/inclavare/inclavare/runtime/pal/paltest"
)

const busybox = "/bin/busybox"

// What TestMain builds: the runelet, the skeleton PAL of each version and
// the two bad test PALs of runtime/pal/testdata.
var (
	binDir   string
	buildErr error
)

func TestMain(m *testing.M) {
	code := func() int {
		var err error
		if binDir, err = os.MkdirTemp("", "runelet-test-"); err != nil {
			buildErr = err
			return m.Run()
		}
		defer os.RemoveAll(binDir)
		if _, err := exec.LookPath("gcc"); err != nil {
			buildErr = errGCC
			return m.Run()
		}
		buildErr = buildAll(context.Background())
		return m.Run()
	}()
	os.Exit(code)
}

var errGCC = errors.New("gcc is not installed (apt-get install gcc)")

// buildAll builds everything in parallel.
func buildAll(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, 6)
	wg.Add(6)
	go func() {
		defer wg.Done()
		errs[0] = testbuild.Go(binDir, testbuild.Module+"/runtime/cmd/runelet")
	}()
	for v := 1; v <= 3; v++ {
		go func() {
			defer wg.Done()
			_, errs[v] = paltest.BuildSkeleton(ctx, binDir, v)
		}()
	}
	for i, name := range []string{"version4", "nokill"} {
		go func() {
			defer wg.Done()
			errs[4+i] = paltest.Build(ctx, filepath.Join(binDir, name+".so"), nil, filepath.Join("..", "..", "pal", "testdata", name+".c"))
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// need skips or fails t when the binaries or busybox are missing.
func need(t *testing.T) {
	t.Helper()
	if errors.Is(buildErr, errGCC) {
		paltest.Missing(t, buildErr.Error())
	}
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	if _, err := os.Stat(busybox); err != nil {
		paltest.Missing(t, "busybox is not installed (apt-get install busybox-static)")
	}
}

func runeletPath() string       { return filepath.Join(binDir, "runelet") }
func skeletonPath(v int) string { return filepath.Join(binDir, paltest.SkeletonName(v)) }

// lockedBuffer collects output written from another goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// proc is a runelet running on the host.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	lines  chan string
	stdout lockedBuffer
	stderr lockedBuffer
	done   chan struct{}
	seen   map[int]bool // every descendant observed while it ran
}

// start runs `runelet ARGS...` with the environment env.
func start(t *testing.T, attr *syscall.SysProcAttr, env []string, args ...string) *proc {
	t.Helper()
	return startCmd(t, attr, env, append([]string{runeletPath()}, args...))
}

func startCmd(t *testing.T, attr *syscall.SysProcAttr, env []string, argv []string) *proc {
	t.Helper()
	p := &proc{t: t, lines: make(chan string, 100), done: make(chan struct{}), seen: map[int]bool{}}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Env = env
	p.cmd.SysProcAttr = attr
	p.cmd.Stderr = &p.stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(p.done)
		r := bufio.NewReader(out)
		for {
			line, err := r.ReadString('\n')
			p.stdout.Write([]byte(line))
			if line != "" {
				select {
				case p.lines <- strings.TrimSuffix(line, "\n"):
				default:
				}
			}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	return p
}

// waitLine waits for the workload to print want.
func (p *proc) waitLine(want string) {
	p.t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case l := <-p.lines:
			if l == want {
				p.observe()
				return
			}
		case <-timeout:
			p.t.Fatalf("no %q from the workload; stdout %q stderr %q", want, p.stdout.String(), p.stderr.String())
		}
	}
}

// observe records the runelet's descendants.
func (p *proc) observe() {
	for _, pid := range descendants(p.cmd.Process.Pid) {
		p.seen[pid] = true
	}
}

// wait waits for the runelet's exit and checks that every descendant
// observed is gone.
func (p *proc) wait() int {
	p.t.Helper()
	timer := time.AfterFunc(30*time.Second, func() { p.cmd.Process.Kill() })
	defer timer.Stop()
	<-p.done
	err := p.cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		p.t.Fatal(err)
	}
	for pid := range p.seen {
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			p.t.Errorf("process %d (%s) outlived the runelet", pid, comm(pid))
		}
	}
	return p.cmd.ProcessState.ExitCode()
}

// procStat returns the state and parent of pid.
func procStat(pid int) (state string, ppid int, ok bool) {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", 0, false
	}
	i := bytes.LastIndexByte(stat, ')')
	f := strings.Fields(string(stat[i+2:]))
	if len(f) < 2 {
		return "", 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	return f[0], ppid, true
}

func comm(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	return strings.ReplaceAll(string(b), "\x00", " ")
}

// childrenOf lists pid's children.
func childrenOf(pid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if _, ppid, ok := procStat(child); ok && ppid == pid {
			out = append(out, child)
		}
	}
	return out
}

// descendants lists pid's descendants.
func descendants(pid int) []int {
	var out []int
	for _, c := range childrenOf(pid) {
		out = append(out, c)
		out = append(out, descendants(c)...)
	}
	return out
}

// zombies lists pid's children that have exited and were not reaped.
func zombies(pid int) []int {
	var out []int
	for _, c := range childrenOf(pid) {
		if state, _, _ := procStat(c); state == "Z" {
			out = append(out, c)
		}
	}
	return out
}

var baseEnv = []string{"PATH=/usr/bin:/bin"}

func TestRunWorkload(t *testing.T) {
	need(t)
	for v := 1; v <= 3; v++ {
		t.Run("v"+strconv.Itoa(v), func(t *testing.T) {
			p := start(t, nil, append(baseEnv, "WHO=enclave"), "--pal", skeletonPath(v), "--", busybox, "sh", "-c",
				`echo "out $WHO"; echo err >&2; exit 5`)
			code := p.wait()
			if code != 5 {
				t.Errorf("exit code %d, want 5; stderr %q", code, p.stderr.String())
			}
			if got := p.stdout.String(); got != "out enclave\n" {
				t.Errorf("stdout %q", got)
			}
			if got := p.stderr.String(); got != "err\n" {
				t.Errorf("stderr %q, want only the workload's", got)
			}
		})
	}
}

func TestRunFailures(t *testing.T) {
	need(t)
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.so")
	if err := os.WriteFile(garbage, []byte("not ELF"), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		args []string
		code int
		want string
	}{
		"missing executable v1": {[]string{"--pal", skeletonPath(1), "--", "/nonexistent"}, 127, "no such file"},
		"missing executable v3": {[]string{"--pal", skeletonPath(3), "--", "no-such-program"}, 127, "no such file"},
		"not executable":        {[]string{"--pal", skeletonPath(2), "--", "/etc/passwd"}, 126, "permission denied"},
		"garbage PAL":           {[]string{"--pal", garbage, "--", busybox, "true"}, 125, "loading the PAL " + garbage},
		"missing PAL":           {[]string{"--pal", filepath.Join(dir, "none.so"), "--", busybox, "true"}, 125, "none.so"},
		"version 4 PAL":         {[]string{"--pal", filepath.Join(binDir, "version4.so"), "--", busybox, "true"}, 125, "returned 4"},
		"PAL missing symbols":   {[]string{"--pal", filepath.Join(binDir, "nokill.so"), "--", busybox, "true"}, 125, "pal_create_process, pal_kill"},
		"PAL refuses its args":  {[]string{"--pal", skeletonPath(3), "--pal-args", "bogus", "--", busybox, "true"}, 125, "pal_init failed: -22"},
		"no --pal":              {[]string{"--", busybox, "true"}, 125, "--pal is required"},
		"bad log level":         {[]string{"--pal", skeletonPath(3), "--loglevel", "loud", "--", busybox, "true"}, 125, "--loglevel"},
		"no workload":           {[]string{"--pal", skeletonPath(3)}, 125, "no workload"},
		"missing run dir":       {[]string{"--pal", skeletonPath(3), "--run-dir", filepath.Join(dir, "none"), "--", busybox, "true"}, 125, "--run-dir"},
	} {
		runDir := t.TempDir()
		p := start(t, nil, baseEnv, append([]string{"--run-dir", runDir}, tc.args...)...)
		code := p.wait()
		if code != tc.code || !strings.Contains(strings.ToLower(p.stderr.String()), strings.ToLower(tc.want)) {
			t.Errorf("%s: exit %d, stderr %q; want %d and %q", name, code, p.stderr.String(), tc.code, tc.want)
		}
		if left, _ := os.ReadDir(runDir); len(left) > 0 {
			t.Errorf("%s: left %v in the run directory", name, left)
		}
	}
}

func TestSignalForwarding(t *testing.T) {
	need(t)
	for v := 2; v <= 3; v++ {
		// The shell traps SIGUSR1 (delivered with pal_kill) and dies of
		// SIGTERM, leaving its sleep to the runelet.
		p := start(t, nil, baseEnv, "--pal", skeletonPath(v), "--", busybox, "sh", "-c",
			`trap "echo got USR1" USR1; echo ready; while true; do /bin/busybox sleep 0.05; done`)
		p.waitLine("ready")
		p.cmd.Process.Signal(syscall.SIGUSR1)
		p.waitLine("got USR1")
		p.cmd.Process.Signal(syscall.SIGTERM)
		if code := p.wait(); code != 143 {
			t.Errorf("v%d: exit code %d after SIGTERM, want 143; stderr %q", v, code, p.stderr.String())
		}
	}
	// Version 1 has no pal_kill: SIGTERM destroys the instance.
	p := start(t, nil, baseEnv, "--pal", skeletonPath(1), "--", busybox, "sh", "-c", `echo ready; exec /bin/busybox sleep 30`)
	p.waitLine("ready")
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(); code != 143 {
		t.Errorf("v1: exit code %d after SIGTERM, want 143; stderr %q", code, p.stderr.String())
	}
}

func TestOrphanReaped(t *testing.T) {
	need(t)
	// The subshell exits at once, so its sleep is orphaned to the runelet.
	p := start(t, nil, baseEnv, "--pal", skeletonPath(3), "--loglevel", "debug", "--", busybox, "sh", "-c",
		`(/bin/busybox sleep 0.1 &); echo ready; exec /bin/busybox sleep 1`)
	p.waitLine("ready")
	time.Sleep(500 * time.Millisecond)
	p.observe()
	if z := zombies(p.cmd.Process.Pid); len(z) > 0 {
		t.Errorf("unreaped children of the runelet: %v", z)
	}
	if code := p.wait(); code != 0 {
		t.Errorf("exit code %d; stderr %q", code, p.stderr.String())
	}
	if !strings.Contains(p.stderr.String(), `msg="reaped orphan"`) {
		t.Errorf("no orphan was reaped; stderr %q", p.stderr.String())
	}
	// Arguments may hold secrets: even the debug log names only the
	// executable.
	if strings.Contains(p.stderr.String(), "sleep 0.1") {
		t.Errorf("the debug log shows the workload's arguments: %q", p.stderr.String())
	}
}

// stdioPipes returns stdin carrying input, and stdout and stderr pipes
// whose contents read returns once the writers are closed.
func stdioPipes(t *testing.T, input string) (stdin, stdout, stderr *os.File, read func() (string, string)) {
	t.Helper()
	var files []*os.File
	pipe := func() (*os.File, *os.File) {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, r, w)
		return r, w
	}
	inR, inW := pipe()
	outR, outW := pipe()
	errR, errW := pipe()
	t.Cleanup(func() {
		for _, f := range files {
			f.Close()
		}
	})
	go func() { io.WriteString(inW, input); inW.Close() }()
	return inR, outW, errW, func() (string, string) {
		outW.Close()
		errW.Close()
		o, _ := io.ReadAll(outR)
		e, _ := io.ReadAll(errR)
		return string(o), string(e)
	}
}

// TestWorkloadKeepsRlimit: the workload gets the descriptor limit the
// runelet was given (the container's), not the one the Go runtime raises.
func TestWorkloadKeepsRlimit(t *testing.T) {
	need(t)
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Max <= 512 {
		t.Skipf("hard RLIMIT_NOFILE %d leaves no room below it", lim.Max)
	}
	low := syscall.Rlimit{Cur: 512, Max: lim.Max}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &low); err != nil {
		t.Fatal(err)
	}
	p := start(t, nil, baseEnv, "--pal", skeletonPath(3), "--", busybox, "sh", "-c", "ulimit -n; ulimit -Hn")
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(); code != 0 {
		t.Fatalf("exit %d; stderr %q", code, p.stderr.String())
	}
	if want := "512\n" + strconv.FormatUint(lim.Max, 10) + "\n"; p.stdout.String() != want {
		t.Errorf("the workload's limits %q, want %q", p.stdout.String(), want)
	}
}
