// Command rats-tls-verifier-nullverifier serves the nullverifier verifier as a Rats-TLS subprocess plugin.
// A host starts it; it is not meant to be run by hand.
package main

import (
	"github.com/inclavare/inclavare/framework/plugin"
	"github.com/inclavare/inclavare/verifiers/nullverifier"
)

func main() { plugin.Serve(nullverifier.Registration) }
