package intel_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/inclavare/inclavare/tee/intel"
)

// BenchmarkVerify measures verification of real quotes with warm caches
// (two ECDSA P-256 verifications: the QE report's and the quote's), a cold
// verification (every chain, CRL and collateral signature), and the floor:
// one ecdsa.VerifyASN1 with P-256 over SHA-256.
func BenchmarkVerify(b *testing.B) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, 432)
	d := sha256.Sum256(msg)
	sig, err := ecdsa.SignASN1(rand.Reader, key, d[:])
	if err != nil {
		b.Fatal(err)
	}
	b.Run("ecdsa-p256", func(b *testing.B) {
		b.ReportAllocs()
		start, n := cpuTime(), 0
		for b.Loop() {
			d := sha256.Sum256(msg)
			if !ecdsa.VerifyASN1(&key.PublicKey, d[:], sig) {
				b.Fatal("no")
			}
			n++
		}
		reportCPU(b, start, n)
	})
	for _, c := range []struct {
		name string
		v    vector
		cold bool
	}{
		{"sgx_ecdsa", oasisSGX, false},
		{"tdx_ecdsa", oasisTDX, false},
		{"sgx_ecdsa_cold", oasisSGX, true},
		{"sgx_ecdsa_crls", dcapSGX, false},
		{"sgx_ecdsa_crls_cold", dcapSGX, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			raw, col, o := c.v.raw(b), c.v.coll(b), c.v.opts()
			v, err := intel.NewVerifier(o)
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			if _, err := v.Verify(ctx, raw, col); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			start, n := cpuTime(), 0
			for b.Loop() {
				n++
				if c.cold {
					o.Cache.Clear()
				}
				a, err := v.Verify(ctx, raw, col)
				if err != nil {
					b.Fatal(err)
				}
				if a.CachedPCK == c.cold {
					b.Fatal("cache state")
				}
			}
			reportCPU(b, start, n)
		})
	}
}

// reportCPU reports the process's CPU time per operation beside ns/op: a
// cold verification runs its independent checks concurrently, so its wall
// time is below its CPU time.
func reportCPU(b *testing.B, start time.Duration, n int) {
	if used := cpuTime() - start; used > 0 && n > 0 {
		b.ReportMetric(float64(used.Nanoseconds())/float64(n), "cpu-ns/op")
	}
}

// BenchmarkParseCollateral measures the JSON reading of the signed TCB info
// and QE identity, which every cold verification pays.
func BenchmarkParseCollateral(b *testing.B) {
	c := oasisSGX.coll(b)
	b.Run("tcbinfo", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := intel.ParseTCBInfo(c.TCBInfo); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("qeidentity", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := intel.ParseQEIdentity(c.QEIdentity); err != nil {
				b.Fatal(err)
			}
		}
	})
}
