// Command rats-tls-attester-nullattester serves the nullattester attester as a Rats-TLS subprocess plugin.
// A host starts it; it is not meant to be run by hand.
package main

import (
	"github.com/inclavare/inclavare/attesters/nullattester"
	"github.com/inclavare/inclavare/framework/plugin"
)

func main() { plugin.Serve(nullattester.Registration) }
