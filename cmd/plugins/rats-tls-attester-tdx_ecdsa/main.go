// Command rats-tls-attester-tdx_ecdsa serves the tdx_ecdsa attester as a Rats-TLS subprocess plugin.
// A host starts it; it is not meant to be run by hand.
package main

import (
	"github.com/inclavare/inclavare/attesters/tdxecdsa"
	"github.com/inclavare/inclavare/framework/plugin"
)

func main() { plugin.Serve(tdxecdsa.Registration) }
