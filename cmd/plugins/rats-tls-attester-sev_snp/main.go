// Command rats-tls-attester-sev_snp serves the sev_snp attester as a Rats-TLS subprocess plugin.
// A host starts it; it is not meant to be run by hand.
package main

import (
	"github.com/inclavare/inclavare/attesters/sevsnp"
	"github.com/inclavare/inclavare/framework/plugin"
)

func main() { plugin.Serve(sevsnp.Registration) }
