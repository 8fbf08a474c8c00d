package ratstls_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/ratstls"
	"github.com/inclavare/inclavare/framework/ratstls/internal/testtee"
	"github.com/inclavare/inclavare/framework/registry"
)

// countingVerifier is the test TEE verifier, counting its verifications.
type countingVerifier struct {
	instance.Verifier
	n *atomic.Int32
}

func (v countingVerifier) Verify(ctx context.Context, ev instance.Evidence, rd, e []byte) (instance.Claims, error) {
	v.n.Add(1)
	return v.Verifier.Verify(ctx, ev, rd, e)
}

// TestNoneModeVerdictRemembered: in none mode a client verifies a server's
// unchanged certificate once per EvidenceTTL, by its clock; the callback
// runs on every connection; nonce and exporter sessions always verify.
func TestNoneModeVerdictRemembered(t *testing.T) {
	noLeak(t)
	var verified atomic.Int32
	counting := &registry.Registration{
		Descriptor: testtee.Verifier.Descriptor,
		New: func(ctx context.Context, o instance.Options) (instance.Instance, error) {
			v, err := testtee.Verifier.New(ctx, o)
			if err != nil {
				return nil, err
			}
			return countingVerifier{v.(instance.Verifier), &verified}, nil
		},
	}
	cat := registry.NewCatalog(false, []*registry.Registration{testtee.Attester, counting}, quiet)
	for _, mode := range []ratstls.Freshness{ratstls.FreshnessNone, ratstls.FreshnessNonce, ratstls.FreshnessExporter} {
		t.Run(string(mode), func(t *testing.T) {
			verified.Store(0)
			now := time.Now()
			var callbacks atomic.Int32
			srv := &ratstls.Config{Catalog: cat, Freshness: mode, Logger: quiet}
			cli := &ratstls.Config{Catalog: cat, Freshness: mode, Logger: quiet, EvidenceTTL: time.Minute,
				Time:       func() time.Time { return now },
				VerifyPeer: func(context.Context, *ratstls.Peer) error { callbacks.Add(1); return nil }}
			closeConfig(t, srv, cli)
			s := startServer(t, srv)
			for range 3 {
				if p, _ := s.good(t, cli); p == nil || !p.Attested || p.Claims["report_data"] == "" {
					t.Fatalf("peer %+v", p)
				}
			}
			want := int32(3)
			if mode == ratstls.FreshnessNone {
				want = 1
			}
			if got := verified.Load(); got != want {
				t.Errorf("%d connections verified %d times, want %d", 3, got, want)
			}
			if got := callbacks.Load(); got != 3 {
				t.Errorf("the callback ran %d times for 3 connections", got)
			}
			now = now.Add(time.Minute + time.Second) // past the TTL: verify again
			s.good(t, cli)
			if got := verified.Load(); got != want+1 {
				t.Errorf("after the TTL: %d verifications, want %d", got, want+1)
			}
		})
	}
}
