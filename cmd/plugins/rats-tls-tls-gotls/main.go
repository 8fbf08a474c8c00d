// Command rats-tls-tls-gotls serves the gotls TLS wrapper as a Rats-TLS subprocess plugin.
// A host starts it; it is not meant to be run by hand.
package main

import (
	"github.com/inclavare/inclavare/framework/plugin"
	"github.com/inclavare/inclavare/tlswrappers/gotls"
)

func main() { plugin.Serve(gotls.Registration) }
