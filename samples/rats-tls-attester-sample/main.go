// Command rats-tls-attester-sample is an attester shipped outside the tree
// of Inclavare's built-in instances, as a TEE vendor would ship one: a
// separate binary that Rats-TLS hosts run as a subprocess plugin. See the
// README beside this file for how to write, build, install and use one.
//
// This sample attests nothing (it runs on any machine): its evidence is of
// type "null", so peers accept it only with the null verifier. A real
// attester returns its TEE's quote or report over the 64 bytes of report
// data from Collect, with the evidence type that names it.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/plugin"
	"github.com/inclavare/inclavare/framework/registry"
)

// registration says what the attester is and how to make one. Its name must
// match the binary name: rats-tls-attester-<name>.
var registration = &registry.Registration{
	Descriptor: instance.Descriptor{
		Kind:     instance.KindAttester,
		Name:     "sample",
		Type:     instance.EvidenceTypeNull,
		Priority: 1,
	},
	// Probe says whether this machine can attest; a real attester checks
	// for its device here and wraps instance.ErrUnavailable with the reason.
	Probe: func(context.Context) error {
		if os.Getenv("RATS_TLS_SAMPLE_ATTESTER_OFF") != "" {
			return fmt.Errorf("RATS_TLS_SAMPLE_ATTESTER_OFF is set: %w", instance.ErrUnavailable)
		}
		return nil
	},
	New: func(context.Context, instance.Options) (instance.Instance, error) {
		return attester{}, nil
	},
}

type attester struct{}

func (attester) Descriptor() instance.Descriptor { return registration.Descriptor }

func (attester) Close() error { return nil }

// Collect would ask the TEE for evidence over reportData.
func (attester) Collect(_ context.Context, reportData []byte) (instance.Evidence, error) {
	if len(reportData) != instance.ReportDataSize {
		return instance.Evidence{}, fmt.Errorf("report data has %d bytes, want %d", len(reportData), instance.ReportDataSize)
	}
	return instance.Evidence{Type: instance.EvidenceTypeNull}, nil
}

// Endorsements would return the TEE vendor's collateral for ev.
func (attester) Endorsements(context.Context, instance.Evidence) ([]byte, error) { return nil, nil }

func main() { plugin.Serve(registration) }
