package serve

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"
)

// Server timeouts: a client gets ReadHeaderTimeout to send its headers and
// ReadTimeout for the whole request (a 1 MiB body at a few hundred kB/s),
// WriteTimeout covers the verification and the response.
const (
	ReadHeaderTimeout = 10 * time.Second
	ReadTimeout       = 30 * time.Second
	WriteTimeout      = 2 * time.Minute
	IdleTimeout       = 2 * time.Minute
	// MaxHeaderBytes bounds the request headers.
	MaxHeaderBytes = 64 << 10
	// ShutdownTimeout is how long Serve waits for requests in flight once
	// its context is done.
	ShutdownTimeout = 10 * time.Second
)

// Listen opens the service's socket. addr is "HOST:PORT" or
// "tcp://HOST:PORT" for TCP (port 0 picks a free port), or "unix://PATH"
// for a Unix socket, which is removed when the listener is closed.
func Listen(ctx context.Context, addr string) (net.Listener, error) {
	network, address, err := ParseAddr(addr)
	if err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, network, address)
	if err != nil {
		if network == "unix" {
			return nil, fmt.Errorf("listening on unix socket %s (if no server runs there, remove the stale file): %w", address, err)
		}
		return nil, fmt.Errorf("listening on %s: %w", address, err)
	}
	return ln, nil
}

// ParseAddr splits a --listen address into a network ("tcp" or "unix") and
// an address for net.Listen.
func ParseAddr(addr string) (network, address string, err error) {
	switch {
	case strings.HasPrefix(addr, "unix://"):
		path := strings.TrimPrefix(addr, "unix://")
		if path == "" {
			return "", "", fmt.Errorf("listen address %q: want unix://PATH with a path", addr)
		}
		return "unix", path, nil
	case strings.HasPrefix(addr, "tcp://"):
		addr = strings.TrimPrefix(addr, "tcp://")
	case strings.Contains(addr, "://"):
		return "", "", fmt.Errorf("listen address %q: want HOST:PORT, tcp://HOST:PORT or unix://PATH", addr)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", "", fmt.Errorf("listen address %q: want HOST:PORT, tcp://HOST:PORT or unix://PATH: %w", addr, err)
	}
	if port == "" {
		return "", "", fmt.Errorf("listen address %q: no port (use port 0 for any free port)", addr)
	}
	return "tcp", net.JoinHostPort(host, port), nil
}

// NewServer returns the http.Server for h with the service's timeouts and
// limits, logging its errors to log. With tlsConfig (nil for plain HTTP),
// it serves TLS 1.3 only.
func NewServer(h http.Handler, tlsConfig *tls.Config, log *slog.Logger) *http.Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if tlsConfig != nil {
		tlsConfig = tlsConfig.Clone()
		tlsConfig.MinVersion, tlsConfig.MaxVersion = tls.VersionTLS13, tls.VersionTLS13
	}
	return &http.Server{
		Handler:           h,
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       ReadTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// Serve serves srv on ln until ctx is done, then shuts down gracefully:
// it stops accepting, waits at most ShutdownTimeout for the requests in
// flight, and closes ln. It returns nil after a shutdown asked by ctx.
func Serve(ctx context.Context, srv *http.Server, ln net.Listener) error {
	// Requests run under a context that ctx does not cancel, so that a
	// shutdown lets them finish.
	base := context.WithoutCancel(ctx)
	srv.BaseContext = func(net.Listener) context.Context { return base }
	errc := make(chan error, 1)
	go func() {
		if srv.TLSConfig != nil {
			errc <- srv.ServeTLS(ln, "", "")
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		ln.Close()
		return fmt.Errorf("serving on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(base, ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && serr != nil {
		return fmt.Errorf("serving on %s: %w", ln.Addr(), serr)
	}
	if err != nil {
		srv.Close()
		return fmt.Errorf("shutting down (requests still running after %s were cut): %w", ShutdownTimeout, err)
	}
	return nil
}
