// Command rats-tls-crypto-gocrypto serves the gocrypto crypto wrapper as a Rats-TLS subprocess plugin.
// A host starts it; it is not meant to be run by hand.
package main

import (
	"github.com/inclavare/inclavare/cryptowrappers/gocrypto"
	"github.com/inclavare/inclavare/framework/plugin"
)

func main() { plugin.Serve(gocrypto.Registration) }
