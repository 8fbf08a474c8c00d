package intel_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"slices"
	"testing"
	"time"

	"github.com/inclavare/inclavare/internal/testvectors"
	"github.com/inclavare/inclavare/tee/intel"
)

// TestVectors: every quote of ../shared/vectors gives the result its README
// states.
func TestVectors(t *testing.T) {
	for _, c := range []struct {
		v          vector
		min        uint32
		status     intel.TCBStatus
		advisories []string
		revocation bool
		module     string
		wantErr    []error
		claims     map[string]any
	}{
		{v: oasisSGX, status: intel.TCBSWHardeningNeeded, advisories: []string{"INTEL-SA-00615", "INTEL-SA-00657"},
			claims: map[string]any{
				"mrenclave": "68823bc62f409ee33a32ea270cfe45d4b19a6fb3c8570d7bc186cbe062398e8f",
				"mrsigner":  "9affcfae47b848ec2caf1c49b4b283531e1cc425f93582b36806e52a43d78d1a",
				"fmspc":     "00606a000000", "tee": "sgx", "debug": false, "isv_prod_id": uint64(0), "isv_svn": uint64(0),
				"report_data": "026a69ced96c3e0295d16d6b388e057a137a14319671662a5844c7472f3c62ae0e3d3f99b77dd89b0fc1436c4fe96828391a52588a0f883455a18b8f5872e3f0",
				"tcb_status":  "SWHardeningNeeded", "advisory_ids": "INTEL-SA-00615,INTEL-SA-00657", "quote_version": uint64(3),
			}},
		{v: dcapSGX, status: intel.TCBConfigurationAndSWHardeningNeeded, advisories: []string{"INTEL-SA-00289", "INTEL-SA-00615"}, revocation: true,
			claims: map[string]any{"mrenclave": "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb", "fmspc": "00a067110000", "revocation_checked": true}},
		{v: oasisTDX, min: 12, status: intel.TCBUpToDate, module: "TDX_01",
			claims: map[string]any{
				"mrtd":        "91eb2b44d141d4ece09f0c75c2c53d247a3c68edd7fafe8a3520c942a604a407de03ae6dc5f87f27428b2538873118b7",
				"rtmr0":       "1a85265426a60c11b093382a7a2a0a5a18e242c0167891fd12bfa7badfa4c700bdc16fc0637b52f94dd76b063adb1072",
				"mrseam":      "1cc6a17ab799e9a693fac7536be61c12ee1e0fabada82d0c999e08ccee2aa86de77b0870f558c570e7ffe55d6d47fa04",
				"report_data": "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
				"xfam":        "e702060000000000", "td_attributes": "0000001000000000", "debug": false, "tee": "tdx",
				"tcb_status": "UpToDate", "advisory_ids": "", "fmspc": "c0806f000000", "tdx_module_id": "TDX_01", "quote_version": uint64(4),
			}},
		{v: oasisOld, wantErr: errs(intel.ErrTCBNotSupported)},
		{v: dcapTDX, status: intel.TCBUpToDate, revocation: true, module: "TDX_01",
			claims: map[string]any{"fmspc": "b0c06f000000", "advisory_ids": ""}},
		{v: dcapTDXOld, wantErr: errs(intel.ErrTCBNotSupported)},
	} {
		t.Run(c.v.name, func(t *testing.T) {
			o := c.v.opts()
			o.MinTCBEvaluationDataNumber = c.min
			a, err := c.v.verify(t, o)
			if c.wantErr != nil {
				wantErr(t, err, c.wantErr)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.TCBStatus != c.status || !slices.Equal(a.AdvisoryIDs, c.advisories) && len(a.AdvisoryIDs)+len(c.advisories) > 0 {
				t.Errorf("status %s %v, want %s %v", a.TCBStatus, a.AdvisoryIDs, c.status, c.advisories)
			}
			if a.RevocationChecked != c.revocation {
				t.Errorf("RevocationChecked %t, want %t", a.RevocationChecked, c.revocation)
			}
			if a.TDXModuleID != c.module {
				t.Errorf("TDX module %q, want %q", a.TDXModuleID, c.module)
			}
			if a.CachedPCK || a.CachedCollateral {
				t.Errorf("a first verification came from the cache")
			}
			claims := intel.Claims(a)
			for k, want := range c.claims {
				if got := claims[k]; got != want {
					t.Errorf("claim %s = %#v, want %#v", k, got, want)
				}
			}
			// Policy: the report data and the statuses.
			p := intel.Policy{ReportData: a.Quote.ReportData(), AcceptedStatuses: []intel.TCBStatus{c.status}}
			if err := intel.Validate(a, p); err != nil {
				t.Errorf("Validate: %v", err)
			}
			// Warm: the same verification from the cache.
			b, err := c.v.verify(t, o)
			if err != nil {
				t.Fatalf("warm: %v", err)
			}
			if !b.CachedPCK || !b.CachedCollateral || b.TCBStatus != a.TCBStatus {
				t.Errorf("warm: cached %t %t, status %s", b.CachedPCK, b.CachedCollateral, b.TCBStatus)
			}
		})
	}
}

// TestVectorsOasisSplit: the oasis SGX quote verifies with the PCS response
// files and the TCB signing chain, as the README describes, and not with
// the bad chain.
func TestVectorsOasisSplit(t *testing.T) {
	tcb := testvectors.Read(t, "sgx/tcb_info_v3_fmspc_00606A000000.json")
	qe := testvectors.Read(t, "sgx/qe_identity_v2.json")
	c, err := intel.CollateralFromPCS(tcb, qe, testvectors.Read(t, "sgx/tcb_info_v3_fmspc_00606A000000_certs.pem"))
	if err != nil {
		t.Fatal(err)
	}
	o := oasisSGX.opts()
	a, err := verifyWith(oasisSGX.raw(t), c, o)
	if err != nil {
		t.Fatal(err)
	}
	if got := hex.EncodeToString(a.Quote.Enclave.MREnclave[:]); got != "68823bc62f409ee33a32ea270cfe45d4b19a6fb3c8570d7bc186cbe062398e8f" {
		t.Errorf("MRENCLAVE %s", got)
	}
	if got := hex.EncodeToString(a.Quote.Enclave.MRSigner[:]); got != "9affcfae47b848ec2caf1c49b4b283531e1cc425f93582b36806e52a43d78d1a" {
		t.Errorf("MRSIGNER %s", got)
	}

	bad, err := intel.CollateralFromPCS(tcb, qe, testvectors.Read(t, "sgx/tcb_info_v3_fmspc_00606A000000_certs_bad.pem"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = verifyWith(oasisSGX.raw(t), bad, oasisSGX.opts())
	wantErr(t, err, errs(intel.ErrCollateral), `"Intel SGX PCK Platform CA"`, `want the end-entity "Intel SGX TCB Signing"`)

	// The TDX PCS files verify the same way.
	for _, c := range []struct {
		v        vector
		tcb, qe  string
		wantErr  error
		wantStat intel.TCBStatus
	}{
		{oasisTDX, "tdx/tcb_info_v3_tdx_fmspc_C0806F000000.json", "tdx/qe_identity_v2_tdx2.json", nil, intel.TCBUpToDate},
		{oasisOld, "tdx/tcb_info_v3_tdx_fmspc_50806F000000.json", "tdx/qe_identity_v2_tdx.json", intel.ErrTCBNotSupported, ""},
	} {
		col, err := intel.CollateralFromPCS(testvectors.Read(t, c.tcb), testvectors.Read(t, c.qe), testvectors.Read(t, "tdx/tcb_signing_chain.pem"))
		if err != nil {
			t.Fatal(err)
		}
		o := c.v.opts()
		o.MinTCBEvaluationDataNumber = 12
		a, err := verifyWith(c.v.raw(t), col, o)
		if c.wantErr != nil {
			wantErr(t, err, errs(c.wantErr))
			continue
		}
		if err != nil || a.TCBStatus != c.wantStat {
			t.Errorf("%s: %v", c.tcb, err)
		}
	}
}

// TestVectorsOasisTimes: the validity edges of the oasis SGX quote.
func TestVectorsOasisTimes(t *testing.T) {
	for _, c := range []struct {
		name    string
		at      int64
		want    []error
		message []string
	}{
		{"PCK expired", 1891163522, errs(intel.ErrPCKChain, intel.ErrExpired), []string{`"Intel SGX PCK Certificate" expired at 2029-12-05T11:12:01Z`}},
		{"PCK not yet valid", 1670238720, errs(intel.ErrPCKChain, intel.ErrNotYetValid), []string{`"Intel SGX PCK Certificate" is valid from 2022-12-05T11:12:01Z`}},
		{"QE identity in the future", 1671194735, errs(intel.ErrCollateral, intel.ErrNotYetValid), []string{"the QE identity (QE, issued 2022-12-16T12:45:36Z) is valid from 2022-12-16T12:45:36Z, after the time of verification 2022-12-16T12:45:35Z"}},
		// "Older than 30 days": Intel issues a QE identity for 30 days; past
		// its nextUpdate it is refused.
		{"QE identity past its next update", 1673786737, errs(intel.ErrCollateral, intel.ErrExpired), []string{"the QE identity (QE, issued 2022-12-16T12:45:36Z) expired at 2023-01-15T12:45:36Z"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := oasisSGX.opts()
			o.Now = at(time.Unix(c.at, 0))
			_, err := oasisSGX.verify(t, o)
			wantErr(t, err, c.want, c.message...)
		})
	}
	// The TDX TCB info is issued after its QE identity: between the two,
	// the TCB info is refused.
	o := oasisTDX.opts()
	o.Now = at(time.Date(2024, 9, 2, 7, 20, 0, 0, time.UTC))
	_, err := oasisTDX.verify(t, o)
	wantErr(t, err, errs(intel.ErrCollateral, intel.ErrNotYetValid), "the TCB info (FMSPC C0806F000000, issued 2024-09-02T07:25:12Z) is valid from")
	o.Now = at(time.Date(2024, 10, 2, 7, 0, 0, 0, time.UTC))
	_, err = oasisTDX.verify(t, o)
	wantErr(t, err, errs(intel.ErrCollateral, intel.ErrExpired), "the QE identity (TD_QE, issued 2024-09-02T06:47:57Z) expired at 2024-10-02T06:47:57Z")

	// The last second of the QE identity: still valid. One second later,
	// refused, even with a warm cache.
	cache := intel.NewCache(4)
	for _, c := range []struct {
		at int64
		ok bool
	}{{1671497404, true}, {1673786736, true}, {1673786737, false}} {
		o := oasisSGX.opts()
		o.Cache, o.Now = cache, at(time.Unix(c.at, 0))
		_, err := oasisSGX.verify(t, o)
		if (err == nil) != c.ok {
			t.Errorf("at %d: %v", c.at, err)
		}
	}
}

// TestVectorsMinTCBEvaluationDataNumber: collateral older than the minimum
// is refused, naming both numbers.
func TestVectorsMinTCBEvaluationDataNumber(t *testing.T) {
	o := oasisTDX.opts()
	o.MinTCBEvaluationDataNumber = 18
	_, err := oasisTDX.verify(t, o)
	wantErr(t, err, errs(intel.ErrCollateral), "tcbEvaluationDataNumber 17 is below the minimum 18")
}

// TestVectorsEPPID: a quote whose certification data is the encrypted PPID
// parses, and cannot be verified without a PCK certificate.
func TestVectorsEPPID(t *testing.T) {
	raw := testvectors.Read(t, "sgx/quote_v3_ecdsa_p256_eppid.bin")
	q, err := intel.ParseQuote(raw)
	if err != nil {
		t.Fatal(err)
	}
	if q.CertType != intel.CertTypePPIDRSA3072 || len(q.CertData) != 404 {
		t.Errorf("certification data type %d, %d bytes; want 3, 404", q.CertType, len(q.CertData))
	}
	if got := hex.EncodeToString(q.Enclave.MREnclave[:]); got != "9479d8eddfd7b1b700319419551dc340f688c2ef519a5e18657ecf32981dbd9e" {
		t.Errorf("MRENCLAVE %s", got)
	}
	c := oasisSGX.coll(t)
	_, err = verifyWith(raw, c, oasisSGX.opts())
	wantErr(t, err, errs(intel.ErrMissingPCK), "type 3 (PPID encrypted with RSA-3072 (EPPID))", "pck_certificate_chain")

	// With a PCK chain in the collateral the chain is used: this one is
	// another platform's, so its key does not verify the QE report.
	oasis, err := intel.ParseQuote(oasisSGX.raw(t))
	if err != nil {
		t.Fatal(err)
	}
	c.PCKCertChain = oasis.CertData
	_, err = verifyWith(raw, c, oasisSGX.opts())
	wantErr(t, err, errs(intel.ErrSignature), "QE report signature")
}

// TestVectorsTrailing: the trailing quote is refused by a strict parser
// and read by a lenient one, which reports the quote's length; the same
// for the dcap-qvl TDX quote (70 zero bytes of padding) and for
// go-tdx-guest's testing/testdata RawQuote, which is the oasis out-of-date
// quote followed by 39 bytes of text.
func TestVectorsTrailing(t *testing.T) {
	old := oasisOld.raw(t)
	goTDXGuest := append(slices.Clone(old), "\nextra bytes(only for testing purpose)\n"...)
	for _, c := range []struct {
		name     string
		raw      []byte
		quoteLen int
	}{
		{"quote_v4_tdx_ecdsa_p256_trailing.bin", testvectors.Read(t, "tdx/quote_v4_tdx_ecdsa_p256_trailing.bin"), 4936},
		{"dcapqvl_tdx_quote.bin", dcapTDX.raw(t), 4936},
		{"go-tdx-guest RawQuote", goTDXGuest, len(old)},
	} {
		_, err := intel.ParseQuote(c.raw)
		wantErr(t, err, errs(intel.ErrMalformedQuote), "trailing bytes after the")
		q, err := intel.ParseQuoteWith(c.raw, intel.ParseOptions{AllowTrailing: true})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if len(q.Raw) != c.quoteLen || q.Trailing != len(c.raw)-c.quoteLen {
			t.Errorf("%s: quote of %d bytes and %d trailing, want %d and %d", c.name, len(q.Raw), q.Trailing, c.quoteLen, len(c.raw)-c.quoteLen)
		}
	}
	// The dcap-qvl quote is refused by a strict verifier.
	o := dcapTDX.opts()
	o.AllowTrailing = false
	_, err := dcapTDX.verify(t, o)
	wantErr(t, err, errs(intel.ErrMalformedQuote), "70 trailing bytes after the 4936-byte quote")

	// The trailing vector is of the oasis TDX platform: it verifies with
	// that platform's collateral while its PCK certificate is valid.
	o = oasisTDX.opts()
	o.AllowTrailing = true
	o.Now = at(time.Date(2024, 9, 25, 0, 0, 0, 0, time.UTC))
	a, err := verifyWith(testvectors.Read(t, "tdx/quote_v4_tdx_ecdsa_p256_trailing.bin"), oasisTDX.coll(t), o)
	if err != nil {
		t.Fatal(err)
	}
	if a.Quote.Trailing != 70 || a.TCBStatus != intel.TCBUpToDate {
		t.Errorf("trailing %d, status %s", a.Quote.Trailing, a.TCBStatus)
	}
}

// TestIntelRootCA: the embedded root is the Intel SGX Root CA that ends
// every PCK chain and TCB signing chain of the vectors.
func TestIntelRootCA(t *testing.T) {
	root, err := intel.IntelRootCA()
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(root.Raw); hex.EncodeToString(sum[:]) != intel.IntelRootCAFingerprint {
		t.Fatalf("fingerprint %x", sum)
	}
	if root.Subject.CommonName != "Intel SGX Root CA" || !root.IsCA || root.CheckSignatureFrom(root) != nil {
		t.Errorf("root %q, CA %t", root.Subject.CommonName, root.IsCA)
	}
	for _, f := range []string{"sgx/tcb_info_v3_fmspc_00606A000000_certs.pem", "tdx/tcb_signing_chain.pem"} {
		var last []byte
		for rest := testvectors.Read(t, f); ; {
			var b *pem.Block
			if b, rest = pem.Decode(rest); b == nil {
				break
			}
			last = b.Bytes
		}
		if sum := sha256.Sum256(last); hex.EncodeToString(sum[:]) != intel.IntelRootCAFingerprint {
			t.Errorf("%s ends at %x", f, sum)
		}
	}
	if sum := sha256.Sum256(intel.IntelRootCADER()); hex.EncodeToString(sum[:]) != intel.IntelRootCAFingerprint {
		t.Errorf("IntelRootCADER %x", sum)
	}
}
