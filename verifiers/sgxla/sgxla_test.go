package sgxla

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/inclavare/inclavare/framework/instance"
	la "github.com/inclavare/inclavare/tee/sgxla"
)

type testKey []byte

func (k testKey) ReportKey(context.Context, *la.Report) ([]byte, error) { return k, nil }

func report(t *testing.T, rd []byte, key []byte, debug bool) []byte {
	t.Helper()
	b := make([]byte, la.ReportSize)
	if debug {
		binary.LittleEndian.PutUint64(b[48:], la.AttributeDebug)
	}
	copy(b[320:], rd)
	mac, err := la.CMAC(key, b[:la.BodySize])
	if err != nil {
		t.Fatal(err)
	}
	copy(b[la.BodySize+la.KeyIDSize:], mac[:])
	return b
}

func TestProbeAndRefusal(t *testing.T) {
	ctx := context.Background()
	err := Registration.Probe(ctx)
	if !errors.Is(err, instance.ErrUnavailable) || !strings.Contains(err.Error(), la.ReasonNoEGETKEY) {
		t.Errorf("Probe = %v", err)
	}
	d := Registration.Descriptor
	if d.Name != "sgx_la" || d.Type != "sgx_la" || d.Priority != 100 || d.Kind != instance.KindVerifier {
		t.Errorf("descriptor %v", d)
	}
	inst, err := Registration.New(ctx, instance.Options{DebugEnclave: true})
	if err != nil {
		t.Fatal(err)
	}
	v := inst.(instance.Verifier)
	rd := bytes.Repeat([]byte{1}, 64)
	key := bytes.Repeat([]byte{9}, 16)
	_, err = v.Verify(ctx, instance.Evidence{Type: "sgx_la", Data: report(t, rd, key, false)}, rd, nil)
	if !errors.Is(err, instance.ErrUnavailable) || !strings.Contains(err.Error(), la.ReasonNoEGETKEY) {
		t.Errorf("Verify without a key source = %v", err)
	}
	if _, err := v.Verify(ctx, instance.Evidence{Type: "csv", Data: nil}, rd, nil); err == nil {
		t.Error("csv evidence accepted")
	}
	if _, err := v.Verify(ctx, instance.Evidence{Type: "sgx_la", Data: make([]byte, 10)}, rd, nil); err == nil {
		t.Error("short report accepted")
	}
}

func TestVerifyWithTestKey(t *testing.T) {
	ctx := context.Background()
	rd := bytes.Repeat([]byte{1}, 64)
	key := bytes.Repeat([]byte{9}, 16)
	v := New(Config{Keys: testKey(key)})
	c, err := v.Verify(ctx, instance.Evidence{Type: "sgx_la", Data: report(t, rd, key, false)}, rd, nil)
	if err != nil || c["debug"] != false {
		t.Fatalf("Verify = %v, %v", c, err)
	}
	raw := report(t, rd, key, false)
	raw[100] ^= 1
	if _, err := v.Verify(ctx, instance.Evidence{Type: "sgx_la", Data: raw}, rd, nil); !errors.Is(err, la.ErrMACMismatch) {
		t.Errorf("flipped byte: %v", err)
	}
	dbg := instance.Evidence{Type: "sgx_la", Data: report(t, rd, key, true)}
	if _, err := v.Verify(ctx, dbg, rd, nil); err == nil || !strings.Contains(err.Error(), "debug enclave") {
		t.Errorf("debug report: %v", err)
	}
	if c, err := New(Config{Keys: testKey(key), AllowDebug: true}).Verify(ctx, dbg, rd, nil); err != nil || c["debug"] != true {
		t.Errorf("debug report allowed: %v, %v", c, err)
	}
}
