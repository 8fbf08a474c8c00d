package execproto

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Handler runs one requested process. ctx ends when the client goes away
// or the server stops; the handler must then kill the process and return.
// The handler must not close stdio: the server closes it afterwards.
type Handler interface {
	Exec(ctx context.Context, req Request, stdio [3]*os.File) (exitCode int, err error)
}

// ReportHandler is implemented by a Handler whose enclave runtime has a
// local report (PAL API version 3): it answers attest requests. A Handler
// without it answers them with an error that says so.
type ReportHandler interface {
	// LocalReport returns the enclave runtime's report over reportData (at
	// most MaxReportData bytes).
	LocalReport(ctx context.Context, reportData []byte) ([]byte, error)
}

// ErrNoReport is the error of an attest request to an enclave runtime
// without a local report.
var ErrNoReport = errors.New("this enclave runtime has no local report (pal_get_local_report needs PAL API version 3)")

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, req Request, stdio [3]*os.File) (int, error)

// Exec calls f.
func (f HandlerFunc) Exec(ctx context.Context, req Request, stdio [3]*os.File) (int, error) {
	return f(ctx, req, stdio)
}

// Listen creates the exec socket at path, readable and writable by its
// owner only, replacing a stale socket left by an earlier run. Closing the
// listener removes the socket.
func Listen(path string) (*net.UnixListener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != os.ModeSocket {
			return nil, fmt.Errorf("creating the exec socket: %s exists and is not a socket: remove it", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("removing the stale exec socket %s: %w", path, err)
		}
	}
	old := unix.Umask(0o177)
	l, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: path, Net: "unixpacket"})
	unix.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("creating the exec socket %s: %w", path, err)
	}
	l.SetUnlinkOnClose(true)
	return l, nil
}

// Serve answers exec requests on l with h until ctx ends, then closes l,
// cancels the requests in flight, waits for their handlers and returns
// nil. It returns an error only when accepting fails otherwise.
func Serve(ctx context.Context, l *net.UnixListener, h Handler, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { _ = l.Close() })
	defer stop()
	defer l.Close()
	for {
		c, err := l.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if !temporary(err) {
				return fmt.Errorf("accepting on the exec socket: %w", err)
			}
			// Out of descriptors or memory for now: wait, do not give up.
			log.Warn("accepting on the exec socket", "err", err)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(50 * time.Millisecond):
			}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			serveConn(ctx, c, h, log)
		}()
	}
}

// temporary reports whether an accept error may go away by itself.
func temporary(err error) bool {
	for _, e := range []error{unix.EMFILE, unix.ENFILE, unix.ENOBUFS, unix.ENOMEM, unix.ECONNABORTED} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// serveConn handles one connection: one request, one response.
func serveConn(ctx context.Context, c *net.UnixConn, h Handler, log *slog.Logger) {
	defer c.Close()
	req, stdio, err := readRequest(c)
	if err != nil {
		log.Warn("refused an exec request", "err", err)
		writeResponse(c, Response{Error: err.Error()}, log)
		return
	}
	if req.Attest != nil {
		serveAttest(ctx, c, h, req.Attest.ReportData, log)
		return
	}
	defer func() {
		for _, f := range stdio {
			f.Close()
		}
	}()

	// The client closing its end (EOF) or sending anything more cancels
	// the request.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var clientGone atomic.Bool
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		var b [1]byte
		_, _ = c.Read(b[:])
		clientGone.Store(true)
		cancel()
	}()

	log.Debug("exec request", "executable", req.Args[0], "cwd", req.Cwd)
	code, err := h.Exec(ctx, req, stdio)
	resp := Response{ExitCode: &code}
	if err != nil {
		log.Warn("exec request failed", "executable", req.Args[0], "err", err)
		resp = Response{Error: err.Error()}
	}
	// A client still there gets the answer, even when the server is
	// stopping and the process was killed for it.
	if !clientGone.Load() {
		writeResponse(c, resp, log)
	}
	_ = c.CloseRead()
	_ = c.Close()
	<-watched
}

// serveAttest answers an attest request with h's local report.
func serveAttest(ctx context.Context, c *net.UnixConn, h Handler, reportData []byte, log *slog.Logger) {
	rh, ok := h.(ReportHandler)
	if !ok {
		writeResponse(c, Response{Error: ErrNoReport.Error()}, log)
		return
	}
	log.Debug("attest request", "report_data_bytes", len(reportData))
	report, err := rh.LocalReport(ctx, reportData)
	switch {
	case err != nil:
		log.Warn("attest request failed", "err", err)
		writeResponse(c, Response{Error: err.Error()}, log)
	case len(report) == 0:
		writeResponse(c, Response{Error: "the enclave runtime returned an empty report"}, log)
	case len(report) > maxReportSize:
		writeResponse(c, Response{Error: fmt.Sprintf("the enclave runtime's report is %d bytes, more than the %d the exec socket carries", len(report), maxReportSize)}, log)
	default:
		writeResponse(c, Response{Report: report}, log)
	}
}

// maxReportSize is the largest report a response carries (base64 inside
// maxResponseSize).
const maxReportSize = (maxResponseSize - 64) / 4 * 3

// readRequest reads the request packet and its descriptors (three for an
// exec request, none for an attest request); on error every descriptor
// received is closed.
func readRequest(c *net.UnixConn) (Request, [3]*os.File, error) {
	var stdio [3]*os.File
	buf := make([]byte, MaxRequestSize+1)
	// Room for one more descriptor than expected, to notice extra ones.
	oob := make([]byte, unix.CmsgSpace(4*4))
	n, oobn, flags, _, err := c.ReadMsgUnix(buf, oob)
	if err != nil && !errors.Is(err, io.EOF) {
		return Request{}, stdio, fmt.Errorf("reading the exec request: %w", err)
	}
	fds, ferr := parseRights(oob[:oobn])
	closeAll := func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}
	switch {
	case ferr != nil:
		closeAll()
		return Request{}, stdio, ferr
	case flags&unix.MSG_CTRUNC != 0:
		closeAll()
		return Request{}, stdio, fmt.Errorf("%w: more than 3 descriptors attached", ErrProtocol)
	case flags&unix.MSG_TRUNC != 0:
		closeAll()
		return Request{}, stdio, fmt.Errorf("%w: request longer than %d bytes", ErrProtocol, MaxRequestSize)
	}
	req, err := DecodeRequest(buf[:n])
	if err != nil {
		closeAll()
		return Request{}, stdio, err
	}
	if req.Attest != nil {
		if len(fds) != 0 {
			closeAll()
			return Request{}, stdio, fmt.Errorf("%w: %d descriptors attached to an attest request, want none", ErrProtocol, len(fds))
		}
		return req, stdio, nil
	}
	if len(fds) != 3 {
		closeAll()
		return Request{}, stdio, fmt.Errorf("%w: %d descriptors attached, want 3 (stdin, stdout, stderr)", ErrProtocol, len(fds))
	}
	for i, name := range []string{"stdin", "stdout", "stderr"} {
		stdio[i] = os.NewFile(uintptr(fds[i]), name)
	}
	return req, stdio, nil
}

// parseRights returns the descriptors passed in oob; it refuses any other
// control message, closing what it received.
func parseRights(oob []byte) ([]int, error) {
	if len(oob) == 0 {
		return nil, nil
	}
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, fmt.Errorf("%w: control message: %w", ErrProtocol, err)
	}
	var fds []int
	var bad error
	for _, m := range msgs {
		if m.Header.Level != unix.SOL_SOCKET || m.Header.Type != unix.SCM_RIGHTS {
			bad = fmt.Errorf("%w: unexpected control message level %d type %d", ErrProtocol, m.Header.Level, m.Header.Type)
			continue
		}
		got, err := unix.ParseUnixRights(&m)
		if err != nil {
			bad = fmt.Errorf("%w: SCM_RIGHTS: %w", ErrProtocol, err)
			continue
		}
		fds = append(fds, got...)
	}
	return fds, bad
}

// writeResponse sends one response packet.
func writeResponse(c *net.UnixConn, r Response, log *slog.Logger) {
	data, err := encodeResponse(r)
	if err != nil {
		log.Error("encoding the exec response", "err", err)
		return
	}
	if _, err := c.Write(data); err != nil {
		log.Warn("sending the exec response", "err", err)
	}
}

// encodeResponse encodes r, shortening an over-long error message.
func encodeResponse(r Response) ([]byte, error) {
	if len(r.Error) > maxResponseSize/2 {
		r.Error = r.Error[:maxResponseSize/2] + "..."
	}
	return json.Marshal(r)
}
