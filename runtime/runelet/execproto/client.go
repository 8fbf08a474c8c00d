package execproto

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DialWait is how long Exec keeps retrying while the socket does not exist
// yet or refuses connections: the runelet creates it as the container
// starts, so an exec right after `rune start` may come first.
const DialWait = 2 * time.Second

// ErrRemote marks an error the runelet reported: the process could not be
// created or run in the enclave runtime.
var ErrRemote = errors.New("the enclave runtime could not run the process")

// Exec runs req in the enclave runtime instance served at socketPath, with
// stdin, stdout and stderr as its stdio, and returns its exit code. The
// files stay open in the caller; the runelet gets its own copies. When ctx
// ends first, the connection is closed, the runelet kills the process, and
// Exec returns ctx's error.
func Exec(ctx context.Context, socketPath string, req Request, stdin, stdout, stderr *os.File) (int, error) {
	if stdin == nil || stdout == nil || stderr == nil {
		return 0, errors.New("exec in enclave: stdin, stdout and stderr must all be open files")
	}
	data, err := EncodeRequest(req)
	if err != nil {
		return 0, fmt.Errorf("exec in enclave: %w", err)
	}
	conn, err := dial(ctx, socketPath)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	rights := unix.UnixRights(int(stdin.Fd()), int(stdout.Fd()), int(stderr.Fd()))
	_, _, err = conn.WriteMsgUnix(data, rights, nil)
	runtime.KeepAlive(stdin)
	runtime.KeepAlive(stdout)
	runtime.KeepAlive(stderr)
	if err != nil {
		if ctx.Err() != nil {
			return 0, fmt.Errorf("exec in enclave: %w", ctx.Err())
		}
		return 0, fmt.Errorf("exec in enclave: sending the request to %s: %w", socketPath, err)
	}

	buf := make([]byte, maxResponseSize+1)
	n, _, flags, _, err := conn.ReadMsgUnix(buf, nil)
	if err != nil && !errors.Is(err, io.EOF) {
		if ctx.Err() != nil {
			return 0, fmt.Errorf("exec in enclave: %w (the process was killed)", ctx.Err())
		}
		return 0, fmt.Errorf("exec in enclave: reading the runelet's answer on %s: %w", socketPath, err)
	}
	if n == 0 {
		return 0, fmt.Errorf("exec in enclave: the runelet closed %s without an answer: the enclave runtime has probably exited", socketPath)
	}
	if flags&unix.MSG_TRUNC != 0 {
		return 0, fmt.Errorf("exec in enclave: %w: the runelet's answer is longer than %d bytes", ErrProtocol, maxResponseSize)
	}
	resp, err := DecodeResponse(buf[:n])
	if err != nil {
		return 0, fmt.Errorf("exec in enclave: %w", err)
	}
	if resp.Error != "" {
		return 0, fmt.Errorf("exec in enclave: %w: %s", ErrRemote, resp.Error)
	}
	return *resp.ExitCode, nil
}

// dial connects to the exec socket, retrying for up to DialWait while it
// is missing or refuses connections.
func dial(ctx context.Context, socketPath string) (*net.UnixConn, error) {
	deadline := time.Now().Add(DialWait)
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, "unixpacket", socketPath)
		if err == nil {
			return c.(*net.UnixConn), nil
		}
		retry := errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED)
		if !retry || time.Now().After(deadline) {
			return nil, fmt.Errorf("exec in enclave: connecting to the runelet's exec socket %s: %w (is the container running, in a PAL enclave?)", socketPath, err)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("exec in enclave: connecting to %s: %w", socketPath, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// LocalReport asks the enclave runtime instance served at socketPath for
// its local report over reportData (at most MaxReportData bytes; PAL API
// version 3's pal_get_local_report). An enclave runtime without one
// answers with an error wrapping ErrRemote that says so.
func LocalReport(ctx context.Context, socketPath string, reportData []byte) ([]byte, error) {
	data, err := EncodeRequest(Request{Attest: &AttestRequest{ReportData: reportData}})
	if err != nil {
		return nil, fmt.Errorf("local report: %w", err)
	}
	conn, err := dial(ctx, socketPath)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := conn.Write(data); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("local report: %w", ctx.Err())
		}
		return nil, fmt.Errorf("local report: sending the request to %s: %w", socketPath, err)
	}
	buf := make([]byte, maxResponseSize+1)
	n, _, flags, _, err := conn.ReadMsgUnix(buf, nil)
	if err != nil && !errors.Is(err, io.EOF) {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("local report: %w", ctx.Err())
		}
		return nil, fmt.Errorf("local report: reading the runelet's answer on %s: %w", socketPath, err)
	}
	if n == 0 {
		return nil, fmt.Errorf("local report: the runelet closed %s without an answer: the enclave runtime has probably exited", socketPath)
	}
	if flags&unix.MSG_TRUNC != 0 {
		return nil, fmt.Errorf("local report: %w: the runelet's answer is longer than %d bytes", ErrProtocol, maxResponseSize)
	}
	resp, err := DecodeResponse(buf[:n])
	if err != nil {
		return nil, fmt.Errorf("local report: %w", err)
	}
	switch {
	case resp.Error != "":
		return nil, fmt.Errorf("local report: %w: %s", ErrRemote, resp.Error)
	case resp.Report == nil:
		return nil, fmt.Errorf("local report: %w: the runelet answered an attest request with an exit code", ErrProtocol)
	}
	return resp.Report, nil
}
