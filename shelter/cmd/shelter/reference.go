package main

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	appref "github.com/inclavare/inclavare/appraisal/reference"
	"github.com/inclavare/inclavare/shelter/reference"
	"github.com/inclavare/inclavare/shelter/verify"
)

func init() {
	register("reference", command{
		summary: "record, list and remove workloads' reference values (add|list|remove)",
		run:     referenceCommand,
	})
}

const referenceUsage = `usage: shelter reference add NAME --evidence-type TYPE --measurement CLAIM=HEX ... [--force]
       shelter reference add NAME --from-evidence FILE [--allow-simulated] [--collateral FILE] [--at TIME] [--force]
       shelter reference list [--json]
       shelter reference remove NAME
Every subcommand takes --db FILE (default $SHELTER_DB, else
$XDG_DATA_HOME/inclavare/shelter.db, else ~/.local/share/inclavare/shelter.db)
and --lock-timeout DURATION. Run "shelter reference add -h" for the flags.
`

// referenceCommand is "shelter reference": it dispatches to add, list and
// remove.
func referenceCommand(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, referenceUsage)
		return &exitError{code: exitUsage}
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "add":
		return referenceAdd(args, stdout, stderr)
	case "list", "ls":
		return referenceList(args, stdout, stderr)
	case "remove", "rm":
		return referenceRemove(args, stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, referenceUsage)
		return nil
	}
	fmt.Fprint(stderr, referenceUsage)
	return &exitError{code: exitUsage, err: fmt.Errorf("reference: unknown subcommand %q", sub)}
}

// dbFlags are the flags every reference subcommand (and remoteattestation)
// takes to find the database.
type dbFlags struct {
	path        string
	lockTimeout time.Duration
}

func (d *dbFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&d.path, "db", "", "reference database `FILE` (default $SHELTER_DB, else $XDG_DATA_HOME/inclavare/shelter.db, else ~/.local/share/inclavare/shelter.db)")
	fs.DurationVar(&d.lockTimeout, "lock-timeout", reference.DefaultLockTimeout, "how long to wait for another shelter holding the database")
}

// open opens the database.
func (d *dbFlags) open(ctx context.Context, readOnly bool) (*reference.Store, error) {
	path := d.path
	if path == "" {
		var err error
		if path, err = reference.DefaultPath(); err != nil {
			return nil, err
		}
	}
	return reference.Open(ctx, path, reference.Options{ReadOnly: readOnly, LockTimeout: d.lockTimeout})
}

// parseInterleaved parses flags and positional arguments in any order
// ("add NAME --force" as well as "add --force NAME"); "--" ends the flags.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// flagError turns a flag parsing error into the exit status (-h is not an
// error; the flag package has printed the problem).
func flagError(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return &exitError{code: exitUsage}
}

// measurements collects repeated --measurement CLAIM=HEX flags.
type measurements map[string]string

func (m measurements) String() string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ",")
}

func (m measurements) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" || v == "" {
		return fmt.Errorf("%q: want CLAIM=HEX, for example measurement=%s", s, strings.Repeat("ab", 48))
	}
	if _, dup := m[k]; dup {
		return fmt.Errorf("%s given twice", k)
	}
	m[k] = strings.ToLower(strings.TrimPrefix(v, "0x"))
	return nil
}

// referenceAdd is "shelter reference add".
func referenceAdd(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("shelter reference add NAME", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var db dbFlags
	db.register(fs)
	evType := fs.String("evidence-type", "", "evidence `TYPE` of the values: "+strings.Join(measuredTypes, ", "))
	ms := measurements{}
	fs.Var(ms, "measurement", "a launch measurement, `CLAIM=HEX` (repeat for each; at least the primary one: mrenclave, mrtd or measurement)")
	from := fs.String("from-evidence", "", "take the values from `FILE`, evidence of a trusted first run: a raw quote or report, or a PEM or DER certificate carrying evidence (verified first, as shelter verify does)")
	typ := fs.String("type", verify.TypeAuto, "with --from-evidence: the evidence type, or auto")
	collateral := fs.String("collateral", "", "with --from-evidence: `FILE` for evidence without endorsements: Intel collateral JSON, or the SEV-SNP VCEK/VLEK certificate")
	at := fs.String("at", "", "with --from-evidence: verification `TIME`, RFC 3339 or Unix seconds (default now)")
	allowSim := fs.Bool("allow-simulated", false, "with --from-evidence: trust the simulated TEEs (test only)")
	force := fs.Bool("force", false, "replace the workload's reference values if it has some")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return flagError(err)
	}
	if len(pos) != 1 {
		return fmt.Errorf("reference add: want one workload NAME, got %d arguments %q", len(pos), pos)
	}
	name := pos[0]
	if err := reference.ValidName(name); err != nil {
		return fmt.Errorf("reference add: %w", err)
	}
	ctx := context.Background()
	rec := reference.Record{Name: name, Added: time.Now()}
	switch {
	case *from != "" && (len(ms) > 0 || *evType != ""):
		return errors.New("reference add: give either --from-evidence, or --evidence-type and --measurement, not both")
	case *from != "":
		if rec.Values, rec.Source, err = valuesFromEvidence(ctx, *from, *typ, *collateral, *at, *allowSim); err != nil {
			return err
		}
	case *evType == "" || len(ms) == 0:
		return errors.New("reference add: give --evidence-type TYPE and at least one --measurement CLAIM=HEX, or --from-evidence FILE")
	default:
		if *typ != verify.TypeAuto || *collateral != "" || *at != "" || *allowSim {
			return errors.New("reference add: --type, --collateral, --at and --allow-simulated go with --from-evidence")
		}
		rec.Values = appref.Values{EvidenceType: *evType, Measurements: ms}
		rec.Source = "manual"
		if err := rec.Values.Validate(); err != nil {
			return fmt.Errorf("reference add: %w", err)
		}
	}
	s, err := db.open(ctx, false)
	if err != nil {
		return fmt.Errorf("reference add: %w", err)
	}
	defer s.Close()
	if err := s.Add(ctx, rec, *force); err != nil {
		return fmt.Errorf("reference add: %w", err)
	}
	got, err := s.Get(ctx, name)
	if err != nil {
		return fmt.Errorf("reference add: reading back %s: %w", name, err)
	}
	fmt.Fprintf(stdout, "recorded reference values of %s in %s:\n", name, s.Path())
	printRecord(stdout, got)
	return nil
}

// valuesFromEvidence verifies the evidence in file as shelter verify does
// and returns its launch measurements; evidence that does not verify, or
// whose verdict is not accepted, is refused.
func valuesFromEvidence(ctx context.Context, file, typ, collateral, at string, allowSim bool) (appref.Values, string, error) {
	input, err := os.ReadFile(file)
	if err != nil {
		return appref.Values{}, "", fmt.Errorf("--from-evidence: %w", err)
	}
	sum := sha256.Sum256(input)
	opts := verify.Options{Type: typ, AllowSimulated: allowSim}
	if at != "" {
		if opts.Now, err = parseTime(at); err != nil {
			return appref.Values{}, "", err
		}
	}
	if collateral != "" {
		b, err := os.ReadFile(collateral)
		if err != nil {
			return appref.Values{}, "", fmt.Errorf("--collateral: %w", err)
		}
		if err := opts.SetCollateral(b); err != nil {
			return appref.Values{}, "", fmt.Errorf("--collateral %s: %w", collateral, err)
		}
	}
	// A DER certificate is read as the PEM one shelter verify takes.
	if _, err := x509.ParseCertificate(input); err == nil {
		input = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: input})
	}
	res, err := verify.Evidence(ctx, input, opts)
	if err != nil {
		if errors.Is(err, verify.ErrVerification) {
			return appref.Values{}, "", &exitError{code: exitVerification, err: fmt.Errorf("reference add: %s did not verify, nothing recorded: %w", file, err)}
		}
		return appref.Values{}, "", fmt.Errorf("reference add: %w", err)
	}
	if a := res.Appraisal; !a.Status.Accepted() {
		return appref.Values{}, "", &exitError{code: exitContraindicated, err: fmt.Errorf("reference add: %s is %s, nothing recorded: %s", file, a.Status, strings.Join(a.Reasons, "; "))}
	}
	v, err := appref.Measurements(res.Type, res.Claims)
	if err != nil {
		return appref.Values{}, "", fmt.Errorf("reference add: %s: %w", file, err)
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		abs = file
	}
	src := fmt.Sprintf("evidence %s (sha256 %s, %s)", abs, hex.EncodeToString(sum[:]), res.Appraisal.Status)
	if res.Simulated {
		src += ", simulated"
	}
	return v, src, nil
}

// measuredTypes are the evidence types with launch measurements, for the
// help text.
var measuredTypes = []string{"sgx_ecdsa", "sgx_la", "tdx_ecdsa", "sev_snp", "csv"}

// referenceList is "shelter reference list".
func referenceList(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("shelter reference list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var db dbFlags
	db.register(fs)
	asJSON := fs.Bool("json", false, "print the records as JSON")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return flagError(err)
	}
	if len(pos) > 0 {
		return fmt.Errorf("reference list: unexpected arguments %q", pos)
	}
	ctx := context.Background()
	var recs []reference.Record
	s, err := db.open(ctx, true)
	switch {
	case errors.Is(err, reference.ErrNoDatabase):
		// Nothing recorded yet: an empty list, and no file created.
	case err != nil:
		return fmt.Errorf("reference list: %w", err)
	default:
		defer s.Close()
		if recs, err = s.List(ctx); err != nil {
			return fmt.Errorf("reference list: %w", err)
		}
	}
	if *asJSON {
		if recs == nil {
			recs = []reference.Record{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(recs)
	}
	if len(recs) == 0 {
		fmt.Fprintln(stdout, "no reference values recorded")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tEVIDENCE TYPE\tMEASUREMENT\tVALUE\tADDED\tSOURCE")
	for _, r := range recs {
		first := true
		for _, k := range orderedClaims(r.Values) {
			if first {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Values.EvidenceType, k, r.Values.Measurements[k], r.Added.UTC().Format(time.RFC3339), r.Source)
				first = false
			} else {
				fmt.Fprintf(tw, "\t\t%s\t%s\n", k, r.Values.Measurements[k])
			}
		}
	}
	return tw.Flush()
}

// orderedClaims are v's measurement names in their display order.
func orderedClaims(v appref.Values) []string {
	var out []string
	for _, k := range appref.ClaimNames(v.EvidenceType) {
		if _, ok := v.Measurements[k]; ok {
			out = append(out, k)
		}
	}
	return out
}

// printRecord prints one record, a line per measurement.
func printRecord(w io.Writer, r reference.Record) {
	fmt.Fprintf(w, "  name:          %s\n", r.Name)
	fmt.Fprintf(w, "  evidence type: %s\n", r.Values.EvidenceType)
	for _, k := range orderedClaims(r.Values) {
		fmt.Fprintf(w, "  %-14s %s\n", k+":", r.Values.Measurements[k])
	}
	fmt.Fprintf(w, "  added:         %s\n", r.Added.UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "  source:        %s\n", r.Source)
}

// referenceRemove is "shelter reference remove".
func referenceRemove(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("shelter reference remove NAME", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var db dbFlags
	db.register(fs)
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return flagError(err)
	}
	if len(pos) != 1 {
		return fmt.Errorf("reference remove: want one workload NAME, got %d arguments %q", len(pos), pos)
	}
	ctx := context.Background()
	s, err := db.open(ctx, true)
	if errors.Is(err, reference.ErrNoDatabase) {
		return fmt.Errorf("reference remove: %w for workload %q: %w", reference.ErrNotFound, pos[0], err)
	}
	if err != nil {
		return fmt.Errorf("reference remove: %w", err)
	}
	s.Close()
	if s, err = db.open(ctx, false); err != nil {
		return fmt.Errorf("reference remove: %w", err)
	}
	defer s.Close()
	if err := s.Remove(ctx, pos[0]); err != nil {
		return fmt.Errorf("reference remove: %w", err)
	}
	fmt.Fprintf(stdout, "removed the reference values of %s from %s\n", pos[0], s.Path())
	return nil
}
