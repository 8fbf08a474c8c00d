package server

import (
	"context"
	"encoding/hex"
	"testing"

	"github.com/inclavare/inclavare/appraisal/ear"
	appref "github.com/inclavare/inclavare/appraisal/reference"
	"github.com/inclavare/inclavare/framework/ratstls"
	"github.com/inclavare/inclavare/shelter/remote"
	"github.com/inclavare/inclavare/shelter/verify"
	snp "github.com/inclavare/inclavare/tee/sevsnp"
)

// BenchmarkRemoteAttestation is one remote attestation of a sev_snp_sim
// workload with fresh evidence (nonce mode) and its reference value:
//
//   - direct: shelter attests the workload itself (one Rats-TLS handshake,
//     the workload's evidence verified and appraised);
//   - inclavared: shelter -> inclavared -> workload (remote.Attest): the
//     channel to inclavared, inclavared's handshake with the workload, and
//     shelter's own re-verification of the forwarded evidence;
//   - inclavared-channel-none: the same with the channel to inclavared in
//     none mode (inclavared's evidence on its key, its verdict remembered
//     by shelter), the workload's still fresh.
//
// The ratio of the last two to direct is the cost of the forwarding hop.
func BenchmarkRemoteAttestation(b *testing.B) {
	ref := appref.Values{EvidenceType: "sev_snp", Measurements: map[string]string{"measurement": digestHex()}}
	xfer := workload(b, "tcp", "127.0.0.1:0", echo)
	ctx := context.Background()

	b.Run("direct", func(b *testing.B) {
		cfg := &ratstls.Config{AllowSimulated: true, Freshness: ratstls.FreshnessNonce, Logger: quiet}
		defer cfg.Close()
		for b.Loop() {
			c, err := ratstls.Dial(ctx, xfer.Network, xfer.Addr, cfg)
			if err != nil {
				b.Fatal(err)
			}
			p := c.Peer()
			if err := ref.Check(p.EvidenceType, p.Claims); err != nil {
				b.Fatal(err)
			}
			c.Close()
		}
	})
	for _, c := range []struct {
		name    string
		channel ratstls.Freshness
	}{{"inclavared", ratstls.FreshnessNonce}, {"inclavared-channel-none", ratstls.FreshnessNone}} {
		b.Run(c.name, func(b *testing.B) {
			s := start(b, xfer, func(o *Options) {
				o.Shelter = &ratstls.Config{Attester: "sev_snp_sim", Freshness: c.channel, Logger: quiet}
				o.Workload = &ratstls.Config{AllowSimulated: true, Freshness: ratstls.FreshnessNonce, Logger: quiet}
			})
			cfg := &ratstls.Config{AllowSimulated: true, Freshness: c.channel, Logger: quiet}
			defer cfg.Close()
			opts := remote.Options{
				Addr: s.addr.String(), Config: cfg, Verify: verify.Options{AllowSimulated: true},
				Reference: &ref, ReferenceName: "bench",
			}
			for b.Loop() {
				res, err := remote.Attest(ctx, opts)
				if err != nil {
					b.Fatal(err)
				}
				if res.Workload.Appraisal.Status == ear.Contraindicated || !res.ReferenceChecked {
					b.Fatalf("verdict %s", res.Workload.Appraisal.Status)
				}
			}
		})
	}
}

// digestHex is the simulated SEV-SNP guest's default launch measurement.
func digestHex() string {
	d := snp.DefaultLaunchDigest()
	return hex.EncodeToString(d[:])
}
