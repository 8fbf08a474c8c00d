package main

/*
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

// Which process this is, decided by a constructor before the Go runtime
// starts: the init that forked the PAL host (its pid in runelet_host_pid),
// the PAL host itself, or neither (probe, tests, a failed fork).
enum { RUNELET_OTHER, RUNELET_INIT, RUNELET_HOST };
static int runelet_role = RUNELET_OTHER;
static pid_t runelet_host_pid;
static int runelet_fork_errno;

// runelet_is_init tells whether argv is the init's command line: --pal
// (in any form Go's flag package takes) before the "--" that ends the
// flags, and no subcommand.
static int runelet_is_init(int argc, char **argv)
{
	int i;

	if (argc < 2 || strcmp(argv[1], "probe") == 0)
		return 0;
	for (i = 1; i < argc && argv[i] != NULL; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0)
			return 0;
		if (strcmp(a, "--pal") == 0 || strcmp(a, "-pal") == 0 ||
		    strncmp(a, "--pal=", 6) == 0 || strncmp(a, "-pal=", 5) == 0)
			return 1;
	}
	return 0;
}

// runelet_fork_host runs before the Go runtime, while the process has one
// thread: the init forks the PAL host here, and both processes then start
// the Go runtime in parallel. This spares the PAL host an execve, a
// dynamic link and a Go runtime start after the init's own.
__attribute__((constructor)) static void runelet_fork_host(int argc, char **argv)
{
	pid_t self, pid;

	if (!runelet_is_init(argc, argv))
		return;
	// Outside a PID namespace of its own, the orphans of the workload
	// must come to the init from the start.
	if (getpid() != 1)
		prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	self = getpid();
	pid = fork();
	if (pid < 0) {
		runelet_fork_errno = errno;
		return;
	}
	if (pid == 0) {
		// The PAL host dies with the init, SIGKILL included. The signal
		// follows the thread that forked: the init's main thread, which
		// the Go runtime never ends.
		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || getppid() != self)
			_exit(125);
		runelet_role = RUNELET_HOST;
		return;
	}
	runelet_role = RUNELET_INIT;
	runelet_host_pid = pid;
}

static int runelet_get_role(void) { return runelet_role; }
static int runelet_get_host_pid(void) { return runelet_host_pid; }
static int runelet_get_fork_errno(void) { return runelet_fork_errno; }
*/
import "C"

import "syscall"

// role is what the constructor made of this process.
type role int

const (
	// roleOther: not the init's command line (probe, a test binary), or
	// the fork failed.
	roleOther role = C.RUNELET_OTHER
	// roleInit: the container's init, which forked the PAL host.
	roleInit role = C.RUNELET_INIT
	// roleHost: the PAL host, forked by the init.
	roleHost role = C.RUNELET_HOST
)

// forked returns this process's role, the PAL host's pid in the init, and
// the error of a fork that failed.
func forked() (role, int, error) {
	if e := C.runelet_get_fork_errno(); e != 0 {
		return roleOther, 0, syscall.Errno(e)
	}
	return role(C.runelet_get_role()), int(C.runelet_get_host_pid()), nil
}
