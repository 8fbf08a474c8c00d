// Command rune is Inclavare's OCI runtime: runc-compatible, built on
// libcontainer, and able to start a container's workload inside an enclave
// runtime (a PAL shared object, or the built-in wasm runtime) when the
// bundle's configuration asks for one. See runtime/README.md.
package main

import (
	"os"

	// The cgroup managers apply device rules through this package.
	_ "github.com/opencontainers/cgroups/devices"
	"github.com/opencontainers/runc/libcontainer"
	// nsenter's constructor joins the container's namespaces before the Go
	// runtime starts when rune re-executes itself as `rune init`.
	_ "github.com/opencontainers/runc/libcontainer/nsenter"

	"github.com/inclavare/inclavare/runtime/runecli"
)

func init() {
	if len(os.Args) > 1 && os.Args[1] == "init" {
		// The container's init, re-executed by libcontainer: it never returns.
		libcontainer.Init()
	}
}

func main() {
	os.Exit(runecli.Main(os.Args))
}
