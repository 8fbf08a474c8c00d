// Package testtee is a pretend TEE for the tests of package ratstls: an
// attester and a verifier of evidence type "sgx_la" (so the evidence travels
// under CBOR tag 60002) that need no hardware.
//
// The evidence is the 64 bytes of report data followed by HMAC-SHA256 over
// them under [Key]. The verifier checks the MAC and that the report data is
// the one the framework expects, and vouches for {"report_data": hex}.
//
// Nothing here registers itself: a test passes [Attester] and [Verifier] to
// registry.NewCatalog (see [Catalog]) and sets Config.Catalog, so that no
// other test sees them.
package testtee

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"

	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/registry"
)

const (
	// Name is the name of both instances.
	Name = "testtee"
	// EvidenceType is borrowed from SGX local attestation for its tag.
	EvidenceType = "sgx_la"
	// Priority is above the null attester's 0, so automatic selection
	// picks the test TEE when its catalog holds it.
	Priority = 10
	// Source is the Registration.Source of both instances.
	Source = "internal/testtee"
	// EvidenceSize is the size of the evidence: report data and MAC.
	EvidenceSize = instance.ReportDataSize + sha256.Size
)

// Key is the fixed MAC key shared by the attester and the verifier. Tests
// that forge evidence use it too.
var Key = []byte("inclavare rats-tls test TEE key, not a secret")

// Attester describes the test attester.
var Attester = &registry.Registration{
	Descriptor: instance.Descriptor{Kind: instance.KindAttester, Name: Name, Type: EvidenceType, Priority: Priority},
	Source:     Source,
	New: func(context.Context, instance.Options) (instance.Instance, error) {
		return attester{}, nil
	},
}

// Verifier describes the test verifier.
var Verifier = &registry.Registration{
	Descriptor: instance.Descriptor{Kind: instance.KindVerifier, Name: Name, Type: EvidenceType, Priority: Priority},
	Source:     Source,
	New: func(context.Context, instance.Options) (instance.Instance, error) {
		return verifier{}, nil
	},
}

// Catalog returns the built-ins (those registered in this binary) plus the
// test attester and verifier.
func Catalog(log *slog.Logger) *registry.Catalog {
	return registry.NewCatalog(false, []*registry.Registration{Attester, Verifier}, log)
}

// Evidence returns the evidence the test attester makes for reportData.
func Evidence(reportData []byte) []byte {
	m := hmac.New(sha256.New, Key)
	m.Write(reportData)
	return m.Sum(append([]byte(nil), reportData...))
}

type attester struct{}

func (attester) Descriptor() instance.Descriptor { return Attester.Descriptor }

func (attester) Close() error { return nil }

func (attester) Collect(_ context.Context, reportData []byte) (instance.Evidence, error) {
	if len(reportData) != instance.ReportDataSize {
		return instance.Evidence{}, fmt.Errorf("testtee: report data has %d bytes, want %d", len(reportData), instance.ReportDataSize)
	}
	return instance.Evidence{Type: EvidenceType, Data: Evidence(reportData)}, nil
}

func (attester) Endorsements(context.Context, instance.Evidence) ([]byte, error) { return nil, nil }

type verifier struct{}

func (verifier) Descriptor() instance.Descriptor { return Verifier.Descriptor }

func (verifier) Close() error { return nil }

func (verifier) Verify(_ context.Context, ev instance.Evidence, reportData, _ []byte) (instance.Claims, error) {
	if ev.Type != EvidenceType {
		return nil, fmt.Errorf("testtee verifies %q evidence, not %q", EvidenceType, ev.Type)
	}
	if len(ev.Data) != EvidenceSize {
		return nil, fmt.Errorf("testtee evidence has %d bytes, want %d", len(ev.Data), EvidenceSize)
	}
	rd, mac := ev.Data[:instance.ReportDataSize], ev.Data[instance.ReportDataSize:]
	m := hmac.New(sha256.New, Key)
	m.Write(rd)
	if !hmac.Equal(m.Sum(nil), mac) {
		return nil, fmt.Errorf("testtee evidence HMAC does not verify")
	}
	if !hmac.Equal(rd, reportData) {
		return nil, fmt.Errorf("testtee report data %x does not match the expected %x", rd, reportData)
	}
	return instance.Claims{"report_data": hex.EncodeToString(rd)}, nil
}
