package main

/*
#include <sys/resource.h>

// The descriptor limit the runelet was started with, saved by a
// constructor before the Go runtime raises its soft limit to the hard one.
static struct rlimit runelet_nofile;
static int runelet_nofile_saved;

__attribute__((constructor)) static void runelet_save_nofile(void)
{
	runelet_nofile_saved = getrlimit(RLIMIT_NOFILE, &runelet_nofile) == 0;
}

static int runelet_restore_nofile(void)
{
	if (!runelet_nofile_saved)
		return 0;
	return setrlimit(RLIMIT_NOFILE, &runelet_nofile);
}
*/
import "C"

import "fmt"

// restoreNofile gives the PAL host back the descriptor limit it was
// started with (the container's, from the OCI spec), which the Go runtime
// raised, so that the workload the PAL forks inherits the limit it was
// given, as under runc.
func restoreNofile() error {
	if ret, err := C.runelet_restore_nofile(); ret != 0 {
		return fmt.Errorf("restoring the container's RLIMIT_NOFILE: %w", err)
	}
	return nil
}
