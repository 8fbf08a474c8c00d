// Command rats-tls-attester-sgx_ecdsa serves the sgx_ecdsa attester as a Rats-TLS subprocess plugin.
// A host starts it; it is not meant to be run by hand.
package main

import (
	"github.com/inclavare/inclavare/attesters/sgxecdsa"
	"github.com/inclavare/inclavare/framework/plugin"
)

func main() { plugin.Serve(sgxecdsa.Registration) }
