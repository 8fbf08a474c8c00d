package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/ratstls"
	"github.com/inclavare/inclavare/runtime/wasm"
	"github.com/inclavare/inclavare/runtime/wasm/attest"
)

// DefaultMaxInstances bounds the module instances serve mode runs at once.
const DefaultMaxInstances = 16

// serveOptions configure serve mode.
type serveOptions struct {
	// addr is the TCP address to listen on (HOST:PORT).
	addr string
	// attester names the simulated TEE's attester (attest.Attesters).
	attester string
	// maxInstances bounds the module instances running at once.
	maxInstances int
	// debug marks the simulated enclave as a debug enclave.
	debug bool
}

// parseServeAddr parses --serve: tcp://HOST:PORT.
func parseServeAddr(s string) (string, error) {
	rest, ok := strings.CutPrefix(s, "tcp://")
	if !ok {
		return "", fmt.Errorf("--serve %q: want tcp://HOST:PORT", s)
	}
	if _, _, err := net.SplitHostPort(rest); err != nil {
		return "", fmt.Errorf("--serve %q: want tcp://HOST:PORT: %w", s, err)
	}
	return rest, nil
}

// serve is serve mode: it listens with Rats-TLS, attesting as a simulated
// TEE whose measurement is m's, and for every attested connection runs a
// fresh instance of m with the connection as its stdin and stdout (inetd
// style), closing the connection when the instance exits. At most
// o.maxInstances instances run at once; further connections wait in the
// listen backlog. It returns when ctx ends (a stop signal): the listener is
// closed, the connections of running instances are closed and their
// contexts cancelled, and serve waits up to stopGrace for them.
func serve(ctx context.Context, r *wasm.Runtime, m *wasm.Module, p wasm.Process, o serveOptions, log *slog.Logger) error {
	cat, err := attest.Catalog(o.attester, m.Measurement(), attest.Options{Debug: o.debug}, log)
	if err != nil {
		return fmt.Errorf("--attester: %w", err)
	}
	cfg := &ratstls.Config{Attester: o.attester, Catalog: cat, DebugEnclave: o.debug, Logger: log}
	defer cfg.Close()
	if err := cfg.Init(ctx, instance.RoleServer); err != nil {
		return fmt.Errorf("setting up Rats-TLS with attester %s: %w", o.attester, err)
	}
	l, err := ratstls.Listen(ctx, "tcp", o.addr, cfg)
	if err != nil {
		return fmt.Errorf("--serve: listening on %s: %w", o.addr, err)
	}
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	defer l.Close()
	log.Info("serving the wasm module over Rats-TLS", "addr", l.Addr().String(), "attester", o.attester, "measurement", m.Measurement(), "max-instances", o.maxInstances)

	slots := make(chan struct{}, o.maxInstances)
	var wg sync.WaitGroup
	for {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return drain(&wg, log)
		}
		c, err := l.Accept()
		if err != nil {
			<-slots
			if ctx.Err() != nil {
				return drain(&wg, log)
			}
			if isTemporary(err) {
				log.Warn("accepting a connection", "err", err)
				select {
				case <-ctx.Done():
				case <-time.After(50 * time.Millisecond):
				}
				continue
			}
			return fmt.Errorf("accepting connections on %s: %w", o.addr, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			serveConn(ctx, r, m, p, c.(*ratstls.Conn), log)
		}()
	}
}

// isTemporary reports whether an accept error may go away by itself (out
// of descriptors or memory, an aborted connection).
func isTemporary(err error) bool {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// drain waits up to stopGrace for the running instances.
func drain(wg *sync.WaitGroup, log *slog.Logger) error {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(stopGrace):
		log.Warn("module instances did not stop in time (blocked in a host call); exiting", "grace", stopGrace)
	}
	return nil
}

// serveConn attests to one client, then runs one instance of m with the
// connection as stdin and stdout, and closes the connection.
func serveConn(ctx context.Context, r *wasm.Runtime, m *wasm.Module, p wasm.Process, c *ratstls.Conn, log *slog.Logger) {
	defer c.Close()
	// A module blocked reading the connection stops when it is closed.
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	peer := c.RemoteAddr().String()
	if err := c.HandshakeContext(ctx); err != nil {
		log.Info("Rats-TLS handshake failed", "peer", peer, "err", err)
		return
	}
	p.Stdin, p.Stdout = c, c
	start := time.Now()
	code, err := r.Run(ctx, m, p)
	switch {
	case err != nil && ctx.Err() != nil:
		log.Info("module instance stopped", "peer", peer, "err", err)
	case err != nil:
		log.Warn("module instance failed", "peer", peer, "err", err)
	default:
		log.Info("module instance exited", "peer", peer, "code", code, "took", time.Since(start))
	}
}
