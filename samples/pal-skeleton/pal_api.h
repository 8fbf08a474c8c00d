/*
 * The enclave runtime PAL API, versions 1 to 3, as Inclavare's runelet
 * calls it. A PAL is a shared object exporting these functions; the
 * runelet dlopens it in the container and drives it:
 *
 *   start: pal_get_version, pal_init, pal_create_process + pal_exec
 *   exec:  pal_create_process + pal_exec in the same instance
 *   kill:  pal_kill
 *   exit:  pal_destroy
 *
 * Version 1 has pal_init, pal_exec (its own signature, below) and
 * pal_destroy; pal_get_version is optional there (absent means 1).
 * Version 2 adds pal_get_version, pal_create_process, pal_kill and the
 * two-step pal_exec. Version 3 adds the pre-created enclave (fd and
 * address) to pal_init's attributes and pal_get_local_report.
 *
 * Every function returns 0 on success and a negative errno value on
 * failure. Strings and arrays passed in are valid only for the duration
 * of the call.
 */
#ifndef INCLAVARE_PAL_API_H
#define INCLAVARE_PAL_API_H

#include <stdint.h>

/* pal_init's attributes, versions 1 and 2. */
struct pal_attr_v1 {
	const char *args;	/* enclave.runtime.args */
	const char *log_level;	/* enclave.runtime.loglevel */
};

/* pal_init's attributes, version 3: fd is -1 and addr 0 when there is no
 * pre-created enclave. */
struct pal_attr_v3 {
	struct pal_attr_v1 attr_v1;
	int fd;
	uint64_t addr;
};

struct pal_stdio_fds {
	int stdin_fd, stdout_fd, stderr_fd;
};

/* pal_create_process's arguments (versions 2 and 3). */
struct pal_create_process_args {
	const char *path;		/* the executable */
	const char *const *argv;	/* NULL-terminated */
	const char *const *env;		/* NULL-terminated */
	const struct pal_stdio_fds *stdio;
	int *pid;			/* out: the process's id in the runtime */
};

/* pal_exec's arguments (versions 2 and 3). */
struct pal_exec_args {
	int pid;
	int *exit_value;	/* out: exit code, 128+N when killed by signal N */
};

int pal_get_version(void);

#if PAL_VERSION == 1
int pal_init(const struct pal_attr_v1 *attr);
int pal_exec(const char *path, const char *const argv[],
	     const struct pal_stdio_fds *stdio, int *exit_code);
#else
# if PAL_VERSION == 2
int pal_init(const struct pal_attr_v1 *attr);
# else
int pal_init(const struct pal_attr_v3 *attr);
# endif
int pal_create_process(struct pal_create_process_args *args);
int pal_exec(struct pal_exec_args *args);
/* pid > 0: that process; pid == -1: every process of the instance. */
int pal_kill(int pid, int sig);
#endif

#if PAL_VERSION >= 3
/* Writes a report of the enclave over target_info into report;
 * *report_len is the buffer's size on entry and the report's on return. */
int pal_get_local_report(const void *target_info, int target_info_len,
			 void *report, int *report_len);
#endif

int pal_destroy(void);

#endif
