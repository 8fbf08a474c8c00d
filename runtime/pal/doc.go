// Package pal loads an enclave runtime's PAL (a shared object exporting
// the PAL API, versions 1 to 3) with dlopen and calls it: Version, Init,
// CreateProcess, Exec, Kill, Destroy and GetLocalReport.
//
// The PAL API, as Inclavare implements it (samples/pal-skeleton/README.md
// has the C declarations and semantics):
//
//   - version 1: pal_init, pal_exec (path, argv, stdio, exit code: create
//     and run in one call, no environment), pal_destroy; pal_get_version
//     is optional and means 1 when absent;
//   - version 2: pal_get_version, pal_init, pal_create_process, pal_exec
//     (run a created process and wait for its exit code), pal_kill,
//     pal_destroy;
//   - version 3: version 2, with pal_init's attributes carrying the file
//     descriptor and address of a pre-created enclave (-1 and 0 when
//     none), and pal_get_local_report.
//
// Every PAL function returns 0 on success; a failure is a *CallError that
// unwraps to the errno the PAL returned (negated), when it is one.
//
// Loading a PAL runs its code (constructors, pal_get_version) in the
// calling process, so rune itself never loads one: it asks `runelet
// probe`, and only the runelet, inside the container, calls the PAL. A
// loaded PAL stays loaded for the life of the process. The package needs
// cgo.
package pal
