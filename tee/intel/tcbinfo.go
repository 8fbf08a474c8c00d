package intel

import (
	"bytes"
	"cmp"
	"encoding/hex"
	"encoding/json"

	"fmt"
	jsonv2 "github.com/go-json-experiment/json"
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

// tcbComponentsJSON is both layouts of a level's "tcb": version 3
// (sgxtcbcomponents, tdxtcbcomponents) and version 2 (sgxtcbcomp01svn to
// sgxtcbcomp16svn).
type tcbComponentsJSON struct {
	SGX    []svnComponent `json:"sgxtcbcomponents"`
	TDX    []svnComponent `json:"tdxtcbcomponents"`
	PCESVN *uint16        `json:"pcesvn"`
	C01    *uint8         `json:"sgxtcbcomp01svn"`
	C02    *uint8         `json:"sgxtcbcomp02svn"`
	C03    *uint8         `json:"sgxtcbcomp03svn"`
	C04    *uint8         `json:"sgxtcbcomp04svn"`
	C05    *uint8         `json:"sgxtcbcomp05svn"`
	C06    *uint8         `json:"sgxtcbcomp06svn"`
	C07    *uint8         `json:"sgxtcbcomp07svn"`
	C08    *uint8         `json:"sgxtcbcomp08svn"`
	C09    *uint8         `json:"sgxtcbcomp09svn"`
	C10    *uint8         `json:"sgxtcbcomp10svn"`
	C11    *uint8         `json:"sgxtcbcomp11svn"`
	C12    *uint8         `json:"sgxtcbcomp12svn"`
	C13    *uint8         `json:"sgxtcbcomp13svn"`
	C14    *uint8         `json:"sgxtcbcomp14svn"`
	C15    *uint8         `json:"sgxtcbcomp15svn"`
	C16    *uint8         `json:"sgxtcbcomp16svn"`
}

// UnmarshalJSON reads version 3 ("sgxtcbcomponents", "tdxtcbcomponents")
// and version 2 ("sgxtcbcomp01svn" to "sgxtcbcomp16svn") levels.
func (t *TCBComponents) UnmarshalJSON(b []byte) error {
	var j tcbComponentsJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	return t.from(&j)
}

func (t *TCBComponents) from(j *tcbComponentsJSON) error {
	if j.PCESVN == nil {
		return fmt.Errorf("no pcesvn")
	}
	t.PCESVN = *j.PCESVN
	comps := func(name string, cs []svnComponent, out *[16]uint8) error {
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
	if j.SGX != nil {
		if err := comps("sgxtcbcomponents", j.SGX, &t.SGX); err != nil {
			return err
		}
	} else {
		for i, c := range []*uint8{j.C01, j.C02, j.C03, j.C04, j.C05, j.C06, j.C07, j.C08, j.C09, j.C10, j.C11, j.C12, j.C13, j.C14, j.C15, j.C16} {
			if c == nil {
				return fmt.Errorf("no sgxtcbcomponents and no sgxtcbcomp%02dsvn", i+1)
			}
			t.SGX[i] = *c
		}
	}
	if j.TDX != nil {
		t.TDX = new([16]uint8)
		if err := comps("tdxtcbcomponents", j.TDX, t.TDX); err != nil {
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
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: TCB info: %s", ErrMalformedCollateral, fmt.Sprintf(format, a...))
	}
	// One pass of JSON decoding into plain types (no nested
	// unmarshalers, which would scan the body again), then conversion.
	// The decoder is go-json-experiment/json (the encoding/json/v2
	// prototype), not encoding/json: it takes 40% less time per cold
	// verification, and it refuses duplicate member names and matches
	// names case-sensitively, so a signed body has exactly one reading.
	var j tcbInfoJSON
	if err := jsonv2.Unmarshal(body, &j); err != nil {
		return nil, fmt.Errorf("%w: TCB info: %w", ErrMalformedCollateral, err)
	}
	t := TCBInfo{ID: j.ID, Version: j.Version, IssueDate: j.IssueDate, NextUpdate: j.NextUpdate, TCBType: j.TCBType,
		TCBEvaluationDataNumber: j.TCBEvaluationDataNumber, TCBLevels: make([]TCBLevel, len(j.TCBLevels))}
	var err error
	if t.FMSPC, err = unhex("fmspc", j.FMSPC); err != nil {
		return nil, bad("%v", err)
	}
	if t.PCEID, err = unhex("pceId", j.PCEID); err != nil {
		return nil, bad("%v", err)
	}
	for i := range j.TCBLevels {
		l := &j.TCBLevels[i]
		t.TCBLevels[i] = TCBLevel{TCBDate: l.TCBDate, TCBStatus: l.TCBStatus, AdvisoryIDs: l.AdvisoryIDs}
		if err := t.TCBLevels[i].TCB.from(&l.TCB); err != nil {
			return nil, bad("tcbLevels[%d]: %v", i, err)
		}
	}
	if m := j.TDXModule; m != nil {
		t.TDXModule = &TDXModule{}
		if err := m.to("tdxModule", &t.TDXModule.MRSigner, &t.TDXModule.Attributes, &t.TDXModule.AttributesMask); err != nil {
			return nil, bad("%v", err)
		}
	}
	for i, m := range j.TDXModuleIdentities {
		id := TDXModuleIdentity{ID: m.ID, TCBLevels: m.TCBLevels}
		if err := m.moduleJSON.to(fmt.Sprintf("tdxModuleIdentities[%d]", i), &id.MRSigner, &id.Attributes, &id.AttributesMask); err != nil {
			return nil, bad("%v", err)
		}
		t.TDXModuleIdentities = append(t.TDXModuleIdentities, id)
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

// The JSON shapes ParseTCBInfo and ParseQEIdentity decode into.
type (
	tcbInfoJSON struct {
		ID                      string               `json:"id"`
		Version                 int                  `json:"version"`
		IssueDate               time.Time            `json:"issueDate"`
		NextUpdate              time.Time            `json:"nextUpdate"`
		FMSPC                   string               `json:"fmspc"`
		PCEID                   string               `json:"pceId"`
		TCBType                 int                  `json:"tcbType"`
		TCBEvaluationDataNumber uint32               `json:"tcbEvaluationDataNumber"`
		TDXModule               *moduleJSON          `json:"tdxModule"`
		TDXModuleIdentities     []moduleIdentityJSON `json:"tdxModuleIdentities"`
		TCBLevels               []struct {
			TCB         tcbComponentsJSON `json:"tcb"`
			TCBDate     string            `json:"tcbDate"`
			TCBStatus   TCBStatus         `json:"tcbStatus"`
			AdvisoryIDs []string          `json:"advisoryIDs"`
		} `json:"tcbLevels"`
	}
	moduleJSON struct {
		MRSigner       string `json:"mrsigner"`
		Attributes     string `json:"attributes"`
		AttributesMask string `json:"attributesMask"`
	}
	moduleIdentityJSON struct {
		ID string `json:"id"`
		moduleJSON
		TCBLevels []ISVSVNLevel `json:"tcbLevels"`
	}
	qeIdentityJSON struct {
		ID                      string        `json:"id"`
		Version                 int           `json:"version"`
		IssueDate               time.Time     `json:"issueDate"`
		NextUpdate              time.Time     `json:"nextUpdate"`
		TCBEvaluationDataNumber uint32        `json:"tcbEvaluationDataNumber"`
		MiscSelect              string        `json:"miscselect"`
		MiscSelectMask          string        `json:"miscselectMask"`
		Attributes              string        `json:"attributes"`
		AttributesMask          string        `json:"attributesMask"`
		MRSigner                string        `json:"mrsigner"`
		ISVProdID               uint16        `json:"isvprodid"`
		TCBLevels               []ISVSVNLevel `json:"tcbLevels"`
	}
)

func unhex(name, s string) (hexBytes, error) {
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%s %q is not hex: %w", name, s, err)
	}
	return b, nil
}

func (m *moduleJSON) to(name string, signer, attrs, mask *hexBytes) error {
	var err error
	if *signer, err = unhex(name+".mrsigner", m.MRSigner); err != nil {
		return err
	}
	if *attrs, err = unhex(name+".attributes", m.Attributes); err != nil {
		return err
	}
	if *mask, err = unhex(name+".attributesMask", m.AttributesMask); err != nil {
		return err
	}
	return nil
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
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: QE identity: %s", ErrMalformedCollateral, fmt.Sprintf(format, a...))
	}
	var j qeIdentityJSON
	if err := jsonv2.Unmarshal(body, &j); err != nil {
		return nil, fmt.Errorf("%w: QE identity: %w", ErrMalformedCollateral, err)
	}
	q := QEIdentity{ID: j.ID, Version: j.Version, IssueDate: j.IssueDate, NextUpdate: j.NextUpdate,
		TCBEvaluationDataNumber: j.TCBEvaluationDataNumber, ISVProdID: j.ISVProdID, TCBLevels: j.TCBLevels}
	for _, f := range []struct {
		name string
		s    string
		out  *hexBytes
	}{
		{"miscselect", j.MiscSelect, &q.MiscSelect}, {"miscselectMask", j.MiscSelectMask, &q.MiscSelectMask},
		{"attributes", j.Attributes, &q.Attributes}, {"attributesMask", j.AttributesMask, &q.AttributesMask},
		{"mrsigner", j.MRSigner, &q.MRSigner},
	} {
		var err error
		if *f.out, err = unhex(f.name, f.s); err != nil {
			return nil, bad("%v", err)
		}
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
