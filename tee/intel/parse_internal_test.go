package intel

import (
	"bytes"
	"encoding/pem"
	"strings"
	"testing"
)

// pemCerts must read what encoding/pem reads, whichever path it takes.
func TestPEMCertsMatchesEncodingPEM(t *testing.T) {
	der1, der2 := bytes.Repeat([]byte{0x30, 0x82, 0x01}, 70), []byte("second certificate bytes")
	enc := func(der []byte, h map[string]string) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Headers: h, Bytes: der}))
	}
	for name, in := range map[string]string{
		"plain":         enc(der1, nil) + enc(der2, nil),
		"crlf":          strings.ReplaceAll(enc(der1, nil)+enc(der2, nil), "\n", "\r\n"),
		"nul padded":    enc(der1, nil) + enc(der2, nil) + "\x00\x00",
		"headers":       enc(der1, map[string]string{"Proc-Type": "4,ENCRYPTED"}) + enc(der2, nil),
		"text between":  enc(der1, nil) + "issuer chain follows\n" + enc(der2, nil),
		"no final line": strings.TrimSuffix(enc(der1, nil)+enc(der2, nil), "\n"),
	} {
		got, err := pemCerts("chain", []byte(in))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(got) != 2 || !bytes.Equal(got[0], der1) || !bytes.Equal(got[1], der2) {
			t.Fatalf("%s: got %d certificates, differing from the input", name, len(got))
		}
	}
	for name, in := range map[string]string{
		"empty":       "",
		"garbage":     "not a certificate",
		"bad base64":  "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
		"no end line": "-----BEGIN CERTIFICATE-----\nAAAA\n",
		"other type":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der2})),
		"trailing":    enc(der1, nil) + "trailing bytes",
	} {
		if got, err := pemCerts("chain", []byte(in)); err == nil {
			t.Errorf("%s: accepted (%d certificates)", name, len(got))
		}
	}
}

// A signed body must have one reading: duplicate or differently cased
// member names are refused.
func TestParseCollateralBodiesOneReading(t *testing.T) {
	for name, body := range map[string]string{
		"duplicate member": `{"version":3,"version":2,"id":"SGX"}`,
		"invalid UTF-8":    "{\"id\":\"SGX\xff\",\"version\":3}",
	} {
		if _, err := ParseTCBInfo([]byte(body)); err == nil {
			t.Errorf("TCB info, %s: accepted", name)
		}
		if _, err := ParseQEIdentity([]byte(body)); err == nil {
			t.Errorf("QE identity, %s: accepted", name)
		}
	}
	// A member name in another case is not the member: here the TCB info
	// then has no version.
	if _, err := ParseTCBInfo([]byte(`{"Version":3,"id":"SGX"}`)); err == nil || !strings.Contains(err.Error(), "version") {
		t.Errorf("TCB info with \"Version\": %v", err)
	}
}
