// Package ear holds the result of an appraisal in the shape of the IETF
// EAR (EAT Attestation Results, draft-fv-rats-ear) model, its JSON encoding,
// and its signing as a COSE_Sign1 message.
//
// A [Result] says how far a verified peer can be trusted: one of the EAR
// trustworthiness tiers [Affirming], [Warning] or [Contraindicated] (or
// [None] when nothing was appraised), the reasons for that tier, and the
// claims it was drawn from.
//
// # JSON encoding
//
// [Result.MarshalJSON] writes one EAR claims-set, for example:
//
//	{
//	  "eat_profile": "tag:github.com,2023:veraison/ear",
//	  "iat": 1764220000,
//	  "ear.verifier-id": {"developer": "github.com/inclavare/inclavare", "build": "sevsnp"},
//	  "ear.status": "affirming",
//	  "ear.appraisal-policy-id": "production",
//	  "tcb_status": "UpToDate",
//	  "submods": {
//	    "sev_snp": {
//	      "ear.status": "affirming",
//	      "ear.appraisal-policy-id": "production",
//	      "ear.inclavare.reasons": [],
//	      "ear.inclavare.freshness": "nonce",
//	      "ear.veraison.annotated-evidence": {"measurement": "…", "debug": false}
//	    }
//	  }
//	}
//
// "iat" is in whole seconds since the Unix epoch. "ear.verifier-id.build" is
// the name of the verifier that checked the evidence. There is exactly one
// submodule, named after the evidence type, carrying the verified claims
// ("ear.veraison.annotated-evidence"), the reasons and the freshness mode.
// "tcb_status" is present only when the claims have one (SGX and TDX).
//
// Decoding ([Result.UnmarshalJSON]) reads numbers in the claims back as
// uint64 when they are not negative and int64 when they are, so claims
// survive a round trip as the verifiers emit them (SNP and Intel claims are
// all uint64).
package ear

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/inclavare/inclavare/framework/instance"
)

// Profile is the EAR profile this package writes and requires.
const Profile = "tag:github.com,2023:veraison/ear"

// Developer is the "ear.verifier-id" developer of every result.
const Developer = "github.com/inclavare/inclavare"

// Status is an EAR trustworthiness tier.
type Status string

// The EAR tiers, from best to worst.
const (
	// None: no claim is made (nothing was appraised).
	None Status = "none"
	// Affirming: the policy accepts the peer without reservation.
	Affirming Status = "affirming"
	// Warning: the policy accepts the peer, but something is below the
	// ideal (an accepted TCB status other than UpToDate, an allowed debug
	// or simulated TEE, no hardware evidence at all).
	Warning Status = "warning"
	// Contraindicated: at least one rule of the policy failed; the peer
	// must not be trusted.
	Contraindicated Status = "contraindicated"
)

// Tier is the EAR numeric value of s: 0, 2, 32 or 96 (a higher value is
// worse); -1 for an unknown status.
func (s Status) Tier() int {
	switch s {
	case None:
		return 0
	case Affirming:
		return 2
	case Warning:
		return 32
	case Contraindicated:
		return 96
	}
	return -1
}

// Valid reports whether s is one of the four tiers.
func (s Status) Valid() bool { return s.Tier() >= 0 }

// Worse returns the worse of s and t.
func (s Status) Worse(t Status) Status {
	if t.Tier() > s.Tier() {
		return t
	}
	return s
}

// Accepted reports whether a peer with this status may be trusted
// (affirming or warning).
func (s Status) Accepted() bool { return s == Affirming || s == Warning }

// Result is the outcome of an appraisal.
type Result struct {
	// Status is the trustworthiness tier.
	Status Status
	// Reasons explain every rule that failed or warned, and note any
	// concession an affirming result was granted (for example a TCB status
	// other than UpToDate that the policy accepts outright).
	Reasons []string
	// Claims are the verified claims the result was drawn from.
	Claims instance.Claims
	// EvidenceType is the type of the appraised evidence ("sev_snp", ...).
	EvidenceType string
	// Verifier names the verifier that checked the evidence.
	Verifier string
	// Freshness is the freshness mode of the connection (none, nonce or
	// exporter).
	Freshness string
	// PolicyID identifies the appraisal policy.
	PolicyID string
	// IssuedAt is when the result was made (seconds precision in JSON).
	IssuedAt time.Time
	// TCBStatus is claims["tcb_status"] when present (SGX, TDX).
	TCBStatus string
}

type verifierID struct {
	Developer string `json:"developer"`
	Build     string `json:"build"`
}

type submod struct {
	Status    Status          `json:"ear.status"`
	PolicyID  string          `json:"ear.appraisal-policy-id,omitempty"`
	Reasons   []string        `json:"ear.inclavare.reasons"`
	Freshness string          `json:"ear.inclavare.freshness,omitempty"`
	Evidence  json.RawMessage `json:"ear.veraison.annotated-evidence"`
}

type wire struct {
	Profile    string            `json:"eat_profile"`
	IssuedAt   int64             `json:"iat"`
	VerifierID verifierID        `json:"ear.verifier-id"`
	Status     Status            `json:"ear.status"`
	PolicyID   string            `json:"ear.appraisal-policy-id,omitempty"`
	TCBStatus  string            `json:"tcb_status,omitempty"`
	Submods    map[string]submod `json:"submods"`
}

// MarshalJSON writes r as an EAR claims-set (see the package doc).
func (r Result) MarshalJSON() ([]byte, error) {
	if !r.Status.Valid() {
		return nil, fmt.Errorf("ear: status %q is not none, affirming, warning or contraindicated", r.Status)
	}
	if r.EvidenceType == "" {
		return nil, errors.New("ear: the result has no evidence type (the submodule name)")
	}
	claims := r.Claims
	if claims == nil {
		claims = instance.Claims{}
	}
	ev, err := json.Marshal(claims)
	if err != nil {
		return nil, fmt.Errorf("ear: encoding claims: %w", err)
	}
	reasons := r.Reasons
	if reasons == nil {
		reasons = []string{}
	}
	tcb := r.TCBStatus
	if s, ok := r.Claims["tcb_status"].(string); ok && tcb == "" {
		tcb = s
	}
	return json.Marshal(wire{
		Profile:    Profile,
		IssuedAt:   r.IssuedAt.Unix(),
		VerifierID: verifierID{Developer: Developer, Build: r.Verifier},
		Status:     r.Status,
		PolicyID:   r.PolicyID,
		TCBStatus:  tcb,
		Submods: map[string]submod{r.EvidenceType: {
			Status:    r.Status,
			PolicyID:  r.PolicyID,
			Reasons:   reasons,
			Freshness: r.Freshness,
			Evidence:  ev,
		}},
	})
}

// UnmarshalJSON reads what MarshalJSON writes. It refuses another profile,
// an unknown status, and anything but exactly one submodule.
func (r *Result) UnmarshalJSON(b []byte) error {
	if err := exactKeys(b, "eat_profile", "iat", "ear.verifier-id", "ear.status", "ear.appraisal-policy-id", "tcb_status", "submods"); err != nil {
		return err
	}
	var w wire
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	if err := d.Decode(&w); err != nil {
		return fmt.Errorf("ear: decoding: %w", err)
	}
	if w.Profile != Profile {
		return fmt.Errorf("ear: eat_profile %q is not %q", w.Profile, Profile)
	}
	if !w.Status.Valid() {
		return fmt.Errorf("ear: ear.status %q is not none, affirming, warning or contraindicated", w.Status)
	}
	if len(w.Submods) != 1 {
		return fmt.Errorf("ear: %d submods, want exactly 1", len(w.Submods))
	}
	var typ string
	var s submod
	for typ, s = range w.Submods {
	}
	var subs map[string]json.RawMessage
	if err := json.Unmarshal(b, &struct {
		S *map[string]json.RawMessage `json:"submods"`
	}{&subs}); err != nil {
		return fmt.Errorf("ear: decoding: %w", err)
	}
	if typ == "" {
		return errors.New("ear: the submod has no name (the evidence type)")
	}
	if err := exactKeys(subs[typ], "ear.status", "ear.appraisal-policy-id", "ear.inclavare.reasons", "ear.inclavare.freshness", "ear.veraison.annotated-evidence"); err != nil {
		return err
	}
	if s.Status != w.Status {
		return fmt.Errorf("ear: submod %q status %q differs from ear.status %q", typ, s.Status, w.Status)
	}
	claims, err := decodeClaims(s.Evidence)
	if err != nil {
		return fmt.Errorf("ear: submod %q annotated evidence: %w", typ, err)
	}
	*r = Result{
		Status:       w.Status,
		Reasons:      slices.Clip(s.Reasons),
		Claims:       claims,
		EvidenceType: typ,
		Verifier:     w.VerifierID.Build,
		Freshness:    s.Freshness,
		PolicyID:     w.PolicyID,
		IssuedAt:     time.Unix(w.IssuedAt, 0).UTC(),
		TCBStatus:    w.TCBStatus,
	}
	return nil
}

func decodeClaims(b []byte) (instance.Claims, error) {
	var raw map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&raw); err != nil {
		return nil, err
	}
	c := make(instance.Claims, len(raw))
	for k, v := range raw {
		switch v := v.(type) {
		case string, bool:
			c[k] = v
		case json.Number:
			if u, err := strconv.ParseUint(v.String(), 10, 64); err == nil {
				c[k] = u
			} else if i, err := strconv.ParseInt(v.String(), 10, 64); err == nil {
				c[k] = i
			} else {
				return nil, fmt.Errorf("claim %q: %s is not an integer", k, v)
			}
		default:
			return nil, fmt.Errorf("claim %q: a %T is not a string, boolean or integer", k, v)
		}
	}
	return c, nil
}

// exactKeys refuses a JSON object with a key that is not exactly one of
// keys (encoding/json alone matches keys case-insensitively).
func exactKeys(b []byte, keys ...string) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("ear: decoding: %w", err)
	}
	for k := range m {
		if !slices.Contains(keys, k) {
			return fmt.Errorf("ear: unknown member %q", k)
		}
	}
	return nil
}
