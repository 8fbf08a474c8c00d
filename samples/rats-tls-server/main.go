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
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"

	_ "github.com/inclavare/inclavare/framework/builtins"
	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/plugin"
	"github.com/inclavare/inclavare/framework/ratstls"
	"github.com/inclavare/inclavare/samples/internal/cli"
)

const prog = "rats-tls-server"

func main() {
	fs := flag.NewFlagSet(prog, flag.ExitOnError)
	opts := cli.Register(fs)
	fs.Parse(os.Args[1:])
	if err := run(opts); err != nil {
		cli.Fatal(prog, err)
	}
}

func run(opts *cli.Options) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	defer plugin.CleanupClients()
	log, err := opts.Logger()
	if err != nil {
		return err
	}
	cat, err := opts.Catalog(ctx, log)
	if err != nil {
		return err
	}
	if opts.ListInstances {
		return cli.PrintInstances(ctx, os.Stdout, cat, opts.JSON)
	}
	cfg, err := opts.Config(cat, log)
	if err != nil {
		return err
	}
	defer cfg.Close()
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
