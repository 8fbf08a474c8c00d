package simulated

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"flag"
	"math/big"
	"os"
	"testing"
	"time"

	"github.com/inclavare/inclavare/tee/intel"
)

var regenerate = flag.Bool("regenerate", false, "make new test-only keys, certificates and collateral in this directory (every old simulated quote stops verifying)")

// The validity of the hierarchy and its collateral: decades, so that the
// simulated TEE keeps working without regeneration.
var (
	notBefore = time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC)
	notAfter  = time.Date(2074, time.December, 31, 0, 0, 0, 0, time.UTC)
	tcbDate   = "2025-01-01T00:00:00Z"
)

const header = "TEST ONLY: the simulated Intel TEE of Inclavare Rats-TLS. Never trust it in production."

// TestRegenerate is the generator of the embedded material; without
// -regenerate it checks the embedded material instead.
func TestRegenerate(t *testing.T) {
	if !*regenerate {
		m, err := Load()
		if err != nil {
			t.Fatal(err)
		}
		if err := m.PCKCA.CheckSignatureFrom(m.Root); err != nil {
			t.Errorf("PCK CA not signed by the root: %v", err)
		}
		if err := m.PCK.CheckSignatureFrom(m.PCKCA); err != nil {
			t.Errorf("PCK not signed by the PCK CA: %v", err)
		}
		x, err := intel.ParsePCKExtensions(m.PCK)
		if err != nil {
			t.Fatal(err)
		}
		if x.FMSPC != FMSPC || x.PCEID != PCEID || x.PCESVN != PCESVN {
			t.Errorf("PCK extensions FMSPC %x PCE-ID %x PCESVN %d, want %x %x %d", x.FMSPC, x.PCEID, x.PCESVN, FMSPC, PCEID, PCESVN)
		}
		for _, c := range []*x509.Certificate{m.Root, m.PCKCA, m.PCK} {
			if c.NotAfter.Before(time.Date(2070, 1, 1, 0, 0, 0, 0, time.UTC)) {
				t.Errorf("%s expires %v, before 2070", c.Subject.CommonName, c.NotAfter)
			}
		}
		return
	}
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	rootKey, caKey, tcbKey, pckKey, attKey := key(), key(), key(), key(), key()
	serial := int64(0)
	issue := func(tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, signer *ecdsa.PrivateKey) *x509.Certificate {
		serial++
		tmpl.SerialNumber = big.NewInt(serial)
		tmpl.BasicConstraintsValid = true
		tmpl.NotBefore, tmpl.NotAfter = notBefore, notAfter
		if parent == nil {
			parent = tmpl
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	name := func(cn string) pkix.Name {
		return pkix.Name{CommonName: cn, Organization: []string{"Inclavare simulated TEE, TEST ONLY (not Intel)"}}
	}
	root := issue(&x509.Certificate{Subject: name("Intel SGX Root CA"), IsCA: true, MaxPathLen: 1,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}, nil, &rootKey.PublicKey, rootKey)
	ca := issue(&x509.Certificate{Subject: name("Intel SGX PCK Platform CA"), IsCA: true, MaxPathLen: 0, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}, root, &caKey.PublicKey, rootKey)
	tcbSigner := issue(&x509.Certificate{Subject: name("Intel SGX TCB Signing"), KeyUsage: x509.KeyUsageDigitalSignature},
		root, &tcbKey.PublicKey, rootKey)
	pck := issue(&x509.Certificate{Subject: name("Intel SGX PCK Certificate"), KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyAgreement,
		ExtraExtensions: []pkix.Extension{sgxExtension(t)}}, ca, &pckKey.PublicKey, caKey)

	crl := func(issuer *x509.Certificate, k *ecdsa.PrivateKey) []byte {
		der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{Number: big.NewInt(1), ThisUpdate: notBefore, NextUpdate: notAfter}, issuer, k)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	pckCRL, rootCRL := crl(ca, caKey), crl(root, rootKey)
	signer := QEMRSigner()
	collateral := func(tdx bool) []byte {
		l := intel.TCBLevel{TCBDate: tcbDate, TCBStatus: intel.TCBUpToDate}
		l.TCB.SGX = Components
		l.TCB.PCESVN = PCESVN
		ql := intel.ISVSVNLevel{TCBDate: tcbDate, TCBStatus: intel.TCBUpToDate}
		ql.TCB.ISVSVN = QE.ISVSVN
		tcb := intel.TCBInfo{ID: "SGX", Version: 3, IssueDate: notBefore, NextUpdate: notAfter, FMSPC: FMSPC[:], PCEID: PCEID[:],
			TCBEvaluationDataNumber: 17, TCBLevels: []intel.TCBLevel{l}}
		qe := intel.QEIdentity{ID: "QE", Version: 2, IssueDate: notBefore, NextUpdate: notAfter, TCBEvaluationDataNumber: 17,
			MiscSelect: make([]byte, 4), MiscSelectMask: []byte{0xff, 0xff, 0xff, 0xff},
			Attributes: QE.Attributes[:], AttributesMask: append([]byte{0xfb}, make([]byte, 15)...), MRSigner: signer[:],
			ISVProdID: QE.ISVProdID, TCBLevels: []intel.ISVSVNLevel{ql}}
		if tdx {
			tcb.ID, qe.ID = "TDX", "TD_QE"
			tcb.TCBLevels[0].TCB.TDX = new([16]uint8)
			tcb.TDXModule = &intel.TDXModule{MRSigner: make([]byte, 48), Attributes: make([]byte, 8), AttributesMask: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
		}
		tcbJSON, err := json.Marshal(tcb)
		if err != nil {
			t.Fatal(err)
		}
		qeJSON, err := json.Marshal(qe)
		if err != nil {
			t.Fatal(err)
		}
		tcbSig, err := rawSign(tcbKey, tcbJSON)
		if err != nil {
			t.Fatal(err)
		}
		qeSig, err := rawSign(tcbKey, qeJSON)
		if err != nil {
			t.Fatal(err)
		}
		out, err := json.MarshalIndent(map[string]string{
			"tcb_info":                 string(tcbJSON),
			"tcb_info_signature":       hex.EncodeToString(tcbSig),
			"tcb_info_issuer_chain":    string(PEM(tcbSigner, root)),
			"qe_identity":              string(qeJSON),
			"qe_identity_signature":    hex.EncodeToString(qeSig),
			"qe_identity_issuer_chain": string(PEM(tcbSigner, root)),
			"pck_crl":                  hex.EncodeToString(pckCRL),
			"pck_crl_issuer_chain":     string(PEM(ca, root)),
			"root_ca_crl":              hex.EncodeToString(rootCRL),
		}, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		return append(out, '\n')
	}
	write(t, "testonly_root.pem", pemCert(root))
	write(t, "testonly_root_key.pem", pemKey(t, rootKey))
	write(t, "testonly_pck_ca.pem", pemCert(ca))
	write(t, "testonly_pck_ca_key.pem", pemKey(t, caKey))
	write(t, "testonly_tcb_signing.pem", pemCert(tcbSigner))
	write(t, "testonly_tcb_signing_key.pem", pemKey(t, tcbKey))
	write(t, "testonly_pck.pem", pemCert(pck))
	write(t, "testonly_pck_key.pem", pemKey(t, pckKey))
	write(t, "testonly_attestation_key.pem", pemKey(t, attKey))
	write(t, "testonly_collateral_sgx.json", collateral(false))
	write(t, "testonly_collateral_tdx.json", collateral(true))
	t.Log("regenerated; rebuild to embed the new files")
}

type oidValue struct {
	ID    asn1.ObjectIdentifier
	Value asn1.RawValue
}

func entry(t *testing.T, oid asn1.ObjectIdentifier, v any) oidValue {
	b, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return oidValue{ID: oid, Value: asn1.RawValue{FullBytes: b}}
}

func sub(base asn1.ObjectIdentifier, n int) asn1.ObjectIdentifier {
	return append(append(asn1.ObjectIdentifier{}, base...), n)
}

// sgxExtension encodes the SGX extensions of the simulated PCK
// certificate, as Intel's PCK certificates carry them.
func sgxExtension(t *testing.T) pkix.Extension {
	base := intel.OIDSGXExtensions
	tcbOID := sub(base, 2)
	var tcb []oidValue
	for i, c := range Components {
		tcb = append(tcb, entry(t, sub(tcbOID, i+1), int(c)))
	}
	tcb = append(tcb, entry(t, sub(tcbOID, 17), PCESVN), entry(t, sub(tcbOID, 18), Components[:]))
	tcbBytes, err := asn1.Marshal(tcb)
	if err != nil {
		t.Fatal(err)
	}
	all := []oidValue{
		entry(t, sub(base, 1), make([]byte, 16)),
		{ID: tcbOID, Value: asn1.RawValue{FullBytes: tcbBytes}},
		entry(t, sub(base, 3), PCEID[:]),
		entry(t, sub(base, 4), FMSPC[:]),
		entry(t, sub(base, 5), asn1.Enumerated(0)),
	}
	b, err := asn1.Marshal(all)
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: base, Value: b}
}

func pemCert(c *x509.Certificate) []byte {
	return append([]byte("# "+header+"\n"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
}

func pemKey(t *testing.T, k *ecdsa.PrivateKey) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte("# "+header+"\n"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})...)
}

func write(t *testing.T, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
