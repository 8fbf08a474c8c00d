package execproto

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

// reportServer is a Handler with a local report: the report data behind a
// prefix.
type reportServer struct{}

func (reportServer) Exec(context.Context, Request, [3]*os.File) (int, error) {
	return 0, errors.New("exec is not served here")
}

func (reportServer) LocalReport(_ context.Context, reportData []byte) ([]byte, error) {
	if len(reportData) > 0 && reportData[0] == 0xee {
		return nil, errors.New("pal_get_local_report failed: -11 (resource temporarily unavailable)")
	}
	return append([]byte("REPORT:"), reportData...), nil
}

func TestLocalReportRoundTrip(t *testing.T) {
	checkGoroutines(t)
	path := startServer(t, reportServer{})
	rd := bytes.Repeat([]byte{0xab}, MaxReportData)
	got, err := LocalReport(context.Background(), path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if want := append([]byte("REPORT:"), rd...); !bytes.Equal(got, want) {
		t.Errorf("report %q, want %q", got, want)
	}
	// The PAL's failure reaches the client with its reason.
	_, err = LocalReport(context.Background(), path, []byte{0xee})
	if !errors.Is(err, ErrRemote) || !strings.Contains(err.Error(), "pal_get_local_report failed") {
		t.Errorf("a failing PAL: %v, want ErrRemote with the PAL's reason", err)
	}
}

func TestLocalReportWithoutReportHandler(t *testing.T) {
	checkGoroutines(t)
	path := startServer(t, HandlerFunc(func(context.Context, Request, [3]*os.File) (int, error) {
		t.Error("an attest request ran the exec handler")
		return 0, nil
	}))
	_, err := LocalReport(context.Background(), path, []byte("x"))
	if !errors.Is(err, ErrRemote) || !strings.Contains(err.Error(), "no local report") {
		t.Errorf("err = %v, want ErrRemote saying there is no local report", err)
	}
}

func TestLocalReportRefusesLongReportData(t *testing.T) {
	_, err := LocalReport(context.Background(), "/nonexistent/exec.sock", make([]byte, MaxReportData+1))
	if !errors.Is(err, ErrProtocol) || !strings.Contains(err.Error(), "at most 64") {
		t.Errorf("err = %v, want ErrProtocol naming the limit", err)
	}
}

func TestLocalReportCancelled(t *testing.T) {
	checkGoroutines(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := LocalReport(ctx, "/nonexistent/exec.sock", nil); err == nil {
		t.Fatal("a cancelled request succeeded")
	}
}

func TestServerRefusesMalformedAttest(t *testing.T) {
	checkGoroutines(t)
	path := startServer(t, reportServer{})
	r, w := pipeFiles(t)
	fd := int(w.Fd())
	for name, tc := range map[string]struct {
		data []byte
		fds  []int
		want string
	}{
		"descriptors":         {[]byte(`{"attest":{"report_data":"AA=="}}`), []int{fd, fd, fd}, "want none"},
		"with args":           {[]byte(`{"args":["a"],"attest":{}}`), nil, "no args, env or cwd"},
		"inner unknown":       {[]byte(`{"attest":{"report_data":"AA==","nonce":"x"}}`), nil, "unknown"},
		"inner case":          {[]byte(`{"attest":{"Report_Data":"AA=="}}`), nil, "unknown member"},
		"not base64":          {[]byte(`{"attest":{"report_data":"!!"}}`), nil, "decoding"},
		"too much data":       {[]byte(fmt.Sprintf(`{"attest":{"report_data":"%s"}}`, strings.Repeat("A", 88))), nil, "at most 64"},
		"attest not object":   {[]byte(`{"attest":[]}`), nil, "decoding"},
		"attest null no args": {[]byte(`{"attest":null}`), nil, "no args"},
	} {
		resp := rawExchange(t, path, tc.data, tc.fds...)
		if resp.Error == "" || !strings.Contains(resp.Error, tc.want) {
			t.Errorf("%s: response %+v, want an error containing %q", name, resp, tc.want)
		}
	}
	// The descriptors of the refused request were closed.
	w.Close()
	done := make(chan error, 1)
	go func() { _, err := io.ReadAll(r); done <- err }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		r.Close()
		t.Fatal("the server kept a descriptor of a refused attest request open")
	}
}

func TestDecodeAttestResponse(t *testing.T) {
	for data, want := range map[string]string{
		`{"report":"AQI="}`:               "",
		`{"report":"AQI=","exit_code":0}`: "exactly one",
		`{"report":"AQI=","error":"x"}`:   "exactly one",
		`{"report":""}`:                   "exactly one",
		`{"report":"%%"}`:                 "decoding",
		`{"Report":"AQI="}`:               "unknown member",
	} {
		r, err := DecodeResponse([]byte(data))
		switch {
		case want == "" && (err != nil || !bytes.Equal(r.Report, []byte{1, 2})):
			t.Errorf("%s: %+v, %v", data, r, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: err = %v, want one containing %q", data, err, want)
		}
	}
}
