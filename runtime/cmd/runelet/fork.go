package main

/*
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

// Which process this is, decided by a constructor before the Go runtime
// starts: the PAL host, or not the init's command line (probe, tests).
// The init itself never returns from the constructor (initc.go).
enum { RUNELET_OTHER, RUNELET_HOST };
static int runelet_role = RUNELET_OTHER;

void runelet_init(pid_t host, const sigset_t *all, int argc, char **argv) __attribute__((noreturn));

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
// thread: the init forks the PAL host here and stays in C, never starting
// the Go runtime (initc.go); the PAL host returns and starts it. This
// spares the PAL host an execve, a dynamic link and a Go runtime start
// after the init's own, and the init a Go runtime altogether.
__attribute__((constructor)) static void runelet_fork_host(int argc, char **argv)
{
	sigset_t all, old;
	pid_t self, pid;

	if (!runelet_is_init(argc, argv))
		return;
	// Outside a PID namespace of its own, the orphans of the workload
	// must come to the init from the start.
	if (getpid() != 1)
		prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	// The init takes every signal with sigwaitinfo: blocked from before
	// the fork, none is lost or acted on by default.
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	self = getpid();
	pid = fork();
	if (pid < 0) {
		fprintf(stderr, "runelet: starting the PAL host: fork: %s: check the container's process limits and memory\n", strerror(errno));
		_exit(125);
	}
	if (pid == 0) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		// The PAL host dies with the init, SIGKILL included.
		if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || getppid() != self)
			_exit(125);
		runelet_role = RUNELET_HOST;
		return;
	}
	runelet_init(pid, &all, argc, argv);
}

static int runelet_get_role(void) { return runelet_role; }
*/
import "C"

// isHost tells whether this process is the PAL host, forked by the init
// before the Go runtime started.
func isHost() bool {
	return C.runelet_get_role() == C.RUNELET_HOST
}
