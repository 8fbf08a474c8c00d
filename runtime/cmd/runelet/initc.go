package main

// The container's init, in C: after forking the PAL host (fork.go), the
// init never starts the Go runtime. It waits for signals with every
// signal blocked (blocked before the fork, so none is lost and none kills
// it by its default action), forwards them to the PAL host, reaps the
// orphans, and exits with the PAL host's exit code, as
// runtime/runelet/supervise does for a Go init. Its log lines have the
// format of the runelet's log/slog text handler.

/*
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

// Log levels as log/slog numbers them.
enum { INIT_DEBUG = -4, INIT_INFO = 0, INIT_WARN = 4, INIT_ERROR = 8, INIT_OFF = 12 };

static int init_level = INIT_INFO;

// init_set_level takes --loglevel's value as the runelet's newLogger does.
static void init_set_level(const char *v)
{
	if (strcmp(v, "trace") == 0 || strcmp(v, "debug") == 0)
		init_level = INIT_DEBUG;
	else if (strcmp(v, "warning") == 0)
		init_level = INIT_WARN;
	else if (strcmp(v, "error") == 0 || strcmp(v, "fatal") == 0 || strcmp(v, "panic") == 0)
		init_level = INIT_ERROR;
	else if (strcmp(v, "off") == 0)
		init_level = INIT_OFF;
	else
		init_level = INIT_INFO;
}

// init_parse_level finds --loglevel before the "--" that ends the flags.
static void init_parse_level(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc && argv[i] != NULL; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0)
			return;
		if (a[0] == '-' && a[1] == '-')
			a++;
		if (strcmp(a, "-loglevel") == 0 && i + 1 < argc && argv[i + 1] != NULL)
			init_set_level(argv[++i]);
		else if (strncmp(a, "-loglevel=", 10) == 0)
			init_set_level(a + 10);
		else if (strcmp(a, "-pal") == 0 || strcmp(a, "-pal-args") == 0 || strcmp(a, "-run-dir") == 0)
			i++;	// skip the value, whatever it looks like
	}
}

// init_log writes one line: time, level, msg, runelet=PID, then attrs.
static void init_log(int level, const char *msg, const char *attrs, ...)
{
	char line[512], when[64];
	struct timeval tv;
	struct tm tm;
	const char *name = level <= INIT_DEBUG ? "DEBUG" : level <= INIT_INFO ? "INFO" : level <= INIT_WARN ? "WARN" : "ERROR";
	va_list ap;
	int n, m;

	if (level < init_level)
		return;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof(line), "time=%s.%03dZ level=%s msg=\"%s\" runelet=%d", when, (int)(tv.tv_usec / 1000), name, msg, (int)getpid());
	if (n < 0 || n >= (int)sizeof(line) - 2)
		return;
	if (attrs != NULL) {
		line[n++] = ' ';
		va_start(ap, attrs);
		m = vsnprintf(line + n, sizeof(line) - n - 1, attrs, ap);
		va_end(ap);
		if (m < 0 || m >= (int)sizeof(line) - n - 1)
			return;
		n += m;
	}
	line[n++] = '\n';
	if (write(2, line, n) < 0)
		return;
}

// init_forwarded: every catchable signal but SIGCHLD (the init's own),
// SIGURG (the Go runtime's preemption signal) and the two real-time
// signals glibc keeps, as supervise.Forwarded.
static int init_forwarded(int sig)
{
	return sig != SIGKILL && sig != SIGSTOP && sig != SIGCHLD && sig != SIGURG && sig != 32 && sig != 33;
}

static int init_exit_code(int status)
{
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

// init_reap collects every child that has exited and returns the host's
// exit code once the host is among them, else -1.
static int init_reap(pid_t host)
{
	int code = -1, status;
	pid_t pid;

	for (;;) {
		pid = waitpid(-1, &status, WNOHANG);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid <= 0)
			return code;
		if (pid != host) {
			init_log(INIT_DEBUG, "reaped orphan", "pid=%d status=%d", (int)pid, init_exit_code(status));
			continue;
		}
		code = init_exit_code(status);
		init_log(INIT_DEBUG, "PAL host exited", "pid=%d code=%d", (int)pid, code);
	}
}

// init_kill_children kills every process whose parent is this one, from
// /proc, and returns how many it found.
static int init_kill_children(void)
{
	char path[64], stat[512], *p;
	struct dirent *e;
	pid_t self = getpid();
	int found = 0, fd, ppid;
	ssize_t n;
	char state;
	DIR *d = opendir("/proc");

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		long pid = strtol(e->d_name, &p, 10);

		if (*p != '\0' || pid <= 0 || pid == self)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, stat, sizeof(stat) - 1);
		close(fd);
		if (n <= 0)
			continue;
		stat[n] = '\0';
		// pid (comm) state ppid ...; comm may hold spaces and parentheses.
		p = strrchr(stat, ')');
		if (p == NULL || sscanf(p + 1, " %c %d", &state, &ppid) != 2 || ppid != self)
			continue;
		init_log(INIT_DEBUG, "killing a leftover process", "pid=%ld", pid);
		kill((pid_t)pid, SIGKILL);
		found++;
	}
	closedir(d);
	return found;
}

// init_kill_leftovers kills and reaps what the workload left running,
// for at most 5 seconds. As PID 1 there is nothing to do: the kernel
// kills the namespace when it exits.
static void init_kill_leftovers(void)
{
	struct timespec start, now, tick = { 0, 10 * 1000 * 1000 };
	int reaped;

	if (getpid() == 1)
		return;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		if (waitpid(-1, NULL, WNOHANG) < 0 && errno == ECHILD)
			return;
		init_kill_children();
		reaped = 0;
		while (waitpid(-1, NULL, WNOHANG) > 0)
			reaped = 1;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= 5) {
			init_log(INIT_WARN, "leftover processes did not end", NULL);
			return;
		}
		if (!reaped)
			nanosleep(&tick, NULL);
	}
}

// runelet_init is the init's whole life once the PAL host is forked;
// every signal is blocked (all).
__attribute__((noreturn)) void runelet_init(pid_t host, const sigset_t *all, int argc, char **argv)
{
	siginfo_t si;
	int sig, code = -1;

	init_parse_level(argc, argv);
	init_log(INIT_DEBUG, "PAL host started", "pid=%d", (int)host);
	while (code < 0) {
		sig = sigwaitinfo(all, &si);
		if (sig < 0) {
			if (errno == EINTR)
				continue;
			init_log(INIT_ERROR, "waiting for signals", "err=\"%s\"", strerror(errno));
			kill(host, SIGKILL);
			code = 125;
			break;
		}
		if (sig == SIGCHLD) {
			code = init_reap(host);
			continue;
		}
		if (!init_forwarded(sig))
			continue;
		init_log(INIT_DEBUG, "forwarding signal", "signal=%d", sig);
		if (kill(host, sig) != 0 && errno != ESRCH)
			init_log(INIT_WARN, "forwarding a signal to the PAL host", "signal=%d err=\"%s\"", sig, strerror(errno));
	}
	init_kill_leftovers();
	_exit(code);
}
*/
import "C"

// initForwards tells whether the C init forwards signal sig.
func initForwards(sig int) bool {
	return C.init_forwarded(C.int(sig)) != 0
}
