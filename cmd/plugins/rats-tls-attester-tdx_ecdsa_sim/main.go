// Command rats-tls-attester-tdx_ecdsa_sim serves the tdx_ecdsa_sim attester as a Rats-TLS subprocess plugin.
// A host starts it; it is not meant to be run by hand.
package main

import (
	"github.com/inclavare/inclavare/attesters/tdxecdsasim"
	"github.com/inclavare/inclavare/framework/plugin"
)

func main() { plugin.Serve(tdxecdsasim.Registration) }
