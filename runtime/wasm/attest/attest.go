// Package attest gives a wasm enclave its evidence: an attester of a
// simulated TEE whose measurement is the module's (wasm.Measure, the
// SHA-256 of its bytes), and a Rats-TLS catalogue in which that attester is
// the only one, so that runelet-wasm's attested listener and `rune attest`
// present exactly the module that runs.
//
// A WebAssembly module cannot do TLS itself, so the enclave runtime that
// loaded it (runelet-wasm) attests on its behalf. Without TEE hardware the
// TEE is simulated: evidence in the real SGX quote format, signed by the
// TEST-ONLY hierarchy of tee/intel/simulated, which verifiers trust only
// with AllowSimulated. With hardware the evidence must come from inside the
// TEE, from the runtime the TEE measured; this package is the stand-in.
//
// The supported attesters are listed in Attesters. The measurement lands in
// the claim that identifies the code: for sgx_ecdsa_sim, MRENCLAVE (32
// bytes, exactly a SHA-256).
package attest

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/registry"
	"github.com/inclavare/inclavare/runtime/wasm"
	"github.com/inclavare/inclavare/tee/intel"
	"github.com/inclavare/inclavare/tee/intel/simulated"

	// The TLS and crypto wrappers of an attested listener.
	_ "github.com/inclavare/inclavare/cryptowrappers/gocrypto"
	_ "github.com/inclavare/inclavare/tlswrappers/gotls"
)

// DefaultAttester is the attester of a wasm enclave when none is named.
const DefaultAttester = "sgx_ecdsa_sim"

// Attesters are the attesters that can carry a module's measurement.
var Attesters = []string{DefaultAttester}

// EvidenceType is the evidence type of each attester in Attesters.
var EvidenceType = map[string]string{DefaultAttester: intel.EvidenceTypeSGX}

// Options describe the enclave an attester simulates.
type Options struct {
	// Debug marks the simulated enclave as a debug enclave.
	Debug bool
}

// NewAttester returns the attester name (one of Attesters; "" means
// DefaultAttester) of a simulated TEE whose measurement is m.
func NewAttester(name string, m wasm.Measurement, o Options) (instance.Attester, error) {
	if name == "" {
		name = DefaultAttester
	}
	switch name {
	case DefaultAttester:
		desc := instance.Descriptor{Kind: instance.KindAttester, Name: name, Type: intel.EvidenceTypeSGX, Priority: -1}
		a, err := simulated.NewAttester(desc, simulated.Options{Debug: o.Debug, MREnclave: m})
		if err != nil {
			return nil, fmt.Errorf("creating the %s attester of module %s: %w", name, m, err)
		}
		return a, nil
	}
	return nil, fmt.Errorf("attester %q cannot carry a wasm module's measurement: use one of %s", name, strings.Join(Attesters, ", "))
}

// CheckName reports whether name ("" for the default) is one of
// Attesters, with an error that lists them.
func CheckName(name string) error {
	if name == "" || slices.Contains(Attesters, name) {
		return nil
	}
	return fmt.Errorf("attester %q cannot carry a wasm module's measurement: use one of %s", name, strings.Join(Attesters, ", "))
}

// Catalog returns a Rats-TLS catalogue whose only attester is name over
// m (see NewAttester), with the built-in TLS wrappers, crypto wrappers and
// verifiers this binary has registered. No plugin is loaded: the module's
// identity comes from this process alone.
func Catalog(name string, m wasm.Measurement, o Options, log *slog.Logger) (*registry.Catalog, error) {
	if name == "" {
		name = DefaultAttester
	}
	if err := CheckName(name); err != nil {
		return nil, err
	}
	regs := []*registry.Registration{{
		Descriptor: instance.Descriptor{Kind: instance.KindAttester, Name: name, Type: EvidenceType[name], Priority: -1},
		Source:     registry.SourceBuiltin,
		New: func(context.Context, instance.Options) (instance.Instance, error) {
			return NewAttester(name, m, o)
		},
	}}
	for _, r := range registry.Builtins() {
		if r.Descriptor.Kind != instance.KindAttester {
			regs = append(regs, r)
		}
	}
	return registry.NewCatalog(true, regs, log), nil
}
