/*
 * The skeleton PAL: an enclave runtime without enclave hardware, where
 * "the enclave" is an ordinary process. It implements the PAL API of the
 * version it is built for (-DPAL_VERSION=1, 2 or 3) faithfully, so that
 * rune and the runelet can be exercised end to end on any Linux host:
 *
 *   pal_init            checks the log level and arguments (and, version
 *                       3, the pre-created enclave region);
 *   pal_create_process  resolves the executable (the instance's first one
 *                       is its measurement: SHA-256 of its bytes), forks a
 *                       process that waits at a start gate with the given
 *                       stdio;
 *   pal_exec            opens the gate (the process execs) and waits for
 *                       it: exit code, or 128+N when killed by signal N;
 *   pal_kill            signals one process or all of them;
 *   pal_destroy         kills and reaps every process of the instance;
 *   pal_get_local_report (version 3) a report that is NOT hardware
 *                       evidence: a SHA-256 checksum over the enclave
 *                       measurement and the caller's data (see README.md).
 *
 * It is thread-safe: the runelet creates, runs and signals processes from
 * several threads at once.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pal_api.h"
#include "sha256.h"

#if !defined(PAL_VERSION) || PAL_VERSION < 1 || PAL_VERSION > 3
#error "build with -DPAL_VERSION=1, 2 or 3"
#endif

#define PAL_EXPORT __attribute__((visibility("default")))

/* The report of pal_get_local_report; README.md documents the layout. */
#define REPORT_MAGIC		"SKELETON-NOT-HW"	/* 15 bytes and a NUL */
#define REPORT_FORMAT		1
#define REPORT_DATA_SIZE	64
#define REPORT_SIZE		160
#define REPORT_FLAG_REGION	1u	/* pal_init was given a region */

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

extern char **environ;

enum log_level { LOG_OFF, LOG_ERROR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

enum proc_state {
	PROC_CREATED,		/* waiting at the start gate */
	PROC_RUNNING,		/* gate opened; a pal_exec waits for it */
	PROC_EXITED,		/* exited, not reaped yet */
};

struct proc {
	pid_t pid;
	int gate;		/* write end of the start gate, or -1 */
	int errpipe;		/* read end of the exec error pipe, or -1 */
	int tty;		/* the terminal it took the foreground of, or -1 */
	enum proc_state state;
	struct proc *next;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t exited = PTHREAD_COND_INITIALIZER;
static int initialized;
static enum log_level level = LOG_INFO;
static struct proc *procs;
static int measured;
static uint8_t measurement[SHA256_DIGEST_SIZE];
static int region_fd = -1;
static uint64_t region_addr;

static void logf_(enum log_level l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void logf_(enum log_level l, const char *fmt, ...)
{
	va_list ap;
	static const char *names[] = { "", "error", "warning", "info", "debug" };

	if (l > level)
		return;
	va_start(ap, fmt);
	fprintf(stderr, "skeleton PAL v%d %s: ", PAL_VERSION, names[l]);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static int parse_log_level(const char *s, enum log_level *out)
{
	static const struct {
		const char *name;
		enum log_level level;
	} levels[] = {
		{ "", LOG_INFO }, { "trace", LOG_DEBUG }, { "debug", LOG_DEBUG },
		{ "info", LOG_INFO }, { "warning", LOG_WARNING },
		{ "error", LOG_ERROR }, { "fatal", LOG_ERROR },
		{ "panic", LOG_ERROR }, { "off", LOG_OFF },
	};
	size_t i;

	if (s == NULL)
		s = "";
	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		if (strcmp(s, levels[i].name) == 0) {
			*out = levels[i].level;
			return 0;
		}
	}
	return -EINVAL;
}

static int init_common(const struct pal_attr_v1 *attr, int fd, uint64_t addr)
{
	enum log_level l;
	const char *a;

	if (attr == NULL)
		return -EINVAL;
	if (parse_log_level(attr->log_level, &l) < 0) {
		fprintf(stderr, "skeleton PAL v%d error: unknown log level \"%s\" "
			"(trace, debug, info, warning, error, fatal, panic, off)\n",
			PAL_VERSION, attr->log_level);
		return -EINVAL;
	}
	/* The skeleton takes no arguments: refuse any, rather than ignore. */
	for (a = attr->args; a != NULL && *a != '\0'; a++) {
		if (*a != ' ' && *a != '\t') {
			fprintf(stderr, "skeleton PAL v%d error: unknown argument "
				"\"%s\": the skeleton takes none\n", PAL_VERSION,
				attr->args);
			return -EINVAL;
		}
	}
	if ((fd == -1) != (addr == 0)) {
		fprintf(stderr, "skeleton PAL v%d error: a pre-created enclave "
			"needs both fd and addr (fd %d, addr %#llx)\n",
			PAL_VERSION, fd, (unsigned long long)addr);
		return -EINVAL;
	}
	if (fd != -1) {
		if (fcntl(fd, F_GETFD) < 0) {
			fprintf(stderr, "skeleton PAL v%d error: pre-created "
				"enclave fd %d is not open\n", PAL_VERSION, fd);
			return -EBADF;
		}
		if (addr % (uint64_t) sysconf(_SC_PAGESIZE) != 0 ||
		    msync((void *)(uintptr_t) addr, 1, MS_ASYNC) < 0) {
			fprintf(stderr, "skeleton PAL v%d error: pre-created "
				"enclave address %#llx is not a mapped page\n",
				PAL_VERSION, (unsigned long long)addr);
			return -EFAULT;
		}
	}

	pthread_mutex_lock(&mu);
	if (initialized) {
		pthread_mutex_unlock(&mu);
		fprintf(stderr, "skeleton PAL v%d error: already initialized\n",
			PAL_VERSION);
		return -EBUSY;
	}
	level = l;
	initialized = 1;
	measured = 0;
	region_fd = fd;
	region_addr = addr;
	pthread_mutex_unlock(&mu);
	logf_(LOG_DEBUG, "initialized%s", fd != -1 ? " on a pre-created enclave" : "");
	return 0;
}

/* lookup_env returns the value of name in env, or NULL. */
static const char *lookup_env(const char *const *env, const char *name)
{
	size_t n = strlen(name);

	for (; env != NULL && *env != NULL; env++)
		if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
			return *env + n + 1;
	return NULL;
}

/* resolve finds the executable: path itself when it has a slash, else
 * the first match in env's PATH. */
static int resolve(const char *path, const char *const *env, char out[PATH_MAX])
{
	const char *dirs, *p, *end;

	if (path == NULL || *path == '\0')
		return -EINVAL;
	if (strchr(path, '/') != NULL) {
		if (strlen(path) >= PATH_MAX)
			return -ENAMETOOLONG;
		strcpy(out, path);
		return access(out, X_OK) == 0 ? 0 : -errno;
	}
	dirs = lookup_env(env, "PATH");
	if (dirs == NULL)
		dirs = DEFAULT_PATH;
	for (p = dirs; ; p = end + 1) {
		size_t n;

		end = strchrnul(p, ':');
		n = (size_t)(end - p);
		if (n == 0) {
			n = 1;
			p = ".";
		}
		if (n + 1 + strlen(path) < PATH_MAX) {
			memcpy(out, p, n);
			out[n] = '/';
			strcpy(out + n + 1, path);
			if (access(out, X_OK) == 0)
				return 0;
		}
		if (*end == '\0')
			return -ENOENT;
	}
}

/* measure_file hashes the executable at path. */
static int measure_file(const char *path, uint8_t out[SHA256_DIGEST_SIZE])
{
	struct sha256 s;
	struct stat st;
	uint8_t buf[65536];
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EACCES;
	}
	sha256_init(&s);
	for (;;) {
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			err = -errno;
		if (n <= 0)
			break;
		sha256_update(&s, buf, (size_t)n);
	}
	close(fd);
	if (err == 0)
		sha256_final(&s, out);
	return err;
}

/* child runs in the forked process: it installs the stdio, restores
 * default signal handling, waits at the gate and execs. Only
 * async-signal-safe calls are made here. */
static void child(const char *path, char *const argv[], char *const envp[],
		  const int stdio[3], int gate, int errpipe)
{
	struct sigaction dfl;
	sigset_t none;
	int fds[3], i, e;
	ssize_t n;
	char c;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (i = 1; i < NSIG; i++)
		if (i != SIGKILL && i != SIGSTOP)
			sigaction(i, &dfl, NULL);

	for (i = 0; i < 3; i++) {
		fds[i] = fcntl(stdio[i], F_DUPFD_CLOEXEC, 3);
		if (fds[i] < 0)
			goto fail;
	}
	for (i = 0; i < 3; i++)
		if (dup2(fds[i], i) < 0)
			goto fail;
	/* On the terminal the host has in the foreground, the process gets a
	 * process group of its own, in the foreground: the terminal's signals
	 * (^C, window size) reach it once, directly, and no longer also the
	 * runelet, which would forward them a second time. Signals are still
	 * blocked here, so tcsetpgrp raises no SIGTTOU. */
	if (isatty(0) && tcgetpgrp(0) == getpgrp() && setpgid(0, 0) == 0)
		tcsetpgrp(0, getpid());
	/* Nothing of the host process but stdio reaches the workload. */
	syscall(SYS_close_range, 3, ~0U, 4 /* CLOSE_RANGE_CLOEXEC */);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	/* pal_exec writes one byte; pal_destroy closes the gate instead. */
	do
		n = read(gate, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		_exit(127);
	execve(path, argv, envp);
fail:
	e = errno;
	while (write(errpipe, &e, sizeof(e)) < 0 && errno == EINTR) ;
	_exit(127);
}

/* spawn creates a process waiting at its start gate. */
static int spawn(const char *path, const char *const argv[],
		 const char *const envp[], const struct pal_stdio_fds *stdio,
		 pid_t *pid)
{
	static const char *const no_env[] = { NULL };
	char exe[PATH_MAX];
	uint8_t digest[SHA256_DIGEST_SIZE];
	int gate[2], errpipe[2], fds[3], i, err = 0, measure;
	struct stat st;
	sigset_t all, old;
	struct proc *p;

	if (path == NULL || argv == NULL || stdio == NULL)
		return -EINVAL;
	if (envp == NULL)
		envp = no_env;
	fds[0] = stdio->stdin_fd, fds[1] = stdio->stdout_fd, fds[2] = stdio->stderr_fd;
	for (i = 0; i < 3; i++)
		if (fcntl(fds[i], F_GETFD) < 0)
			return -EBADF;
	err = resolve(path, envp, exe);
	if (err < 0) {
		logf_(LOG_INFO, "cannot run %s: %s", path, strerror(-err));
		return err;
	}
	/* Only the instance's first executable is measured. */
	pthread_mutex_lock(&mu);
	measure = !measured;
	pthread_mutex_unlock(&mu);
	if (measure)
		err = measure_file(exe, digest);
	else if (stat(exe, &st) < 0)
		err = -errno;
	else if (!S_ISREG(st.st_mode))
		err = -EACCES;
	if (err < 0) {
		logf_(LOG_INFO, "cannot run %s: %s", exe, strerror(-err));
		return err;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return -ENOMEM;
	if (pipe2(gate, O_CLOEXEC) < 0) {
		err = -errno;
		free(p);
		return err;
	}
	if (pipe2(errpipe, O_CLOEXEC) < 0) {
		err = -errno;
		close(gate[0]), close(gate[1]);
		free(p);
		return err;
	}

	/* The child takes the foreground of the host's terminal (see child);
	 * keep the terminal to give the foreground back when it ends. */
	p->tty = -1;
	if (isatty(fds[0]) && tcgetpgrp(fds[0]) == getpgrp())
		p->tty = fcntl(fds[0], F_DUPFD_CLOEXEC, 3);

	pthread_mutex_lock(&mu);
	if (!initialized) {
		pthread_mutex_unlock(&mu);
		close(gate[0]), close(gate[1]), close(errpipe[0]), close(errpipe[1]);
		if (p->tty != -1)
			close(p->tty);
		free(p);
		logf_(LOG_ERROR, "not initialized: call pal_init first");
		return -EINVAL;
	}
	/* No signal handler of the host may run in the child before it has
	 * restored the defaults. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	p->pid = fork();
	if (p->pid == 0)
		child(exe, (char *const *)argv, (char *const *)envp, fds,
		      gate[0], errpipe[1]);
	err = p->pid < 0 ? -errno : 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(gate[0]);
	close(errpipe[1]);
	if (err < 0) {
		pthread_mutex_unlock(&mu);
		close(gate[1]), close(errpipe[0]);
		if (p->tty != -1)
			close(p->tty);
		free(p);
		return err;
	}
	p->gate = gate[1];
	p->errpipe = errpipe[0];
	p->state = PROC_CREATED;
	p->next = procs;
	procs = p;
	if (measure && !measured) {
		memcpy(measurement, digest, sizeof(measurement));
		measured = 1;
	}
	*pid = p->pid;
	pthread_mutex_unlock(&mu);
	logf_(LOG_DEBUG, "created process %d for %s", (int)*pid, exe);
	return 0;
}

static struct proc *find(pid_t pid)
{
	struct proc *p;

	for (p = procs; p != NULL; p = p->next)
		if (p->pid == pid)
			return p;
	return NULL;
}

/* unlink_proc removes p from the table; mu is held. */
static void unlink_proc(struct proc *p)
{
	struct proc **pp;

	for (pp = &procs; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			return;
		}
	}
}

/* release_tty gives the terminal's foreground back to the host's process
 * group if p still has it, and closes p's terminal. The host is in the
 * background then, so SIGTTOU is blocked for the call. */
static void release_tty(struct proc *p)
{
	sigset_t ttou, old;

	if (p->tty == -1)
		return;
	if (tcgetpgrp(p->tty) == p->pid) {
		sigemptyset(&ttou);
		sigaddset(&ttou, SIGTTOU);
		pthread_sigmask(SIG_BLOCK, &ttou, &old);
		tcsetpgrp(p->tty, getpgrp());
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	close(p->tty);
	p->tty = -1;
}

/* run opens pid's gate and waits for it to end. */
static int run(pid_t pid, int *exit_value)
{
	struct proc *p;
	siginfo_t si;
	int status, e = 0, err = 0;
	ssize_t n;

	if (exit_value == NULL)
		return -EINVAL;
	pthread_mutex_lock(&mu);
	p = find(pid);
	if (p == NULL || p->state != PROC_CREATED) {
		pthread_mutex_unlock(&mu);
		logf_(LOG_INFO, "pal_exec: no process %d waiting to run", (int)pid);
		return p == NULL ? -ESRCH : -EBUSY;
	}
	p->state = PROC_RUNNING;
	while (write(p->gate, "x", 1) < 0 && errno == EINTR) ;
	close(p->gate);
	p->gate = -1;
	pthread_mutex_unlock(&mu);

	/* The exec error pipe closes on a successful exec. */
	do
		n = read(p->errpipe, &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(p->errpipe);
	p->errpipe = -1;
	if (n == (ssize_t) sizeof(e)) {
		err = -e;
		logf_(LOG_INFO, "process %d could not exec: %s", (int)pid, strerror(e));
	}

	/* Wait without reaping, so that pal_kill never signals a reused pid. */
	while (waitid(P_PID, (id_t) pid, &si, WEXITED | WNOWAIT) < 0 && errno == EINTR) ;
	pthread_mutex_lock(&mu);
	p->state = PROC_EXITED;
	release_tty(p);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR) ;
	unlink_proc(p);
	pthread_cond_broadcast(&exited);
	pthread_mutex_unlock(&mu);
	free(p);

	if (WIFSIGNALED(status))
		*exit_value = 128 + WTERMSIG(status);
	else
		*exit_value = WEXITSTATUS(status);
	logf_(LOG_DEBUG, "process %d exited with %d", (int)pid, *exit_value);
	return err;
}

#if PAL_VERSION >= 2
PAL_EXPORT int pal_get_version(void)
{
	return PAL_VERSION;
}
#endif

#if PAL_VERSION <= 2
PAL_EXPORT int pal_init(const struct pal_attr_v1 *attr)
{
	return init_common(attr, -1, 0);
}
#else
PAL_EXPORT int pal_init(const struct pal_attr_v3 *attr)
{
	if (attr == NULL)
		return -EINVAL;
	return init_common(&attr->attr_v1, attr->fd, attr->addr);
}
#endif

#if PAL_VERSION == 1
/* Version 1 has no environment parameter: the process gets the host's. */
PAL_EXPORT int pal_exec(const char *path, const char *const argv[],
			const struct pal_stdio_fds *stdio, int *exit_code)
{
	pid_t pid;
	int err;

	if (exit_code == NULL)
		return -EINVAL;
	err = spawn(path, argv, (const char *const *)environ, stdio, &pid);
	if (err < 0)
		return err;
	return run(pid, exit_code);
}
#else
PAL_EXPORT int pal_create_process(struct pal_create_process_args *args)
{
	if (args == NULL || args->pid == NULL)
		return -EINVAL;
	return spawn(args->path, args->argv, args->env, args->stdio, args->pid);
}

PAL_EXPORT int pal_exec(struct pal_exec_args *args)
{
	if (args == NULL)
		return -EINVAL;
	return run(args->pid, args->exit_value);
}

PAL_EXPORT int pal_kill(int pid, int sig)
{
	struct proc *p;
	int err = 0, found = 0;

	if (sig < 0 || sig >= NSIG || (pid <= 0 && pid != -1))
		return -EINVAL;
	pthread_mutex_lock(&mu);
	if (!initialized) {
		pthread_mutex_unlock(&mu);
		return -EINVAL;
	}
	for (p = procs; p != NULL; p = p->next) {
		if (p->state == PROC_EXITED || (pid != -1 && p->pid != pid))
			continue;
		found = 1;
		if (kill(p->pid, sig) < 0)
			err = -errno;
	}
	pthread_mutex_unlock(&mu);
	if (!found && pid != -1)
		return -ESRCH;
	logf_(LOG_DEBUG, "signal %d sent to %d", sig, pid);
	return err;
}
#endif

#if PAL_VERSION >= 3
static void put32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t) v, b[1] = (uint8_t) (v >> 8);
	b[2] = (uint8_t) (v >> 16), b[3] = (uint8_t) (v >> 24);
}

PAL_EXPORT int pal_get_local_report(const void *target_info,
				    int target_info_len, void *report,
				    int *report_len)
{
	uint8_t r[REPORT_SIZE];
	struct sha256 s;

	if (target_info_len < 0 || target_info_len > REPORT_DATA_SIZE ||
	    (target_info == NULL && target_info_len > 0) ||
	    report == NULL || report_len == NULL)
		return -EINVAL;
	if (*report_len < REPORT_SIZE) {
		*report_len = REPORT_SIZE;
		return -ENOSPC;
	}
	memset(r, 0, sizeof(r));
	pthread_mutex_lock(&mu);
	if (!initialized || !measured) {
		pthread_mutex_unlock(&mu);
		logf_(LOG_ERROR, "pal_get_local_report: %s", !initialized ?
		      "not initialized" : "no process created yet: nothing is measured");
		return -EAGAIN;
	}
	memcpy(r, REPORT_MAGIC, sizeof(REPORT_MAGIC));
	put32(r + 16, REPORT_FORMAT);
	put32(r + 20, PAL_VERSION);
	put32(r + 24, region_fd != -1 ? REPORT_FLAG_REGION : 0);
	memcpy(r + 32, measurement, SHA256_DIGEST_SIZE);
	pthread_mutex_unlock(&mu);
	if (target_info_len > 0)
		memcpy(r + 64, target_info, (size_t)target_info_len);
	sha256_init(&s);
	sha256_update(&s, r, 128);
	sha256_final(&s, r + 128);
	memcpy(report, r, REPORT_SIZE);
	*report_len = REPORT_SIZE;
	return 0;
}
#endif

PAL_EXPORT int pal_destroy(void)
{
	struct proc *p, *next;
	int status;

	pthread_mutex_lock(&mu);
	if (!initialized) {
		pthread_mutex_unlock(&mu);
		return -EINVAL;
	}
	initialized = 0;	/* no new process from here on */
	for (p = procs; p != NULL; p = p->next)
		if (p->state != PROC_EXITED)
			kill(p->pid, SIGKILL);
	/* Processes nobody runs are reaped here; pal_exec reaps the others. */
	for (p = procs; p != NULL; p = next) {
		next = p->next;
		if (p->state != PROC_CREATED)
			continue;
		close(p->gate);
		close(p->errpipe);
		while (waitpid(p->pid, &status, 0) < 0 && errno == EINTR) ;
		release_tty(p);
		unlink_proc(p);
		free(p);
	}
	while (procs != NULL)
		pthread_cond_wait(&exited, &mu);
	if (region_fd != -1)
		close(region_fd);
	region_fd = -1;
	region_addr = 0;
	measured = 0;
	pthread_mutex_unlock(&mu);
	logf_(LOG_DEBUG, "destroyed");
	return 0;
}
