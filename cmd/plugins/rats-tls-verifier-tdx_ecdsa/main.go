// Command rats-tls-verifier-tdx_ecdsa serves the tdx_ecdsa verifier as a Rats-TLS subprocess plugin.
// A host starts it; it is not meant to be run by hand.
package main

import (
	"github.com/inclavare/inclavare/framework/plugin"
	"github.com/inclavare/inclavare/verifiers/tdxecdsa"
)

func main() { plugin.Serve(tdxecdsa.Registration) }
