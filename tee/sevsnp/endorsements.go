package sevsnp

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
	"github.com/google/go-sev-guest/abi"
	"github.com/google/uuid"
)

// ErrMalformedEndorsements is wrapped by every error about the bytes of
// endorsements or of a certificate table.
var ErrMalformedEndorsements = errors.New("malformed SEV-SNP endorsements")

// MaxEndorsementsSize caps a certificate table. AMD's ARK, ASK and VCEK
// take about 5 KiB together; the guest driver hands out at most a few pages.
const MaxEndorsementsSize = 64 << 10

// GUIDs of the entries of an AMD certificate table.
var (
	GUIDVCEK              = uuid.MustParse(abi.VcekGUID)
	GUIDVLEK              = uuid.MustParse(abi.VlekGUID)
	GUIDASK               = uuid.MustParse(abi.AskGUID)
	GUIDARK               = uuid.MustParse(abi.ArkGUID)
	GUIDExtraPlatformInfo = uuid.MustParse(abi.ExtraPlatformInfoGUID)
)

// Certificates are the DER certificates a certificate table holds for
// verification; any may be nil.
type Certificates struct {
	// VCEK or VLEK signs reports (one is expected, per the report's
	// SIGNING_KEY).
	VCEK, VLEK []byte
	// ASK is the intermediate (for a VLEK, the ASVK), ARK the root.
	ASK, ARK []byte
}

// CertTable returns the certificate table holding c's certificates, in the
// order ARK, ASK, VCEK, VLEK.
func (c Certificates) CertTable() *abi.CertTable {
	t := &abi.CertTable{}
	for _, e := range []struct {
		g   uuid.UUID
		der []byte
	}{{GUIDARK, c.ARK}, {GUIDASK, c.ASK}, {GUIDVCEK, c.VCEK}, {GUIDVLEK, c.VLEK}} {
		if len(e.der) > 0 {
			t.Entries = append(t.Entries, abi.CertTableEntry{GUID: e.g, RawCert: e.der})
		}
	}
	return t
}

// CertificatesOf picks the certificates out of t; entries of other GUIDs
// (such as the extra platform info) are ignored.
func CertificatesOf(t *abi.CertTable) Certificates {
	var c Certificates
	if t == nil {
		return c
	}
	for _, e := range t.Entries {
		switch e.GUID {
		case GUIDVCEK:
			c.VCEK = e.RawCert
		case GUIDVLEK:
			c.VLEK = e.RawCert
		case GUIDASK:
			c.ASK = e.RawCert
		case GUIDARK:
			c.ARK = e.RawCert
		}
	}
	return c
}

// ParseCertTable reads a certificate table in the layout SNP extended guest
// requests and the configfs-tsm auxblob return: entries of (GUID, offset,
// length), 24 bytes each, ended by an all-zero entry, then the data the
// entries point into. Unlike go-sev-guest's abi.CertTable.Unmarshal, it
// refuses ranges that overflow or overlap the header, empty and duplicate
// entries, and an empty table. The entries share b's memory.
func ParseCertTable(b []byte) (*abi.CertTable, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty certificate table", ErrMalformedEndorsements)
	}
	if len(b) > MaxEndorsementsSize {
		return nil, fmt.Errorf("%w: certificate table of %d bytes, the cap is %d", ErrMalformedEndorsements, len(b), MaxEndorsementsSize)
	}
	const entry = abi.CertTableEntrySize
	var header int
	seen := map[uuid.UUID]bool{}
	for i := 0; ; i++ {
		off := i * entry
		if off+entry > len(b) {
			return nil, fmt.Errorf("%w: certificate table of %d bytes has no terminating all-zero entry", ErrMalformedEndorsements, len(b))
		}
		var g uuid.UUID
		copy(g[:], b[off:off+16])
		o := binary.LittleEndian.Uint32(b[off+16:])
		l := binary.LittleEndian.Uint32(b[off+20:])
		if g == uuid.Nil && o == 0 && l == 0 {
			header = off + entry
			break
		}
		if g == uuid.Nil {
			return nil, fmt.Errorf("%w: certificate table entry %d has the nil GUID", ErrMalformedEndorsements, i)
		}
		if seen[g] {
			return nil, fmt.Errorf("%w: certificate table has two entries for GUID %s", ErrMalformedEndorsements, g)
		}
		seen[g] = true
		if l == 0 {
			return nil, fmt.Errorf("%w: certificate table entry %d (GUID %s) is empty", ErrMalformedEndorsements, i, g)
		}
		if uint64(o)+uint64(l) > uint64(len(b)) {
			return nil, fmt.Errorf("%w: certificate table entry %d (GUID %s) covers bytes %d to %d of %d", ErrMalformedEndorsements, i, g, o, uint64(o)+uint64(l), len(b))
		}
	}
	if len(seen) == 0 {
		return nil, fmt.Errorf("%w: certificate table has no entries", ErrMalformedEndorsements)
	}
	for i := 0; i < len(seen); i++ {
		if o := binary.LittleEndian.Uint32(b[i*entry+16:]); int(o) < header {
			return nil, fmt.Errorf("%w: certificate table entry %d starts at %d, inside the %d-byte header", ErrMalformedEndorsements, i, o, header)
		}
	}
	// The entries share b (each capped to its own range), as checked above.
	t := &abi.CertTable{Entries: make([]abi.CertTableEntry, len(seen))}
	for i := range t.Entries {
		off := i * entry
		copy(t.Entries[i].GUID[:], b[off:off+16])
		o := binary.LittleEndian.Uint32(b[off+16:])
		l := binary.LittleEndian.Uint32(b[off+20:])
		t.Entries[i].RawCert = b[o : o+l : o+l]
	}
	return t, nil
}

var (
	cborEnc = func() cbor.EncMode {
		m, err := cbor.CoreDetEncOptions().EncMode()
		if err != nil {
			panic(err)
		}
		return m
	}()
	cborDec = func() cbor.DecMode {
		m, err := cbor.DecOptions{MaxNestedLevels: 4, MaxArrayElements: 16, MaxMapPairs: 16}.DecMode()
		if err != nil {
			panic(err)
		}
		return m
	}()
)

// EncodeEndorsements returns the endorsements item of evidence type
// "sev_snp": one CBOR byte string holding t in the certificate table
// layout. framework/dice tags it with the evidence's tag.
func EncodeEndorsements(t *abi.CertTable) ([]byte, error) {
	if t == nil || len(t.Entries) == 0 {
		return nil, fmt.Errorf("%w: no certificates to encode", ErrMalformedEndorsements)
	}
	raw := t.Marshal()
	// What is written must read back.
	if _, err := ParseCertTable(raw); err != nil {
		return nil, err
	}
	return cborEnc.Marshal(raw)
}

// DecodeEndorsements reads an endorsements item of evidence type "sev_snp":
// exactly one CBOR byte string, holding a certificate table that
// [ParseCertTable] accepts. The table's entries share item's memory.
func DecodeEndorsements(item []byte) (*abi.CertTable, error) {
	if len(item) == 0 {
		return nil, fmt.Errorf("%w: empty endorsements item", ErrMalformedEndorsements)
	}
	if mt := item[0] >> 5; mt != 2 { // CBOR major type 2: byte string
		return nil, fmt.Errorf("%w: the endorsements item is CBOR major type %d, want a byte string (2)", ErrMalformedEndorsements, mt)
	}
	raw, err := byteString(item)
	if err != nil {
		return nil, err
	}
	return ParseCertTable(raw)
}

// byteString returns the content of the CBOR byte string item, which must
// be all of item. A definite-length string is read in place (no copy); an
// indefinite-length one is joined by the CBOR decoder.
func byteString(item []byte) ([]byte, error) {
	ai := item[0] & 0x1f
	if ai == 31 {
		var raw []byte
		if err := cborDec.Unmarshal(item, &raw); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMalformedEndorsements, err)
		}
		return raw, nil
	}
	var n uint64
	head := 1
	switch {
	case ai < 24:
		n = uint64(ai)
	case ai <= 27:
		w := 1 << (ai - 24) // 1, 2, 4 or 8 bytes of length
		if len(item) < 1+w {
			return nil, fmt.Errorf("%w: the CBOR byte string head is cut short (%d bytes)", ErrMalformedEndorsements, len(item))
		}
		for _, b := range item[1 : 1+w] {
			n = n<<8 | uint64(b)
		}
		head += w
	default:
		return nil, fmt.Errorf("%w: CBOR additional information %d is reserved", ErrMalformedEndorsements, ai)
	}
	if rest := uint64(len(item) - head); n != rest {
		if n > rest {
			return nil, fmt.Errorf("%w: the CBOR byte string says %d bytes but %d follow", ErrMalformedEndorsements, n, rest)
		}
		return nil, fmt.Errorf("%w: %d bytes after the CBOR byte string", ErrMalformedEndorsements, rest-n)
	}
	return item[head:len(item):len(item)], nil
}
