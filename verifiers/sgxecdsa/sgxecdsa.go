// Package sgxecdsa is the Intel SGX ECDSA (DCAP) verifier: it checks an SGX
// quote (the evidence) with Intel's collateral, then the policy, and vouches
// for the quote's fields (see tee/intel.Claims) and "simulated". Everything
// Intel lives in tee/intel; this is the instance around it, shared with the
// tdx_ecdsa verifier (verifiers/tdxecdsa), which differs only in its
// descriptor.
//
// Collateral (TCB info, QE identity, CRLs) comes from the evidence's
// endorsements when the attester sent them (-e), else, for a quote whose
// PCK chain is the simulated one, from tee/intel/simulated (the only
// collateral that can verify it), else from the collateral JSON file named
// by RATS_TLS_INTEL_COLLATERAL, else, when RATS_TLS_INTEL_PCS_URL names
// Intel's PCS or a PCCS, fetched from it (tee/intel/pcs) for the quote's
// FMSPC and PCK CA, and cached until it expires. The Intel SGX Root CA is always trusted; the simulated root of the
// sgx_ecdsa_sim and tdx_ecdsa_sim attesters (tee/intel/simulated) only with
// --allow-simulated (instance.Options.AllowSimulated). Debug enclaves and
// TDs are accepted only with -D (instance.Options.DebugEnclave).
// Configuration read from the environment when an instance is created:
//
//	RATS_TLS_INTEL_COLLATERAL    a collateral JSON file (tee/intel.ParseCollateralJSON)
//	                             for evidence without endorsements
//	RATS_TLS_INTEL_TCB_STATUSES  the accepted TCB statuses, comma separated
//	                             (default UpToDate)
//	RATS_TLS_INTEL_PCS_URL       the base URL of Intel's PCS or a PCCS (such as
//	                             https://api.trustedservices.intel.com) to fetch
//	                             collateral from for evidence without endorsements
//	                             when RATS_TLS_INTEL_COLLATERAL is not set
//	RATS_TLS_INTEL_PCS_CACHE_DIR a directory caching the fetched collateral
//	                             (default: in memory only)
package sgxecdsa

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/registry"
	"github.com/inclavare/inclavare/tee/intel"
	"github.com/inclavare/inclavare/tee/intel/pcs"
	"github.com/inclavare/inclavare/tee/intel/simulated"
)

// Name is the instance name, as in the C Rats-TLS.
const Name = "sgx_ecdsa"

// Environment variables read by [ConfigFromEnv].
const (
	EnvCollateral  = "RATS_TLS_INTEL_COLLATERAL"
	EnvTCBStatuses = "RATS_TLS_INTEL_TCB_STATUSES"
	EnvPCSURL      = "RATS_TLS_INTEL_PCS_URL"
	EnvPCSCacheDir = "RATS_TLS_INTEL_PCS_CACHE_DIR"
)

// Registration describes the SGX ECDSA verifier. It works on any machine.
var Registration = &registry.Registration{
	Descriptor: descriptor,
	New: func(_ context.Context, opts instance.Options) (instance.Instance, error) {
		cfg, err := ConfigFromEnv(opts)
		if err != nil {
			return nil, err
		}
		return New(descriptor, cfg)
	},
}

var descriptor = instance.Descriptor{Kind: instance.KindVerifier, Name: Name, Type: intel.EvidenceTypeSGX, Priority: 100}

func init() { registry.Register(Registration) }

// Config is a verifier's configuration.
type Config struct {
	// Options are the signature, chain and collateral options; Roots is
	// set by New (the Intel root, and the simulated root when
	// AllowSimulated) and Collateral is the configured collateral.
	Options intel.Options
	// AllowSimulated trusts the simulated root (--allow-simulated).
	AllowSimulated bool
	// Policy is what the quote must meet; its ReportData is set per
	// verification.
	Policy intel.Policy
	// PCS, when set, fetches the collateral of quotes that come without
	// endorsements when Options.Collateral is nil.
	PCS *pcs.Fetcher
}

// now pins the verification time in tests; nil means time.Now.
var now func() time.Time

// currentTime is now, or time.Now.
func currentTime() time.Time {
	if now != nil {
		return now()
	}
	return time.Now()
}

// ConfigFromEnv makes the configuration of an instance created with opts:
// simulated evidence and debug enclaves as opts says, the rest from the
// environment.
func ConfigFromEnv(opts instance.Options) (Config, error) {
	cfg := Config{AllowSimulated: opts.AllowSimulated, Policy: intel.Policy{AllowDebug: opts.DebugEnclave}}
	if p := os.Getenv(EnvCollateral); p != "" {
		b, err := os.ReadFile(p)
		if err != nil {
			return Config{}, fmt.Errorf("%s: %w", EnvCollateral, err)
		}
		c, err := intel.ParseCollateralJSON(b)
		if err != nil {
			return Config{}, fmt.Errorf("%s=%s: %w", EnvCollateral, p, err)
		}
		cfg.Options.Collateral = c
	}
	if u := os.Getenv(EnvPCSURL); u != "" {
		f, err := pcs.New(u, pcs.Options{CacheDir: os.Getenv(EnvPCSCacheDir), Now: currentTime})
		if err != nil {
			return Config{}, fmt.Errorf("%s: %w", EnvPCSURL, err)
		}
		cfg.PCS = f
	}
	if s := os.Getenv(EnvTCBStatuses); s != "" {
		st, err := intel.ParseTCBStatuses(s)
		if err != nil {
			return Config{}, fmt.Errorf("%s: %w", EnvTCBStatuses, err)
		}
		cfg.Policy.AcceptedStatuses = st
	}
	return cfg, nil
}

// New returns a verifier instance of desc (the sgx_ecdsa or tdx_ecdsa
// descriptor) with cfg.
func New(desc instance.Descriptor, cfg Config) (instance.Verifier, error) {
	if desc.Type != intel.EvidenceTypeSGX && desc.Type != intel.EvidenceTypeTDX {
		return nil, fmt.Errorf("an Intel verifier checks %q or %q evidence, not %q", intel.EvidenceTypeSGX, intel.EvidenceTypeTDX, desc.Type)
	}
	if cfg.Options.Logger == nil {
		cfg.Options.Logger = slog.Default().With("verifier", desc.Name)
	}
	if cfg.Options.Now == nil && now != nil {
		cfg.Options.Now = now
	}
	if cfg.Options.Roots == nil {
		root, err := intel.IntelRootCA()
		if err != nil {
			return nil, err
		}
		cfg.Options.Roots = []*x509.Certificate{root}
	}
	sim, err := simulated.Root()
	if err != nil {
		return nil, err
	}
	if cfg.AllowSimulated {
		cfg.Options.Roots = append(cfg.Options.Roots, sim)
	}
	v, err := intel.NewVerifier(cfg.Options)
	if err != nil {
		return nil, err
	}
	return &verifier{desc: desc, v: v, policy: cfg.Policy, configured: cfg.Options.Collateral != nil,
		allowSimulated: cfg.AllowSimulated, sim: sim, pcs: cfg.PCS}, nil
}

type verifier struct {
	desc       instance.Descriptor
	v          *intel.Verifier
	policy     intel.Policy
	configured bool
	// allowSimulated trusts the simulated root sim.
	allowSimulated bool
	sim            *x509.Certificate
	// pcs fetches collateral when none is configured; may be nil.
	pcs *pcs.Fetcher
}

// Descriptor says what the instance is.
func (v *verifier) Descriptor() instance.Descriptor { return v.desc }

// Close releases nothing: the instance holds no resources.
func (*verifier) Close() error { return nil }

// Verify checks the quote in ev against reportData, with the collateral of
// endorsements (an sgx_ecdsa or tdx_ecdsa endorsements item) or, without
// them, the configured collateral.
func (v *verifier) Verify(ctx context.Context, ev instance.Evidence, reportData, endorsements []byte) (instance.Claims, error) {
	if ev.Type != v.desc.Type {
		return nil, fmt.Errorf("the %s verifier checks %q evidence, not %q", v.desc.Name, v.desc.Type, ev.Type)
	}
	var c *intel.Collateral
	switch {
	case len(endorsements) > 0:
		var err error
		if c, err = intel.DecodeEndorsements(endorsements); err != nil {
			return nil, err
		}
	case v.simulatedQuote(ev.Data):
		// Only the simulated collateral verifies a simulated quote: it is
		// the simulated root's, as the Intel collateral is Intel's.
		if !v.allowSimulated {
			return nil, simulated.ErrSimulated
		}
		c = v.simCollateral(ev.Type)
	case !v.configured && v.pcs != nil:
		var err error
		if c, err = v.fetch(ctx, ev.Data); err != nil {
			return nil, err
		}
	case !v.configured:
		return nil, fmt.Errorf("%w: no collateral to verify the %s quote: the attester sent no endorsements, %s names no collateral JSON file (TCB info, QE identity and their chains, as Intel's PCS serves them), and %s names no PCS",
			intel.ErrCollateral, v.desc.Type, EnvCollateral, EnvPCSURL)
	}
	a, err := v.v.Verify(ctx, ev.Data, c)
	if err != nil {
		if !v.allowSimulated && v.simulatedQuote(ev.Data) {
			return nil, fmt.Errorf("%w: %w", simulated.ErrSimulated, err)
		}
		return nil, err
	}
	if got := a.Quote.EvidenceType(); got != v.desc.Type {
		return nil, fmt.Errorf("%w: the evidence is %q but the quote is a %s quote (TEE type %#x)", intel.ErrUnsupportedQuote, v.desc.Type, got, a.Quote.Header.TEEType)
	}
	p := v.policy
	p.ReportData = reportData
	if err := intel.Validate(a, p); err != nil {
		return nil, err
	}
	claims := intel.Claims(a)
	claims["simulated"] = a.Root.Equal(v.sim)
	return claims, nil
}

// fetch gets the collateral of the quote raw from the PCS.
func (v *verifier) fetch(ctx context.Context, raw []byte) (*intel.Collateral, error) {
	q, err := intel.ParseQuoteWith(raw, intel.ParseOptions{AllowTrailing: true})
	if err != nil {
		return nil, err
	}
	r, err := pcs.ForQuote(q)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", intel.ErrCollateral, err)
	}
	c, err := v.pcs.Collateral(ctx, r)
	if err != nil {
		return nil, fmt.Errorf("%w: the collateral of the %s quote (FMSPC %s): %w", intel.ErrCollateral, v.desc.Type, r.FMSPCHex(), err)
	}
	return c, nil
}

// simulatedQuote tells whether raw is a quote whose PCK chain is the
// simulated one.
func (v *verifier) simulatedQuote(raw []byte) bool {
	q, err := intel.ParseQuoteWith(raw, intel.ParseOptions{AllowTrailing: true})
	return err == nil && simulated.IsSimulatedChain(q.CertData)
}

// simCollateral is the simulated collateral for evidenceType.
func (v *verifier) simCollateral(evidenceType string) *intel.Collateral {
	m, err := simulated.Load()
	if err != nil {
		return nil // New loaded it already
	}
	if evidenceType == intel.EvidenceTypeTDX {
		return m.TDX
	}
	return m.SGX
}
