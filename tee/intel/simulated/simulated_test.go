package simulated

import (
	"bytes"
	"context"
	"crypto/x509"
	"testing"

	"github.com/inclavare/inclavare/tee/intel"
)

// TestQuotesVerify: simulated SGX and TDX quotes verify up to the simulated
// root with the simulated collateral (from the endorsements), UpToDate,
// with revocation checked, and pass the default policy.
func TestQuotesVerify(t *testing.T) {
	sim, err := NewSimulator(Options{})
	if err != nil {
		t.Fatal(err)
	}
	root, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	rd := bytes.Repeat([]byte{0xab}, 64)
	for _, tdx := range []bool{false, true} {
		q, err := sim.SGXQuote(rd)
		if tdx {
			q, err = sim.TDXQuote(rd)
		}
		if err != nil {
			t.Fatal(err)
		}
		end, err := sim.Endorsements(tdx)
		if err != nil {
			t.Fatal(err)
		}
		c, err := intel.DecodeEndorsements(end)
		if err != nil {
			t.Fatal(err)
		}
		v, err := intel.NewVerifier(intel.Options{Roots: []*x509.Certificate{root}, Cache: intel.NewCache(4), RequireCRLs: true})
		if err != nil {
			t.Fatal(err)
		}
		a, err := v.Verify(context.Background(), q, c)
		if err != nil {
			t.Fatalf("tdx=%t: %v", tdx, err)
		}
		if a.TCBStatus != intel.TCBUpToDate || !a.RevocationChecked || a.Quote.IsTDX() != tdx {
			t.Errorf("tdx=%t: status %s, revocation %t, IsTDX %t", tdx, a.TCBStatus, a.RevocationChecked, a.Quote.IsTDX())
		}
		if err := intel.Validate(a, intel.Policy{ReportData: rd}); err != nil {
			t.Errorf("tdx=%t: %v", tdx, err)
		}
		if !IsSimulatedChain(a.Quote.CertData) {
			t.Errorf("tdx=%t: the quote's chain is not recognised as simulated", tdx)
		}
		// The Intel root does not accept it.
		if _, err := intel.Verify(context.Background(), q, intel.Options{Collateral: c, Cache: intel.NewCache(4)}); err == nil {
			t.Errorf("tdx=%t: the Intel root accepted a simulated quote", tdx)
		}
	}
}

func TestIntelChainIsNotSimulated(t *testing.T) {
	if IsSimulatedChain(PEM(mustRoot(t))[:0]) {
		t.Error("an empty chain is simulated")
	}
	root, err := intel.IntelRootCA()
	if err != nil {
		t.Fatal(err)
	}
	if IsSimulatedChain(PEM(root)) {
		t.Error("the Intel root is simulated")
	}
}

func mustRoot(t *testing.T) *x509.Certificate {
	r, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	return r
}
