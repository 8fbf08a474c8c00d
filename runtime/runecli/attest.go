package runecli

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/utils"
	"github.com/urfave/cli"
	"golang.org/x/sys/unix"

	"github.com/inclavare/inclavare/appraisal/ear"
	"github.com/inclavare/inclavare/appraisal/policy"
	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/runtime/enclave"
	"github.com/inclavare/inclavare/runtime/runelet/execproto"
	"github.com/inclavare/inclavare/runtime/wasm"
	"github.com/inclavare/inclavare/runtime/wasm/attest"
	"github.com/inclavare/inclavare/shelter/verify"
	"github.com/inclavare/inclavare/tee/intel"
	intelsim "github.com/inclavare/inclavare/tee/intel/simulated"
)

// Exit codes of `rune attest --verify`, as shelter verify's.
const (
	exitVerification    = 2
	exitContraindicated = 3
)

// attestTimeout bounds collecting the evidence.
const attestTimeout = 30 * time.Second

var attestCommand = cli.Command{
	Name:  "attest",
	Usage: "return (and optionally verify) evidence for a running enclave container",
	ArgsUsage: `<container-id>

Where "<container-id>" is the name of a running enclave container.

A PAL enclave of API version 3 answers with its PAL's local report
(pal_get_local_report, through the runelet's exec socket). A wasm enclave's
evidence comes from the attester of its simulated TEE (annotation
enclave.attestation.attester, default sgx_ecdsa_sim) with the module's
measurement, the SHA-256 measured at create, collected by rune on the host:
the stand-in for hardware, where the evidence must come from inside the TEE.

Exit codes with --verify: 0 accepted, 1 usage, 2 verification failed,
3 contraindicated.`,
	Flags: []cli.Flag{
		cli.BoolFlag{Name: "json", Usage: "print the evidence type, the evidence (base64) and the claims as JSON"},
		cli.BoolFlag{Name: "verify", Usage: "verify the evidence with the framework's verifier and appraise it (--policy)"},
		cli.StringFlag{Name: "policy", Usage: "appraisal policy `FILE` for --verify (YAML, see docs/policy.md; default: shelter verify's appraisal)"},
		cli.BoolFlag{Name: "allow-simulated", Usage: "let --verify trust a simulated TEE"},
		cli.StringFlag{Name: "report-data", Usage: "`HEX` report data (at most 64 bytes) bound into the evidence (default: 32 fresh random bytes)"},
	},
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, exactArgs); err != nil {
			return err
		}
		opts, err := attestOptionsFrom(c)
		if err != nil {
			return err
		}
		ct, err := getContainer(c)
		if err != nil {
			return err
		}
		ctx, stop := signal.NotifyContext(context.Background(), unix.SIGINT, unix.SIGTERM)
		defer stop()
		ctx, cancel := context.WithTimeout(ctx, attestTimeout)
		defer cancel()
		res, err := attestContainer(ctx, c.GlobalString("root"), ct, opts)
		if err != nil {
			return err
		}
		return printAttestation(os.Stdout, res, opts)
	},
}

// attestOptions are the flags of `rune attest`.
type attestOptions struct {
	json, verify, allowSimulated bool
	policy                       *policy.Policy
	reportData                   []byte
}

// attestOptionsFrom reads and checks the flags.
func attestOptionsFrom(c *cli.Context) (attestOptions, error) {
	o := attestOptions{json: c.Bool("json"), verify: c.Bool("verify"), allowSimulated: c.Bool("allow-simulated")}
	if p := c.String("policy"); p != "" {
		if !o.verify {
			return o, errors.New("attest: --policy is used by --verify: give --verify too")
		}
		var err error
		if o.policy, err = policy.Load(p); err != nil {
			return o, fmt.Errorf("attest: --policy: %w", err)
		}
	}
	if o.allowSimulated && !o.verify {
		return o, errors.New("attest: --allow-simulated is used by --verify: give --verify too")
	}
	if h := c.String("report-data"); c.IsSet("report-data") {
		b, err := hex.DecodeString(h)
		if err != nil {
			return o, fmt.Errorf("attest: --report-data %q: want hex: %w", h, err)
		}
		if len(b) > execproto.MaxReportData {
			return o, fmt.Errorf("attest: --report-data is %d bytes: give at most %d", len(b), execproto.MaxReportData)
		}
		o.reportData = b
	} else {
		o.reportData = make([]byte, 32)
		if _, err := rand.Read(o.reportData); err != nil {
			return o, fmt.Errorf("attest: drawing fresh report data: %w", err)
		}
	}
	return o, nil
}

// Attestation is what `rune attest` found, as --json prints it.
type Attestation struct {
	// Container is the container's ID and EnclaveType its enclave type.
	Container   string       `json:"container"`
	EnclaveType enclave.Type `json:"enclave_type"`
	// EvidenceType says what Evidence is: a framework evidence type
	// (sgx_ecdsa), or pal_local_report / skeleton_local_report for a PAL's
	// report.
	EvidenceType string `json:"evidence_type"`
	// Attester names the framework attester (wasm enclaves).
	Attester string `json:"attester,omitempty"`
	// Evidence is the evidence (base64 in JSON).
	Evidence []byte `json:"evidence"`
	// ReportData is the report data bound into it (hex in JSON).
	ReportData hexBytes `json:"report_data"`
	// Measurement is the enclave runtime's measurement as rune recorded it
	// (wasm: the module's SHA-256), hex.
	Measurement string `json:"measurement,omitempty"`
	// Claims are what the evidence states; Verified tells whether a
	// verifier vouched for them (--verify).
	Claims   instance.Claims `json:"claims"`
	Verified bool            `json:"verified"`
	// Verdict is the appraisal (--verify).
	Verdict *ear.Result `json:"verdict,omitempty"`
}

// hexBytes marshals as a hex string.
type hexBytes []byte

// MarshalJSON encodes b as a hex string.
func (b hexBytes) MarshalJSON() ([]byte, error) { return json.Marshal(hex.EncodeToString(b)) }

// attestContainer collects the evidence of the running enclave container
// ct, and verifies it with opts.verify. A verification failure is a
// codedError with exitVerification.
func attestContainer(ctx context.Context, root string, ct *libcontainer.Container, opts attestOptions) (*Attestation, error) {
	status, err := ct.Status()
	if err != nil {
		return nil, fmt.Errorf("reading the status of %s: %w", ct.ID(), err)
	}
	if status != libcontainer.Running {
		return nil, fmt.Errorf("attest: container %s is %s: only a running enclave can be attested (start it first)", ct.ID(), status)
	}
	st, err := enclave.ReadState(filepath.Join(root, ct.ID()))
	if err != nil {
		return nil, err
	}
	if st == nil {
		return nil, fmt.Errorf("attest: container %s runs no enclave: there is nothing to attest (set the enclave.type annotation)", ct.ID())
	}
	a := &Attestation{Container: ct.ID(), EnclaveType: st.Type, ReportData: opts.reportData}
	if st.Type.UsesPAL() {
		if err := palEvidence(ctx, st, a); err != nil {
			return nil, err
		}
		if opts.verify {
			return nil, &codedError{exitVerification, fmt.Errorf("attest --verify: the %s is not hardware evidence (nor signed by anyone): it cannot be verified by the framework; use a TEE attester whose evidence a verifier checks", a.EvidenceType)}
		}
		return a, nil
	}
	_, annotations := utils.Annotations(ct.Config().Labels)
	if err := wasmEvidence(ctx, annotations, a); err != nil {
		return nil, err
	}
	if opts.verify {
		if err := verifyEvidence(ctx, a, opts); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// palEvidence asks the PAL host, through the exec socket, for the PAL's
// local report over a.ReportData.
func palEvidence(ctx context.Context, st *enclave.State, a *Attestation) error {
	report, err := execproto.LocalReport(ctx, st.ExecSocket(), a.ReportData)
	if err != nil {
		return fmt.Errorf("attest: %w", err)
	}
	a.Evidence = report
	a.EvidenceType = "pal_local_report"
	a.Claims = instance.Claims{}
	if sk, ok, err := parseSkeletonReport(report); ok {
		if err != nil {
			return fmt.Errorf("attest: the skeleton PAL's report: %w", err)
		}
		want := make([]byte, execproto.MaxReportData)
		copy(want, a.ReportData)
		if subtle.ConstantTimeCompare(sk.ReportData[:], want) != 1 {
			return fmt.Errorf("attest: the PAL's report carries report data %x, not the %x asked for", sk.ReportData, want)
		}
		a.EvidenceType = "skeleton_local_report"
		a.Measurement = hex.EncodeToString(sk.Measurement[:])
		a.Claims = sk.claims()
	}
	return nil
}

// wasmEvidence collects the evidence of a wasm enclave: the attester of
// its simulated TEE over the module's measurement recorded at create
// (which runelet-wasm checked before it ran the module).
func wasmEvidence(ctx context.Context, annotations map[string]string, a *Attestation) error {
	digest := annotations[enclave.AnnotationMeasurement]
	var m wasm.Measurement
	b, err := hex.DecodeString(digest)
	if err != nil || len(b) != len(m) {
		return fmt.Errorf("attest: container %s has no recorded module measurement (%s %q): it was created by an older rune; recreate it", a.Container, enclave.AnnotationMeasurement, digest)
	}
	copy(m[:], b)
	name := annotations[enclave.AnnotationAttestationAttester]
	if name == "" {
		name = attest.DefaultAttester
	}
	at, err := attest.NewAttester(name, m, attest.Options{})
	if err != nil {
		return fmt.Errorf("attest: %s: %w", enclave.AnnotationAttestationAttester, err)
	}
	defer at.Close()
	rd := make([]byte, instance.ReportDataSize)
	copy(rd, a.ReportData)
	ev, err := at.Collect(ctx, rd)
	if err != nil {
		return fmt.Errorf("attest: collecting evidence with %s: %w", name, err)
	}
	a.Attester, a.EvidenceType, a.Evidence, a.Measurement = name, ev.Type, ev.Data, m.String()
	a.Claims, err = quoteClaims(ev.Data)
	if err != nil {
		return fmt.Errorf("attest: reading the evidence of %s: %w", name, err)
	}
	return nil
}

// quoteClaims are what an SGX quote states, unverified.
func quoteClaims(quote []byte) (instance.Claims, error) {
	q, err := intel.ParseQuote(quote)
	if err != nil {
		return nil, err
	}
	c := instance.Claims{"report_data": hex.EncodeToString(q.ReportData()), "debug": q.Debug()}
	if e := q.Enclave; e != nil {
		c["tee"] = "sgx"
		c["mrenclave"] = hex.EncodeToString(e.MREnclave[:])
		c["mrsigner"] = hex.EncodeToString(e.MRSigner[:])
		c["isv_prod_id"] = uint64(e.ISVProdID)
		c["isv_svn"] = uint64(e.ISVSVN)
	}
	return c, nil
}

// verifyEvidence verifies a's evidence with shelter's verifier (the
// framework's verifiers' code: tee/intel, tee/sevsnp) against a's report
// data, appraises it with opts.policy or the default, and sets a's claims
// and verdict. A failure is a codedError: exitVerification, or
// exitContraindicated for a verdict that is not accepted (a is then
// printed first by the caller through the error).
func verifyEvidence(ctx context.Context, a *Attestation, opts attestOptions) error {
	res, err := verify.Evidence(ctx, a.Evidence, verify.Options{
		Type: a.EvidenceType, Policy: opts.policy, AllowSimulated: opts.allowSimulated, ReportData: a.ReportData,
	})
	if err != nil {
		hint := ""
		if !opts.allowSimulated && errors.Is(err, intelsim.ErrSimulated) {
			hint = " (the evidence is from a simulated TEE: give --allow-simulated to trust it)"
		}
		return &codedError{exitVerification, fmt.Errorf("attest --verify: %w%s", err, hint)}
	}
	a.Claims, a.Verified, a.Verdict = res.Claims, true, &res.Appraisal
	return nil
}

// printAttestation prints a (JSON with opts.json) and returns the error
// its verdict calls for.
func printAttestation(w io.Writer, a *Attestation, opts attestOptions) error {
	if opts.json {
		b, err := json.MarshalIndent(a, "", "  ")
		if err != nil {
			return fmt.Errorf("attest: encoding the result: %w", err)
		}
		fmt.Fprintf(w, "%s\n", b)
	} else {
		fmt.Fprintf(w, "container:    %s (%s enclave)\n", a.Container, a.EnclaveType)
		switch {
		case a.Attester != "":
			fmt.Fprintf(w, "evidence:     %s, %d bytes, from the %s attester (simulated TEE, collected by rune on the host)\n", a.EvidenceType, len(a.Evidence), a.Attester)
		default:
			fmt.Fprintf(w, "evidence:     %s, %d bytes, from pal_get_local_report (not hardware evidence)\n", a.EvidenceType, len(a.Evidence))
		}
		if a.Measurement != "" {
			fmt.Fprintf(w, "measurement:  %s\n", a.Measurement)
		}
		fmt.Fprintf(w, "report data:  %x\n", []byte(a.ReportData))
		if a.Verified {
			fmt.Fprintf(w, "claims (verified):\n")
		} else {
			fmt.Fprintf(w, "claims (as the evidence states them, unverified):\n")
		}
		for _, k := range slices.Sorted(maps.Keys(a.Claims)) {
			fmt.Fprintf(w, "  %-26s %v\n", k+":", a.Claims[k])
		}
		if v := a.Verdict; v != nil {
			fmt.Fprintf(w, "verdict:      %s (policy %s)\n", v.Status, v.PolicyID)
			for _, r := range v.Reasons {
				fmt.Fprintf(w, "  reason:     %s\n", r)
			}
		}
	}
	if v := a.Verdict; v != nil && !v.Status.Accepted() {
		return &codedError{exitContraindicated, fmt.Errorf("attest: %s: %s", v.Status, strings.Join(v.Reasons, "; "))}
	}
	return nil
}

// skeletonReport is the skeleton PAL's local report (version 3; layout in
// samples/pal-skeleton/README.md). It proves nothing: its checksum
// detects corruption, not forgery.
type skeletonReport struct {
	Format, PALVersion, Flags uint32
	Measurement               [32]byte
	ReportData                [64]byte
}

// skeletonMagic starts the skeleton PAL's report.
var skeletonMagic = []byte("SKELETON-NOT-HW\x00")

// skeletonReportSize is the size of the skeleton PAL's report.
const skeletonReportSize = 160

// parseSkeletonReport reads b as the skeleton PAL's report. ok is false
// when b does not start with the skeleton's magic (another PAL's report);
// otherwise err says what is wrong with it.
func parseSkeletonReport(b []byte) (r skeletonReport, ok bool, err error) {
	if !bytes.HasPrefix(b, skeletonMagic) {
		return r, false, nil
	}
	if len(b) != skeletonReportSize {
		return r, true, fmt.Errorf("report of %d bytes, want %d", len(b), skeletonReportSize)
	}
	sum := sha256.Sum256(b[:128])
	if subtle.ConstantTimeCompare(sum[:], b[128:160]) != 1 {
		return r, true, errors.New("the checksum over bytes 0 to 127 does not match: the report is corrupt")
	}
	r.Format = binary.LittleEndian.Uint32(b[16:])
	r.PALVersion = binary.LittleEndian.Uint32(b[20:])
	r.Flags = binary.LittleEndian.Uint32(b[24:])
	if r.Format != 1 {
		return r, true, fmt.Errorf("report format %d, want 1", r.Format)
	}
	copy(r.Measurement[:], b[32:64])
	copy(r.ReportData[:], b[64:128])
	return r, true, nil
}

// claims are what the skeleton's report states.
func (r skeletonReport) claims() instance.Claims {
	return instance.Claims{
		"measurement": hex.EncodeToString(r.Measurement[:]),
		"pal_version": uint64(r.PALVersion),
		"pre_created": r.Flags&1 != 0,
		"report_data": hex.EncodeToString(r.ReportData[:]),
		"hardware":    false,
		"report_kind": "skeleton PAL local report (a checksum, not a signature)",
	}
}
