package server

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"time"

	"github.com/inclavare/inclavare/inclavared/api"
)

// requestLine is the exact GETENCLAVEINFO request.
var requestLine = []byte(api.GetEnclaveInfoLine)

// classify tells from shelter's first bytes b whether they are the
// GETENCLAVEINFO request: decided is false while b is a proper prefix of
// the request (more bytes are needed); otherwise isRequest says whether b
// starts with the whole request line.
func classify(b []byte) (decided, isRequest bool) {
	if len(b) >= len(requestLine) {
		return true, bytes.HasPrefix(b, requestLine)
	}
	return !bytes.HasPrefix(requestLine, b), false
}

// deadlineReader is what readRequest reads from: a connection whose read
// deadline it may set.
type deadlineReader interface {
	io.Reader
	SetReadDeadline(time.Time) error
}

// readRequest reads shelter's first bytes until they are known to be, or
// not to be, the GETENCLAVEINFO request, or until wait passes without a
// decision. It returns whether they are the request, and the bytes read
// that are not part of it, which belong to the workload. An end of stream
// ends the wait (what was read is not a request); any other read error is
// returned.
func readRequest(c deadlineReader, wait time.Duration) (isRequest bool, rest []byte, err error) {
	if err := c.SetReadDeadline(time.Now().Add(wait)); err != nil {
		return false, nil, err
	}
	defer c.SetReadDeadline(time.Time{})
	buf := make([]byte, 0, 512)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if decided, isReq := classify(buf); decided {
			if isReq {
				return true, buf[len(requestLine):], nil
			}
			return false, buf, nil
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF), isTimeout(err):
			return false, buf, nil
		default:
			return false, buf, err
		}
	}
}

// isTimeout tells a deadline expiry.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
