// Command rats-tls-manifest writes the manifest of a Rats-TLS plugin
// directory: the SHA-256 of every plugin binary in it, which a host checks
// before it starts a plugin.
//
//	rats-tls-manifest DIR
package main

import (
	"fmt"
	"os"

	"github.com/inclavare/inclavare/framework/plugin"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintf(os.Stderr, "usage: %s DIR\n\nwrites DIR/%s, listing the SHA-256 of every plugin binary in DIR\n", os.Args[0], plugin.ManifestName)
		os.Exit(2)
	}
	if err := plugin.WriteManifest(os.Args[1]); err != nil {
		fmt.Fprintf(os.Stderr, "rats-tls-manifest: %v\n", err)
		os.Exit(1)
	}
}
