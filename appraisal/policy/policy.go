// Package policy is the appraisal policy: data that says which verified
// claims a relying party accepts, per evidence type, and how trustworthy
// (in the EAR tiers of package ear) a peer with those claims is.
//
// A policy is a YAML file (gopkg.in/yaml.v3), documented with examples in
// docs/policy.md and examples/policy/. [Load] and [Parse] read and check
// it: unknown keys are refused with their line, and every value is
// validated. [Policy.Appraise] applies it to claims a verifier has already
// checked: it never checks a signature (that is the verifier's job; see
// STYLE.md, "keep crypto checks apart from policy").
//
// Each failed rule adds a reason naming the field and both values and makes
// the result contraindicated; a rule that passes only by a concession of
// the policy (a TCB status listed in tcb_status_warning, an allowed debug
// or simulated TEE, a peer without evidence) adds a reason and makes it a
// warning; otherwise the result is affirming (a non-UpToDate status listed
// in tcb_status is still noted in the reasons).
package policy

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// ErrInvalid is wrapped by every error of [Parse] and [Load] about the
// content of a policy.
var ErrInvalid = errors.New("invalid appraisal policy")

// Evidence types a policy may name.
const (
	TypeSGX      = "sgx_ecdsa"
	TypeSGXLocal = "sgx_la"
	TypeTDX      = "tdx_ecdsa"
	TypeSNP      = "sev_snp"
	TypeCSV      = "csv"
	TypeNull     = "null"
)

// Policy is a parsed and validated appraisal policy. Its fields mirror the
// file; a nil rule set means that evidence type is refused.
type Policy struct {
	// ID identifies the policy in results ("ear.appraisal-policy-id").
	// When the file has no id it is "sha256:" and the hex SHA-256 of the
	// file.
	ID string `yaml:"id"`
	// Version is the format version; only 1 exists (the default).
	Version  int       `yaml:"version"`
	Evidence *Evidence `yaml:"evidence"`
}

// Evidence holds the rules for each accepted evidence type.
type Evidence struct {
	SGX      *SGX      `yaml:"sgx_ecdsa"`
	SGXLocal *SGXLocal `yaml:"sgx_la"`
	TDX      *TDX      `yaml:"tdx_ecdsa"`
	SNP      *SNP      `yaml:"sev_snp"`
	CSV      *CSV      `yaml:"csv"`
	Null     *Null     `yaml:"null"`
}

// Base are the rules every evidence type has.
type Base struct {
	// Freshness is the weakest freshness mode accepted: none (the
	// default), nonce or exporter (strongest).
	Freshness Freshness `yaml:"freshness"`
	// MaxAge, when set, is the oldest evidence accepted: measured from the
	// claims' "iat" when they carry one, else from Input.VerifiedAt.
	MaxAge Duration `yaml:"max_age"`
	// CustomClaims are custom claims the peer must bind into its evidence,
	// with their exact values (hex in the file).
	CustomClaims map[string]HexValue `yaml:"custom_claims"`
}

// TEE are the rules every hardware evidence type has.
type TEE struct {
	Base `yaml:",inline"`
	// AllowDebug accepts a debug TEE, as a warning (default false).
	AllowDebug bool `yaml:"allow_debug"`
	// AllowSimulated accepts simulated evidence, as a warning (default
	// false).
	AllowSimulated bool `yaml:"allow_simulated"`
	// Claims are verified claims that must be present with these values.
	Claims map[string]ClaimValue `yaml:"claims"`
}

// TCBRules are the Intel TCB status rules.
type TCBRules struct {
	// TCBStatus are the statuses accepted as affirming (default UpToDate).
	TCBStatus StatusList `yaml:"tcb_status"`
	// TCBStatusWarning are the statuses accepted as a warning (default
	// none), for example SWHardeningNeeded.
	TCBStatusWarning StatusList `yaml:"tcb_status_warning"`
}

// SGX are the rules for sgx_ecdsa quotes.
type SGX struct {
	TEE      `yaml:",inline"`
	TCBRules `yaml:",inline"`
	// MREnclave and MRSigner, when not empty, are the accepted values.
	MREnclave SHA256List `yaml:"mrenclave"`
	MRSigner  SHA256List `yaml:"mrsigner"`
	// ISVProdID, when not empty, are the accepted product IDs.
	ISVProdID []uint16 `yaml:"isv_prod_id"`
	// MinISVSVN is the lowest ISV SVN accepted.
	MinISVSVN uint16 `yaml:"min_isv_svn"`
}

// SGXLocal are the rules for sgx_la (local attestation) reports: those of
// SGX without the TCB status, which local reports do not have.
type SGXLocal struct {
	TEE       `yaml:",inline"`
	MREnclave SHA256List `yaml:"mrenclave"`
	MRSigner  SHA256List `yaml:"mrsigner"`
	ISVProdID []uint16   `yaml:"isv_prod_id"`
	MinISVSVN uint16     `yaml:"min_isv_svn"`
}

// TDX are the rules for tdx_ecdsa quotes. Each list, when not empty, holds
// the accepted values of that register.
type TDX struct {
	TEE      `yaml:",inline"`
	TCBRules `yaml:",inline"`
	MRTD     SHA384List `yaml:"mrtd"`
	RTMR0    SHA384List `yaml:"rtmr0"`
	RTMR1    SHA384List `yaml:"rtmr1"`
	RTMR2    SHA384List `yaml:"rtmr2"`
	RTMR3    SHA384List `yaml:"rtmr3"`
	MRSEAM   SHA384List `yaml:"mrseam"`
}

// SNP are the rules for sev_snp reports.
type SNP struct {
	TEE `yaml:",inline"`
	// Measurement and HostData, when not empty, are the accepted values.
	Measurement SHA384List `yaml:"measurement"`
	HostData    SHA256List `yaml:"host_data"`
	// MinTCB is the lowest REPORTED_TCB (the TCB the VCEK certifies)
	// accepted, per component.
	MinTCB *SNPTCB `yaml:"min_tcb"`
	// MinGuestSVN is the lowest GUEST_SVN accepted.
	MinGuestSVN uint32 `yaml:"min_guest_svn"`
}

// SNPTCB are the security patch levels of an SNP TCB.
type SNPTCB struct {
	Bootloader uint8 `yaml:"bootloader"`
	TEE        uint8 `yaml:"tee"`
	SNP        uint8 `yaml:"snp"`
	Microcode  uint8 `yaml:"microcode"`
}

// CSV are the rules for Hygon CSV reports.
type CSV struct {
	TEE `yaml:",inline"`
	// Measurement, when not empty, are the accepted launch digests (SM3,
	// 32 bytes).
	Measurement SHA256List `yaml:"measurement"`
}

// Null are the rules for peers without evidence (the null verifier). Such a
// peer is at best a warning.
type Null struct {
	Base `yaml:",inline"`
}

// Load reads and parses the policy file at path.
func Load(path string) (*Policy, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading appraisal policy: %w", err)
	}
	p, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// Parse parses and validates a policy.
func Parse(b []byte) (*Policy, error) {
	d := yaml.NewDecoder(bytes.NewReader(b))
	var root yaml.Node
	if err := d.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: the policy is empty", ErrInvalid)
		}
		return nil, fmt.Errorf("%w: %s", ErrInvalid, yamlError(err))
	}
	var extra yaml.Node
	if err := d.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%w: more than one YAML document", ErrInvalid)
	}
	if err := checkKeys(&root, reflect.TypeFor[Policy](), ""); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var p Policy
	if err := root.Decode(&p); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalid, yamlError(err))
	}
	if err := p.check(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if p.ID == "" {
		sum := sha256.Sum256(b)
		p.ID = "sha256:" + hex.EncodeToString(sum[:])
	}
	return &p, nil
}

func yamlError(err error) string {
	return strings.TrimPrefix(strings.ReplaceAll(err.Error(), "\n ", ""), "yaml: ")
}

var unmarshaler = reflect.TypeFor[yaml.Unmarshaler]()

// checkKeys refuses keys that name no field of t, with their line, before
// decoding (yaml.v3 only checks this in Decoder.Decode, not in
// Node.Decode). It also reads the key null (a YAML null) as the string
// "null", the name of the null evidence type.
func checkKeys(n *yaml.Node, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshaler) {
		return nil
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			if err := checkKeys(c, t, path); err != nil {
				return err
			}
		}
		return nil
	case yaml.AliasNode:
		return fmt.Errorf("line %d: YAML aliases are not supported", n.Line)
	case yaml.MappingNode:
	default:
		return nil
	}
	switch t.Kind() {
	case reflect.Map:
		for i := 1; i < len(n.Content); i += 2 {
			if err := checkKeys(n.Content[i], t.Elem(), join(path, n.Content[i-1].Value)); err != nil {
				return err
			}
		}
	case reflect.Struct:
		fields := map[string]reflect.Type{}
		var names []string
		structFields(t, fields, &names)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Tag == "!!null" && k.Value == "null" {
				k.Tag = "!!str"
			}
			ft, ok := fields[k.Value]
			if !ok || k.Kind != yaml.ScalarNode {
				where := "the policy"
				if path != "" {
					where = path
				}
				return fmt.Errorf("line %d: unknown key %q in %s (want one of %s)", k.Line, k.Value, where, strings.Join(names, ", "))
			}
			if err := checkKeys(n.Content[i+1], ft, join(path, k.Value)); err != nil {
				return err
			}
		}
	}
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// structFields lists the yaml keys of t, inline fields included.
func structFields(t reflect.Type, fields map[string]reflect.Type, names *[]string) {
	for f := range t.Fields() {
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if opts == "inline" {
			structFields(f.Type, fields, names)
			continue
		}
		if name == "" || name == "-" {
			continue
		}
		fields[name] = f.Type
		*names = append(*names, name)
	}
}

// check validates what the types alone do not.
func (p *Policy) check() error {
	if p.Version != 0 && p.Version != 1 {
		return fmt.Errorf("version %d is not supported (want 1)", p.Version)
	}
	if p.Version == 0 {
		p.Version = 1
	}
	e := p.Evidence
	if e == nil || (e.SGX == nil && e.SGXLocal == nil && e.TDX == nil && e.SNP == nil && e.CSV == nil && e.Null == nil) {
		return errors.New("evidence names no evidence type, so it would refuse every peer (want one of sgx_ecdsa, sgx_la, tdx_ecdsa, sev_snp, csv, null)")
	}
	if e.SGX != nil {
		if err := e.SGX.TCBRules.check(); err != nil {
			return fmt.Errorf("evidence.sgx_ecdsa: %w", err)
		}
	}
	if e.TDX != nil {
		if err := e.TDX.TCBRules.check(); err != nil {
			return fmt.Errorf("evidence.tdx_ecdsa: %w", err)
		}
	}
	tees := e.tees()
	for _, typ := range slices.Sorted(maps.Keys(tees)) {
		for _, name := range []string{"debug", "simulated"} {
			if _, ok := tees[typ].Claims[name]; ok {
				return fmt.Errorf("evidence.%s.claims: %q is governed by allow_%s, not by claims", typ, name, name)
			}
		}
	}
	return nil
}

// tees returns the hardware rule sets present, by evidence type.
func (e *Evidence) tees() map[string]*TEE {
	m := map[string]*TEE{}
	if e.SGX != nil {
		m[TypeSGX] = &e.SGX.TEE
	}
	if e.SGXLocal != nil {
		m[TypeSGXLocal] = &e.SGXLocal.TEE
	}
	if e.TDX != nil {
		m[TypeTDX] = &e.TDX.TEE
	}
	if e.SNP != nil {
		m[TypeSNP] = &e.SNP.TEE
	}
	if e.CSV != nil {
		m[TypeCSV] = &e.CSV.TEE
	}
	return m
}

func (t *TCBRules) check() error {
	if t.TCBStatus == nil {
		t.TCBStatus = StatusList{StatusUpToDate}
	}
	if len(t.TCBStatus) == 0 && len(t.TCBStatusWarning) == 0 {
		return errors.New("tcb_status and tcb_status_warning are both empty, so every quote would be refused (omit tcb_status for the default, UpToDate)")
	}
	for _, s := range t.TCBStatusWarning {
		if slices.Contains(t.TCBStatus, s) {
			return fmt.Errorf("%s is in both tcb_status and tcb_status_warning", s)
		}
	}
	return nil
}

// The Intel TCB statuses.
const (
	StatusUpToDate                          = "UpToDate"
	StatusSWHardeningNeeded                 = "SWHardeningNeeded"
	StatusConfigurationNeeded               = "ConfigurationNeeded"
	StatusConfigurationAndSWHardeningNeeded = "ConfigurationAndSWHardeningNeeded"
	StatusOutOfDate                         = "OutOfDate"
	StatusOutOfDateConfigurationNeeded      = "OutOfDateConfigurationNeeded"
	StatusRevoked                           = "Revoked"
)

var statuses = []string{StatusUpToDate, StatusSWHardeningNeeded, StatusConfigurationNeeded, StatusConfigurationAndSWHardeningNeeded, StatusOutOfDate, StatusOutOfDateConfigurationNeeded}

// StatusList is a list of Intel TCB statuses. Revoked cannot be accepted.
type StatusList []string

// UnmarshalYAML checks each status.
func (l *StatusList) UnmarshalYAML(n *yaml.Node) error {
	var s []string
	if err := n.Decode(&s); err != nil {
		return err
	}
	out := StatusList{}
	for _, v := range s {
		if v == StatusRevoked {
			return fmt.Errorf("line %d: a Revoked TCB can never be accepted", n.Line)
		}
		if !slices.Contains(statuses, v) {
			return fmt.Errorf("line %d: TCB status %q is not one of %s", n.Line, v, strings.Join(statuses, ", "))
		}
		if slices.Contains(out, v) {
			return fmt.Errorf("line %d: TCB status %s is listed twice", n.Line, v)
		}
		out = append(out, v)
	}
	*l = out
	return nil
}

// SHA256List is a list of 32-byte values in hex, stored in lowercase.
type SHA256List []string

// SHA384List is a list of 48-byte values in hex, stored in lowercase.
type SHA384List []string

// UnmarshalYAML checks each value is 32 bytes of hex.
func (l *SHA256List) UnmarshalYAML(n *yaml.Node) error { return hexList((*[]string)(l), n, 32) }

// UnmarshalYAML checks each value is 48 bytes of hex.
func (l *SHA384List) UnmarshalYAML(n *yaml.Node) error { return hexList((*[]string)(l), n, 48) }

func hexList(l *[]string, n *yaml.Node, size int) error {
	var s []string
	if err := n.Decode(&s); err != nil {
		return err
	}
	out := make([]string, 0, len(s))
	for _, v := range s {
		b, err := hex.DecodeString(v)
		if err != nil {
			return fmt.Errorf("line %d: %q is not hex", n.Line, v)
		}
		if len(b) != size {
			return fmt.Errorf("line %d: %q has %d bytes, want %d", n.Line, v, len(b), size)
		}
		out = append(out, strings.ToLower(v))
	}
	*l = out
	return nil
}

// HexValue is a byte string written in hex.
type HexValue []byte

// UnmarshalYAML decodes the hex.
func (h *HexValue) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a hex string", n.Line)
	}
	b, err := hex.DecodeString(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not hex", n.Line, n.Value)
	}
	*h = b
	return nil
}

// ClaimValue is the required value of a claim: a string, a boolean or an
// integer (int64, or uint64 above the int64 range).
type ClaimValue struct{ V any }

// UnmarshalYAML accepts a string, boolean or integer scalar.
func (c *ClaimValue) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a claim value must be a string, boolean or integer", n.Line)
	}
	switch n.ShortTag() {
	case "!!str":
		c.V = n.Value
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return err
		}
		c.V = b
	case "!!int":
		var i int64
		if err := n.Decode(&i); err == nil {
			c.V = i
			return nil
		}
		var u uint64
		if err := n.Decode(&u); err != nil {
			return fmt.Errorf("line %d: %s is not a 64-bit integer", n.Line, n.Value)
		}
		c.V = u
	default:
		return fmt.Errorf("line %d: claim value %q is a %s; want a string, boolean or integer", n.Line, n.Value, strings.TrimPrefix(n.ShortTag(), "!!"))
	}
	return nil
}

// Freshness is a freshness mode: none, nonce or exporter.
type Freshness string

// The freshness modes, weakest first.
const (
	FreshnessNone     Freshness = "none"
	FreshnessNonce    Freshness = "nonce"
	FreshnessExporter Freshness = "exporter"
)

// rank orders the modes; -1 for an unknown one. "" is none.
func (f Freshness) rank() int {
	switch f {
	case "", FreshnessNone:
		return 0
	case FreshnessNonce:
		return 1
	case FreshnessExporter:
		return 2
	}
	return -1
}

// UnmarshalYAML checks the mode.
func (f *Freshness) UnmarshalYAML(n *yaml.Node) error {
	v := Freshness(n.Value)
	if n.Kind != yaml.ScalarNode || v == "" || v.rank() < 0 {
		return fmt.Errorf("line %d: freshness %q is not none, nonce or exporter", n.Line, n.Value)
	}
	*f = v
	return nil
}

// Duration is a time.Duration written as "90s", "15m" or "24h".
type Duration time.Duration

// UnmarshalYAML parses and checks the duration.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if n.Kind != yaml.ScalarNode || err != nil {
		return fmt.Errorf("line %d: max_age %q is not a duration such as 90s, 15m or 24h", n.Line, n.Value)
	}
	if v <= 0 {
		return fmt.Errorf("line %d: max_age %s is not positive", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}
