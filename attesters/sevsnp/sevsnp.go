// Package sevsnp is the AMD SEV-SNP attester: in an SEV-SNP guest it gets a
// report over the report data from the guest's report interface
// (configfs-tsm, else /dev/sev-guest), and the certificates the host
// provides with it (the extended report's certificate table or the
// configfs-tsm auxblob) as endorsements. Everything SEV-SNP lives in
// tee/sevsnp; this is the instance around it.
package sevsnp

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/google/go-sev-guest/abi"

	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/registry"
	snp "github.com/inclavare/inclavare/tee/sevsnp"
)

// Name is the instance name, as in the C Rats-TLS.
const Name = "sev_snp"

// Registration describes the SEV-SNP attester. It is usable only in an
// SEV-SNP guest: its probe says what is missing elsewhere.
var Registration = &registry.Registration{
	Descriptor: instance.Descriptor{Kind: instance.KindAttester, Name: Name, Type: snp.EvidenceType, Priority: 100},
	Probe:      snp.Probe,
	New: func(ctx context.Context, opts instance.Options) (instance.Instance, error) {
		d, err := snp.OpenDevice(ctx)
		if err != nil {
			return nil, err
		}
		if opts.DebugEnclave {
			slog.Default().Info("sev_snp: the guest's debug policy is set at launch by the host; --debug-enclave does not change it")
		}
		return &attester{dev: d}, nil
	},
}

func init() { registry.Register(Registration) }

type attester struct {
	dev *snp.Device

	mu         sync.Mutex
	lastReport []byte
	lastTable  *abi.CertTable
}

// Descriptor says what the instance is.
func (*attester) Descriptor() instance.Descriptor { return Registration.Descriptor }

// Close releases nothing: the instance holds no resources.
func (*attester) Close() error { return nil }

// Collect returns the raw report over reportData.
func (a *attester) Collect(ctx context.Context, reportData []byte) (instance.Evidence, error) {
	report, table, err := a.dev.Attest(ctx, reportData)
	if err != nil {
		return instance.Evidence{}, err
	}
	a.mu.Lock()
	a.lastReport, a.lastTable = report, table
	a.mu.Unlock()
	return instance.Evidence{Type: snp.EvidenceType, Data: report}, nil
}

// Endorsements returns the certificate table that came with ev, when the
// host provided certificates with it, as the sev_snp endorsements item.
func (a *attester) Endorsements(_ context.Context, ev instance.Evidence) ([]byte, error) {
	if ev.Type != snp.EvidenceType {
		return nil, fmt.Errorf("the sev_snp attester has no endorsements for %q evidence", ev.Type)
	}
	a.mu.Lock()
	report, table := a.lastReport, a.lastTable
	a.mu.Unlock()
	if table == nil || !bytes.Equal(report, ev.Data) {
		return nil, nil // the host provided no certificates with this report
	}
	return snp.EncodeEndorsements(table)
}
