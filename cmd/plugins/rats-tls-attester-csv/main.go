// Command rats-tls-attester-csv serves the csv attester as a Rats-TLS subprocess plugin.
// A host starts it; it is not meant to be run by hand.
package main

import (
	"github.com/inclavare/inclavare/attesters/csv"
	"github.com/inclavare/inclavare/framework/plugin"
)

func main() { plugin.Serve(csv.Registration) }
