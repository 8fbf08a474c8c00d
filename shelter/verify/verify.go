// Package verify is the library behind "shelter verify": it checks one piece
// of evidence offline — a raw Intel SGX or TDX quote, a raw AMD SEV-SNP
// report, or a PEM certificate carrying evidence (framework/dice) — with the
// tee packages, validates it, and appraises it into an EAR result.
//
// The steps, each done by the package that owns it:
//
//  1. Read: a PEM certificate gives the evidence, its endorsements and the
//     report data that binds it to the certificate's key (dice.Find, which
//     checks the pubkey-hash claim). Raw bytes are typed by Detect.
//  2. Verify signatures and chains: tee/intel (collateral from the
//     certificate's endorsements, else Options.Collateral, else, for a
//     simulated quote, tee/intel/simulated's) or tee/sevsnp. Options.Now
//     pins the time; simulated roots are trusted only with
//     Options.AllowSimulated. A failure wraps ErrVerification.
//  3. Validate: the report data (from the certificate, or
//     Options.ReportData) with intel.Validate or sevsnp.Validate. Without
//     expected report data (a raw quote and no ReportData) this step is
//     skipped and Result.ReportDataChecked is false. A refusal makes the
//     result contraindicated.
//  4. Appraise: with Options.Policy (appraisal/policy), else with the
//     default of DefaultAppraisal.
//
// Like the verifiers in verifiers/, this package trusts the debug bit and
// the TCB status to the appraisal (step 4), not to the validation.
package verify

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/inclavare/inclavare/appraisal/ear"
	"github.com/inclavare/inclavare/appraisal/policy"
	"github.com/inclavare/inclavare/framework/dice"
	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/tee/intel"
	intelsim "github.com/inclavare/inclavare/tee/intel/simulated"
	snp "github.com/inclavare/inclavare/tee/sevsnp"
)

// Evidence types, as the tee packages name them, and TypeAuto.
const (
	TypeAuto = "auto"
	TypeSGX  = intel.EvidenceTypeSGX
	TypeTDX  = intel.EvidenceTypeTDX
	TypeSNP  = snp.EvidenceType
)

// VerifierName is the "ear.verifier-id" build of every result.
const VerifierName = "shelter"

// DefaultPolicyID is the policy ID of results appraised without a policy.
const DefaultPolicyID = "shelter-default"

var (
	// ErrVerification is wrapped by every failure to read, verify or bind
	// the evidence: malformed bytes, an unknown type, a signature, chain,
	// collateral or simulated root refused, a certificate without
	// evidence or whose evidence is not bound to its key.
	ErrVerification = errors.New("verification failed")
	// ErrUsage is wrapped by errors in the options (an unknown type, bad
	// report data, unreadable collateral).
	ErrUsage = errors.New("invalid options")
)

// Options configure Evidence.
type Options struct {
	// Type is TypeSGX, TypeTDX, TypeSNP, or TypeAuto ("" is TypeAuto).
	Type string
	// Collateral is the Intel collateral for quotes whose certificate
	// carries no endorsements (the vectors' JSON layout,
	// intel.ParseCollateralJSON).
	Collateral *intel.Collateral
	// SNPCertificates verify SEV-SNP reports that come without
	// endorsements (a raw report, or a certificate made without them):
	// the VCEK or VLEK certificate, as AMD's KDS serves it.
	SNPCertificates *snp.Certificates
	// Policy appraises the claims; nil means DefaultAppraisal.
	Policy *policy.Policy
	// Now is the verification and appraisal time; zero means time.Now().
	Now time.Time
	// AllowSimulated trusts the simulated Intel and SEV-SNP roots.
	AllowSimulated bool
	// Freshness is what binds the evidence to now, for the policy's
	// freshness rule: "nonce" when the caller checked that the evidence
	// carries a nonce it chose for this verification ("" is none).
	Freshness string
	// ReportData, when not nil, is the expected report data (at most 64
	// bytes, zero padded to 64). It replaces the certificate's.
	ReportData []byte
}

// Result is what Evidence found.
type Result struct {
	// Type is the evidence type.
	Type string
	// FromCertificate tells that the evidence came from a PEM certificate.
	FromCertificate bool
	// ReportDataChecked tells that the report data was validated;
	// ReportDataSource says against what ("certificate", "--report-data"),
	// ReportData is the expected value.
	ReportDataChecked bool
	ReportDataSource  string
	ReportData        []byte
	// Simulated tells that the evidence chains to a simulated root.
	Simulated bool
	// Claims are the verified claims.
	Claims instance.Claims
	// Appraisal is the EAR verdict.
	Appraisal ear.Result
}

// Evidence reads, verifies, validates and appraises input (see the package
// doc). An error wraps ErrVerification or ErrUsage; a refusal by validation
// or policy is not an error but a contraindicated Result.Appraisal.
func Evidence(ctx context.Context, input []byte, opts Options) (*Result, error) {
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	want := opts.Type
	if want == "" {
		want = TypeAuto
	}
	switch want {
	case TypeAuto, TypeSGX, TypeTDX, TypeSNP:
	default:
		return nil, fmt.Errorf("%w: type %q: want one of %s, %s, %s, %s", ErrUsage, want, TypeSGX, TypeTDX, TypeSNP, TypeAuto)
	}
	var expected []byte
	if opts.ReportData != nil {
		if len(opts.ReportData) > intel.ReportDataSize {
			return nil, fmt.Errorf("%w: report data is %d bytes, at most %d", ErrUsage, len(opts.ReportData), intel.ReportDataSize)
		}
		expected = make([]byte, intel.ReportDataSize)
		copy(expected, opts.ReportData)
	}

	res := &Result{}
	raw := input
	var endorsements []byte
	var custom map[string][]byte
	if isPEM(input) {
		found, err := fromCertificate(input)
		if err != nil {
			return nil, err
		}
		res.FromCertificate = true
		raw, endorsements = found.Evidence.Data, found.Endorsements
		res.Type = found.Evidence.Type
		custom = found.Claims.Custom
		if expected == nil {
			expected, res.ReportDataSource = found.ReportData, "certificate"
		}
	} else {
		t, err := Detect(input)
		if err != nil {
			return nil, err
		}
		res.Type = t
	}
	if opts.ReportData != nil {
		res.ReportDataSource = "--report-data"
	}
	if want != TypeAuto && want != res.Type {
		return nil, fmt.Errorf("%w: the evidence is %s, not %s", ErrVerification, res.Type, want)
	}

	var validation error
	switch res.Type {
	case TypeSGX, TypeTDX:
		a, err := verifyIntel(ctx, raw, endorsements, res.Type, now, opts)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrVerification, res.Type, err)
		}
		res.Claims = intel.Claims(a)
		if sim, err := intelsim.Root(); err == nil && a.Root.Equal(sim) {
			res.Simulated = true
		}
		res.Claims["simulated"] = res.Simulated
		if expected != nil {
			validation = intel.Validate(a, intel.Policy{ReportData: expected, AllowDebug: true, AcceptedStatuses: nonRevoked})
		}
	case TypeSNP:
		a, err := verifySNP(ctx, raw, endorsements, now, opts)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrVerification, res.Type, err)
		}
		res.Claims = snp.Claims(a)
		res.Simulated = a.Simulated
		if expected != nil {
			validation = snp.Validate(a.Report, snp.Policy{ReportData: expected, AllowDebug: true})
		}
	default:
		return nil, fmt.Errorf("%w: evidence type %q is not one shelter verifies (%s, %s, %s)", ErrVerification, res.Type, TypeSGX, TypeTDX, TypeSNP)
	}
	res.ReportDataChecked = expected != nil
	res.ReportData = expected

	if opts.Policy != nil {
		res.Appraisal = opts.Policy.Appraise(policy.Input{
			EvidenceType: res.Type, Claims: res.Claims, CustomClaims: custom, Freshness: opts.Freshness,
			Verifier: VerifierName, Now: now, VerifiedAt: now,
		})
	} else {
		res.Appraisal = DefaultAppraisal(res.Type, res.Claims, now)
	}
	if !res.ReportDataChecked {
		// Nothing binds this evidence to anything: at best a warning.
		res.Appraisal.Status = res.Appraisal.Status.Worse(ear.Warning)
		res.Appraisal.Reasons = append(res.Appraisal.Reasons, "report data not checked: a raw quote or report carries no expected report data (give --report-data)")
	}
	if validation != nil {
		res.Appraisal.Status = ear.Contraindicated
		res.Appraisal.Reasons = append(res.Appraisal.Reasons, "validation: "+validation.Error())
	}
	return res, nil
}

// SetCollateral reads b, the content of a collateral file, into o: Intel
// collateral JSON (an object: tcb_info, qe_identity, ...) sets Collateral;
// AMD certificates (PEM, or one DER certificate) set SNPCertificates.
func (o *Options) SetCollateral(b []byte) error {
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '{' {
		c, err := intel.ParseCollateralJSON(b)
		if err != nil {
			return fmt.Errorf("%w: Intel collateral: %w", ErrUsage, err)
		}
		o.Collateral = c
		return nil
	}
	c, err := snp.ParseCertificates(b)
	if err != nil {
		return fmt.Errorf("%w: neither Intel collateral JSON nor AMD SEV certificates: %w", ErrUsage, err)
	}
	o.SNPCertificates = &c
	return nil
}

// nonRevoked are the TCB statuses validation lets through to the appraisal.
var nonRevoked = []intel.TCBStatus{
	intel.TCBUpToDate, intel.TCBSWHardeningNeeded, intel.TCBConfigurationNeeded,
	intel.TCBConfigurationAndSWHardeningNeeded, intel.TCBOutOfDate, intel.TCBOutOfDateConfigurationNeeded,
}

// DefaultAppraisal is the appraisal without a policy: contraindicated for a
// Revoked TCB or a debug TEE; warning for simulated evidence or an Intel TCB
// status other than UpToDate; affirming otherwise.
func DefaultAppraisal(evidenceType string, claims instance.Claims, now time.Time) ear.Result {
	status := ear.Affirming
	var reasons []string
	tcb, _ := claims["tcb_status"].(string)
	switch tcb {
	case "", string(intel.TCBUpToDate):
	case string(intel.TCBRevoked):
		status = status.Worse(ear.Contraindicated)
		reasons = append(reasons, "tcb_status: Revoked")
	default:
		status = status.Worse(ear.Warning)
		reasons = append(reasons, fmt.Sprintf("tcb_status: %s, not UpToDate", tcb))
	}
	if d, _ := claims["debug"].(bool); d {
		status = status.Worse(ear.Contraindicated)
		reasons = append(reasons, "debug: true: the host can read and change the TEE's memory (a policy with allow_debug can accept it)")
	}
	if s, _ := claims["simulated"].(bool); s {
		status = status.Worse(ear.Warning)
		reasons = append(reasons, "simulated: true: the evidence is from a simulated TEE (test only)")
	}
	return ear.Result{
		Status: status, Reasons: reasons, Claims: claims, EvidenceType: evidenceType,
		Verifier: VerifierName, Freshness: string(policy.FreshnessNone), PolicyID: DefaultPolicyID,
		IssuedAt: now, TCBStatus: tcb,
	}
}

// Detect tells the type of raw evidence: an SEV-SNP report by its size and
// version, an Intel quote by its header's version and TEE type.
func Detect(raw []byte) (string, error) {
	if len(raw) == snp.ReportSize {
		if v := binary.LittleEndian.Uint32(raw); v >= snp.MinReportVersion && v <= snp.MaxReportVersion {
			return TypeSNP, nil
		}
	}
	if len(raw) >= intel.HeaderSize {
		version := binary.LittleEndian.Uint16(raw[0:])
		tee := binary.LittleEndian.Uint32(raw[4:])
		switch {
		case version == 3 && tee == intel.TEETypeSGX:
			return TypeSGX, nil
		case (version == 4 || version == 5) && tee == intel.TEETypeSGX:
			return TypeSGX, nil
		case (version == 4 || version == 5) && tee == intel.TEETypeTDX:
			return TypeTDX, nil
		}
		if version >= 3 && version <= 5 {
			return "", fmt.Errorf("%w: an Intel quote version %d with TEE type %#x, neither SGX (0x0) nor TDX (0x81)", ErrVerification, version, tee)
		}
	}
	return "", fmt.Errorf("%w: cannot tell the evidence type of %d bytes: not a PEM certificate, an SEV-SNP report (%d bytes, version %d to %d) or an Intel quote (version 3 to 5); give --type",
		ErrVerification, len(raw), snp.ReportSize, snp.MinReportVersion, snp.MaxReportVersion)
}

func isPEM(b []byte) bool {
	return bytes.HasPrefix(bytes.TrimSpace(b), []byte("-----BEGIN "))
}

// fromCertificate reads the first CERTIFICATE block of b and finds its
// evidence.
func fromCertificate(b []byte) (*dice.Found, error) {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("%w: no PEM CERTIFICATE block", ErrVerification)
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: parsing the certificate: %w", ErrVerification, err)
		}
		// A Rats-TLS certificate is self-signed by the key its evidence
		// binds: the signature shows the extension is the key holder's.
		if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
			return nil, fmt.Errorf("%w: the certificate is not signed by its own key: %w", ErrVerification, err)
		}
		found, err := dice.Find(cert, 0)
		if err != nil {
			return nil, fmt.Errorf("%w: the certificate's evidence: %w", ErrVerification, err)
		}
		if found.Format == dice.FormatNone {
			return nil, fmt.Errorf("%w: the certificate carries no evidence (a null attester's)", ErrVerification)
		}
		return found, nil
	}
}

// verifyIntel mirrors verifiers/sgxecdsa: collateral from the endorsements,
// else the simulated collateral for a simulated quote, else the configured.
func verifyIntel(ctx context.Context, raw, endorsements []byte, evidenceType string, now time.Time, opts Options) (*intel.Attestation, error) {
	root, err := intel.IntelRootCA()
	if err != nil {
		return nil, err
	}
	roots := []*x509.Certificate{root}
	sim, err := intelsim.Root()
	if err != nil {
		return nil, err
	}
	if opts.AllowSimulated {
		roots = append(roots, sim)
	}
	v, err := intel.NewVerifier(intel.Options{
		Now: func() time.Time { return now }, Roots: roots, Collateral: opts.Collateral,
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return nil, err
	}
	simulatedQuote := false
	if q, err := intel.ParseQuoteWith(raw, intel.ParseOptions{AllowTrailing: true}); err == nil {
		simulatedQuote = intelsim.IsSimulatedChain(q.CertData)
	}
	var c *intel.Collateral
	switch {
	case len(endorsements) > 0:
		if c, err = intel.DecodeEndorsements(endorsements); err != nil {
			return nil, err
		}
	case simulatedQuote:
		if !opts.AllowSimulated {
			return nil, intelsim.ErrSimulated
		}
		m, err := intelsim.Load()
		if err != nil {
			return nil, err
		}
		c = m.SGX
		if evidenceType == TypeTDX {
			c = m.TDX
		}
	case opts.Collateral == nil:
		return nil, fmt.Errorf("%w: no collateral to verify the %s quote: give --collateral (a JSON file: TCB info, QE identity and their chains, as Intel's PCS serves them)", intel.ErrCollateral, evidenceType)
	}
	a, err := v.Verify(ctx, raw, c)
	if err != nil {
		if simulatedQuote && !opts.AllowSimulated {
			return nil, fmt.Errorf("%w: %w", intelsim.ErrSimulated, err)
		}
		return nil, err
	}
	if got := a.Quote.EvidenceType(); got != evidenceType {
		return nil, fmt.Errorf("%w: the evidence is %q but the quote is a %s quote (TEE type %#x)", intel.ErrUnsupportedQuote, evidenceType, got, a.Quote.Header.TEEType)
	}
	return a, nil
}

// verifySNP mirrors verifiers/sevsnp.
func verifySNP(ctx context.Context, raw, endorsements []byte, now time.Time, opts Options) (*snp.Attestation, error) {
	v, err := snp.NewVerifier(snp.Options{
		AllowSimulated: opts.AllowSimulated, Now: func() time.Time { return now },
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return nil, err
	}
	var certs snp.Certificates
	if opts.SNPCertificates != nil {
		certs = *opts.SNPCertificates
	}
	if len(endorsements) > 0 {
		t, err := snp.DecodeEndorsements(endorsements)
		if err != nil {
			return nil, err
		}
		certs = snp.CertificatesOf(t)
	}
	return v.Verify(ctx, raw, certs)
}
