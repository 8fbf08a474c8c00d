// Command rats-tls-verifier-sgx_ecdsa serves the sgx_ecdsa verifier as a Rats-TLS subprocess plugin.
// A host starts it; it is not meant to be run by hand.
package main

import (
	"github.com/inclavare/inclavare/framework/plugin"
	"github.com/inclavare/inclavare/verifiers/sgxecdsa"
)

func main() { plugin.Serve(sgxecdsa.Registration) }
