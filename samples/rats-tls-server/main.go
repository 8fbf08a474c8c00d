// Command rats-tls-server is the Rats-TLS sample server: it attests itself
// to every client (and, with -m, verifies the client's attestation), then
// echoes what the client sends. It serves clients concurrently; a client that
// fails the handshake is logged and dropped, and serving goes on. SIGINT or
// SIGTERM stops it, and with it every plugin process it started.
//
// Its flags are those of the C Rats-TLS sample; see -h.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strconv"
	"sync"

	_ "github.com/inclavare/inclavare/framework/builtins"
	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/ratstls"
	"github.com/inclavare/inclavare/internal/cli"
)

const prog = "rats-tls-server"

func main() { cli.Main(prog, run) }

func run(ctx context.Context, opts *cli.Options, log *slog.Logger, cfg *ratstls.Config) error {
	addr := net.JoinHostPort(opts.IP, strconv.Itoa(opts.Port))
	l, err := ratstls.Listen(ctx, "tcp", addr, cfg)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	sel := cfg.Selected()
	log.Info("rats-tls server listening", "addr", l.Addr().String(),
		"attester", sel[instance.KindAttester].Name, "tls", sel[instance.KindTLS].Name,
		"crypto", sel[instance.KindCrypto].Name, "mutual", opts.Mutual)
	go func() {
		<-ctx.Done()
		l.Close()
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				log.Info("rats-tls server stopping")
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("accepting: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			serve(ctx, log, c.(*ratstls.Conn), opts.JSON)
		}()
	}
}

// serve handshakes with one client and echoes its bytes until it hangs up.
func serve(ctx context.Context, log *slog.Logger, c *ratstls.Conn, asJSON bool) {
	defer c.Close()
	remote := c.RemoteAddr().String()
	if err := c.HandshakeContext(ctx); err != nil {
		log.Warn("client refused", "remote", remote, "err", err)
		return
	}
	if p := c.Peer(); p != nil {
		log.Info("client attested", "remote", remote, "evidence", p.EvidenceType, "verifier", p.Verifier, "freshness", p.Freshness)
		if asJSON {
			b, _ := json.Marshal(map[string]any{"remote": remote, "peer": p})
			fmt.Println(string(b))
		}
	} else {
		log.Info("client connected", "remote", remote, "freshness", c.Freshness())
	}
	n, err := io.Copy(c, c)
	if err != nil && !errors.Is(err, net.ErrClosed) {
		log.Warn("echo ended", "remote", remote, "bytes", n, "err", err)
		return
	}
	log.Debug("client done", "remote", remote, "bytes", n)
}
