package simulated

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/google/go-sev-guest/kds"
	sevtest "github.com/google/go-sev-guest/testing"
)

var (
	regenerate     = flag.Bool("regenerate", false, "reissue the test-only certificates in this directory from its keys")
	regenerateKeys = flag.Bool("regenerate-keys", false, "with -regenerate, make new test-only keys too (every old simulated report stops verifying)")
)

// The validity of the hierarchy. go-sev-guest's builder gives the ARK and
// ASK 25 years from their creation time and the VCEK 7 years from its own
// (with a NotBefore of year 1), so the VCEK is "created" late for all three
// to last until about 2049.
var (
	rootCreation = time.Date(2025, time.January, 1, 0, 0, 0, 0, time.UTC)
	vcekCreation = time.Date(2042, time.June, 1, 0, 0, 0, 0, time.UTC)
)

const keyHeader = "TEST ONLY: the simulated SEV-SNP TEE of Inclavare Rats-TLS. Never trust it in production."

// TestRegenerate is the generator of the embedded hierarchy; without
// -regenerate it checks that the embedded files are what the generator's
// inputs say they should be.
func TestRegenerate(t *testing.T) {
	if !*regenerate {
		m, err := Load()
		if err != nil {
			t.Fatal(err)
		}
		checkMaterial(t, m)
		// The committed ARK and ASK keys are the certificates' keys.
		if !mustKey[*rsa.PrivateKey](t, read(t, "testonly_ark_key.pem")).PublicKey.Equal(m.ARK.PublicKey) ||
			!mustKey[*rsa.PrivateKey](t, read(t, "testonly_ask_key.pem")).PublicKey.Equal(m.ASK.PublicKey) {
			t.Error("testonly_ark_key.pem or testonly_ask_key.pem does not match its certificate")
		}
		return
	}
	var ark, ask *rsa.PrivateKey
	var vcek *ecdsa.PrivateKey
	if *regenerateKeys {
		var err error
		if ark, err = rsa.GenerateKey(rand.Reader, 4096); err != nil {
			t.Fatal(err)
		}
		if ask, err = rsa.GenerateKey(rand.Reader, 4096); err != nil {
			t.Fatal(err)
		}
		if vcek, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); err != nil {
			t.Fatal(err)
		}
	} else {
		ark = mustKey[*rsa.PrivateKey](t, read(t, "testonly_ark_key.pem"))
		ask = mustKey[*rsa.PrivateKey](t, read(t, "testonly_ask_key.pem"))
		vcek = mustKey[*ecdsa.PrivateKey](t, VCEKKeyPEM)
	}
	// The builder needs an ASVK (VLEK intermediate) key; that certificate
	// is not kept, so a throwaway key does.
	asvk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	chip := ChipID()
	b := &sevtest.AmdSignerBuilder{
		Keys:             &sevtest.AmdKeys{Ark: ark, Ask: ask, Asvk: asvk, Vcek: vcek},
		ProductName:      ProductName,
		ArkCreationTime:  rootCreation,
		AskCreationTime:  rootCreation,
		AsvkCreationTime: rootCreation,
		VcekCreationTime: vcekCreation,
		HWID:             chip,
		TCB:              tcbVersion(t),
		VcekCustom: sevtest.CertOverride{
			Extensions: sevtest.CustomExtensions(kds.TCBParts{
				BlSpl: TCB.Bootloader, TeeSpl: TCB.TEE, SnpSpl: TCB.SNP, UcodeSpl: TCB.Microcode,
			}, chip[:], "", ProductName),
		},
	}
	s, err := b.TestOnlyCertChain()
	if err != nil {
		t.Fatal(err)
	}
	write(t, "testonly_ark.pem", pemCert(s.Ark.Raw))
	write(t, "testonly_ask.pem", pemCert(s.Ask.Raw))
	write(t, "testonly_vcek.pem", pemCert(s.Vcek.Raw))
	write(t, "testonly_ark_key.pem", pemKey(t, ark))
	write(t, "testonly_ask_key.pem", pemKey(t, ask))
	write(t, "testonly_vcek_key.pem", pemKey(t, vcek))
	t.Log("regenerated; rebuild to embed the new files")
}

func tcbVersion(t *testing.T) kds.TCBVersion {
	v, err := kds.ComposeTCBParts(kds.TCBParts{BlSpl: TCB.Bootloader, TeeSpl: TCB.TEE, SnpSpl: TCB.SNP, UcodeSpl: TCB.Microcode})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func checkMaterial(t *testing.T, m *Material) {
	t.Helper()
	if err := m.ASK.CheckSignatureFrom(m.ARK); err != nil {
		t.Errorf("ASK not signed by ARK: %v", err)
	}
	if err := m.VCEK.CheckSignatureFrom(m.ASK); err != nil {
		t.Errorf("VCEK not signed by ASK: %v", err)
	}
	exts, err := kds.VcekCertificateExtensions(m.VCEK)
	if err != nil {
		t.Fatal(err)
	}
	chip := ChipID()
	if !bytes.Equal(exts.HWID, chip[:]) {
		t.Errorf("VCEK HWID %x, want %x", exts.HWID, chip)
	}
	if exts.TCBVersion != tcbVersion(t) {
		t.Errorf("VCEK TCB %#x, want %#x", exts.TCBVersion, tcbVersion(t))
	}
	if exts.ProductName != ProductName {
		t.Errorf("VCEK product %q, want %q", exts.ProductName, ProductName)
	}
	for _, c := range []*x509.Certificate{m.ARK, m.ASK, m.VCEK} {
		if c.NotAfter.Before(time.Date(2049, time.January, 1, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("%s expires %v, before 2049", c.Subject.CommonName, c.NotAfter)
		}
	}
}

func mustKey[K crypto.Signer](t *testing.T, p []byte) K {
	t.Helper()
	b, _ := pem.Decode(p)
	if b == nil {
		t.Fatal("no PEM block; use -regenerate-keys")
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	kk, ok := k.(K)
	if !ok {
		t.Fatalf("key is a %T", k)
	}
	return kk
}

func pemCert(der []byte) []byte {
	return append([]byte("# "+keyHeader+"\n"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
}

func pemKey(t *testing.T, k crypto.Signer) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte("# "+keyHeader+"\n"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})...)
}

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func write(t *testing.T, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(fmt.Errorf("writing %s: %w", name, err))
	}
}
