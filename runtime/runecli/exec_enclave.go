package runecli

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli"
	"golang.org/x/sys/unix"

	"github.com/inclavare/inclavare/runtime/enclave"
	"github.com/inclavare/inclavare/runtime/runelet/execproto"
)

// execEnclave runs p inside the container's enclave runtime instance: the
// runelet's exec socket takes the request and rune's own stdio, and answers
// with the exit code. SIGINT, SIGTERM and SIGHUP to rune end the request,
// and the runelet kills the process.
func execEnclave(c *cli.Context, st *enclave.State, p *specs.Process) (int, error) {
	if !st.Type.UsesPAL() {
		return -1, fmt.Errorf("exec is not supported in a %s enclave container: its runtime runs one module", st.Type)
	}
	for _, unsupported := range []struct {
		set  bool
		what string
	}{
		{p.Terminal, "a terminal (--tty or process.terminal)"},
		{c.Bool("detach"), "--detach"},
		{c.String("console-socket") != "", "--console-socket"},
		{c.String("pidfd-socket") != "", "--pidfd-socket"},
		{c.String("pid-file") != "", "--pid-file"},
		{c.Int("preserve-fds") > 0, "--preserve-fds"},
		{len(c.StringSlice("cgroup")) > 0, "--cgroup"},
		{c.String("user") != "", "--user"},
	} {
		if unsupported.set {
			return -1, fmt.Errorf("exec into a %s enclave container does not support %s: the process runs inside the enclave runtime, with rune's stdio", st.Type, unsupported.what)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), unix.SIGINT, unix.SIGTERM, unix.SIGHUP)
	defer stop()
	req := execproto.Request{Args: p.Args, Env: p.Env, Cwd: p.Cwd}
	code, err := execproto.Exec(ctx, st.ExecSocket(), req, os.Stdin, os.Stdout, os.Stderr)
	if err != nil {
		return -1, err
	}
	return code, nil
}
