// Package address parses inclavared's endpoint addresses, "tcp://HOST:PORT"
// and "unix://PATH", and listens on or dials them.
//
// Listening on a Unix socket path that already exists removes the file
// only if it is a socket nobody answers on (what a crashed inclavared
// leaves behind); a live socket or any other kind of file is an error, so
// inclavared never deletes what it does not own.
package address

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Network names.
const (
	TCP  = "tcp"
	Unix = "unix"
)

// Address is a parsed endpoint address.
type Address struct {
	// Network is TCP or Unix.
	Network string
	// Addr is HOST:PORT for TCP, the socket path for Unix.
	Addr string
}

// String gives the address back in its URL form.
func (a Address) String() string { return a.Network + "://" + a.Addr }

// maxUnixPath is the longest socket path Linux accepts (sun_path less its
// terminating NUL).
const maxUnixPath = 107

// Parse parses "tcp://HOST:PORT" or "unix://PATH". HOST may be empty (all
// interfaces) or a bracketed IPv6 address; PORT is 0 to 65535 (0 only
// makes sense to listen on). PATH is any non-empty file path.
func Parse(s string) (Address, error) {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return Address{}, fmt.Errorf("address %q: want tcp://HOST:PORT or unix://PATH", s)
	}
	switch scheme {
	case TCP:
		host, port, err := net.SplitHostPort(rest)
		if err != nil {
			return Address{}, fmt.Errorf("address %q: want tcp://HOST:PORT: %w", s, err)
		}
		if strings.ContainsAny(host, "/?#@ ") {
			return Address{}, fmt.Errorf("address %q: host %q is not a host name or IP address", s, host)
		}
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || strconv.FormatUint(n, 10) != port {
			return Address{}, fmt.Errorf("address %q: port %q is not a number from 0 to 65535", s, port)
		}
		return Address{Network: TCP, Addr: net.JoinHostPort(host, port)}, nil
	case Unix:
		if rest == "" {
			return Address{}, fmt.Errorf("address %q: the socket path is empty", s)
		}
		if len(rest) > maxUnixPath {
			return Address{}, fmt.Errorf("address %q: the socket path is %d bytes, Linux allows %d", s, len(rest), maxUnixPath)
		}
		if strings.ContainsRune(rest, 0) {
			return Address{}, fmt.Errorf("address %q: the socket path contains a NUL byte", s)
		}
		return Address{Network: Unix, Addr: rest}, nil
	default:
		return Address{}, fmt.Errorf("address %q: unknown scheme %q, want tcp or unix", s, scheme)
	}
}

// Listen listens on a. For a Unix socket, a stale socket file at the path
// is removed first; a path where something still listens, or that is not
// a socket, is an error that says so. The listener removes its socket file
// when closed.
func Listen(ctx context.Context, a Address) (net.Listener, error) {
	if a.Network == Unix {
		if err := removeStale(ctx, a.Addr); err != nil {
			return nil, err
		}
	}
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, a.Network, a.Addr)
	if err != nil {
		return nil, fmt.Errorf("listening on %s: %w", a, err)
	}
	return l, nil
}

// removeStale removes path if it is a socket nobody listens on.
func removeStale(ctx context.Context, path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checking the socket path %s: %w", path, err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("listening on unix://%s: the path exists and is not a socket (%s); remove it or choose another path", path, fi.Mode().Type())
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, Unix, path)
	if err == nil {
		c.Close()
		return fmt.Errorf("listening on unix://%s: another process is listening there; stop it or choose another path", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("listening on unix://%s: the socket exists and could not be checked (%w); remove it if it is stale", path, err)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("removing the stale socket %s: %w", path, err)
	}
	return nil
}

// Dial connects to a, bounded by ctx.
func Dial(ctx context.Context, a Address) (net.Conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, a.Network, a.Addr)
	if err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", a, err)
	}
	return c, nil
}
