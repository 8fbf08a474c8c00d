// Package builtins compiles every built-in instance into a binary: import it
// for its side effects.
package builtins

import (
	// Built-in attesters.
	_ "github.com/inclavare/inclavare/attesters/nullattester"
	_ "github.com/inclavare/inclavare/attesters/sevsnp"
	_ "github.com/inclavare/inclavare/attesters/sevsnpsim"
	// Built-in verifiers.
	_ "github.com/inclavare/inclavare/verifiers/nullverifier"
	_ "github.com/inclavare/inclavare/verifiers/sevsnp"
	// Built-in TLS wrappers.
	_ "github.com/inclavare/inclavare/tlswrappers/gotls"
	_ "github.com/inclavare/inclavare/tlswrappers/nulltls"
	// Built-in crypto wrappers.
	_ "github.com/inclavare/inclavare/cryptowrappers/gocrypto"
	_ "github.com/inclavare/inclavare/cryptowrappers/nullcrypto"
)
