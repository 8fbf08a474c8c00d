package intel

import (
	"bytes"
	"cmp"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// TCBStatus is the status Intel gives a TCB level, and the status of a
// verified quote.
type TCBStatus string

// The TCB statuses of Intel's TCB info and QE identity.
const (
	// TCBUpToDate: the platform is patched; no advisory applies.
	TCBUpToDate TCBStatus = "UpToDate"
	// TCBSWHardeningNeeded: up to date, but the advisories listed need
	// software mitigations in the enclave or TD.
	TCBSWHardeningNeeded TCBStatus = "SWHardeningNeeded"
	// TCBConfigurationNeeded: up to date, but the platform needs a
	// configuration change (for example disabling hyper-threading).
	TCBConfigurationNeeded TCBStatus = "ConfigurationNeeded"
	// TCBConfigurationAndSWHardeningNeeded: both of the above.
	TCBConfigurationAndSWHardeningNeeded TCBStatus = "ConfigurationAndSWHardeningNeeded"
	// TCBOutOfDate: the platform (or QE, or TDX module) needs an update.
	TCBOutOfDate TCBStatus = "OutOfDate"
	// TCBOutOfDateConfigurationNeeded: out of date and in need of a
	// configuration change.
	TCBOutOfDateConfigurationNeeded TCBStatus = "OutOfDateConfigurationNeeded"
	// TCBRevoked: the TCB level is revoked. It is never accepted.
	TCBRevoked TCBStatus = "Revoked"
)

// Valid tells whether s is one of the statuses above.
func (s TCBStatus) Valid() bool {
	switch s {
	case TCBUpToDate, TCBSWHardeningNeeded, TCBConfigurationNeeded, TCBConfigurationAndSWHardeningNeeded,
		TCBOutOfDate, TCBOutOfDateConfigurationNeeded, TCBRevoked:
		return true
	}
	return false
}

// hexBytes is a JSON string of hex digits (either case).
type hexBytes []byte

func (h *hexBytes) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	d, err := hex.DecodeString(s)
	if err != nil {
		return fmt.Errorf("%q is not hex: %w", s, err)
	}
	*h = d
	return nil
}

func (h hexBytes) MarshalJSON() ([]byte, error) {
	return json.Marshal(strings.ToUpper(hex.EncodeToString(h)))
}

// TCBInfo is Intel's TCB info for one FMSPC (the "tcbInfo" object of a PCS
// response), versions 2 (SGX) and 3 (SGX and TDX).
type TCBInfo struct {
	// ID is "SGX" or "TDX" (version 3; empty in version 2).
	ID      string `json:"id"`
	Version int    `json:"version"`
	// IssueDate and NextUpdate bound the time the TCB info is to be used.
	IssueDate  time.Time `json:"issueDate"`
	NextUpdate time.Time `json:"nextUpdate"`
	// FMSPC (6 bytes) and PCEID (2 bytes) name the platform family and PCE
	// the TCB info is for.
	FMSPC hexBytes `json:"fmspc"`
	PCEID hexBytes `json:"pceId"`
	// TCBType is 0 (the only type defined).
	TCBType int `json:"tcbType"`
	// TCBEvaluationDataNumber numbers Intel's TCB recovery events: a
	// larger number is newer.
	TCBEvaluationDataNumber uint32 `json:"tcbEvaluationDataNumber"`
	// TDXModule and TDXModuleIdentities describe the TDX module (TDX
	// only).
	TDXModule           *TDXModule          `json:"tdxModule,omitempty"`
	TDXModuleIdentities []TDXModuleIdentity `json:"tdxModuleIdentities,omitempty"`
	// TCBLevels are the platform TCB levels, newest first.
	TCBLevels []TCBLevel `json:"tcbLevels"`
}

// TDXModule is the expected signer and attributes of the TDX module.
type TDXModule struct {
	MRSigner       hexBytes `json:"mrsigner"`
	Attributes     hexBytes `json:"attributes"`
	AttributesMask hexBytes `json:"attributesMask"`
}

// TDXModuleIdentity is the identity and TCB levels of one major version
// of the TDX module ("TDX_01", "TDX_03").
type TDXModuleIdentity struct {
	ID             string        `json:"id"`
	MRSigner       hexBytes      `json:"mrsigner"`
	Attributes     hexBytes      `json:"attributes"`
	AttributesMask hexBytes      `json:"attributesMask"`
	TCBLevels      []ISVSVNLevel `json:"tcbLevels"`
}

// TCBLevel is one platform TCB level.
type TCBLevel struct {
	TCB         TCBComponents `json:"tcb"`
	TCBDate     string        `json:"tcbDate"`
	TCBStatus   TCBStatus     `json:"tcbStatus"`
	AdvisoryIDs []string      `json:"advisoryIDs,omitempty"`
}

// TCBComponents are the SVNs of a platform TCB level: 16 SGX components
// and PCESVN, and for TDX 16 TEE TCB SVN components.
type TCBComponents struct {
	SGX    [16]uint8
	PCESVN uint16
	TDX    *[16]uint8
}

type svnComponent struct {
	SVN      *int   `json:"svn"`
	Category string `json:"category,omitempty"`
	Type     string `json:"type,omitempty"`
}

// UnmarshalJSON reads version 3 ("sgxtcbcomponents", "tdxtcbcomponents")
// and version 2 ("sgxtcbcomp01svn" to "sgxtcbcomp16svn") levels.
func (t *TCBComponents) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	pce, ok := m["pcesvn"]
	if !ok {
		return fmt.Errorf("no pcesvn")
	}
	if err := json.Unmarshal(pce, &t.PCESVN); err != nil {
		return fmt.Errorf("pcesvn: %w", err)
	}
	comps := func(name string, out *[16]uint8) error {
		var cs []svnComponent
		if err := json.Unmarshal(m[name], &cs); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if len(cs) != 16 {
			return fmt.Errorf("%s has %d components, want 16", name, len(cs))
		}
		for i, c := range cs {
			if c.SVN == nil || *c.SVN < 0 || *c.SVN > 255 {
				return fmt.Errorf("%s[%d] has no svn from 0 to 255", name, i)
			}
			out[i] = uint8(*c.SVN)
		}
		return nil
	}
	if _, ok := m["sgxtcbcomponents"]; ok {
		if err := comps("sgxtcbcomponents", &t.SGX); err != nil {
			return err
		}
	} else {
		for i := range t.SGX {
			name := fmt.Sprintf("sgxtcbcomp%02dsvn", i+1)
			v, ok := m[name]
			if !ok {
				return fmt.Errorf("no sgxtcbcomponents and no %s", name)
			}
			if err := json.Unmarshal(v, &t.SGX[i]); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
		}
	}
	if _, ok := m["tdxtcbcomponents"]; ok {
		t.TDX = new([16]uint8)
		if err := comps("tdxtcbcomponents", t.TDX); err != nil {
			return err
		}
	}
	return nil
}

// MarshalJSON writes the version 3 layout.
func (t TCBComponents) MarshalJSON() ([]byte, error) {
	type comp struct {
		SVN int `json:"svn"`
	}
	out := struct {
		SGX    []comp `json:"sgxtcbcomponents"`
		PCESVN uint16 `json:"pcesvn"`
		TDX    []comp `json:"tdxtcbcomponents,omitempty"`
	}{PCESVN: t.PCESVN}
	for _, s := range t.SGX {
		out.SGX = append(out.SGX, comp{int(s)})
	}
	if t.TDX != nil {
		for _, s := range t.TDX {
			out.TDX = append(out.TDX, comp{int(s)})
		}
	}
	return json.Marshal(out)
}

// ISVSVNLevel is a TCB level of an enclave identity (QE identity) or TDX
// module identity, by ISVSVN.
type ISVSVNLevel struct {
	TCB struct {
		ISVSVN uint16 `json:"isvsvn"`
	} `json:"tcb"`
	TCBDate     string    `json:"tcbDate"`
	TCBStatus   TCBStatus `json:"tcbStatus"`
	AdvisoryIDs []string  `json:"advisoryIDs,omitempty"`
}

// QEIdentity is Intel's identity of its quoting enclave (the
// "enclaveIdentity" object of a PCS response): "QE" for SGX, "TD_QE" for
// TDX.
type QEIdentity struct {
	ID                      string    `json:"id"`
	Version                 int       `json:"version"`
	IssueDate               time.Time `json:"issueDate"`
	NextUpdate              time.Time `json:"nextUpdate"`
	TCBEvaluationDataNumber uint32    `json:"tcbEvaluationDataNumber"`
	// MiscSelect and Attributes, under their masks, are what the QE
	// report's MISCSELECT (4 bytes, as in the report) and ATTRIBUTES (16
	// bytes) must be.
	MiscSelect     hexBytes `json:"miscselect"`
	MiscSelectMask hexBytes `json:"miscselectMask"`
	Attributes     hexBytes `json:"attributes"`
	AttributesMask hexBytes `json:"attributesMask"`
	// MRSigner and ISVProdID are the QE's signer and product ID.
	MRSigner  hexBytes `json:"mrsigner"`
	ISVProdID uint16   `json:"isvprodid"`
	// TCBLevels are by ISVSVN, newest first.
	TCBLevels []ISVSVNLevel `json:"tcbLevels"`
}

// ParseTCBInfo reads the "tcbInfo" object (the signed body) and checks
// its shape: version 2 or 3, an id that fits the version, 6 bytes of FMSPC
// and 2 of PCE-ID, dates, at least one level, valid statuses, 16 TDX
// components for every level of a TDX TCB info.
func ParseTCBInfo(body []byte) (*TCBInfo, error) {
	var t TCBInfo
	if err := json.Unmarshal(body, &t); err != nil {
		return nil, fmt.Errorf("%w: TCB info: %w", ErrMalformedCollateral, err)
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: TCB info: %s", ErrMalformedCollateral, fmt.Sprintf(format, a...))
	}
	switch t.Version {
	case 2:
		if t.ID != "" {
			return nil, bad("version 2 has id %q", t.ID)
		}
	case 3:
		if t.ID != "SGX" && t.ID != "TDX" {
			return nil, bad("id is %q, want \"SGX\" or \"TDX\"", t.ID)
		}
	default:
		return nil, bad("version is %d, want 2 or 3", t.Version)
	}
	if t.IssueDate.IsZero() || t.NextUpdate.IsZero() {
		return nil, bad("no issueDate or nextUpdate")
	}
	if len(t.FMSPC) != 6 {
		return nil, bad("fmspc is %d bytes, want 6", len(t.FMSPC))
	}
	if len(t.PCEID) != 2 {
		return nil, bad("pceId is %d bytes, want 2", len(t.PCEID))
	}
	if len(t.TCBLevels) == 0 {
		return nil, bad("no tcbLevels")
	}
	for i, l := range t.TCBLevels {
		if !l.TCBStatus.Valid() {
			return nil, bad("tcbLevels[%d] has tcbStatus %q", i, l.TCBStatus)
		}
		if t.ID == "TDX" && l.TCB.TDX == nil {
			return nil, bad("tcbLevels[%d] of a TDX TCB info has no tdxtcbcomponents", i)
		}
	}
	if m := t.TDXModule; m != nil {
		if err := checkModule("tdxModule", m.MRSigner, m.Attributes, m.AttributesMask); err != nil {
			return nil, bad("%v", err)
		}
	}
	for i, id := range t.TDXModuleIdentities {
		if err := checkModule(fmt.Sprintf("tdxModuleIdentities[%d]", i), id.MRSigner, id.Attributes, id.AttributesMask); err != nil {
			return nil, bad("%v", err)
		}
		for j, l := range id.TCBLevels {
			if !l.TCBStatus.Valid() {
				return nil, bad("tdxModuleIdentities[%d].tcbLevels[%d] has tcbStatus %q", i, j, l.TCBStatus)
			}
		}
	}
	return &t, nil
}

func checkModule(name string, signer, attrs, mask []byte) error {
	if len(signer) != 48 || len(attrs) != 8 || len(mask) != 8 {
		return fmt.Errorf("%s has mrsigner, attributes, attributesMask of %d, %d, %d bytes, want 48, 8, 8", name, len(signer), len(attrs), len(mask))
	}
	return nil
}

// ParseQEIdentity reads the "enclaveIdentity" object (the signed body)
// and checks its shape: version 2, sizes of the masks and MRSIGNER, dates,
// at least one level, valid statuses.
func ParseQEIdentity(body []byte) (*QEIdentity, error) {
	var q QEIdentity
	if err := json.Unmarshal(body, &q); err != nil {
		return nil, fmt.Errorf("%w: QE identity: %w", ErrMalformedCollateral, err)
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: QE identity: %s", ErrMalformedCollateral, fmt.Sprintf(format, a...))
	}
	if q.Version != 2 {
		return nil, bad("version is %d, want 2", q.Version)
	}
	if q.ID == "" {
		return nil, bad("no id")
	}
	if q.IssueDate.IsZero() || q.NextUpdate.IsZero() {
		return nil, bad("no issueDate or nextUpdate")
	}
	for _, f := range []struct {
		name string
		b    []byte
		n    int
	}{
		{"miscselect", q.MiscSelect, 4}, {"miscselectMask", q.MiscSelectMask, 4},
		{"attributes", q.Attributes, 16}, {"attributesMask", q.AttributesMask, 16},
		{"mrsigner", q.MRSigner, 32},
	} {
		if len(f.b) != f.n {
			return nil, bad("%s is %d bytes, want %d", f.name, len(f.b), f.n)
		}
	}
	if len(q.TCBLevels) == 0 {
		return nil, bad("no tcbLevels")
	}
	for i, l := range q.TCBLevels {
		if !l.TCBStatus.Valid() {
			return nil, bad("tcbLevels[%d] has tcbStatus %q", i, l.TCBStatus)
		}
	}
	return &q, nil
}

// sortedLevels returns t's levels in the order Intel's QVL matches them:
// highest SGX components first (compared in order), then PCESVN, then
// the TDX components.
func sortedLevels(t *TCBInfo) []TCBLevel {
	levels := slices.Clone(t.TCBLevels)
	slices.SortStableFunc(levels, func(a, b TCBLevel) int {
		if c := bytes.Compare(b.TCB.SGX[:], a.TCB.SGX[:]); c != 0 {
			return c
		}
		if c := cmp.Compare(b.TCB.PCESVN, a.TCB.PCESVN); c != 0 {
			return c
		}
		if a.TCB.TDX != nil && b.TCB.TDX != nil {
			return bytes.Compare(b.TCB.TDX[:], a.TCB.TDX[:])
		}
		return 0
	})
	return levels
}

// sortedISVSVN returns levels by ISVSVN, highest first.
func sortedISVSVN(levels []ISVSVNLevel) []ISVSVNLevel {
	out := slices.Clone(levels)
	slices.SortStableFunc(out, func(a, b ISVSVNLevel) int { return cmp.Compare(b.TCB.ISVSVN, a.TCB.ISVSVN) })
	return out
}
