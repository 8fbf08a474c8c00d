package intel_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/inclavare/inclavare/internal/testvectors"
	"github.com/inclavare/inclavare/tee/intel"
	"github.com/inclavare/inclavare/tee/intel/inteltest"
)

var quoteSeeds = []string{
	"sgx/quote_v3_ecdsa_p256_pck_chain.bin", "sgx/quote_v3_ecdsa_p256_eppid.bin", "sgx/dcapqvl_sgx_quote.bin",
	"tdx/quote_v4_tdx_ecdsa_p256.bin", "tdx/quote_v4_tdx_ecdsa_p256_out_of_date.bin", "tdx/quote_v4_tdx_ecdsa_p256_trailing.bin",
	"tdx/dcapqvl_tdx_quote.bin", "tdx/dcapqvl_tdx_quote_outdated.bin",
}

// FuzzParseQuote: any input is either refused or parsed into a quote whose
// parts lie inside it, that parses again from its own bytes, strictly, to
// the same quote; never a panic.
func FuzzParseQuote(f *testing.F) {
	for _, s := range quoteSeeds {
		f.Add(testvectors.Read(f, s), false)
	}
	fk := newFake(f, inteltest.PlatformOptions{})
	f.Add(fk.sgx(f, inteltest.QuoteOptions{}), true)
	f.Add(fk.tdx(f, inteltest.QuoteOptions{}), false)
	f.Add([]byte{3, 0, 2, 0}, false)
	f.Fuzz(func(t *testing.T, b []byte, trailing bool) {
		q, err := intel.ParseQuoteWith(b, intel.ParseOptions{AllowTrailing: trailing})
		if err != nil {
			if q != nil {
				t.Fatal("a quote and an error")
			}
			return
		}
		if len(q.Raw)+q.Trailing != len(b) || (q.Trailing > 0 && !trailing) {
			t.Fatalf("quote of %d bytes and %d trailing from %d", len(q.Raw), q.Trailing, len(b))
		}
		if (q.Enclave == nil) == (q.TD == nil) || len(q.SignedBytes()) > len(q.Raw) || len(q.QEReport.Raw) != intel.EnclaveReportSize {
			t.Fatal("inconsistent quote")
		}
		again, err := intel.ParseQuote(q.Raw)
		if err != nil {
			t.Fatalf("a quote's own bytes do not parse: %v", err)
		}
		if !bytes.Equal(again.CertData, q.CertData) || !bytes.Equal(again.QEAuthData, q.QEAuthData) || again.Header != q.Header || !bytes.Equal(again.ReportData(), q.ReportData()) {
			t.Fatal("the quote changed when parsed again")
		}
		_ = q.Debug()
		_ = q.EvidenceType()
	})
}

// FuzzVerifyQuote: a changed real quote never panics the verifier and is
// refused unless it is the original.
func FuzzVerifyQuote(f *testing.F) {
	raw := oasisSGX.raw(f)
	c := oasisSGX.coll(f)
	f.Add(raw)
	f.Add(raw[:1000])
	v, err := intel.NewVerifier(oasisSGX.opts())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := v.Verify(context.Background(), b, c)
		if err == nil && !bytes.Equal(a.Quote.SignedBytes(), raw[:len(a.Quote.SignedBytes())]) {
			t.Fatal("a changed report verified")
		}
	})
}

// FuzzParseCollateralJSON: any input is refused or read into collateral
// that writes and reads back to the same; never a panic.
func FuzzParseCollateralJSON(f *testing.F) {
	for _, v := range []vector{oasisSGX, dcapSGX, oasisTDX, oasisOld, dcapTDX, dcapTDXOld} {
		f.Add(testvectors.Read(f, v.collateral))
	}
	f.Add([]byte(`{"tcb_info":"{\"tcbInfo\":{},\"signature\":\"00\"}"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := intel.ParseCollateralJSON(b)
		if err != nil {
			return
		}
		out, err := c.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		back, err := intel.ParseCollateralJSON(out)
		if err != nil {
			t.Fatalf("written collateral does not read: %v", err)
		}
		if !bytes.Equal(back.TCBInfo, c.TCBInfo) || !bytes.Equal(back.QEIdentitySignature, c.QEIdentitySignature) || !bytes.Equal(back.PCKCRL, c.PCKCRL) {
			t.Fatal("collateral changed in a round trip")
		}
		_, _ = intel.ParseTCBInfo(c.TCBInfo)
		_, _ = intel.ParseQEIdentity(c.QEIdentity)
	})
}

// FuzzDecodeEndorsements: any item is refused or decodes into collateral
// that encodes and decodes to the same; never a panic.
func FuzzDecodeEndorsements(f *testing.F) {
	for _, v := range []vector{oasisSGX, dcapSGX, dcapTDX} {
		item, err := intel.EncodeEndorsements(v.coll(f))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(item)
	}
	f.Add([]byte{0x88})
	f.Fuzz(func(t *testing.T, item []byte) {
		c, err := intel.DecodeEndorsements(item)
		if err != nil {
			return
		}
		again, err := intel.EncodeEndorsements(c)
		if err != nil {
			t.Fatalf("decoded endorsements do not encode: %v", err)
		}
		back, err := intel.DecodeEndorsements(again)
		if err != nil {
			t.Fatalf("re-encoded endorsements do not decode: %v", err)
		}
		if !bytes.Equal(back.TCBInfo, c.TCBInfo) || !bytes.Equal(back.QEIdentity, c.QEIdentity) || !bytes.Equal(back.RootCACRL, c.RootCACRL) || back.CreationDatetime != c.CreationDatetime {
			t.Fatal("endorsements changed in a round trip")
		}
	})
}
