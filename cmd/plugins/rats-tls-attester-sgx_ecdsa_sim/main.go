// Command rats-tls-attester-sgx_ecdsa_sim serves the sgx_ecdsa_sim attester as a Rats-TLS subprocess plugin.
// A host starts it; it is not meant to be run by hand.
package main

import (
	"github.com/inclavare/inclavare/attesters/sgxecdsasim"
	"github.com/inclavare/inclavare/framework/plugin"
)

func main() { plugin.Serve(sgxecdsasim.Registration) }
