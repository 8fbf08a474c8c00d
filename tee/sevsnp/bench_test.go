package sevsnp

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"testing"
)

// BenchmarkVerify measures what a verifier instance does per handshake:
// decode the endorsements, parse the report, verify it, validate it and
// make the claims.
//
//   - sev_snp: warm, the chain is cached; one P-384 signature check.
//   - ecdsa-p384: the floor, a single ecdsa.VerifyASN1 of a SHA-384 digest
//     with a P-384 key (the digest computed beforehand).
//   - sev_snp_cold: the chain cache is cleared before each verification
//     (two RSA-4096 signature checks and certificate parsing on top).
//
// Run with -count 6 and compare medians; the goal is sev_snp within 1.10x
// of ecdsa-p384. Each case also reports cpu-ns/op, the process's CPU time
// (GC included) per operation, which other load on a shared machine
// disturbs less than ns/op.
func BenchmarkVerify(b *testing.B) {
	s := newSimulator(b, SimulatorOptions{})
	rd := make([]byte, 64)
	rd[0] = 1
	report := simReport(b, s, rd)
	item, err := EncodeEndorsements(s.Certificates().CertTable())
	if err != nil {
		b.Fatal(err)
	}
	policy := Policy{ReportData: rd}
	once := func(b *testing.B, v *Verifier) {
		table, err := DecodeEndorsements(item)
		if err != nil {
			b.Fatal(err)
		}
		a, err := v.Verify(ctx, report, CertificatesOf(table))
		if err != nil {
			b.Fatal(err)
		}
		if err := Validate(a.Report, policy); err != nil {
			b.Fatal(err)
		}
		if c := Claims(a); c["simulated"] != true {
			b.Fatal("claims")
		}
	}

	b.Run("sev_snp", func(b *testing.B) {
		v := newVerifier(b, simNow, func(o *Options) { o.AllowSimulated = true })
		once(b, v) // warm the chain cache
		measure(b, func() { once(b, v) })
	})
	b.Run("ecdsa-p384", func(b *testing.B) {
		k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		digest := sha512.Sum384(report[:signedSize])
		sig, err := ecdsa.SignASN1(rand.Reader, k, digest[:])
		if err != nil {
			b.Fatal(err)
		}
		pub := &k.PublicKey
		measure(b, func() {
			if !ecdsa.VerifyASN1(pub, digest[:], sig) {
				b.Fatal("signature does not verify")
			}
		})
	})
	b.Run("sev_snp_cold", func(b *testing.B) {
		v := newVerifier(b, simNow, func(o *Options) { o.AllowSimulated = true })
		measure(b, func() {
			v.cache.Clear()
			once(b, v)
		})
	})
}

// measure runs op b.N times and reports allocations and cpu-ns/op.
func measure(b *testing.B, op func()) {
	b.ReportAllocs()
	start, n := cpuTime(), 0
	for b.Loop() {
		op()
		n++
	}
	if used := cpuTime() - start; used > 0 && n > 0 {
		b.ReportMetric(float64(used.Nanoseconds())/float64(n), "cpu-ns/op")
	}
}
