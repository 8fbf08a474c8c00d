package main

import (
	"context"
	"crypto"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/inclavare/inclavare/appraisal/policy"
	"github.com/inclavare/inclavare/shelter/serve"
	"github.com/inclavare/inclavare/shelter/verify"
)

func init() {
	register("serve", command{
		summary: "run the verification service (POST evidence, get the EAR result; status page)",
		run:     serveCommand,
	})
}

// serveCommand is "shelter serve": it parses the flags, loads the policy,
// collateral and signing key, and runs shelter/serve until SIGTERM or
// SIGINT.
func serveCommand(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("shelter serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "`ADDR`: HOST:PORT, tcp://HOST:PORT or unix://PATH")
	policyFile := fs.String("policy", "", "`FILE`: an appraisal policy (YAML); without it, the default appraisal")
	collateral := fs.String("collateral", "", "`FILE`: for evidence without endorsements: Intel collateral JSON (tcb_info, qe_identity, ...), or the SEV-SNP VCEK/VLEK certificate (PEM or DER, from AMD's KDS)")
	allowSim := fs.Bool("allow-simulated", false, "trust the simulated Intel and SEV-SNP roots (test only)")
	keyFile := fs.String("key", "", "`FILE`: the PEM private key (PKCS #8 or SEC 1; ECDSA or Ed25519) that signs results; without it, a new ECDSA P-256 key")
	keyOut := fs.String("key-out", "", "`FILE`: write the generated key there (mode 0600; never overwritten), to reuse it with --key")
	tlsCert := fs.String("tls-cert", "", "`FILE`: serve HTTPS (TLS 1.3 only) with this PEM certificate chain; needs --tls-key")
	tlsKey := fs.String("tls-key", "", "`FILE`: the PEM private key of --tls-cert")
	maxBody := fs.Int64("max-body", serve.DefaultMaxBody, "largest evidence accepted, in `BYTES` (larger: 413)")
	history := fs.Int("history", serve.DefaultHistory, "how many recent verifications the status page lists (`N`, 1 to 10000)")
	at := fs.String("at", "", "pin the verification `TIME` of every request: RFC 3339, or Unix seconds (for tests and replays; default each request's time)")
	maxPending := fs.Int("max-pending", serve.DefaultMaxPending, "verification requests in progress at once (`N`); beyond it 503")
	timeout := fs.Duration("timeout", serve.DefaultTimeout, "bound on one verification")
	logLevel := fs.String("log-level", "info", "log `level`: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &exitError{code: exitUsage}
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected arguments %q", fs.Args())
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("serve: --log-level %q: want debug, info, warn or error", *logLevel)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	switch {
	case *maxBody <= 0:
		return fmt.Errorf("serve: --max-body %d: want a positive number of bytes", *maxBody)
	case *history < 1 || *history > 10000:
		return fmt.Errorf("serve: --history %d: want 1 to 10000", *history)
	case *maxPending < 1:
		return fmt.Errorf("serve: --max-pending %d: want at least 1", *maxPending)
	case *timeout <= 0:
		return fmt.Errorf("serve: --timeout %s: want a positive duration", *timeout)
	case *keyFile != "" && *keyOut != "":
		return errors.New("serve: --key-out writes a generated key; with --key the key already has a file: give one of them")
	case (*tlsCert == "") != (*tlsKey == ""):
		return errors.New("serve: --tls-cert and --tls-key go together")
	}
	if _, _, err := serve.ParseAddr(*listen); err != nil {
		return fmt.Errorf("serve: --listen: %w", err)
	}

	opts := verify.Options{AllowSimulated: *allowSim}
	if *at != "" {
		t, err := parseTime(*at)
		if err != nil {
			return fmt.Errorf("serve: %w", err)
		}
		opts.Now = t
	}
	if *policyFile != "" {
		p, err := policy.Load(*policyFile)
		if err != nil {
			return fmt.Errorf("serve: --policy: %w", err)
		}
		opts.Policy = p
	}
	if *collateral != "" {
		b, err := os.ReadFile(*collateral)
		if err != nil {
			return fmt.Errorf("serve: --collateral: %w", err)
		}
		if err := opts.SetCollateral(b); err != nil {
			return fmt.Errorf("serve: --collateral %s: %w", *collateral, err)
		}
	}
	key, err := loadKey(*keyFile, log)
	if err != nil {
		return err
	}
	var tlsConfig *tls.Config
	if *tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
		if err != nil {
			return fmt.Errorf("serve: --tls-cert %s, --tls-key %s: %w", *tlsCert, *tlsKey, err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}
	}
	h, err := serve.New(serve.Config{
		Verify: opts, Key: key, MaxBody: *maxBody, History: *history, Timeout: *timeout,
		MaxPending: *maxPending, Logger: log,
	})
	if err != nil {
		return err
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := serve.Listen(ctx, *listen)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	// The generated key is written once the socket is bound, so that a
	// failed start leaves no key file behind.
	if *keyFile == "" {
		if err := saveKey(key, *keyOut, log); err != nil {
			ln.Close()
			return err
		}
	}
	keyID, err := serve.KeyID(key.Public())
	if err != nil {
		ln.Close()
		return err
	}
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
	}
	log.Info("shelter serve: listening", "addr", ln.Addr().String(), "network", ln.Addr().Network(), "scheme", scheme,
		"key_id", keyID, "allow_simulated", *allowSim, "max_body", *maxBody, "history", *history)
	start := time.Now()
	if err := serve.Serve(ctx, serve.NewServer(h, tlsConfig, log), ln); err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	log.Info("shelter serve: stopped", "uptime", time.Since(start).Round(time.Second).String())
	return nil
}

// loadKey loads the signing key from keyFile, or generates one when
// keyFile is empty.
func loadKey(keyFile string, log *slog.Logger) (crypto.Signer, error) {
	if keyFile == "" {
		k, err := serve.GenerateKey()
		if err != nil {
			return nil, fmt.Errorf("serve: %w", err)
		}
		return k, nil
	}
	st, err := os.Stat(keyFile)
	if err != nil {
		return nil, fmt.Errorf("serve: --key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		log.Warn("shelter serve: the signing key file is readable by others; chmod 600 it", "file", keyFile, "mode", st.Mode().Perm().String())
	}
	b, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("serve: --key: %w", err)
	}
	k, err := serve.ParsePrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("serve: --key %s: %w", keyFile, err)
	}
	return k, nil
}

// saveKey writes a generated key to keyOut, or says that it is not kept.
func saveKey(k crypto.Signer, keyOut string, log *slog.Logger) error {
	if keyOut == "" {
		log.Info("shelter serve: signing with a new key that lives only as long as this process (give --key-out FILE to keep it)")
		return nil
	}
	if err := serve.WriteKeyFile(keyOut, k); err != nil {
		return fmt.Errorf("serve: --key-out: %w", err)
	}
	log.Info("shelter serve: wrote the new signing key", "file", keyOut)
	return nil
}
