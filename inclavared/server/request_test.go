package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/inclavare/inclavare/framework/ratstls"

	"github.com/inclavare/inclavare/inclavared/api"
)

func TestClassify(t *testing.T) {
	line := api.GetEnclaveInfoLine
	for _, tc := range []struct {
		in                 string
		decided, isRequest bool
	}{
		{"", false, false},
		{"{", false, false},
		{line[:len(line)-1], false, false},
		{line, true, true},
		{line + "more", true, true},
		{"x", true, false},
		{`{"type":"GETENCLAVEINFO"}` + "\r\n", true, false},
		{`{"type": "GETENCLAVEINFO"}` + "\n", true, false},
		{line[:5] + "X", true, false},
		{nonceLine[:30], false, false},
		{nonceLine[:len(nonceLine)-1], false, false},
		{nonceLine, true, true},
		{nonceLine + "more", true, true},
		{strings.ToUpper(nonceLine[:40]), true, false},
		{nonceLine[:40] + "g", true, false},
		{nonceLine[:len(nonceLine)-3] + "}\n", true, false},
	} {
		d, r := classify([]byte(tc.in))
		if d != tc.decided || (r.size > 0) != tc.isRequest {
			t.Errorf("classify(%q) = %v, %+v; want %v, %v", tc.in, d, r, tc.decided, tc.isRequest)
		}
	}
	_, r := classify([]byte(nonceLine))
	if r.nonce == nil || *r.nonce != testNonce || r.size != len(nonceLine) {
		t.Errorf("nonce request: %+v", r)
	}
	if _, r := classify([]byte(line)); r.nonce != nil {
		t.Errorf("plain request with a nonce: %+v", r)
	}
}

// testNonce is a request nonce, and nonceLine its request.
var (
	testNonce = [api.NonceSize]byte{1, 2, 3, 0xab, 0xcd, 0xef}
	nonceLine = api.GetEnclaveInfoNonceLine(testNonce)
)

// chunks is a deadlineReader returning its chunks one Read at a time,
// then err (a timeout when nil).
type chunks struct {
	parts [][]byte
	err   error
}

func (c *chunks) Read(b []byte) (int, error) {
	if len(c.parts) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		return 0, timeoutError{}
	}
	n := copy(b, c.parts[0])
	if c.parts[0] = c.parts[0][n:]; len(c.parts[0]) == 0 {
		c.parts = c.parts[1:]
	}
	return n, nil
}

func (*chunks) SetReadDeadline(time.Time) error { return nil }

type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

var _ net.Error = timeoutError{}

func TestReadRequest(t *testing.T) {
	line := api.GetEnclaveInfoLine
	broken := errors.New("connection reset")
	for name, tc := range map[string]struct {
		parts     []string
		end       error
		isRequest bool
		rest      string
		err       error
	}{
		"request":           {[]string{line}, nil, true, "", nil},
		"request and data":  {[]string{line + "data"}, nil, true, "data", nil},
		"request in pieces": {[]string{line[:3], line[3:10], line[10:] + "x"}, nil, true, "x", nil},
		"data":              {[]string{"hello"}, nil, false, "hello", nil},
		"prefix then data":  {[]string{line[:8], "zzz"}, nil, false, line[:8] + "zzz", nil},
		"silence":           {nil, nil, false, "", nil},
		"prefix then wait":  {[]string{line[:8]}, nil, false, line[:8], nil},
		"prefix then EOF":   {[]string{line[:8]}, io.EOF, false, line[:8], nil},
		"prefix then error": {[]string{line[:8]}, broken, false, line[:8], broken},
		"big first chunk":   {[]string{string(bytes.Repeat([]byte("a"), 100_000))}, nil, false, "", nil},
	} {
		t.Run(name, func(t *testing.T) {
			c := &chunks{err: tc.end}
			for _, p := range tc.parts {
				c.parts = append(c.parts, []byte(p))
			}
			req, rest, err := readRequest(c, time.Second)
			isReq := req.size > 0
			if isReq != tc.isRequest || !errors.Is(err, tc.err) {
				t.Fatalf("readRequest = %v, %q, %v; want %v, %v", isReq, rest, err, tc.isRequest, tc.err)
			}
			// What was read and not consumed is given back, whatever it is.
			var read []byte
			if isReq {
				read = append([]byte(line), rest...)
			} else {
				read = rest
			}
			sent := []byte(nil)
			for _, p := range tc.parts {
				sent = append(sent, p...)
			}
			if !bytes.HasPrefix(sent, read) || (tc.rest != "" && string(rest) != tc.rest) {
				t.Errorf("rest %.40q, want %.40q", rest, tc.rest)
			}
			if name == "big first chunk" && (len(rest) == 0 || len(rest) > 100_000) {
				t.Errorf("big chunk: %d bytes given back", len(rest))
			}
		})
	}
}

// FuzzReadRequest feeds shelter's first bytes, cut anywhere: the request
// is recognised exactly when the bytes start with it, and every byte read
// beyond it is given back for the workload.
func FuzzReadRequest(f *testing.F) {
	f.Add([]byte(api.GetEnclaveInfoLine), uint8(3))
	f.Add([]byte(api.GetEnclaveInfoLine+"abc"), uint8(30))
	f.Add([]byte(`{"type":"GETENCLAVEINF`), uint8(1))
	f.Add([]byte("hello"), uint8(0))
	f.Add([]byte(nonceLine+"abc"), uint8(40))
	f.Fuzz(func(t *testing.T, data []byte, cut uint8) {
		c := &chunks{err: io.EOF}
		if k := int(cut); k > 0 && k < len(data) {
			c.parts = [][]byte{data[:k], data[k:]}
		} else if len(data) > 0 {
			c.parts = [][]byte{data}
		}
		req, rest, err := readRequest(c, time.Second)
		if err != nil {
			t.Fatalf("readRequest: %v", err)
		}
		line := []byte(api.GetEnclaveInfoLine)
		var want int
		if bytes.HasPrefix(data, line) {
			want = len(line)
		} else if len(data) >= api.NonceLineSize {
			if _, ok := api.ParseNonceLine(data[:api.NonceLineSize]); ok {
				want = api.NonceLineSize
			}
		}
		if req.size != want {
			t.Fatalf("request size %d for %q, want %d", req.size, data, want)
		}
		read := append(append([]byte(nil), data[:req.size]...), rest...)
		if !bytes.HasPrefix(data, read) {
			t.Fatalf("gave back %q, not what was sent (%q)", read, data)
		}
		if d, r := classify(data); d && r.size != req.size {
			t.Fatalf("classify and readRequest disagree on %q", data)
		}
	})
}

func TestReason(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&WorkloadError{api.ReasonNotTLS13, errors.New("x")}, api.ReasonNotTLS13},
		{fmt.Errorf("handshake: %w", ratstls.ErrNoEvidence), api.ReasonNoEvidence},
		{fmt.Errorf("handshake: %w", ratstls.ErrBadCertificate), api.ReasonBadCertificate},
		{fmt.Errorf("%w by the callback: %w", ratstls.ErrRefused, &PolicyError{errors.New("no")}), api.ReasonPolicy},
		{fmt.Errorf("%w: bad signature", ratstls.ErrRefused), api.ReasonRefused},
		{fmt.Errorf("%w: no common mode", ratstls.ErrFreshness), api.ReasonFreshness},
		{fmt.Errorf("dial: %w", context.DeadlineExceeded), api.ReasonTimeout},
		{fmt.Errorf("read: %w", os.ErrDeadlineExceeded), api.ReasonTimeout},
		{fmt.Errorf("connecting: %w", dial), api.ReasonUnreachable},
		{ratstls.ErrClosed, api.ReasonShutdown},
		{errors.New("tls: bad record MAC"), api.ReasonHandshake},
	} {
		if got := reason(tc.err); got != tc.want {
			t.Errorf("reason(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}

func TestIdentityBeforeHandshake(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	_, err := Identity(ratstls.Client(a, &ratstls.Config{}))
	var we *WorkloadError
	if !errors.As(err, &we) || we.Reason != api.ReasonHandshake {
		t.Fatalf("Identity before the handshake: %v", err)
	}
}
