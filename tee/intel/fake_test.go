package intel_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"math/big"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/inclavare/inclavare/tee/intel"
	"github.com/inclavare/inclavare/tee/intel/inteltest"
)

var fakeStart = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

type fake struct {
	h *inteltest.Hierarchy
	p *inteltest.Platform
}

func newFake(tb testing.TB, o inteltest.PlatformOptions) *fake {
	tb.Helper()
	h, err := inteltest.NewHierarchy(fakeStart)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := h.NewPlatform(o)
	if err != nil {
		tb.Fatal(err)
	}
	return &fake{h, p}
}

func (f *fake) opts() intel.Options {
	return intel.Options{Roots: []*x509.Certificate{f.h.Root}, Now: at(fakeStart.AddDate(0, 0, 1)), Cache: intel.NewCache(8)}
}

func (f *fake) coll(tb testing.TB, o inteltest.CollateralOptions) *intel.Collateral {
	tb.Helper()
	c, err := f.p.Collateral(o)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func (f *fake) sgx(tb testing.TB, o inteltest.QuoteOptions) []byte {
	tb.Helper()
	q, err := f.p.SGXQuote(o)
	if err != nil {
		tb.Fatal(err)
	}
	return q
}

func (f *fake) tdx(tb testing.TB, o inteltest.QuoteOptions) []byte {
	tb.Helper()
	q, err := f.p.TDXQuote(o)
	if err != nil {
		tb.Fatal(err)
	}
	return q
}

func level(comp uint8, pcesvn uint16, status intel.TCBStatus, advisories ...string) intel.TCBLevel {
	l := intel.TCBLevel{TCBDate: "2024-01-01T00:00:00Z", TCBStatus: status, AdvisoryIDs: advisories}
	for i := range l.TCB.SGX {
		l.TCB.SGX[i] = comp
	}
	l.TCB.PCESVN = pcesvn
	return l
}

func tdxLevel(comp uint8, tdx [16]uint8, status intel.TCBStatus, advisories ...string) intel.TCBLevel {
	l := level(comp, 11, status, advisories...)
	l.TCB.TDX = &tdx
	return l
}

func isvLevel(svn uint16, status intel.TCBStatus, advisories ...string) intel.ISVSVNLevel {
	l := intel.ISVSVNLevel{TCBDate: "2024-01-01T00:00:00Z", TCBStatus: status, AdvisoryIDs: advisories}
	l.TCB.ISVSVN = svn
	return l
}

// TestFakeRoundTrip: a fake quote verifies only under the fake root, and
// its claims are what the fake put in it.
func TestFakeRoundTrip(t *testing.T) {
	f := newFake(t, inteltest.PlatformOptions{})
	rd := bytes.Repeat([]byte{0xab}, 64)
	raw := f.sgx(t, inteltest.QuoteOptions{ReportData: rd, MREnclave: [32]byte{1}, MRSigner: [32]byte{2}, ISVProdID: 7, ISVSVN: 3})
	c := f.coll(t, inteltest.CollateralOptions{})
	a, err := verifyWith(raw, c, f.opts())
	if err != nil {
		t.Fatal(err)
	}
	if a.TCBStatus != intel.TCBUpToDate || len(a.AdvisoryIDs) != 0 {
		t.Errorf("status %s %v", a.TCBStatus, a.AdvisoryIDs)
	}
	claims := intel.Claims(a)
	for k, want := range map[string]any{"isv_prod_id": uint64(7), "isv_svn": uint64(3), "debug": false, "fmspc": "00906ea10000",
		"mrenclave": "0100000000000000000000000000000000000000000000000000000000000000"} {
		if claims[k] != want {
			t.Errorf("claim %s = %v, want %v", k, claims[k], want)
		}
	}
	if err := intel.Validate(a, intel.Policy{ReportData: rd}); err != nil {
		t.Error(err)
	}
	// Under Intel's root the fake chain is refused.
	o := f.opts()
	o.Roots = nil
	_, err = verifyWith(raw, c, o)
	wantErr(t, err, errs(intel.ErrPCKChain), "which is not a trusted root")
	// A cached chain of another root is not used by a verifier that does
	// not trust that root.
	shared := intel.NewCache(8)
	o = f.opts()
	o.Cache = shared
	if _, err := verifyWith(raw, c, o); err != nil {
		t.Fatal(err)
	}
	other := newFake(t, inteltest.PlatformOptions{})
	o.Roots = []*x509.Certificate{other.h.Root}
	_, err = verifyWith(raw, c, o)
	wantErr(t, err, errs(intel.ErrPCKChain), "not a trusted root")
	if n, m := shared.Len(); n != 1 || m != 1 {
		t.Errorf("cache holds %d chains and %d collaterals, want 1 and 1", n, m)
	}
	shared.Clear()
	if n, m := shared.Len(); n+m != 0 {
		t.Error("Clear left entries")
	}
}

// TestFakeTCBLevels: the platform's level is the first one its PCK TCB
// reaches, in Intel's order, and the QE's status combines with it as
// Intel's QVL does.
func TestFakeTCBLevels(t *testing.T) {
	comps := func(n uint8) (c [16]uint8) {
		for i := range c {
			c[i] = n
		}
		return c
	}
	// Given out of order on purpose: the verifier sorts them.
	levels := []intel.TCBLevel{
		level(1, 11, intel.TCBOutOfDate, "INTEL-SA-1"),
		level(3, 11, intel.TCBUpToDate),
		level(2, 11, intel.TCBConfigurationNeeded, "INTEL-SA-2"),
		level(2, 5, intel.TCBOutOfDateConfigurationNeeded, "INTEL-SA-3"),
		level(1, 0, intel.TCBRevoked, "INTEL-SA-4"),
	}
	for _, c := range []struct {
		name       string
		comp       uint8
		pcesvn     uint16
		qe         []intel.ISVSVNLevel
		status     intel.TCBStatus
		advisories []string
		wantErr    error
	}{
		{"newest", 3, 11, nil, intel.TCBUpToDate, nil, nil},
		{"newer than every level", 9, 20, nil, intel.TCBUpToDate, nil, nil},
		{"configuration", 2, 11, nil, intel.TCBConfigurationNeeded, []string{"INTEL-SA-2"}, nil},
		{"old PCE", 2, 6, nil, intel.TCBOutOfDateConfigurationNeeded, []string{"INTEL-SA-3"}, nil},
		{"out of date", 1, 11, nil, intel.TCBOutOfDate, []string{"INTEL-SA-1"}, nil},
		{"revoked", 1, 5, nil, intel.TCBRevoked, []string{"INTEL-SA-4"}, nil},
		{"QE out of date makes UpToDate OutOfDate", 3, 11, []intel.ISVSVNLevel{isvLevel(9, intel.TCBUpToDate), isvLevel(8, intel.TCBOutOfDate, "INTEL-SA-Q")},
			intel.TCBOutOfDate, []string{"INTEL-SA-Q"}, nil},
		{"QE out of date and configuration", 2, 11, []intel.ISVSVNLevel{isvLevel(8, intel.TCBOutOfDate, "INTEL-SA-Q", "INTEL-SA-2")},
			intel.TCBOutOfDateConfigurationNeeded, []string{"INTEL-SA-2", "INTEL-SA-Q"}, nil},
		{"QE revoked", 3, 11, []intel.ISVSVNLevel{isvLevel(8, intel.TCBRevoked)}, intel.TCBRevoked, nil, nil},
		{"QE older than every level", 3, 11, []intel.ISVSVNLevel{isvLevel(9, intel.TCBUpToDate)}, "", nil, intel.ErrQEIdentity},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFake(t, inteltest.PlatformOptions{Components: comps(c.comp), PCESVN: c.pcesvn})
			col := f.coll(t, inteltest.CollateralOptions{TCBLevels: levels, QELevels: c.qe})
			a, err := verifyWith(f.sgx(t, inteltest.QuoteOptions{}), col, f.opts())
			if c.wantErr != nil {
				wantErr(t, err, errs(c.wantErr), "QE report ISVSVN 8 is below every level of the QE identity (lowest 9)")
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.TCBStatus != c.status || !slices.Equal(a.AdvisoryIDs, c.advisories) && len(a.AdvisoryIDs)+len(c.advisories) > 0 {
				t.Errorf("status %s %v, want %s %v", a.TCBStatus, a.AdvisoryIDs, c.status, c.advisories)
			}
			err = intel.Validate(a, intel.Policy{ReportData: make([]byte, 64), AcceptedStatuses: []intel.TCBStatus{c.status}})
			if c.status == intel.TCBRevoked {
				wantErr(t, err, errs(intel.ErrPolicy), "TCB status is Revoked", "never accepted")
			} else if err != nil {
				t.Error(err)
			}
		})
	}
	// Older than every level: not supported.
	f := newFake(t, inteltest.PlatformOptions{Components: comps(1), PCESVN: 11})
	col := f.coll(t, inteltest.CollateralOptions{TCBLevels: []intel.TCBLevel{level(2, 11, intel.TCBUpToDate)}})
	_, err := verifyWith(f.sgx(t, inteltest.QuoteOptions{}), col, f.opts())
	wantErr(t, err, errs(intel.ErrTCBNotSupported), "no TCB level is reached by the PCK certificate TCB components [1 1 1 1")
}

// TestFakeTDX: TDX levels use the TD report's TEE_TCB_SVN (without its
// first two bytes when the module version is not zero) and the TDX module
// identity.
func TestFakeTDX(t *testing.T) {
	f := newFake(t, inteltest.PlatformOptions{})
	svn := func(b ...uint8) (s [16]uint8) { copy(s[:], b); return s }
	zero48 := make([]byte, 48)
	ff := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	identities := []intel.TDXModuleIdentity{{ID: "TDX_01", MRSigner: zero48, Attributes: make([]byte, 8), AttributesMask: ff,
		TCBLevels: []intel.ISVSVNLevel{isvLevel(4, intel.TCBUpToDate), isvLevel(2, intel.TCBOutOfDate, "INTEL-SA-M")}}}
	levels := []intel.TCBLevel{
		tdxLevel(2, svn(5, 0, 3), intel.TCBUpToDate),
		tdxLevel(2, svn(3, 0, 2), intel.TCBSWHardeningNeeded, "INTEL-SA-T"),
	}
	for _, c := range []struct {
		name       string
		tee        [16]uint8
		module     *intel.TDXModule
		status     intel.TCBStatus
		advisories []string
		wantErr    error
		text       string
	}{
		{"module version 1, SVN 4", svn(4, 1, 3), nil, intel.TCBUpToDate, nil, nil, ""},
		{"module version 1, SVN 2: out of date", svn(2, 1, 3), nil, intel.TCBOutOfDate, []string{"INTEL-SA-M"}, nil, ""},
		{"module SVN below every level", svn(1, 1, 3), nil, "", nil, intel.ErrTCBNotSupported, "TDX module SVN 1 (TEE_TCB_SVN byte 0) is below every level of the TDX module identity TDX_01 (lowest 2)"},
		{"module version 3 unknown", svn(4, 3, 3), nil, "", nil, intel.ErrTCBNotSupported, "no TDX module identity TDX_03"},
		{"module version 0: bytes 0 and 1 count", svn(5, 0, 3), nil, intel.TCBUpToDate, nil, nil, ""},
		{"module version 0, older", svn(4, 0, 3), nil, intel.TCBSWHardeningNeeded, []string{"INTEL-SA-T"}, nil, ""},
		{"TEE TCB SVN older than every level", svn(4, 1, 1), nil, "", nil, intel.ErrTCBNotSupported, "TD report TEE_TCB_SVN 04010100"},
		{"another module signer", svn(4, 1, 3), &intel.TDXModule{MRSigner: bytes.Repeat([]byte{1}, 48), Attributes: make([]byte, 8), AttributesMask: ff},
			"", nil, intel.ErrTDXModule, "is not the TCB info tdxModule mrsigner 0101"},
	} {
		t.Run(c.name, func(t *testing.T) {
			col := f.coll(t, inteltest.CollateralOptions{TDX: true, TCBLevels: levels, TDXModule: c.module, TDXModuleIdentities: identities})
			raw := f.tdx(t, inteltest.QuoteOptions{TEETCBSVN: c.tee, MRTD: [48]byte{9}})
			a, err := verifyWith(raw, col, f.opts())
			if c.wantErr != nil {
				wantErr(t, err, errs(c.wantErr), c.text)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if a.TCBStatus != c.status || !slices.Equal(a.AdvisoryIDs, c.advisories) && len(a.AdvisoryIDs)+len(c.advisories) > 0 {
				t.Errorf("status %s %v, want %s %v", a.TCBStatus, a.AdvisoryIDs, c.status, c.advisories)
			}
		})
	}
	// SGX collateral for a TDX quote, and the other way round.
	raw := f.tdx(t, inteltest.QuoteOptions{TEETCBSVN: svn(4, 1, 3)})
	_, err := verifyWith(raw, f.coll(t, inteltest.CollateralOptions{}), f.opts())
	wantErr(t, err, errs(intel.ErrCollateral), `the TCB info's id is "SGX" (version 3), but the quote is a TDX quote (want "TDX")`)
	_, err = verifyWith(f.sgx(t, inteltest.QuoteOptions{}), f.coll(t, inteltest.CollateralOptions{TDX: true, TCBLevels: levels}), f.opts())
	wantErr(t, err, errs(intel.ErrCollateral), `the TCB info's id is "TDX"`)
}

// TestFakeRevocation: certificates listed in the CRLs are refused, and
// RequireCRLs refuses collateral without them.
func TestFakeRevocation(t *testing.T) {
	f := newFake(t, inteltest.PlatformOptions{})
	raw := f.sgx(t, inteltest.QuoteOptions{})
	a, err := verifyWith(raw, f.coll(t, inteltest.CollateralOptions{CRLs: true, Revoked: []*big.Int{big.NewInt(9999)}}), f.opts())
	if err != nil || !a.RevocationChecked {
		t.Fatalf("%v, revocation checked %t", err, a != nil && a.RevocationChecked)
	}
	_, err = verifyWith(raw, f.coll(t, inteltest.CollateralOptions{CRLs: true, Revoked: []*big.Int{f.p.PCK.SerialNumber}}), f.opts())
	wantErr(t, err, errs(intel.ErrRevoked), "the PCK certificate (serial", "is in the PCK CRL")
	_, err = verifyWith(raw, f.coll(t, inteltest.CollateralOptions{CRLs: true, RevokedCAs: []*big.Int{f.h.PCKCA.SerialNumber}}), f.opts())
	wantErr(t, err, errs(intel.ErrRevoked), `"Intel SGX PCK Platform CA"`, "is in the root CA CRL")
	_, err = verifyWith(raw, f.coll(t, inteltest.CollateralOptions{CRLs: true, RevokedCAs: []*big.Int{f.h.TCBSigner.SerialNumber}}), f.opts())
	wantErr(t, err, errs(intel.ErrRevoked), `"Intel SGX TCB Signing"`, "is in the root CA CRL")
	o := f.opts()
	o.RequireCRLs = true
	_, err = verifyWith(raw, f.coll(t, inteltest.CollateralOptions{}), o)
	wantErr(t, err, errs(intel.ErrCRL), "lacks the PCK CRL and the root CA CRL")
	// A CRL past its next update.
	o = f.opts()
	o.Now = at(fakeStart.AddDate(0, 0, 20))
	_, err = verifyWith(raw, f.coll(t, inteltest.CollateralOptions{CRLs: true, IssueDate: fakeStart, NextUpdate: fakeStart.AddDate(0, 0, 40),
		CRLNextUpdate: fakeStart.AddDate(0, 0, 10)}), o)
	wantErr(t, err, errs(intel.ErrCRL, intel.ErrExpired), "the PCK CRL expired at 2024-01-11T00:00:00Z")
}

// TestFakeQEIdentity: a QE report that is not the QE identity's is refused.
func TestFakeQEIdentity(t *testing.T) {
	f := newFake(t, inteltest.PlatformOptions{})
	col := f.coll(t, inteltest.CollateralOptions{})
	for _, c := range []struct {
		name string
		f    func(qe *inteltest.QE)
		text string
	}{
		{"MRSIGNER", func(qe *inteltest.QE) { qe.MRSigner[0] ^= 1 }, "QE report MRSIGNER"},
		{"ISVPRODID", func(qe *inteltest.QE) { qe.ISVProdID = 2 }, "QE report ISVPRODID 2 is not the QE identity's isvprodid 1"},
		{"ATTRIBUTES", func(qe *inteltest.QE) { qe.Attributes[0] |= 0x02 }, "QE report ATTRIBUTES 13"},
		{"MISCSELECT", func(qe *inteltest.QE) { qe.MiscSelect = 1 }, "QE report MISCSELECT 01000000"},
	} {
		t.Run(c.name, func(t *testing.T) {
			saved := f.p.QE
			defer func() { f.p.QE = saved }()
			c.f(&f.p.QE)
			_, err := verifyWith(f.sgx(t, inteltest.QuoteOptions{}), col, f.opts())
			wantErr(t, err, errs(intel.ErrQEIdentity), c.text)
		})
	}
}

// TestValidate: every policy check, each error naming the field and both
// values.
func TestValidate(t *testing.T) {
	f := newFake(t, inteltest.PlatformOptions{})
	rd := bytes.Repeat([]byte{7}, 64)
	sgx, err := verifyWith(f.sgx(t, inteltest.QuoteOptions{ReportData: rd, Debug: true, MREnclave: [32]byte{1}, MRSigner: [32]byte{2}, ISVSVN: 3}),
		f.coll(t, inteltest.CollateralOptions{TCBLevels: []intel.TCBLevel{level(1, 1, intel.TCBSWHardeningNeeded, "INTEL-SA-1")}}), f.opts())
	if err != nil {
		t.Fatal(err)
	}
	tdx, err := verifyWith(f.tdx(t, inteltest.QuoteOptions{ReportData: rd, Debug: true, MRTD: [48]byte{3}, RTMR: [4][48]byte{2: {4}}}),
		f.coll(t, inteltest.CollateralOptions{TDX: true}), f.opts())
	if err != nil {
		t.Fatal(err)
	}
	minSVN := uint16(4)
	other := bytes.Repeat([]byte{8}, 64)
	for _, c := range []struct {
		name  string
		a     *intel.Attestation
		p     intel.Policy
		texts []string
	}{
		{"SGX accepted", sgx, intel.Policy{ReportData: rd, AllowDebug: true, AcceptedStatuses: []intel.TCBStatus{intel.TCBSWHardeningNeeded},
			MREnclave: [][]byte{make([]byte, 32), append([]byte{1}, make([]byte, 31)...)}}, nil},
		{"report data", sgx, intel.Policy{ReportData: other, AllowDebug: true, AcceptedStatuses: []intel.TCBStatus{intel.TCBSWHardeningNeeded}},
			[]string{"REPORT_DATA 0707", "is not the expected 0808"}},
		{"short report data", sgx, intel.Policy{ReportData: rd[:32], AllowDebug: true, AcceptedStatuses: []intel.TCBStatus{intel.TCBSWHardeningNeeded}},
			[]string{"the expected report data has 32 bytes, REPORT_DATA has 64"}},
		{"SGX debug", sgx, intel.Policy{ReportData: rd, AcceptedStatuses: []intel.TCBStatus{intel.TCBSWHardeningNeeded}},
			[]string{"ATTRIBUTES.FLAGS 0x7 has DEBUG set"}},
		{"default statuses", sgx, intel.Policy{ReportData: rd, AllowDebug: true},
			[]string{"TCB status SWHardeningNeeded (advisories INTEL-SA-1) is not an accepted status (want one of UpToDate)"}},
		{"MRENCLAVE, MRSIGNER, ISVSVN", sgx, intel.Policy{ReportData: rd, AllowDebug: true, AcceptedStatuses: []intel.TCBStatus{intel.TCBSWHardeningNeeded},
			MREnclave: [][]byte{make([]byte, 32)}, MRSigner: [][]byte{make([]byte, 32)}, MinISVSVN: &minSVN},
			[]string{"MRENCLAVE 0100", "MRSIGNER 0200", "(want one of 0000", "ISVSVN 3 is below the minimum 4"}},
		{"TDX accepted", tdx, intel.Policy{ReportData: rd, AllowDebug: true, MRTD: [][]byte{append([]byte{3}, make([]byte, 47)...)}}, nil},
		{"TDX debug, MRTD, RTMR2", tdx, intel.Policy{ReportData: rd, MRTD: [][]byte{make([]byte, 48)}, RTMR: [4][][]byte{2: {make([]byte, 48)}}},
			[]string{"TD_ATTRIBUTES 0100001000000000 has DEBUG set", "MRTD 0300", "RTMR2 0400"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := intel.Validate(c.a, c.p)
			if c.texts == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantErr(t, err, errs(intel.ErrPolicy), c.texts...)
		})
	}
	if s, err := intel.ParseTCBStatuses("UpToDate, SWHardeningNeeded"); err != nil || len(s) != 2 {
		t.Errorf("ParseTCBStatuses: %v %v", s, err)
	}
	if _, err := intel.ParseTCBStatuses("Fine"); err == nil {
		t.Error("ParseTCBStatuses accepted Fine")
	}
	if v, err := intel.ParseHexValues("00ff,11ee", 2); err != nil || len(v) != 2 {
		t.Errorf("ParseHexValues: %v %v", v, err)
	}
	if _, err := intel.ParseHexValues("00ff", 3); err == nil {
		t.Error("ParseHexValues accepted 2 bytes for 3")
	}
}

// TestConcurrentVerify: verifiers sharing a cache verify concurrently.
func TestConcurrentVerify(t *testing.T) {
	f := newFake(t, inteltest.PlatformOptions{})
	raw := f.sgx(t, inteltest.QuoteOptions{})
	col := f.coll(t, inteltest.CollateralOptions{CRLs: true})
	o := f.opts()
	o.Cache = intel.NewCache(1)
	v, err := intel.NewVerifier(o)
	if err != nil {
		t.Fatal(err)
	}
	vraw, vcol := oasisSGX.raw(t), oasisSGX.coll(t)
	vo := oasisSGX.opts()
	vo.Cache = o.Cache
	vv, err := intel.NewVerifier(vo)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				var err error
				if i%2 == 0 {
					_, err = v.Verify(context.Background(), raw, col)
				} else {
					_, err = vv.Verify(context.Background(), vraw, vcol)
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = v.Verify(ctx, raw, col)
	wantErr(t, err, errs(context.Canceled))
}
