package attestfs

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// files lays out pseudo-files as regular files.
func files(t *testing.T, content map[string][]byte) string {
	t.Helper()
	dir := t.TempDir()
	for name, b := range content {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestOpenMissing(t *testing.T) {
	dir := files(t, map[string][]byte{UserReportData: nil})
	_, err := Open(context.Background(), dir, UserReportData, Quote)
	if !errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), filepath.Join(dir, Quote)) {
		t.Fatalf("Open without quote: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Open(ctx, dir); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestQuoteAndLocalReport(t *testing.T) {
	ti := bytes.Repeat([]byte{1}, TargetInfoSize)
	dir := files(t, map[string][]byte{UserReportData: nil, Quote: []byte("quote"), MyTargetInfo: ti, TargetInfo: nil, Report: []byte("report")})
	d, err := Open(context.Background(), dir, UserReportData, Quote, MyTargetInfo, TargetInfo, Report)
	if err != nil {
		t.Fatal(err)
	}
	q, err := d.Quote(context.Background(), []byte("rd"))
	if err != nil || string(q) != "quote" {
		t.Fatalf("Quote = %q, %v", q, err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, UserReportData))
	if want := append([]byte("rd"), make([]byte, 62)...); !bytes.Equal(got, want) {
		t.Fatalf("user_report_data %x, want %x", got, want)
	}
	r, err := d.LocalReport(context.Background(), nil)
	if err != nil || string(r) != "report" {
		t.Fatalf("LocalReport = %q, %v", r, err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, TargetInfo)); !bytes.Equal(got, ti) {
		t.Fatal("target_info is not the enclave's own TARGETINFO")
	}
	if _, err := d.Quote(context.Background(), make([]byte, 65)); err == nil {
		t.Fatal("65 bytes of report data accepted")
	}
	if err := os.WriteFile(filepath.Join(dir, MyTargetInfo), ti[:100], 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := d.LocalReport(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "TARGETINFO") {
		t.Fatalf("short TARGETINFO: %v", err)
	}
}

// Every Dir on one directory shares one lock, whoever opened it.
func TestOneLockPerDirectory(t *testing.T) {
	dir := files(t, nil)
	a, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(context.Background(), dir+"/.")
	if err != nil {
		t.Fatal(err)
	}
	c, err := Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if a.mu != b.mu || a.mu == c.mu {
		t.Fatal("locks are not one per directory")
	}
}
