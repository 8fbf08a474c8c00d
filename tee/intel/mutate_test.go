package intel_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/inclavare/inclavare/internal/testvectors"
	"github.com/inclavare/inclavare/tee/intel"
	"github.com/inclavare/inclavare/tee/intel/inteltest"
)

// layout is where each region of a quote starts.
type layout struct {
	body, sigLen, sig, attKey, outer, qeReport, qeSig, authLen, auth, certType, certSize, cert, end int
}

func layoutOf(tb testing.TB, raw []byte) layout {
	tb.Helper()
	q, err := intel.ParseQuoteWith(raw, intel.ParseOptions{AllowTrailing: true})
	if err != nil {
		tb.Fatal(err)
	}
	var l layout
	l.body = intel.HeaderSize
	if q.Header.Version == 5 {
		l.body += 6
	}
	size := intel.EnclaveReportSize
	if q.TD != nil {
		size = len(q.TD.Raw)
	}
	l.sigLen = l.body + size
	l.sig = l.sigLen + 4
	l.attKey = l.sig + 64
	l.qeReport = l.attKey + 64
	if q.Header.Version >= 4 {
		l.outer = l.qeReport
		l.qeReport += 6
	}
	l.qeSig = l.qeReport + 384
	l.authLen = l.qeSig + 64
	l.auth = l.authLen + 2
	l.certType = l.auth + len(q.QEAuthData)
	l.certSize = l.certType + 2
	l.cert = l.certSize + 4
	l.end = len(q.Raw)
	if !bytes.Equal(raw[l.cert:l.end], q.CertData) || !bytes.Equal(raw[l.qeReport:l.qeSig], q.QEReport.Raw) {
		tb.Fatal("layoutOf does not match the parser")
	}
	return l
}

// TestMutatedQuotes: a change to any region of a real quote is refused
// with an error that says which check failed.
func TestMutatedQuotes(t *testing.T) {
	for _, v := range []vector{oasisSGX, oasisTDX, dcapSGX, dcapTDX} {
		raw := v.raw(t)
		l := layoutOf(t, raw)
		tdx := raw[4] == 0x81
		sigLenText := "signature data length at offset"
		if v.trailing { // the length still fits: the next length does not
			sigLenText = "QE report certification data size at offset"
		}
		type mutation struct {
			name string
			f    func(b []byte) []byte
			want []error
			text string
		}
		flip := func(off int) func(b []byte) []byte {
			return func(b []byte) []byte { b[off] ^= 0x01; return b }
		}
		add16 := func(off int, d int) func(b []byte) []byte {
			return func(b []byte) []byte {
				binary.LittleEndian.PutUint16(b[off:], uint16(int(binary.LittleEndian.Uint16(b[off:]))+d))
				return b
			}
		}
		add32 := func(off int, d int) func(b []byte) []byte {
			return func(b []byte) []byte {
				binary.LittleEndian.PutUint32(b[off:], uint32(int(binary.LittleEndian.Uint32(b[off:]))+d))
				return b
			}
		}
		ms := []mutation{
			{"header version", func(b []byte) []byte { b[0] = 2; return b }, errs(intel.ErrUnsupportedQuote), "header version at offset 0 is 2"},
			{"header attestation key type", func(b []byte) []byte { b[2] = 3; return b }, errs(intel.ErrUnsupportedQuote), "attestation key type at offset 2 is 3"},
			{"header TEE type", func(b []byte) []byte { b[4] ^= 0x81; return b }, errs(intel.ErrUnsupportedQuote), "TEE type at offset 4"},
			{"header QE vendor ID", flip(12), errs(intel.ErrUnsupportedQuote), "QE vendor ID"},
			{"header user data", flip(40), errs(intel.ErrSignature), "quote signature over the header and report body"},
			{"report body", flip(l.body + 100), errs(intel.ErrSignature), "quote signature over the header and report body"},
			{"report data", flip(l.sigLen - 1), errs(intel.ErrSignature), "quote signature over the header and report body"},
			{"signature data length", add32(l.sigLen, 1), errs(intel.ErrMalformedQuote), sigLenText},
			{"quote signature", flip(l.sig + 5), errs(intel.ErrSignature), "quote signature over the header and report body"},
			{"attestation key", flip(l.attKey + 5), errs(intel.ErrSignature), "QE report data"},
			{"QE report", flip(l.qeReport + 130), errs(intel.ErrSignature), "QE report signature does not verify"},
			{"QE report signature", flip(l.qeSig + 40), errs(intel.ErrSignature), "QE report signature does not verify"},
			{"QE authentication data size", add16(l.authLen, 1), errs(intel.ErrMalformedQuote), "certification data size at offset"},
			{"QE authentication data", flip(l.auth + 3), errs(intel.ErrSignature), "QE report data"},
			{"certification data type", func(b []byte) []byte { b[l.certType] = 3; return b }, errs(intel.ErrMissingPCK), "type 3"},
			{"certification data size", add32(l.certSize, 1), errs(intel.ErrMalformedQuote), "certification data size at offset"},
			{"PCK certificate signature", func(b []byte) []byte {
				end := l.cert + bytes.Index(b[l.cert:], []byte("-----END CERTIFICATE-----"))
				b[end-12] ^= 0x01 // a base64 digit of the PCK certificate's signature
				return b
			}, errs(intel.ErrPCKChain), "PCK certificate chain"},
			{"PCK chain root", func(b []byte) []byte {
				i := l.cert + bytes.LastIndex(b[l.cert:], []byte("-----BEGIN CERTIFICATE-----"))
				b[i+100] ^= 0x01
				return b
			}, errs(intel.ErrPCKChain), "PCK certificate chain"},
		}
		if tdx {
			ms = append(ms,
				mutation{"QE report certification data type", func(b []byte) []byte { b[l.outer] = 5; return b }, errs(intel.ErrMalformedQuote), "want 6 (QE report certification data)"},
				mutation{"QE report certification data size", add32(l.outer+2, -1), errs(intel.ErrMalformedQuote), "QE report certification data size"},
			)
		}
		for _, cut := range []int{0, 10, l.body, l.sigLen, l.sig + 3, l.attKey, l.qeReport, l.qeSig, l.authLen, l.auth, l.certType, l.certSize, l.cert, l.end - 1} {
			ms = append(ms, mutation{"cut at " + itoa(cut), func(b []byte) []byte { return b[:cut] }, errs(intel.ErrMalformedQuote), ""})
		}
		for _, m := range ms {
			t.Run(v.name+"/"+m.name, func(t *testing.T) {
				b := m.f(slices.Clone(raw))
				_, err := verifyWith(b, v.coll(t), v.opts())
				wantErr(t, err, m.want, m.text)
			})
		}
	}
}

func itoa(n int) string {
	return strings.TrimSpace(strings.Replace(time.Duration(n).String(), "ns", "", 1))
}

// TestMutatedCollateral: a change to the collateral's bodies, signatures,
// chains or CRLs is refused with an error that names what failed.
func TestMutatedCollateral(t *testing.T) {
	h, err := inteltest.NewHierarchy(time.Date(2018, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	other := dcapTDX.coll(t) // a PCK CRL of the Platform CA
	for _, v := range []vector{oasisSGX, dcapSGX, oasisTDX} {
		for _, c := range []struct {
			name string
			f    func(c *intel.Collateral)
			crl  bool // needs CRLs
			want []error
			text string
		}{
			{"TCB info body", func(c *intel.Collateral) { c.TCBInfo = replace(t, c.TCBInfo, `"tcbType":0`, `"tcbType":1`) }, false, errs(intel.ErrCollateral), "the TCB info signature does not verify"},
			{"TCB info signature", func(c *intel.Collateral) { c.TCBInfoSignature[7] ^= 1 }, false, errs(intel.ErrCollateral), "the TCB info signature does not verify"},
			{"QE identity body", func(c *intel.Collateral) {
				c.QEIdentity = replace(t, c.QEIdentity, `"miscselect":"00000000"`, `"miscselect":"00000001"`)
			}, false, errs(intel.ErrCollateral), "the QE identity signature does not verify"},
			{"QE identity signature", func(c *intel.Collateral) { c.QEIdentitySignature[40] ^= 1 }, false, errs(intel.ErrCollateral), "the QE identity signature does not verify"},
			{"TCB info signed by the QE identity's signature", func(c *intel.Collateral) { c.TCBInfoSignature = c.QEIdentitySignature }, false, errs(intel.ErrCollateral), "the TCB info signature does not verify"},
			{"bad TCB signing chain", func(c *intel.Collateral) {
				c.TCBInfoIssuerChain = testvectors.Read(t, "sgx/tcb_info_v3_fmspc_00606A000000_certs_bad.pem")
			}, false, errs(intel.ErrCollateral), `want the end-entity "Intel SGX TCB Signing"`},
			{"TCB signing chain of a fake root", func(c *intel.Collateral) {
				c.QEIdentityIssuerChain = inteltest.PEM(h.TCBSigner, h.Root)
			}, false, errs(intel.ErrCollateral), "ends at a root that is not trusted"},
			{"TCB signer without its root, signed by a fake root", func(c *intel.Collateral) {
				c.TCBInfoIssuerChain = inteltest.PEM(h.TCBSigner)
			}, false, errs(intel.ErrCollateral), `is not signed by "Intel SGX Root CA"`},
			{"no TCB info", func(c *intel.Collateral) { c.TCBInfo = nil }, false, errs(intel.ErrMalformedCollateral), "no tcb_info"},
			{"short QE identity signature", func(c *intel.Collateral) { c.QEIdentitySignature = c.QEIdentitySignature[:63] }, false, errs(intel.ErrMalformedCollateral), "qe_identity_signature is 63 bytes"},
			{"PCK CRL signature", func(c *intel.Collateral) { c.PCKCRL[len(c.PCKCRL)-3] ^= 1 }, true, errs(intel.ErrCRL), "the PCK CRL (issuer"},
			{"root CA CRL signature", func(c *intel.Collateral) { c.RootCACRL[len(c.RootCACRL)-3] ^= 1 }, true, errs(intel.ErrCRL), "the root CA CRL (issuer"},
			{"PCK CRL of another CA", func(c *intel.Collateral) { c.PCKCRL, c.PCKCRLIssuerChain = other.PCKCRL, other.PCKCRLIssuerChain }, true, errs(intel.ErrCRL), `the PCK CRL is issued by "Intel SGX PCK Platform CA", but the PCK certificate by "Intel SGX PCK Processor CA"`},
			{"PCK CRL issuer chain of the TCB signer", func(c *intel.Collateral) { c.PCKCRLIssuerChain = c.TCBInfoIssuerChain }, true, errs(intel.ErrCRL), "is not signed by"},
			{"PCK CRL without its chain", func(c *intel.Collateral) { c.PCKCRLIssuerChain = nil }, true, errs(intel.ErrMalformedCollateral), "pck_crl without its pck_crl_issuer_chain"},
		} {
			if c.crl && len(v.coll(t).PCKCRL) == 0 {
				continue
			}
			t.Run(v.name+"/"+c.name, func(t *testing.T) {
				col := v.coll(t)
				c.f(col)
				_, err := verifyWith(v.raw(t), col, v.opts())
				wantErr(t, err, c.want, c.text)
			})
		}
	}
	// Collateral of another quote.
	_, err = verifyWith(oasisSGX.raw(t), dcapSGX.coll(t), oasisSGX.opts())
	wantErr(t, err, errs(intel.ErrCollateral))
	o := oasisSGX.opts()
	o.Now = at(dcapSGX.at)
	_, err = verifyWith(oasisSGX.raw(t), dcapSGX.coll(t), o)
	wantErr(t, err, errs(intel.ErrCRL), `the PCK CRL is issued by "Intel SGX PCK Processor CA", but the PCK certificate by "Intel SGX PCK Platform CA"`)
	noCRL := dcapSGX.coll(t)
	noCRL.PCKCRL, noCRL.PCKCRLIssuerChain, noCRL.RootCACRL = nil, nil, nil
	_, err = verifyWith(oasisSGX.raw(t), noCRL, o)
	wantErr(t, err, errs(intel.ErrCollateral), "the PCK certificate's FMSPC 00606A000000 is not the TCB info's fmspc 00A067110000")
	o.Now = at(oasisTDX.at)
	_, err = verifyWith(oasisSGX.raw(t), oasisTDX.coll(t), o)
	wantErr(t, err, errs(intel.ErrCollateral), `the TCB info's id is "TDX" (version 3), but the quote is an SGX quote (want "SGX")`)
	_, err = verifyWith(oasisSGX.raw(t), nil, oasisSGX.opts())
	wantErr(t, err, errs(intel.ErrCollateral), "no collateral")
	// SGX collateral for a TDX quote.
	o = oasisTDX.opts()
	col := oasisTDX.coll(t)
	sgx := oasisSGX.coll(t)
	col.QEIdentity, col.QEIdentitySignature = sgx.QEIdentity, sgx.QEIdentitySignature
	o.Now = at(time.Date(2024, 9, 3, 0, 0, 0, 0, time.UTC))
	_, err = verifyWith(oasisTDX.raw(t), col, o)
	wantErr(t, err, errs(intel.ErrCollateral, intel.ErrExpired), "QE identity (QE,")
}

// TestMalformedCollateralJSON: the JSON layout is read strictly.
func TestMalformedCollateralJSON(t *testing.T) {
	good := testvectors.Read(t, dcapSGX.collateral)
	with := func(key, value string) string {
		var m map[string]string
		if err := json.Unmarshal(good, &m); err != nil {
			t.Fatal(err)
		}
		m[key] = value
		b, _ := json.Marshal(m)
		return string(b)
	}
	for _, c := range []struct {
		name, json, text string
	}{
		{"not JSON", `{`, "collateral JSON"},
		{"unknown key", `{"tcb_info":"{}","tcb_infos":"x"}`, `unknown field "tcb_infos"`},
		{"two values", `{} {}`, "more than one value"},
		{"signature not hex", with("tcb_info_signature", "zz"), "tcb_info_signature is not hex"},
		{"CRL not hex", with("pck_crl", "zz"), "pck_crl is neither DER, PEM nor hex"},
		{"no QE identity chain", `{"tcb_info":"{}","tcb_info_signature":"00","tcb_info_issuer_chain":"x","qe_identity":"{}","qe_identity_signature":"00"}`, "no qe_identity_issuer_chain"},
	} {
		_, err := intel.ParseCollateralJSON([]byte(c.json))
		wantErr(t, err, errs(intel.ErrMalformedCollateral), c.text)
	}
	// Bodies that verify but do not read are refused by their parsers.
	for _, c := range []struct {
		body, text string
	}{
		{`{"id":"SGX","version":4}`, "TCB info: version is 4"},
		{`{"id":"XYZ","version":3}`, `TCB info: id is "XYZ"`},
		{`[]`, "TCB info: json"},
	} {
		_, err := intel.ParseTCBInfo([]byte(c.body))
		wantErr(t, err, errs(intel.ErrMalformedCollateral), c.text)
	}
	_, err := intel.ParseQEIdentity([]byte(`{"id":"QE","version":2,"issueDate":"2022-12-16T12:45:36Z","nextUpdate":"2022-12-16T12:45:36Z","miscselect":"00"}`))
	wantErr(t, err, errs(intel.ErrMalformedCollateral), "miscselect is 1 bytes, want 4")

	// The JSON layout round-trips.
	c, err := intel.ParseCollateralJSON(good)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	back, err := intel.ParseCollateralJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back.TCBInfo, c.TCBInfo) || !bytes.Equal(back.PCKCRL, c.PCKCRL) || !bytes.Equal(back.QEIdentitySignature, c.QEIdentitySignature) {
		t.Error("collateral changed in a JSON round trip")
	}
}
