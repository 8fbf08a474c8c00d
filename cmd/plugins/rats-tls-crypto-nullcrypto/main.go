// Command rats-tls-crypto-nullcrypto serves the nullcrypto crypto wrapper as a Rats-TLS subprocess plugin.
// A host starts it; it is not meant to be run by hand.
package main

import (
	"github.com/inclavare/inclavare/cryptowrappers/nullcrypto"
	"github.com/inclavare/inclavare/framework/plugin"
)

func main() { plugin.Serve(nullcrypto.Registration) }
