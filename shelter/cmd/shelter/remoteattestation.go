package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/inclavare/inclavare/appraisal/ear"
	"github.com/inclavare/inclavare/appraisal/policy"
	_ "github.com/inclavare/inclavare/framework/builtins"
	"github.com/inclavare/inclavare/framework/plugin"
	"github.com/inclavare/inclavare/internal/cli"
	"github.com/inclavare/inclavare/shelter/remote"
	"github.com/inclavare/inclavare/shelter/verify"
)

func init() {
	register("remoteattestation", command{
		summary: "attest a workload through inclavared and appraise it",
		run:     remoteAttestationCommand,
	})
}

// remoteAttestationCommand is "shelter remoteattestation": it parses the
// flags (the Rats-TLS ones from internal/cli), calls remote.Attest and
// prints the identity and the verdict.
func remoteAttestationCommand(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("shelter remoteattestation", flag.ContinueOnError)
	fs.SetOutput(stderr)
	opts := cli.RegisterRatsTLS(fs)
	// shelter prints its own result; the framework's logs are for trouble.
	for _, name := range []string{"l", "log-level"} {
		if f := fs.Lookup(name); f != nil {
			f.DefValue = "warn"
			f.Value.Set("warn")
		}
	}
	// --policy and --json are about the workload here.
	if f := fs.Lookup("policy"); f != nil {
		f.Usage = "appraisal policy `file` for the workload (YAML, see docs/policy.md; default: the appraisal of shelter verify)"
	}
	if f := fs.Lookup("json"); f != nil {
		f.Usage = "print the workload's EAR result as JSON"
	}
	addr := fs.String("addr", "", "inclavared's `ADDRESS`: tcp://HOST:PORT or unix://PATH (required)")
	workload := fs.String("workload", "", "check the workload against the reference values recorded under `NAME` (shelter reference add)")
	var db dbFlags
	db.register(fs)
	collateral := fs.String("collateral", "", "`FILE`: for workload evidence without endorsements: Intel collateral JSON, or the SEV-SNP VCEK/VLEK certificate")
	message := fs.String("message", "", "after an accepted verdict, send `TEXT` (and a newline) to the workload and print its reply line")
	timeout := fs.Duration("timeout", 30*time.Second, "bound on the whole attestation: handshake, enclave info and reply")
	noNonce := fs.Bool("no-nonce", false, "ask inclavared without a nonce (an inclavared that predates them): the workload's evidence is then not known to be fresh")
	channelPolicy := fs.String("inclavared-policy", "", "appraisal policy `FILE` for inclavared's own attestation (--policy is the workload's)")
	if err := fs.Parse(args); err != nil {
		return flagError(err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("remoteattestation: unexpected arguments %q", fs.Args())
	}
	if *addr == "" && !opts.ListInstances {
		return errors.New("remoteattestation: --addr tcp://HOST:PORT or unix://PATH (inclavared's address) is required")
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	defer plugin.CleanupClients()
	log, cat, listed, err := opts.Start(ctx, stdout)
	if err != nil || listed {
		return err
	}
	// --policy appraises the workload; the channel has its own.
	workloadPolicy := opts.Policy
	opts.Policy = *channelPolicy
	cfg, err := opts.Config(cat, log)
	if err != nil {
		return fmt.Errorf("remoteattestation: %w", err)
	}
	defer cfg.Close()

	ro := remote.Options{
		Addr: *addr, Config: cfg, Logger: log, NoNonce: *noNonce,
		Verify: verify.Options{AllowSimulated: opts.AllowSimulated},
	}
	if workloadPolicy != "" {
		if ro.Verify.Policy, err = policy.Load(workloadPolicy); err != nil {
			return fmt.Errorf("--policy: %w", err)
		}
	}
	if *collateral != "" {
		b, err := os.ReadFile(*collateral)
		if err != nil {
			return fmt.Errorf("--collateral: %w", err)
		}
		if err := ro.Verify.SetCollateral(b); err != nil {
			return fmt.Errorf("--collateral %s: %w", *collateral, err)
		}
	}
	if *message != "" {
		ro.Message = []byte(*message)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if *workload != "" {
		s, err := db.open(ctx, true)
		if err != nil {
			return fmt.Errorf("--workload %s: %w", *workload, err)
		}
		rec, err := s.Get(ctx, *workload)
		s.Close()
		if err != nil {
			return fmt.Errorf("--workload: %w", err)
		}
		ro.Reference, ro.ReferenceName = &rec.Values, rec.Name
	}

	res, err := remote.Attest(ctx, ro)
	if err != nil && !errors.Is(err, remote.ErrMessage) {
		if errors.Is(err, remote.ErrVerification) {
			return &exitError{code: exitVerification, err: fmt.Errorf("remoteattestation: %w", err)}
		}
		return fmt.Errorf("remoteattestation: %w", err)
	}
	if opts.JSON {
		b, jerr := res.Workload.Appraisal.MarshalJSON()
		if jerr != nil {
			return jerr
		}
		fmt.Fprintf(stdout, "%s\n", b)
		if res.Reply != nil {
			stdout.Write(res.Reply)
		}
	} else {
		printRemote(stdout, res, *workload)
	}
	if err != nil {
		return fmt.Errorf("remoteattestation: %w", err)
	}
	if a := res.Workload.Appraisal; !a.Status.Accepted() {
		return &exitError{code: exitContraindicated, err: fmt.Errorf("remoteattestation: %s: %s", a.Status, strings.Join(a.Reasons, "; "))}
	}
	return nil
}

// printRemote prints inclavared's attestation, the workload's identity and
// the reference check, then the verdict as shelter verify prints it.
func printRemote(w io.Writer, r *remote.Result, workload string) {
	ch := r.Channel
	fmt.Fprintf(w, "inclavared:  %s\n", r.Addr)
	if ch.Attested {
		fmt.Fprintf(w, "  attested:  %s evidence, verified by %s; freshness %s\n", ch.EvidenceType, ch.Verifier, ch.Freshness)
	} else {
		fmt.Fprintf(w, "  attested:  NO (no evidence; accepted by %s); freshness %s\n", ch.Verifier, ch.Freshness)
	}
	if a, ok := ch.Appraisal.(ear.Result); ok {
		fmt.Fprintf(w, "  appraisal: %s (policy %s)\n", a.Status, a.PolicyID)
	}
	fmt.Fprintf(w, "workload:    %s\n", r.ID)
	for _, k := range orderedClaims(r.Measurements) {
		fmt.Fprintf(w, "  %-12s %s\n", k+":", r.Measurements.Measurements[k])
	}
	switch {
	case r.Bound && r.Fresh:
		fmt.Fprintf(w, "evidence:    in the workload's certificate, bound to its key and to shelter's nonce (fresh)\n")
	case r.Bound:
		fmt.Fprintf(w, "evidence:    in the workload's certificate, bound to its key\n")
	default:
		fmt.Fprintf(w, "evidence:    forwarded by inclavared (exporter mode): genuine, but bound to nothing shelter can check\n")
	}
	switch {
	case !r.ReferenceChecked:
		fmt.Fprintf(w, "reference:   none checked (give --workload NAME)\n")
	case r.ReferenceError != nil:
		fmt.Fprintf(w, "reference:   %s: MISMATCH: %v\n", workload, r.ReferenceError)
	default:
		fmt.Fprintf(w, "reference:   %s: match\n", workload)
	}
	printHuman(w, r.Workload)
	if r.Reply != nil {
		fmt.Fprintf(w, "reply:       %q\n", r.Reply)
	}
}
