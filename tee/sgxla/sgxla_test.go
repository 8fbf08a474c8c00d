package sgxla

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/tee/attestfs"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCMACRFC4493 checks the four examples of RFC 4493 section 4, and the
// subkeys of section 2.3.
func TestCMACRFC4493(t *testing.T) {
	key := unhex(t, "2b7e1516 28aed2a6 abf71588 09cf4f3c")
	msg := unhex(t, "6bc1bee2 2e409f96 e93d7e11 7393172a ae2d8a57 1e03ac9c 9eb76fac 45af8e51 30c81c46 a35ce411 e5fbc119 1a0a52ef f69f2445 df4f9b17 ad2b417b e66c3710")
	for _, tc := range []struct {
		n    int
		want string
	}{
		{0, "bb1d6929 e9593728 7fa37d12 9b756746"},
		{16, "070a16b4 6b4d4144 f79bdd9d d04a287c"},
		{40, "dfa66747 de9ae630 30ca3261 1497c827"},
		{64, "51f0bebf 7e3b9d92 fc497417 79363cfe"},
	} {
		got, err := CMAC(key, msg[:tc.n])
		if err != nil {
			t.Fatal(err)
		}
		if want := unhex(t, tc.want); !bytes.Equal(got[:], want) {
			t.Errorf("CMAC(%d bytes) = %x, want %x", tc.n, got, want)
		}
	}
	var l, k1, k2 [16]byte
	copy(l[:], unhex(t, "7df76b0c 1ab899b3 3e42f047 b91b546f"))
	double(&k1, &l)
	double(&k2, &k1)
	if want := unhex(t, "fbeed618 35713366 7c85e08f 7236a8de"); !bytes.Equal(k1[:], want) {
		t.Errorf("K1 = %x, want %x", k1, want)
	}
	if want := unhex(t, "f7ddac30 6ae266cc f90bc11e e46d513b"); !bytes.Equal(k2[:], want) {
		t.Errorf("K2 = %x, want %x", k2, want)
	}
	if _, err := CMAC(make([]byte, 5), nil); err == nil {
		t.Error("CMAC accepted a 5-byte key")
	}
}

// testKey stands for a REPORT key; it exists only in tests.
type testKey []byte

func (k testKey) ReportKey(context.Context, *Report) ([]byte, error) { return k, nil }

var theTestKey = testKey(bytes.Repeat([]byte{0x5a}, 16))

// makeReport builds a REPORT over rd with known fields, MACed with key.
func makeReport(t *testing.T, rd []byte, key []byte) []byte {
	t.Helper()
	b := make([]byte, ReportSize)
	for i := range 16 {
		b[offCPUSVN+i] = byte(i + 1)
	}
	binary.LittleEndian.PutUint64(b[offAttributes:], 0x7|AttributeDebug)
	binary.LittleEndian.PutUint64(b[offAttributes+8:], 0xe7)
	copy(b[offMREnclave:], bytes.Repeat([]byte{0xaa}, 32))
	copy(b[offMRSigner:], bytes.Repeat([]byte{0xbb}, 32))
	binary.LittleEndian.PutUint16(b[offISVProdID:], 7)
	binary.LittleEndian.PutUint16(b[offISVSVN:], 3)
	copy(b[offReportData:], rd)
	copy(b[offKeyID:], bytes.Repeat([]byte{0xcc}, 32))
	mac, err := CMAC(key, b[:BodySize])
	if err != nil {
		t.Fatal(err)
	}
	copy(b[offMAC:], mac[:])
	return b
}

func reportData() []byte {
	rd := make([]byte, 64)
	for i := range rd {
		rd[i] = byte(0x40 + i)
	}
	return rd
}

func TestParseAndClaims(t *testing.T) {
	rd := reportData()
	raw := makeReport(t, rd, theTestKey)
	r, err := ParseReport(raw)
	if err != nil {
		t.Fatal(err)
	}
	c := Claims(r)
	want := map[string]any{
		"mrenclave":   strings.Repeat("aa", 32),
		"mrsigner":    strings.Repeat("bb", 32),
		"isv_prod_id": uint64(7),
		"isv_svn":     uint64(3),
		"attributes":  "0700000000000000e700000000000000",
		"debug":       true,
		"report_data": hex.EncodeToString(rd),
		"cpusvn":      "0102030405060708090a0b0c0d0e0f10",
	}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("claim %s = %v, want %v", k, c[k], v)
		}
	}
	if len(c) != len(want) {
		t.Errorf("claims %v", c)
	}
	if r.KeyID[0] != 0xcc || !bytes.Equal(r.Body(), raw[:BodySize]) {
		t.Error("KEYID or body misread")
	}
	for _, n := range []int{0, ReportSize - 1, ReportSize + 1, BodySize} {
		_, err := ParseReport(make([]byte, n))
		if err == nil || !strings.Contains(err.Error(), "want 432") || !strings.Contains(err.Error(), "MAC 16") {
			t.Errorf("ParseReport(%d bytes) = %v", n, err)
		}
	}
}

func TestVerify(t *testing.T) {
	ctx := context.Background()
	rd := reportData()
	raw := makeReport(t, rd, theTestKey)
	r, _ := ParseReport(raw)
	if err := Verify(ctx, r, rd, theTestKey); err != nil {
		t.Fatalf("Verify with the test key: %v", err)
	}
	// A flipped byte anywhere in the body or MAC refuses.
	for _, i := range []int{0, offMREnclave, offISVSVN, offReportData - 1, offMAC, ReportSize - 1} {
		bad := bytes.Clone(raw)
		bad[i] ^= 1
		br, _ := ParseReport(bad)
		if err := Verify(ctx, br, rd, theTestKey); !errors.Is(err, ErrMACMismatch) {
			t.Errorf("byte %d flipped: %v, want ErrMACMismatch", i, err)
		}
	}
	// A wrong key refuses.
	if err := Verify(ctx, r, rd, testKey(make([]byte, 16))); !errors.Is(err, ErrMACMismatch) {
		t.Errorf("wrong key: %v", err)
	}
	if err := Verify(ctx, r, rd, testKey(make([]byte, 32))); err == nil || !strings.Contains(err.Error(), "want 16") {
		t.Errorf("32-byte key: %v", err)
	}
	// Other report data refuses before any key is asked for.
	other := bytes.Clone(rd)
	other[5] ^= 1
	if err := Verify(ctx, r, other, theTestKey); err == nil || !strings.Contains(err.Error(), "REPORTDATA") {
		t.Errorf("other report data: %v", err)
	}
	if err := Verify(ctx, r, rd[:32], theTestKey); err == nil {
		t.Error("short report data accepted")
	}
	// Without a key source, or with the hardware one: unavailable.
	for _, ks := range []KeySource{nil, HardwareKeySource{}} {
		err := Verify(ctx, r, rd, ks)
		if !errors.Is(err, instance.ErrUnavailable) || !strings.Contains(err.Error(), ReasonNoEGETKEY) {
			t.Errorf("key source %T: %v, want ErrUnavailable with %q", ks, err, ReasonNoEGETKEY)
		}
	}
}

func TestProbeHere(t *testing.T) {
	err := Probe(context.Background())
	if err == nil {
		t.Skip("this machine is inside a Gramine SGX enclave")
	}
	if !errors.Is(err, instance.ErrUnavailable) || !strings.Contains(err.Error(), AttestationDir) {
		t.Errorf("Probe = %v", err)
	}
	if _, err := OpenDevice(context.Background()); !errors.Is(err, instance.ErrUnavailable) {
		t.Errorf("OpenDevice = %v", err)
	}
}

// TestDeviceFiles drives Device over plain files laid out like Gramine's.
func TestDeviceFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	rd := reportData()
	raw := makeReport(t, rd, theTestKey)
	ti := bytes.Repeat([]byte{0x11}, TargetInfoSize)
	for f, b := range map[string][]byte{attestfs.MyTargetInfo: ti, attestfs.TargetInfo: nil, attestfs.UserReportData: nil, attestfs.Report: raw} {
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	d, err := OpenDeviceAt(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := d.Report(ctx, rd)
	if err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("Report = %d bytes, %v", len(got), err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, attestfs.TargetInfo)); !bytes.Equal(b, ti) {
		t.Error("TARGETINFO not written")
	}
	if b, _ := os.ReadFile(filepath.Join(dir, attestfs.UserReportData)); !bytes.Equal(b, rd) {
		t.Error("report data not written")
	}
	if _, err := d.Report(ctx, rd[:10]); err == nil {
		t.Error("short report data accepted")
	}
	os.WriteFile(filepath.Join(dir, attestfs.Report), raw[:100], 0o600)
	if _, err := d.Report(ctx, rd); err == nil {
		t.Error("short report accepted")
	}
}
