// Command rats-tls-attester-sgx_la serves the sgx_la attester as a Rats-TLS subprocess plugin.
// A host starts it; it is not meant to be run by hand.
package main

import (
	"github.com/inclavare/inclavare/attesters/sgxla"
	"github.com/inclavare/inclavare/framework/plugin"
)

func main() { plugin.Serve(sgxla.Registration) }
