// Command rats-tls-verifier-sev_snp serves the sev_snp verifier as a Rats-TLS subprocess plugin.
// A host starts it; it is not meant to be run by hand.
package main

import (
	"github.com/inclavare/inclavare/framework/plugin"
	"github.com/inclavare/inclavare/verifiers/sevsnp"
)

func main() { plugin.Serve(sevsnp.Registration) }
