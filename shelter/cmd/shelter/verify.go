package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/inclavare/inclavare/appraisal/policy"
	"github.com/inclavare/inclavare/shelter/verify"
)

// verifyCommand is "shelter verify": it parses the flags, calls
// verify.Evidence and prints the result.
func verifyCommand(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("shelter verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	evidence := fs.String("evidence", "", "`FILE`: a raw quote or report, or a PEM certificate carrying evidence")
	typ := fs.String("type", verify.TypeAuto, "evidence type: sgx_ecdsa, tdx_ecdsa, sev_snp or auto")
	collateral := fs.String("collateral", "", "`FILE`: for evidence without endorsements: Intel collateral JSON (tcb_info, qe_identity, ...), or the SEV-SNP VCEK/VLEK certificate (PEM or DER, from AMD's KDS)")
	policyFile := fs.String("policy", "", "`FILE`: an appraisal policy (YAML); without it, the default appraisal")
	at := fs.String("at", "", "verification `TIME`: RFC 3339, or Unix seconds (default now)")
	allowSim := fs.Bool("allow-simulated", false, "trust the simulated Intel and SEV-SNP roots (test only)")
	asJSON := fs.Bool("json", false, "print the EAR result as JSON")
	reportData := fs.String("report-data", "", "expected report data, `HEX` (at most 64 bytes, zero padded)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &exitError{code: exitUsage}
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("verify: unexpected arguments %q", fs.Args())
	}
	if *evidence == "" {
		return errors.New("verify: --evidence FILE is required")
	}
	opts := verify.Options{Type: *typ, AllowSimulated: *allowSim}
	if *at != "" {
		t, err := parseTime(*at)
		if err != nil {
			return err
		}
		opts.Now = t
	}
	if *reportData != "" {
		b, err := hex.DecodeString(strings.TrimPrefix(*reportData, "0x"))
		if err != nil {
			return fmt.Errorf("--report-data: %w", err)
		}
		opts.ReportData = b
	}
	if *collateral != "" {
		b, err := os.ReadFile(*collateral)
		if err != nil {
			return fmt.Errorf("--collateral: %w", err)
		}
		if err := opts.SetCollateral(b); err != nil {
			return fmt.Errorf("--collateral %s: %w", *collateral, err)
		}
	}
	if *policyFile != "" {
		p, err := policy.Load(*policyFile)
		if err != nil {
			return fmt.Errorf("--policy: %w", err)
		}
		opts.Policy = p
	}
	input, err := os.ReadFile(*evidence)
	if err != nil {
		return fmt.Errorf("--evidence: %w", err)
	}

	res, err := verify.Evidence(context.Background(), input, opts)
	if err != nil {
		if errors.Is(err, verify.ErrVerification) {
			return &exitError{code: exitVerification, err: err}
		}
		return err
	}
	if *asJSON {
		b, err := res.Appraisal.MarshalJSON()
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s\n", b)
	} else {
		printHuman(stdout, res)
	}
	if !res.Appraisal.Status.Accepted() {
		return &exitError{code: exitContraindicated, err: fmt.Errorf("verify: %s: %s", res.Appraisal.Status, strings.Join(res.Appraisal.Reasons, "; "))}
	}
	return nil
}

// parseTime reads RFC 3339 or Unix seconds.
func parseTime(s string) (time.Time, error) {
	if n, err := strconv.ParseInt(strings.TrimPrefix(s, "@"), 10, 64); err == nil {
		return time.Unix(n, 0).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("--at %q: want RFC 3339 (2022-12-20T00:50:04Z) or Unix seconds", s)
	}
	return t, nil
}

// keyClaims are printed first, in this order, when present.
var keyClaims = []string{
	"tee", "mrenclave", "mrsigner", "isv_prod_id", "isv_svn", "mrtd", "rtmr0", "rtmr1", "rtmr2", "rtmr3",
	"measurement", "host_data", "product_line", "signing_key", "reported_tcb", "guest_svn",
	"advisory_ids", "fmspc", "tcb_date", "debug", "simulated", "report_data",
}

func printHuman(w io.Writer, r *verify.Result) {
	a := r.Appraisal
	src := "raw evidence"
	if r.FromCertificate {
		src = "certificate"
	}
	fmt.Fprintf(w, "type:        %s (from %s)\n", r.Type, src)
	fmt.Fprintf(w, "verdict:     %s\n", a.Status)
	if a.TCBStatus != "" {
		fmt.Fprintf(w, "tcb status:  %s\n", a.TCBStatus)
	}
	fmt.Fprintf(w, "policy:      %s\n", a.PolicyID)
	if r.ReportDataChecked {
		fmt.Fprintf(w, "report data: checked against the %s (%x)\n", r.ReportDataSource, r.ReportData)
	} else {
		fmt.Fprintf(w, "report data: NOT checked (raw evidence without --report-data)\n")
	}
	if len(a.Reasons) > 0 {
		fmt.Fprintf(w, "reasons:\n")
		for _, s := range a.Reasons {
			fmt.Fprintf(w, "  - %s\n", s)
		}
	}
	fmt.Fprintf(w, "claims:\n")
	for _, k := range keyClaims {
		if v, ok := r.Claims[k]; ok {
			fmt.Fprintf(w, "  %-13s %v\n", k+":", v)
		}
	}
	var rest []string
	for k := range r.Claims {
		if !slices.Contains(keyClaims, k) {
			rest = append(rest, k)
		}
	}
	if len(rest) > 0 {
		slices.Sort(rest)
		fmt.Fprintf(w, "  (also: %s; --json prints every claim)\n", strings.Join(rest, ", "))
	}
}
