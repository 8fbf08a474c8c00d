package intel

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
)

// Errors of TCB evaluation, each wrapped with the details.
var (
	// ErrQEIdentity: the quoting enclave's report does not match Intel's
	// QE identity (MRSIGNER, ISVPRODID, MISCSELECT or ATTRIBUTES under
	// their masks), or its ISVSVN is below every level.
	ErrQEIdentity = errors.New("Intel quoting enclave identity refused")
	// ErrTDXModule: the TD report's TDX module (MRSIGNERSEAM,
	// SEAMATTRIBUTES) is not the one the TCB info describes.
	ErrTDXModule = errors.New("TDX module identity refused")
	// ErrTCBNotSupported: no TCB level of the TCB info (or of the TDX
	// module identity) is at or below the platform's: the TCB info does
	// not cover this platform, which is older than every level.
	ErrTCBNotSupported = errors.New("Intel TCB level not supported")
)

// matchQE checks the QE report against the QE identity and returns the
// status and advisories of the QE's TCB level.
func matchQE(r *EnclaveReport, q *QEIdentity, levels []ISVSVNLevel) (*ISVSVNLevel, error) {
	if !bytes.Equal(r.MRSigner[:], q.MRSigner) {
		return nil, fmt.Errorf("%w: QE report MRSIGNER %x is not the QE identity's mrsigner %x", ErrQEIdentity, r.MRSigner, []byte(q.MRSigner))
	}
	if r.ISVProdID != q.ISVProdID {
		return nil, fmt.Errorf("%w: QE report ISVPRODID %d is not the QE identity's isvprodid %d", ErrQEIdentity, r.ISVProdID, q.ISVProdID)
	}
	misc := r.Raw[16:20]
	for i := range misc {
		if misc[i]&q.MiscSelectMask[i] != q.MiscSelect[i]&q.MiscSelectMask[i] {
			return nil, fmt.Errorf("%w: QE report MISCSELECT %x under the mask %x is not the QE identity's miscselect %x", ErrQEIdentity, misc, []byte(q.MiscSelectMask), []byte(q.MiscSelect))
		}
	}
	for i := range r.Attributes {
		if r.Attributes[i]&q.AttributesMask[i] != q.Attributes[i]&q.AttributesMask[i] {
			return nil, fmt.Errorf("%w: QE report ATTRIBUTES %x under the mask %x is not the QE identity's attributes %x", ErrQEIdentity, r.Attributes, []byte(q.AttributesMask), []byte(q.Attributes))
		}
	}
	for i := range levels {
		if levels[i].TCB.ISVSVN <= r.ISVSVN {
			return &levels[i], nil
		}
	}
	return nil, fmt.Errorf("%w: QE report ISVSVN %d is below every level of the QE identity (lowest %d)", ErrQEIdentity, r.ISVSVN, levels[len(levels)-1].TCB.ISVSVN)
}

// matchPlatform finds the platform's TCB level: the first level (in
// Intel's order) whose 16 SGX components and PCESVN the PCK certificate's
// TCB reaches, and for TDX whose TDX components the TD report's TEE_TCB_SVN
// reaches (without its first two bytes when byte 1, the TDX module's major
// version, is not zero: the TDX module identity covers those).
func matchPlatform(levels []TCBLevel, x *PCKExtensions, td *TDReport) (*TCBLevel, error) {
	for i := range levels {
		l := &levels[i]
		if !componentsReach(x.Components[:], l.TCB.SGX[:], 0) || x.PCESVN < l.TCB.PCESVN {
			continue
		}
		if td != nil {
			start := 0
			if td.TEETCBSVN[1] > 0 {
				start = 2
			}
			if l.TCB.TDX == nil || !componentsReach(td.TEETCBSVN[:], l.TCB.TDX[:], start) {
				continue
			}
		}
		return l, nil
	}
	last := levels[len(levels)-1]
	msg := fmt.Sprintf("PCK certificate TCB components %v PCESVN %d", x.Components, x.PCESVN)
	if td != nil {
		msg += fmt.Sprintf(", TD report TEE_TCB_SVN %x", td.TEETCBSVN)
	}
	return nil, fmt.Errorf("%w: no TCB level is reached by the %s (lowest level: components %v PCESVN %d%s)", ErrTCBNotSupported, msg, last.TCB.SGX, last.TCB.PCESVN, tdxSuffix(last))
}

func tdxSuffix(l TCBLevel) string {
	if l.TCB.TDX == nil {
		return ""
	}
	return fmt.Sprintf(" TDX components %v", *l.TCB.TDX)
}

func componentsReach(have, want []uint8, start int) bool {
	for i := start; i < len(want); i++ {
		if have[i] < want[i] {
			return false
		}
	}
	return true
}

// matchTDXModule checks the TD report's TDX module against the TCB info
// and, when the module's major version (TEE_TCB_SVN byte 1) is not zero,
// returns the level of its TDX module identity ("TDX_%02X").
func matchTDXModule(t *TCBInfo, td *TDReport) (*ISVSVNLevel, string, error) {
	checkSigner := func(name string, signer, attrs, mask []byte) error {
		if !bytes.Equal(td.MRSignerSEAM[:], signer) {
			return fmt.Errorf("%w: TD report MRSIGNERSEAM %x is not the %s mrsigner %x", ErrTDXModule, td.MRSignerSEAM, name, signer)
		}
		for i := range td.SEAMAttributes {
			if td.SEAMAttributes[i]&mask[i] != attrs[i]&mask[i] {
				return fmt.Errorf("%w: TD report SEAMATTRIBUTES %x under the mask %x is not the %s attributes %x", ErrTDXModule, td.SEAMAttributes, mask, name, attrs)
			}
		}
		return nil
	}
	if m := t.TDXModule; m != nil {
		if err := checkSigner("TCB info tdxModule", m.MRSigner, m.Attributes, m.AttributesMask); err != nil {
			return nil, "", err
		}
	}
	version, svn := td.TEETCBSVN[1], td.TEETCBSVN[0]
	if version == 0 || len(t.TDXModuleIdentities) == 0 {
		return nil, "", nil
	}
	want := fmt.Sprintf("TDX_%02X", version)
	i := slices.IndexFunc(t.TDXModuleIdentities, func(id TDXModuleIdentity) bool { return id.ID == want })
	if i < 0 {
		return nil, "", fmt.Errorf("%w: the TCB info has no TDX module identity %s for the TD report's TEE_TCB_SVN %x", ErrTCBNotSupported, want, td.TEETCBSVN)
	}
	id := &t.TDXModuleIdentities[i]
	if err := checkSigner("TDX module identity "+want, id.MRSigner, id.Attributes, id.AttributesMask); err != nil {
		return nil, "", err
	}
	levels := sortedISVSVN(id.TCBLevels)
	for j := range levels {
		if uint16(svn) >= levels[j].TCB.ISVSVN {
			return &levels[j], want, nil
		}
	}
	lowest := "none"
	if len(levels) > 0 {
		lowest = fmt.Sprint(levels[len(levels)-1].TCB.ISVSVN)
	}
	return nil, "", fmt.Errorf("%w: the TDX module SVN %d (TEE_TCB_SVN byte 0) is below every level of the TDX module identity %s (lowest %s)", ErrTCBNotSupported, svn, want, lowest)
}

// converge combines the platform's status with the QE's or the TDX
// module's as Intel's QVL does: an out-of-date QE or module makes an
// up-to-date platform OutOfDate and a platform that needs configuration
// OutOfDateConfigurationNeeded; a revoked one makes it Revoked; otherwise
// the platform's status stands.
func converge(platform, other TCBStatus) TCBStatus {
	switch other {
	case TCBOutOfDate, TCBOutOfDateConfigurationNeeded:
		switch platform {
		case TCBUpToDate, TCBSWHardeningNeeded:
			return TCBOutOfDate
		case TCBConfigurationNeeded, TCBConfigurationAndSWHardeningNeeded:
			return TCBOutOfDateConfigurationNeeded
		}
	case TCBRevoked:
		return TCBRevoked
	}
	return platform
}

// mergeAdvisories appends to dst the IDs of src it lacks.
func mergeAdvisories(dst, src []string) []string {
	for _, id := range src {
		if !slices.Contains(dst, id) {
			dst = append(dst, id)
		}
	}
	return dst
}
