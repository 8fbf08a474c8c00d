// Package sevsnp is the AMD SEV-SNP verifier: it checks an SEV-SNP report
// (the evidence) with the certificates of its endorsements, then the policy,
// and vouches for the report's fields (see tee/sevsnp.Claims). Everything
// SEV-SNP lives in tee/sevsnp; this is the instance around it.
//
// It trusts the AMD roots embedded in go-sev-guest, and the simulated root
// of the sev_snp_sim attester only with --allow-simulated
// (instance.Options.AllowSimulated). It accepts debug guests only with -D
// (instance.Options.DebugEnclave). Further configuration comes from the
// environment, read when an instance is created:
//
//	RATS_TLS_SEV_SNP_CERT_DIR      a directory of VCEK/ASK certificates for reports
//	                               whose endorsements do not carry them
//	RATS_TLS_SEV_SNP_MIN_TCB       the minimum REPORTED_TCB, e.g.
//	                               "bootloader=3,tee=0,snp=8,microcode=115"
//	RATS_TLS_SEV_SNP_MEASUREMENTS  the accepted launch measurements (hex,
//	                               comma separated)
//
// Certificates are never fetched from AMD's Key Distribution Service.
package sevsnp

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/registry"
	snp "github.com/inclavare/inclavare/tee/sevsnp"
)

// Name is the instance name, as in the C Rats-TLS.
const Name = "sev_snp"

// Environment variables read by [ConfigFromEnv].
const (
	EnvCertDir      = "RATS_TLS_SEV_SNP_CERT_DIR"
	EnvMinTCB       = "RATS_TLS_SEV_SNP_MIN_TCB"
	EnvMeasurements = "RATS_TLS_SEV_SNP_MEASUREMENTS"
)

// Registration describes the SEV-SNP verifier. It works on any machine.
var Registration = &registry.Registration{
	Descriptor: instance.Descriptor{Kind: instance.KindVerifier, Name: Name, Type: snp.EvidenceType, Priority: 100},
	New: func(_ context.Context, opts instance.Options) (instance.Instance, error) {
		cfg, err := ConfigFromEnv(opts)
		if err != nil {
			return nil, err
		}
		return New(cfg)
	},
}

func init() { registry.Register(Registration) }

// Config is a verifier's configuration.
type Config struct {
	// Options are the signature and chain options.
	Options snp.Options
	// Policy is what the report must meet; its ReportData is set per
	// verification.
	Policy snp.Policy
}

// ConfigFromEnv makes the configuration of an instance created with opts:
// simulated evidence and debug guests as opts says, the rest from the
// environment.
func ConfigFromEnv(opts instance.Options) (Config, error) {
	cfg := Config{
		Options: snp.Options{AllowSimulated: opts.AllowSimulated, CertDir: os.Getenv(EnvCertDir)},
		Policy:  snp.Policy{AllowDebug: opts.DebugEnclave},
	}
	if s := os.Getenv(EnvMinTCB); s != "" {
		t, err := snp.ParseTCB(s)
		if err != nil {
			return Config{}, fmt.Errorf("%s: %w", EnvMinTCB, err)
		}
		cfg.Policy.MinimumTCB = &t
	}
	if s := os.Getenv(EnvMeasurements); s != "" {
		m, err := snp.ParseMeasurements(s)
		if err != nil {
			return Config{}, fmt.Errorf("%s: %w", EnvMeasurements, err)
		}
		cfg.Policy.Measurements = m
	}
	return cfg, nil
}

// New returns a verifier instance with cfg.
func New(cfg Config) (instance.Verifier, error) {
	if cfg.Options.Logger == nil {
		cfg.Options.Logger = slog.Default().With("verifier", Name)
	}
	v, err := snp.NewVerifier(cfg.Options)
	if err != nil {
		return nil, err
	}
	return &verifier{v: v, policy: cfg.Policy}, nil
}

type verifier struct {
	v      *snp.Verifier
	policy snp.Policy
}

// Descriptor says what the instance is.
func (*verifier) Descriptor() instance.Descriptor { return Registration.Descriptor }

// Close releases nothing: the instance holds no resources.
func (*verifier) Close() error { return nil }

// Verify checks the report in ev against reportData, with the certificates
// of endorsements (a sev_snp endorsements item, or nil).
func (v *verifier) Verify(ctx context.Context, ev instance.Evidence, reportData, endorsements []byte) (instance.Claims, error) {
	if ev.Type != snp.EvidenceType {
		return nil, fmt.Errorf("the sev_snp verifier checks %q evidence, not %q", snp.EvidenceType, ev.Type)
	}
	var certs snp.Certificates
	if len(endorsements) > 0 {
		t, err := snp.DecodeEndorsements(endorsements)
		if err != nil {
			return nil, err
		}
		certs = snp.CertificatesOf(t)
	}
	a, err := v.v.Verify(ctx, ev.Data, certs)
	if err != nil {
		return nil, err
	}
	p := v.policy
	p.ReportData = reportData
	if err := snp.Validate(a.Report, p); err != nil {
		return nil, err
	}
	return snp.Claims(a), nil
}
