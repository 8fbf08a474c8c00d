// Command rats-tls-verifier-csv serves the csv verifier as a Rats-TLS subprocess plugin.
// A host starts it; it is not meant to be run by hand.
package main

import (
	"github.com/inclavare/inclavare/framework/plugin"
	"github.com/inclavare/inclavare/verifiers/csv"
)

func main() { plugin.Serve(csv.Registration) }
