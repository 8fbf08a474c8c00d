// Package builtins compiles every built-in instance into a binary: import it
// for its side effects.
package builtins

import (
	// Built-in attesters.
	_ "github.com/inclavare/inclavare/attesters/csv"
	_ "github.com/inclavare/inclavare/attesters/nullattester"
	_ "github.com/inclavare/inclavare/attesters/sevsnp"
	_ "github.com/inclavare/inclavare/attesters/sevsnpsim"
	_ "github.com/inclavare/inclavare/attesters/sgxecdsa"
	_ "github.com/inclavare/inclavare/attesters/sgxecdsasim"
	_ "github.com/inclavare/inclavare/attesters/sgxla"
	_ "github.com/inclavare/inclavare/attesters/tdxecdsa"
	_ "github.com/inclavare/inclavare/attesters/tdxecdsasim"
	// Built-in verifiers.
	_ "github.com/inclavare/inclavare/verifiers/csv"
	_ "github.com/inclavare/inclavare/verifiers/nullverifier"
	_ "github.com/inclavare/inclavare/verifiers/sevsnp"
	_ "github.com/inclavare/inclavare/verifiers/sgxecdsa"
	_ "github.com/inclavare/inclavare/verifiers/sgxla"
	_ "github.com/inclavare/inclavare/verifiers/tdxecdsa"
	// Built-in TLS wrappers.
	_ "github.com/inclavare/inclavare/tlswrappers/gotls"
	_ "github.com/inclavare/inclavare/tlswrappers/nulltls"
	// Built-in crypto wrappers.
	_ "github.com/inclavare/inclavare/cryptowrappers/gocrypto"
	_ "github.com/inclavare/inclavare/cryptowrappers/nullcrypto"
)
