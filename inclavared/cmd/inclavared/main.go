// Command inclavared stands between shelter and a confidential workload:
// it accepts shelter's Rats-TLS connections (attesting itself), connects
// to the workload's Rats-TLS endpoint for each (verifying the workload's
// evidence, and failing closed), answers shelter's GETENCLAVEINFO with the
// workload's verified identity and forwards everything else both ways.
//
//	inclavared --listen tcp://HOST:PORT|unix://PATH --xfer tcp://HOST:PORT|unix://PATH
//	           [--admin ADDR] [--config FILE] [Rats-TLS flags]
//
// The flags may also come from a TOML file (--config); see
// inclavared/README.md. SIGINT or SIGTERM stops accepting, lets open
// sessions finish for --grace-period, then closes them and exits 0.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	_ "github.com/inclavare/inclavare/framework/builtins"
	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/plugin"
	"github.com/inclavare/inclavare/inclavared/address"
	"github.com/inclavare/inclavare/inclavared/config"
	"github.com/inclavare/inclavare/inclavared/metrics"
	"github.com/inclavare/inclavare/inclavared/server"
	"github.com/inclavare/inclavare/internal/cli"
)

const prog = "inclavared"

func main() {
	fs := flag.NewFlagSet(prog, flag.ExitOnError)
	opts := cli.RegisterRatsTLS(fs)
	settings := config.Register(fs)
	fs.Parse(os.Args[1:])
	if fs.NArg() > 0 {
		cli.Fatal(prog, fmt.Errorf("unexpected arguments %q: every setting is a flag (see -h)", fs.Args()))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, fs, opts, settings)
	stop()
	if err != nil {
		cli.Fatal(prog, err)
	}
	plugin.CleanupClients()
}

// run starts inclavared and serves until ctx ends.
func run(ctx context.Context, fs *flag.FlagSet, opts *cli.Options, settings *config.Settings) error {
	defer plugin.CleanupClients()
	if settings.File != "" {
		if err := config.ApplyFile(fs, settings.File); err != nil {
			return err
		}
	}
	log, cat, listed, err := opts.Start(ctx, os.Stdout)
	if err != nil || listed {
		return err
	}
	addrs, err := settings.Check()
	if err != nil {
		return err
	}
	shelterCfg, err := opts.Config(cat, log)
	if err != nil {
		return err
	}
	defer shelterCfg.Close()
	shelterCfg.HandshakeTimeout = settings.HandshakeTimeout
	workloadCfg, err := opts.Config(cat, log)
	if err != nil {
		return err
	}
	defer workloadCfg.Close()

	m := metrics.New()
	srv, err := server.New(server.Options{
		Shelter:         shelterCfg,
		Workload:        workloadCfg,
		Xfer:            addrs.Xfer,
		UpstreamTimeout: settings.UpstreamTimeout,
		RequestWait:     settings.RequestWait,
		MaxSessions:     settings.MaxSessions,
		Metrics:         m,
		Logger:          log,
	})
	if err != nil {
		return err
	}
	// Create the instances now, so that a bad attester or verifier is
	// reported before anything listens.
	if err := shelterCfg.Init(ctx, instance.RoleServer); err != nil {
		return fmt.Errorf("setting up the channel to shelter: %w", err)
	}
	if err := workloadCfg.Init(ctx, instance.RoleClient); err != nil {
		return fmt.Errorf("setting up the channel to the workload: %w", err)
	}

	l, err := address.Listen(ctx, addrs.Listen)
	if err != nil {
		return err
	}
	var admin *http.Server
	adminDone := make(chan error, 1)
	if addrs.Admin != nil {
		al, err := address.Listen(ctx, *addrs.Admin)
		if err != nil {
			l.Close()
			return fmt.Errorf("admin: %w", err)
		}
		admin = &http.Server{Handler: m.Handler(), ReadHeaderTimeout: 5 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		go func() { adminDone <- admin.Serve(al) }()
		log.Info("inclavared admin listening", "admin", al.Addr().String())
	}

	sel := shelterCfg.Selected()
	log.Info("inclavared listening", "addr", l.Addr().String(), "listen", addrs.Listen.String(), "xfer", addrs.Xfer.String(),
		"attester", sel[instance.KindAttester].Name, "tls", sel[instance.KindTLS].Name, "crypto", sel[instance.KindCrypto].Name,
		"verifier", nameOr(opts.Verifier, "by evidence type"), "mutual", opts.Mutual, "policy", opts.Policy, "allow_simulated", opts.AllowSimulated)
	m.SetHealthy(true)

	serveDone := make(chan error, 1)
	go func() { serveDone <- srv.Serve(context.WithoutCancel(ctx), l) }()
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-serveDone:
		serveDone = nil
	case err := <-adminDone:
		serveErr = fmt.Errorf("admin server: %w", err)
	}
	m.SetHealthy(false)
	log.Info("inclavared stopping", "open_sessions", srv.Active(), "grace_period", settings.GracePeriod)
	grace, cancel := context.WithTimeout(context.Background(), settings.GracePeriod)
	if closed, err := srv.Shutdown(grace); err != nil {
		log.Info("sessions closed at the end of the grace period", "sessions", closed, "err", err)
	}
	cancel()
	if serveDone != nil {
		if err := <-serveDone; err != nil && serveErr == nil && !errors.Is(err, server.ErrClosed) {
			serveErr = err
		}
	}
	if admin != nil {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		admin.Shutdown(sctx)
		cancel()
	}
	log.Info("inclavared stopped")
	return serveErr
}

// nameOr is name, or def when name is empty.
func nameOr(name, def string) string {
	if name == "" {
		return def
	}
	return name
}
