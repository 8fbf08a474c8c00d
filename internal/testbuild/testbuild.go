// Package testbuild builds the project's binaries for tests that run them
// for real: the plugins as `make build` does, with their manifest.
package testbuild

import (
	"fmt"
	"os"
	"os/exec"

	"github.com/inclavare/inclavare/framework/plugin"
)

// Module is the import path prefix of the project's packages.
const Module = "github.com/inclavare/inclavare"

// PluginPackages are every built-in instance as a plugin, and the sample
// external attester.
var PluginPackages = []string{Module + "/cmd/plugins/...", Module + "/samples/rats-tls-attester-sample"}

// Go runs `go build -o dir/ pkgs...`.
func Go(dir string, pkgs ...string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cmd := exec.Command("go", append([]string{"build", "-o", dir + string(os.PathSeparator)}, pkgs...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %v: %w\n%s", pkgs, err, out)
	}
	return nil
}

// Plugins builds PluginPackages (and extra packages) into dir and writes
// the plugin manifest there.
func Plugins(dir string, extra ...string) error {
	if err := Go(dir, append(PluginPackages, extra...)...); err != nil {
		return err
	}
	return plugin.WriteManifest(dir)
}
