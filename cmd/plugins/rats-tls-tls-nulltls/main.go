// Command rats-tls-tls-nulltls serves the nulltls TLS wrapper as a Rats-TLS subprocess plugin.
// A host starts it; it is not meant to be run by hand.
package main

import (
	"github.com/inclavare/inclavare/framework/plugin"
	"github.com/inclavare/inclavare/tlswrappers/nulltls"
)

func main() { plugin.Serve(nulltls.Registration) }
