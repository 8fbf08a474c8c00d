// Package execproto is the protocol of the runelet's exec socket, both
// ends: rune sends a request to run a further process in a running enclave
// runtime instance, and the runelet (the PAL host, PID 2 in the container)
// creates and runs it there and answers with its exit code.
//
// The socket is a Unix SOCK_SEQPACKET socket, <run dir>/exec.sock. A
// connection carries exactly one exchange:
//
//  1. the client sends one packet: the Request as a JSON object, with the
//     process's stdin, stdout and stderr, in that order, attached as
//     SCM_RIGHTS;
//  2. the server runs the process and sends one packet: a Response,
//     {"exit_code": N} or {"error": "..."}, then closes the connection.
//
// If the client closes the connection before the response, the server
// kills the process (SIGKILL through pal_kill), so a cancelled Exec leaves
// nothing running.
//
// The same socket answers a request for the enclave runtime's local
// report (PAL API version 3, pal_get_local_report): the client sends
// {"attest": {"report_data": BASE64}} (at most MaxReportData bytes, no
// descriptors), and the server answers {"report": BASE64} or
// {"error": "..."}.
//
// JSON members must be spelled exactly as documented; unknown members,
// trailing data, a request larger than MaxRequestSize and any count of
// descriptors other than three (exec) or none (attest) are refused.
package execproto

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// SocketName is the name of the exec socket in the runelet's run directory.
const SocketName = "exec.sock"

// MaxRequestSize bounds the JSON request, so that it fits one packet.
const MaxRequestSize = 128 << 10

// maxResponseSize bounds the JSON response.
const maxResponseSize = 64 << 10

// ErrProtocol marks a malformed request or response.
var ErrProtocol = errors.New("malformed exec request or response")

// MaxReportData is the most report data an attest request may carry: the
// report data of an SGX report, and of the skeleton PAL's report.
const MaxReportData = 64

// Request asks the runelet to run a further process in its enclave
// runtime, or, with Attest set, for the enclave runtime's local report.
type Request struct {
	// Args are the process's arguments; Args[0] is the executable, as the
	// enclave runtime resolves it (the skeleton PAL searches PATH from Env
	// when it has no slash). It must not be empty.
	Args []string `json:"args"`
	// Env is the process's environment, KEY=VALUE entries.
	Env []string `json:"env,omitempty"`
	// Cwd is the working directory, absolute; empty keeps the runelet's.
	Cwd string `json:"cwd,omitempty"`
	// Attest, when set, makes this an attest request: Args, Env and Cwd
	// must then be empty.
	Attest *AttestRequest `json:"attest,omitempty"`
}

// AttestRequest asks for the enclave runtime's local report over
// ReportData.
type AttestRequest struct {
	// ReportData is bound into the report (at most MaxReportData bytes;
	// the PAL zero-pads it).
	ReportData []byte `json:"report_data"`
}

// Response is the runelet's answer: the exit code, or why the process
// could not be run.
type Response struct {
	// ExitCode is the process's exit code (128+N when killed by signal N).
	ExitCode *int `json:"exit_code,omitempty"`
	// Error says why the process could not be created or run, or why
	// there is no report.
	Error string `json:"error,omitempty"`
	// Report is the local report answering an attest request.
	Report []byte `json:"report,omitempty"`
}

// Validate checks a request: arguments present, no NUL byte in any string
// (they become C strings), KEY=VALUE environment entries, an absolute
// working directory.
//
// An attest request carries at most MaxReportData bytes of report data and
// nothing else.
func (r *Request) Validate() error {
	if r.Attest != nil {
		if len(r.Args) != 0 || len(r.Env) != 0 || r.Cwd != "" {
			return fmt.Errorf("%w: an attest request carries no args, env or cwd", ErrProtocol)
		}
		if n := len(r.Attest.ReportData); n > MaxReportData {
			return fmt.Errorf("%w: report data of %d bytes, at most %d", ErrProtocol, n, MaxReportData)
		}
		return nil
	}
	if len(r.Args) == 0 {
		return fmt.Errorf("%w: no arguments: args[0] must name the executable", ErrProtocol)
	}
	if r.Args[0] == "" {
		return fmt.Errorf("%w: args[0] is empty: it must name the executable", ErrProtocol)
	}
	for i, a := range r.Args {
		if strings.IndexByte(a, 0) >= 0 {
			return fmt.Errorf("%w: args[%d] contains a NUL byte", ErrProtocol, i)
		}
	}
	for i, e := range r.Env {
		if strings.IndexByte(e, 0) >= 0 {
			return fmt.Errorf("%w: env[%d] contains a NUL byte", ErrProtocol, i)
		}
		if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
			return fmt.Errorf("%w: env[%d] %q is not KEY=VALUE", ErrProtocol, i, e)
		}
	}
	if r.Cwd != "" {
		if strings.IndexByte(r.Cwd, 0) >= 0 {
			return fmt.Errorf("%w: cwd contains a NUL byte", ErrProtocol)
		}
		if !strings.HasPrefix(r.Cwd, "/") {
			return fmt.Errorf("%w: cwd %q is not absolute", ErrProtocol, r.Cwd)
		}
	}
	return nil
}

// EncodeRequest validates r and encodes it for the wire.
func EncodeRequest(r Request) ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	data, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encoding the exec request: %w", err)
	}
	if len(data) > MaxRequestSize {
		return nil, fmt.Errorf("%w: the exec request is %d bytes, more than %d: shorten the arguments or environment", ErrProtocol, len(data), MaxRequestSize)
	}
	return data, nil
}

// DecodeRequest decodes and validates a request packet.
func DecodeRequest(data []byte) (Request, error) {
	var r Request
	if len(data) > MaxRequestSize {
		return r, fmt.Errorf("%w: request of %d bytes, more than %d", ErrProtocol, len(data), MaxRequestSize)
	}
	if err := decodeStrict(data, &r, "args", "env", "cwd", "attest"); err != nil {
		return Request{}, fmt.Errorf("decoding the exec request: %w", err)
	}
	if r.Attest != nil {
		// The inner object is held to the same strictness.
		var outer struct {
			Attest json.RawMessage `json:"attest"`
		}
		if err := json.Unmarshal(data, &outer); err != nil {
			return Request{}, fmt.Errorf("decoding the attest request: %w: %w", ErrProtocol, err)
		}
		var a AttestRequest
		if err := decodeStrict(outer.Attest, &a, "report_data"); err != nil {
			return Request{}, fmt.Errorf("decoding the attest request: %w", err)
		}
	}
	if r.Args == nil && r.Attest == nil {
		return Request{}, fmt.Errorf("%w: the request has no args", ErrProtocol)
	}
	if err := r.Validate(); err != nil {
		return Request{}, err
	}
	return r, nil
}

// DecodeResponse decodes a response packet: exactly one of exit_code,
// error and report.
func DecodeResponse(data []byte) (Response, error) {
	var r Response
	if len(data) > maxResponseSize {
		return r, fmt.Errorf("%w: response of %d bytes, more than %d", ErrProtocol, len(data), maxResponseSize)
	}
	if err := decodeStrict(data, &r, "exit_code", "error", "report"); err != nil {
		return Response{}, fmt.Errorf("decoding the exec response: %w", err)
	}
	n := 0
	for _, set := range []bool{r.ExitCode != nil, r.Error != "", len(r.Report) != 0} {
		if set {
			n++
		}
	}
	if n != 1 {
		return Response{}, fmt.Errorf("%w: the response must hold exactly one of exit_code, error and report", ErrProtocol)
	}
	if r.ExitCode != nil && (*r.ExitCode < 0 || *r.ExitCode > 255) {
		return Response{}, fmt.Errorf("%w: exit code %d is outside 0..255", ErrProtocol, *r.ExitCode)
	}
	return r, nil
}

// decodeStrict decodes one JSON object into v, refusing members not
// spelled exactly as one of names (encoding/json matches names
// case-insensitively), unknown members, null for the whole value, and
// trailing data.
func decodeStrict(data []byte, v any, names ...string) error {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(data, &members); err != nil {
		return fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	if members == nil {
		return fmt.Errorf("%w: not a JSON object", ErrProtocol)
	}
	for k := range members {
		if !slices.Contains(names, k) {
			return fmt.Errorf("%w: unknown member %q", ErrProtocol, k)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %w", ErrProtocol, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: trailing data after the JSON object", ErrProtocol)
	}
	return nil
}
