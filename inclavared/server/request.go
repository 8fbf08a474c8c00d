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

// requestLine is the exact GETENCLAVEINFO request without a nonce.
var requestLine = []byte(api.GetEnclaveInfoLine)

// nonceTemplate is a GETENCLAVEINFO request with a nonce; 'x' marks the
// hex digits.
var nonceTemplate = []byte(api.GetEnclaveInfoNonceLine([api.NonceSize]byte{}))

// request is what shelter's first bytes asked for.
type request struct {
	// size is the length of the request line (0: no request).
	size int
	// nonce is the request's nonce, if it has one.
	nonce *[api.NonceSize]byte
}

// matchesNonceTemplate tells whether b is a prefix of a request line with
// a nonce.
func matchesNonceTemplate(b []byte) bool {
	hexStart := bytes.IndexByte(nonceTemplate, '0')
	for i, c := range b[:min(len(b), len(nonceTemplate))] {
		if i >= hexStart && i < hexStart+2*api.NonceSize {
			if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
				return false
			}
		} else if c != nonceTemplate[i] {
			return false
		}
	}
	return true
}

// classify tells from shelter's first bytes b whether they are a
// GETENCLAVEINFO request: decided is false while b is a proper prefix of
// a request (more bytes are needed); otherwise req says which request b
// starts with (size 0: none).
func classify(b []byte) (decided bool, req request) {
	if bytes.HasPrefix(b, requestLine) {
		return true, request{size: len(requestLine)}
	}
	if len(b) < len(requestLine) && bytes.HasPrefix(requestLine, b) {
		return false, request{}
	}
	if !matchesNonceTemplate(b) {
		return true, request{}
	}
	if len(b) < len(nonceTemplate) {
		return false, request{}
	}
	n, ok := api.ParseNonceLine(b[:len(nonceTemplate)])
	if !ok {
		return true, request{}
	}
	return true, request{size: len(nonceTemplate), nonce: &n}
}

// deadlineReader is what readRequest reads from: a connection whose read
// deadline it may set.
type deadlineReader interface {
	io.Reader
	SetReadDeadline(time.Time) error
}

// readRequest reads shelter's first bytes until they are known to be, or
// not to be, a GETENCLAVEINFO request, or until wait passes without a
// decision. It returns the request (size 0: none), and the bytes read that
// are not part of it, which belong to the workload. An end of stream ends
// the wait (what was read is not a request); any other read error is
// returned.
func readRequest(c deadlineReader, wait time.Duration) (req request, rest []byte, err error) {
	if err := c.SetReadDeadline(time.Now().Add(wait)); err != nil {
		return request{}, nil, err
	}
	defer c.SetReadDeadline(time.Time{})
	buf := make([]byte, 0, 512)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if decided, r := classify(buf); decided {
			return r, buf[r.size:], nil
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF), isTimeout(err):
			return request{}, buf, nil
		default:
			return request{}, buf, err
		}
	}
}

// isTimeout tells a deadline expiry.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
