// Command rats-tls-verifier-sgx_la serves the sgx_la verifier as a Rats-TLS subprocess plugin.
// A host starts it; it is not meant to be run by hand.
package main

import (
	"github.com/inclavare/inclavare/framework/plugin"
	"github.com/inclavare/inclavare/verifiers/sgxla"
)

func main() { plugin.Serve(sgxla.Registration) }
