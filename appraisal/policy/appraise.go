package policy

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/inclavare/inclavare/appraisal/ear"
	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/ratstls"
)

// Input is what Appraise judges: claims a verifier has already checked.
type Input struct {
	// EvidenceType is the type of the evidence ("sev_snp", "null", ...).
	EvidenceType string
	// Claims are the verified claims. claims["simulated"] == true marks
	// simulated evidence.
	Claims instance.Claims
	// CustomClaims are the peer's own claims bound by its evidence.
	CustomClaims map[string][]byte
	// Freshness is the mode that protected the connection: none, nonce or
	// exporter ("" is none).
	Freshness string
	// Verifier names the verifier that checked the evidence.
	Verifier string
	// Now is the time of the appraisal (zero: time.Now()).
	Now time.Time
	// VerifiedAt is when the verifier produced the claims (zero: Now). It
	// dates the evidence for max_age when the claims carry no "iat".
	VerifiedAt time.Time
}

// FromPeer makes the input for what a Rats-TLS handshake proved.
func FromPeer(p *ratstls.Peer, now time.Time) Input {
	return Input{
		EvidenceType: p.EvidenceType,
		Claims:       p.Claims,
		CustomClaims: p.CustomClaims,
		Freshness:    string(p.Freshness),
		Verifier:     p.Verifier,
		Now:          now,
	}
}

// appraisal collects the verdict of each rule.
type appraisal struct {
	status  ear.Status
	reasons []string
	claims  instance.Claims
}

func (a *appraisal) fail(format string, args ...any) {
	a.status = a.status.Worse(ear.Contraindicated)
	a.reasons = append(a.reasons, fmt.Sprintf(format, args...))
}

func (a *appraisal) warn(format string, args ...any) {
	a.status = a.status.Worse(ear.Warning)
	a.reasons = append(a.reasons, fmt.Sprintf(format, args...))
}

// Appraise applies the policy to in. It checks no signature: in.Claims
// must come from a verifier that accepted the evidence.
func (p *Policy) Appraise(in Input) ear.Result {
	now := in.Now
	if now.IsZero() {
		now = time.Now()
	}
	a := &appraisal{status: ear.Affirming, claims: in.Claims}
	e := p.Evidence
	if e == nil {
		e = &Evidence{}
	}
	var base *Base
	var tee *TEE
	switch in.EvidenceType {
	case TypeSGX:
		if r := e.SGX; r != nil {
			base, tee = &r.Base, &r.TEE
			a.sgx(r.MREnclave, r.MRSigner, r.ISVProdID, r.MinISVSVN)
			a.tcbStatus(&r.TCBRules)
		}
	case TypeSGXLocal:
		if r := e.SGXLocal; r != nil {
			base, tee = &r.Base, &r.TEE
			a.sgx(r.MREnclave, r.MRSigner, r.ISVProdID, r.MinISVSVN)
		}
	case TypeTDX:
		if r := e.TDX; r != nil {
			base, tee = &r.Base, &r.TEE
			a.oneOf("mrtd", r.MRTD)
			a.oneOf("rtmr0", r.RTMR0)
			a.oneOf("rtmr1", r.RTMR1)
			a.oneOf("rtmr2", r.RTMR2)
			a.oneOf("rtmr3", r.RTMR3)
			a.oneOf("mrseam", r.MRSEAM)
			a.tcbStatus(&r.TCBRules)
		}
	case TypeSNP:
		if r := e.SNP; r != nil {
			base, tee = &r.Base, &r.TEE
			a.oneOf("measurement", r.Measurement)
			a.oneOf("host_data", r.HostData)
			if m := r.MinTCB; m != nil {
				a.atLeast("reported_tcb_bootloader", uint64(m.Bootloader))
				a.atLeast("reported_tcb_tee", uint64(m.TEE))
				a.atLeast("reported_tcb_snp", uint64(m.SNP))
				a.atLeast("reported_tcb_microcode", uint64(m.Microcode))
			}
			a.atLeast("guest_svn", uint64(r.MinGuestSVN))
		}
	case TypeCSV:
		if r := e.CSV; r != nil {
			base, tee = &r.Base, &r.TEE
			a.oneOf("measurement", r.Measurement)
		}
	case TypeNull:
		if r := e.Null; r != nil {
			base = &r.Base
			a.warn("evidence type null: the peer presented no hardware evidence (accepted as a warning by evidence.null)")
		}
	}
	if base == nil {
		a.fail("evidence type %q: the policy has no rules for it, so it is refused (policy evidence types: %s)", in.EvidenceType, strings.Join(p.types(), ", "))
	} else {
		a.base(base, in, now)
	}
	if tee != nil {
		a.tee(tee)
	} else if sim, _ := in.Claims["simulated"].(bool); sim {
		a.fail("simulated: true, but evidence type %q cannot allow simulated evidence", in.EvidenceType)
	}
	tcb, _ := in.Claims["tcb_status"].(string)
	return ear.Result{
		Status:       a.status,
		Reasons:      a.reasons,
		Claims:       maps.Clone(in.Claims),
		EvidenceType: in.EvidenceType,
		Verifier:     in.Verifier,
		Freshness:    freshnessName(in.Freshness),
		PolicyID:     p.ID,
		IssuedAt:     now,
		TCBStatus:    tcb,
	}
}

func freshnessName(f string) string {
	if f == "" {
		return string(FreshnessNone)
	}
	return f
}

func (p *Policy) types() []string {
	var out []string
	if e := p.Evidence; e != nil {
		for t, ok := range map[string]bool{TypeSGX: e.SGX != nil, TypeSGXLocal: e.SGXLocal != nil, TypeTDX: e.TDX != nil, TypeSNP: e.SNP != nil, TypeCSV: e.CSV != nil, TypeNull: e.Null != nil} {
			if ok {
				out = append(out, t)
			}
		}
	}
	slices.Sort(out)
	return out
}

func (a *appraisal) base(b *Base, in Input, now time.Time) {
	got, want := Freshness(in.Freshness), b.Freshness
	if got.rank() < 0 {
		a.fail("freshness: %q is not a freshness mode, want at least %s", in.Freshness, freshnessName(string(want)))
	} else if got.rank() < want.rank() {
		a.fail("freshness: %s is weaker than the required %s", freshnessName(in.Freshness), want)
	}
	if b.MaxAge > 0 {
		max := time.Duration(b.MaxAge)
		if t, ok, err := claimTime(in.Claims); err != nil {
			a.fail("iat: %v", err)
		} else if ok {
			if t.After(now.Add(clockSkew)) {
				a.fail("iat: %s is in the future (now %s)", t.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
			} else if age := now.Sub(t); age > max {
				a.fail("max_age: the evidence is %s old (iat %s), more than the maximum %s", age.Round(time.Second), t.UTC().Format(time.RFC3339), max)
			}
		} else {
			at := in.VerifiedAt
			if at.IsZero() {
				at = now
			}
			if age := now.Sub(at); age > max {
				a.fail("max_age: the verdict is %s old (verified at %s), more than the maximum %s", age.Round(time.Second), at.UTC().Format(time.RFC3339), max)
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(b.CustomClaims)) {
		want := b.CustomClaims[k]
		got, ok := in.CustomClaims[k]
		switch {
		case !ok:
			a.fail("custom claim %q: missing, want %x", k, []byte(want))
		case !bytes.Equal(got, want):
			a.fail("custom claim %q: got %x, want %x", k, got, []byte(want))
		}
	}
}

// clockSkew is how far in the future an "iat" may be.
const clockSkew = time.Minute

// claimTime reads claims["iat"]: seconds since the epoch, or RFC 3339.
func claimTime(c instance.Claims) (time.Time, bool, error) {
	v, ok := c["iat"]
	if !ok {
		return time.Time{}, false, nil
	}
	switch v := v.(type) {
	case int64:
		return time.Unix(v, 0), true, nil
	case uint64:
		if v > 1<<62 {
			return time.Time{}, false, fmt.Errorf("%d is out of range", v)
		}
		return time.Unix(int64(v), 0), true, nil
	case string:
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return time.Time{}, false, fmt.Errorf("%q is not an RFC 3339 time", v)
		}
		return t, true, nil
	}
	return time.Time{}, false, fmt.Errorf("a %T is not a time", v)
}

func (a *appraisal) tee(t *TEE) {
	switch sim, ok := a.claims["simulated"].(bool); {
	case a.claims["simulated"] != nil && !ok:
		a.fail("simulated: %v is not a boolean", a.claims["simulated"])
	case sim && !t.AllowSimulated:
		a.fail("simulated: got true, want false (allow_simulated is false)")
	case sim:
		a.warn("simulated: got true, accepted as a warning by allow_simulated")
	}
	switch dbg, ok := a.claims["debug"].(bool); {
	case !ok:
		a.fail("debug: got %s, want a boolean claim", show(a.claims, "debug"))
	case dbg && !t.AllowDebug:
		a.fail("debug: got true, want false (allow_debug is false)")
	case dbg:
		a.warn("debug: got true, accepted as a warning by allow_debug")
	}
	for _, k := range slices.Sorted(maps.Keys(t.Claims)) {
		want := t.Claims[k].V
		if !equal(a.claims[k], want) {
			a.fail("claim %q: got %s, want %v", k, show(a.claims, k), want)
		}
	}
}

// equal compares a claim with a policy value; integers compare by value
// whatever their type.
func equal(got, want any) bool {
	gi, gok := toInt(got)
	wi, wok := toInt(want)
	if gok || wok {
		return gok && wok && gi == wi
	}
	return got == want
}

type bigInt struct {
	neg bool
	abs uint64
}

func toInt(v any) (bigInt, bool) {
	switch v := v.(type) {
	case int64:
		if v < 0 {
			return bigInt{true, uint64(-v)}, true
		}
		return bigInt{false, uint64(v)}, true
	case uint64:
		return bigInt{false, v}, true
	}
	return bigInt{}, false
}

func show(c instance.Claims, k string) string {
	v, ok := c[k]
	if !ok {
		return "no claim"
	}
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}

func (a *appraisal) sgx(mrenclave, mrsigner SHA256List, prodIDs []uint16, minSVN uint16) {
	a.oneOf("mrenclave", mrenclave)
	a.oneOf("mrsigner", mrsigner)
	if len(prodIDs) > 0 {
		id, ok := a.claims["isv_prod_id"].(uint64)
		if !ok || !slices.ContainsFunc(prodIDs, func(p uint16) bool { return uint64(p) == id }) {
			a.fail("isv_prod_id: got %s, want one of %v", show(a.claims, "isv_prod_id"), prodIDs)
		}
	}
	a.atLeast("isv_svn", uint64(minSVN))
}

// oneOf checks a hex claim is one of want (any value when want is empty).
func (a *appraisal) oneOf(name string, want []string) {
	if len(want) == 0 {
		return
	}
	got, ok := a.claims[name].(string)
	if ok {
		if _, err := hex.DecodeString(got); err == nil && slices.Contains(want, strings.ToLower(got)) {
			return
		}
	}
	a.fail("%s: got %s, want one of %s", name, show(a.claims, name), strings.Join(want, ", "))
}

// atLeast checks a number claim is at least min (nothing when min is 0).
func (a *appraisal) atLeast(name string, min uint64) {
	if min == 0 {
		return
	}
	got, ok := a.claims[name].(uint64)
	if !ok {
		if i, isInt := a.claims[name].(int64); isInt && i >= 0 {
			got, ok = uint64(i), true
		}
	}
	if !ok || got < min {
		a.fail("%s: got %s, want at least %d", name, show(a.claims, name), min)
	}
}

func (a *appraisal) tcbStatus(r *TCBRules) {
	got, ok := a.claims["tcb_status"].(string)
	advisories, _ := a.claims["advisory_ids"].(string)
	adv := ""
	if advisories != "" {
		adv = " (advisories " + advisories + ")"
	}
	switch {
	case ok && slices.Contains(r.TCBStatus, got):
		if got != StatusUpToDate {
			// Accepted outright by the policy, but not up to date: say so.
			a.reasons = append(a.reasons, fmt.Sprintf("tcb_status: %s accepted by tcb_status%s", got, adv))
		}
	case ok && slices.Contains(r.TCBStatusWarning, got):
		a.warn("tcb_status: %s accepted as a warning by tcb_status_warning%s", got, adv)
	default:
		want := "one of " + strings.Join(r.TCBStatus, ", ")
		if len(r.TCBStatus) == 0 {
			want = "none"
		}
		if len(r.TCBStatusWarning) > 0 {
			want += " (or, as a warning, " + strings.Join(r.TCBStatusWarning, ", ") + ")"
		}
		a.fail("tcb_status: got %s, want %s%s", show(a.claims, "tcb_status"), want, adv)
	}
}

// VerifyPeer returns a ratstls.Config.VerifyPeer callback that appraises
// every verified peer with p: the verdict is recorded in Peer.Appraisal,
// and a peer whose verdict is not accepted (affirming, or warning) is
// refused with the reasons. log (nil: no logging) gets one line per
// accepted peer.
//
//	cfg := &ratstls.Config{VerifyPeer: pol.VerifyPeer(slog.Default())}
func (p *Policy) VerifyPeer(log *slog.Logger) func(context.Context, *ratstls.Peer) error {
	return func(_ context.Context, peer *ratstls.Peer) error {
		res := p.Appraise(FromPeer(peer, time.Now()))
		peer.Appraisal = res
		if !res.Status.Accepted() {
			return fmt.Errorf("policy %s: %s: %s", p.ID, res.Status, strings.Join(res.Reasons, "; "))
		}
		if log != nil {
			log.Info("peer appraised", "policy", p.ID, "status", res.Status, "reasons", res.Reasons)
		}
		return nil
	}
}
