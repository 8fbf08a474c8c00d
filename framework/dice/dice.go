// Package dice reads and writes the evidence a Rats-TLS certificate
// carries, in the Interoperable RA-TLS format that the C Rats-TLS 0.6.x
// speaks, and reads the formats that came before and beside it.
//
// # The format
//
// The self-signed leaf certificate carries, in the non-critical extension
// 2.23.133.5.4.9 (TCG DICE tagged evidence), the CBOR item
//
//	TAG([ evidence: bstr, claims: bstr ])
//
// where TAG names the evidence type (60000 for SGX and TDX ECDSA quotes, told
// apart by the quote header; 60002 sgx_la; 0x1a7504 sev_snp; 0x1a7505 sev;
// 0x1a7506 csv) and claims is a CBOR map with text keys and byte-string
// values. The claim "pubkey-hash" holds the CBOR array [hash-alg-id, hash]
// of the certificate's DER SubjectPublicKeyInfo (ids 1, 7, 8: sha-256,
// sha-384, sha-512); other claims are custom. The evidence's report data is
// SHA-256 over the claims bytes, zero-padded to 64 bytes: the evidence
// vouches for the claims, the claims for the key.
//
// Endorsements, when present, sit in the non-critical extension
// 2.23.133.5.4.2 as TAG(item), the same TAG as the evidence.
//
// # Reading
//
// Only the first CBOR item of each field is decoded, and the claims are
// hashed exactly as received: the C library built with libcbor before 0.10
// leaves stray bytes after its items. Two more carriers are accepted: the
// legacy Rats-TLS extensions 1.2.840.113741.1337.x (raw evidence, report data
// = SHA-256 of the public key), and id-pe-cmw 1.3.6.1.5.5.7.1.35 holding a
// CBOR CMW whose value is the tagged evidence above.
package dice

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"

	"github.com/inclavare/inclavare/framework/instance"
)

// Extension OIDs.
var (
	// OIDTaggedEvidence is TCG DICE tagged evidence (tcg-dice-tagged-evidence).
	OIDTaggedEvidence = asn1.ObjectIdentifier{2, 23, 133, 5, 4, 9}
	// OIDEndorsementManifest is TCG DICE endorsement manifest.
	OIDEndorsementManifest = asn1.ObjectIdentifier{2, 23, 133, 5, 4, 2}
	// OIDCMW is id-pe-cmw, a RATS conceptual message wrapper.
	OIDCMW = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 35}
)

// legacyOIDs are the extensions of Rats-TLS before 0.6, each carrying raw
// evidence of one type.
var legacyOIDs = []struct {
	oid    asn1.ObjectIdentifier
	evType string
}{
	{asn1.ObjectIdentifier{1, 2, 840, 113741, 1337, 6}, "sgx_ecdsa"},
	{asn1.ObjectIdentifier{1, 2, 840, 113741, 1337, 8}, "tdx_ecdsa"},
	{asn1.ObjectIdentifier{1, 2, 840, 113741, 1337, 14}, "sgx_la"},
	{asn1.ObjectIdentifier{1, 2, 840, 113741, 1337, 20}, "sev_snp"},
	{asn1.ObjectIdentifier{1, 2, 840, 113741, 1337, 22}, "sev"},
	{asn1.ObjectIdentifier{1, 2, 840, 113741, 1337, 24}, "csv"},
}

// CBOR tags of the evidence types.
const (
	TagIntelTEEQuote       uint64 = 60000
	TagSGXLegacyReport     uint64 = 60002
	TagSEVSNP              uint64 = 0x1a7504
	TagSEV                 uint64 = 0x1a7505
	TagCSV                 uint64 = 0x1a7506
	claimPubKeyHash               = "pubkey-hash"
	maxClaims                     = 64
	defaultMaxEvidenceSize        = 128 << 10
)

// ClaimPubKeyHash is the claim that binds the certificate key.
const ClaimPubKeyHash = claimPubKeyHash

// DefaultMaxEvidenceSize caps an evidence or endorsements extension.
const DefaultMaxEvidenceSize = defaultMaxEvidenceSize

// Sentinel errors, wrapped with the details.
var (
	// ErrMalformed is wrapped for undecodable extensions and claims.
	ErrMalformed = errors.New("malformed attestation extension")
	// ErrUnknownTag is wrapped for an evidence tag no verifier knows.
	ErrUnknownTag = errors.New("unknown evidence tag")
	// ErrTooLarge is wrapped when an extension exceeds the size cap.
	ErrTooLarge = errors.New("attestation extension too large")
	// ErrKeyMismatch is wrapped when the claims do not bind the certificate key.
	ErrKeyMismatch = errors.New("pubkey-hash does not match the certificate key")
)

// TagOf returns the CBOR tag of an evidence type.
func TagOf(evType string) (uint64, error) {
	switch evType {
	case "sgx_ecdsa", "tdx_ecdsa":
		return TagIntelTEEQuote, nil
	case "sgx_la":
		return TagSGXLegacyReport, nil
	case "sev_snp":
		return TagSEVSNP, nil
	case "sev":
		return TagSEV, nil
	case "csv":
		return TagCSV, nil
	}
	return 0, fmt.Errorf("evidence type %q has no Interoperable RA-TLS tag", evType)
}

// TypeOf returns the evidence type of a tag; for 60000 the quote header
// tells SGX from TDX.
func TypeOf(tag uint64, evidence []byte) (string, error) {
	switch tag {
	case TagIntelTEEQuote:
		if len(evidence) < 8 {
			return "", fmt.Errorf("%w: Intel quote of %d bytes has no header", ErrMalformed, len(evidence))
		}
		switch tee := binary.LittleEndian.Uint32(evidence[4:8]); tee {
		case 0x00:
			return "sgx_ecdsa", nil
		case 0x81:
			return "tdx_ecdsa", nil
		default:
			return "", fmt.Errorf("%w: Intel quote header names TEE type %#x (want 0x0 SGX or 0x81 TDX)", ErrMalformed, tee)
		}
	case TagSGXLegacyReport:
		return "sgx_la", nil
	case TagSEVSNP:
		return "sev_snp", nil
	case TagSEV:
		return "sev", nil
	case TagCSV:
		return "csv", nil
	}
	return "", fmt.Errorf("%w %d (%#x)", ErrUnknownTag, tag, tag)
}

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	encOpts := cbor.CoreDetEncOptions()
	// A nil slice is an empty byte string, never null: the decoder takes
	// byte strings only.
	encOpts.NilContainers = cbor.NilContainerAsEmpty
	if encMode, err = encOpts.EncMode(); err != nil {
		panic(err)
	}
	decMode, err = cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		MaxNestedLevels:  8,
		MaxArrayElements: 1024,
		MaxMapPairs:      maxClaims,
		IndefLength:      cbor.IndefLengthAllowed,
		TagsMd:           cbor.TagsAllowed,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

// byteString decodes a CBOR byte string and nothing else: decoding into
// []byte would also take null and undefined (as empty), a tag over a byte
// string, and an array of small integers.
type byteString []byte

var majorTypes = [8]string{"unsigned integer", "negative integer", "byte string", "text string", "array", "map", "tag", "simple value or float"}

// UnmarshalCBOR implements cbor.Unmarshaler.
func (b *byteString) UnmarshalCBOR(data []byte) error {
	if len(data) == 0 || data[0]>>5 != 2 {
		mt := "nothing"
		if len(data) > 0 {
			mt = "a CBOR " + majorTypes[data[0]>>5]
		}
		return fmt.Errorf("%s where a byte string is required", mt)
	}
	var v []byte
	if err := decMode.Unmarshal(data, &v); err != nil {
		return err
	}
	*b = v
	return nil
}

// PubKeyHash is the value of the pubkey-hash claim.
type PubKeyHash struct {
	_    struct{} `cbor:",toarray"`
	Alg  instance.HashAlgorithm
	Hash []byte
}

// Claims are the claims a certificate's evidence vouches for.
type Claims struct {
	// PubKeyHash binds the certificate key.
	PubKeyHash PubKeyHash
	// Custom are the other claims, by name.
	Custom map[string][]byte
}

// EncodeClaims returns the claims bytes: a deterministic CBOR map.
func EncodeClaims(c Claims) ([]byte, error) {
	pk, err := encMode.Marshal(c.PubKeyHash)
	if err != nil {
		return nil, fmt.Errorf("encoding pubkey-hash: %w", err)
	}
	m := make(map[string][]byte, len(c.Custom)+1)
	for k, v := range c.Custom {
		if k == claimPubKeyHash {
			return nil, fmt.Errorf("custom claim %q is reserved", k)
		}
		m[k] = v
	}
	if len(m) >= maxClaims {
		return nil, fmt.Errorf("%d custom claims: at most %d fit", len(c.Custom), maxClaims-1)
	}
	m[claimPubKeyHash] = pk
	return encMode.Marshal(m)
}

// DecodeClaims parses claims bytes (only the first CBOR item counts).
func DecodeClaims(b []byte) (Claims, error) {
	var m map[string]byteString
	if _, err := decMode.UnmarshalFirst(b, &m); err != nil {
		return Claims{}, fmt.Errorf("%w: claims are not a CBOR map of text to bytes: %w", ErrMalformed, err)
	}
	pk, ok := m[claimPubKeyHash]
	if !ok {
		return Claims{}, fmt.Errorf("%w: claims lack %q", ErrMalformed, claimPubKeyHash)
	}
	var c Claims
	var pkh struct {
		_    struct{} `cbor:",toarray"`
		Alg  instance.HashAlgorithm
		Hash byteString
	}
	if _, err := decMode.UnmarshalFirst(pk, &pkh); err != nil {
		return Claims{}, fmt.Errorf("%w: %q is not [alg, hash]: %w", ErrMalformed, claimPubKeyHash, err)
	}
	c.PubKeyHash = PubKeyHash{Alg: pkh.Alg, Hash: pkh.Hash}
	if h := c.PubKeyHash.Alg.CryptoHash(); h == 0 || len(c.PubKeyHash.Hash) != h.Size() {
		return Claims{}, fmt.Errorf("%w: %q names %s with a %d-byte hash", ErrMalformed, claimPubKeyHash, c.PubKeyHash.Alg, len(c.PubKeyHash.Hash))
	}
	delete(m, claimPubKeyHash)
	c.Custom = make(map[string][]byte, len(m))
	for k, v := range m {
		c.Custom[k] = v
	}
	return c, nil
}

// ReportData is what evidence over claims must carry: SHA-256 of the claims
// bytes, zero-padded to instance.ReportDataSize.
func ReportData(claims []byte) []byte {
	rd := make([]byte, instance.ReportDataSize)
	h := sha256.Sum256(claims)
	copy(rd, h[:])
	return rd
}

type taggedEvidence struct {
	_        struct{} `cbor:",toarray"`
	Evidence byteString
	Claims   byteString
}

// EncodeEvidence returns the value of the tagged evidence extension.
func EncodeEvidence(ev instance.Evidence, claims []byte) ([]byte, error) {
	tag, err := TagOf(ev.Type)
	if err != nil {
		return nil, err
	}
	if len(ev.Data) == 0 {
		return nil, fmt.Errorf("%w: empty %s evidence", ErrMalformed, ev.Type)
	}
	// What a reader would take the evidence for must be what it is: an Intel
	// quote's header must name the TEE its type says.
	if got, err := TypeOf(tag, ev.Data); err != nil || got != ev.Type {
		return nil, fmt.Errorf("%w: evidence of type %s reads as %q under tag %d (%v)", ErrMalformed, ev.Type, got, tag, err)
	}
	return encMode.Marshal(cbor.Tag{Number: tag, Content: taggedEvidence{Evidence: ev.Data, Claims: claims}})
}

// EncodeEndorsements returns the value of the endorsements extension: item,
// which must be one CBOR item, tagged with evType's tag.
func EncodeEndorsements(evType string, item []byte) ([]byte, error) {
	tag, err := TagOf(evType)
	if err != nil {
		return nil, err
	}
	if err := decMode.Wellformed(item); err != nil {
		return nil, fmt.Errorf("endorsements of %s are not one CBOR item: %w", evType, err)
	}
	return encMode.Marshal(cbor.RawTag{Number: tag, Content: item})
}

// DecodeEvidence parses a tagged evidence extension value.
func DecodeEvidence(ext []byte) (tag uint64, evidence, claims []byte, err error) {
	var rt cbor.RawTag
	if _, err := decMode.UnmarshalFirst(ext, &rt); err != nil {
		return 0, nil, nil, fmt.Errorf("%w: evidence extension is not a tagged CBOR item: %w", ErrMalformed, err)
	}
	if rt.Content == nil { // cbor.RawTag takes null and undefined for nothing
		return 0, nil, nil, fmt.Errorf("%w: evidence extension is not a tagged CBOR item but null or undefined", ErrMalformed)
	}
	var te taggedEvidence
	if _, err := decMode.UnmarshalFirst(rt.Content, &te); err != nil {
		return 0, nil, nil, fmt.Errorf("%w: tag %d does not hold [evidence, claims]: %w", ErrMalformed, rt.Number, err)
	}
	if len(te.Evidence) == 0 {
		return 0, nil, nil, fmt.Errorf("%w: empty evidence under tag %d", ErrMalformed, rt.Number)
	}
	return rt.Number, te.Evidence, te.Claims, nil
}

// DecodeEndorsements parses an endorsements extension value into its tag and
// the raw CBOR item it tags.
func DecodeEndorsements(ext []byte) (tag uint64, item []byte, err error) {
	var rt cbor.RawTag
	if _, err := decMode.UnmarshalFirst(ext, &rt); err != nil {
		return 0, nil, fmt.Errorf("%w: endorsements extension is not a tagged CBOR item: %w", ErrMalformed, err)
	}
	if rt.Content == nil { // cbor.RawTag takes null and undefined for nothing
		return 0, nil, fmt.Errorf("%w: endorsements extension is not a tagged CBOR item but null or undefined", ErrMalformed)
	}
	return rt.Number, []byte(rt.Content), nil
}

// Format names the carrier the evidence came in.
type Format string

// Carriers.
const (
	FormatNone   Format = "none"
	FormatDICE   Format = "dice"
	FormatCMW    Format = "cmw"
	FormatLegacy Format = "legacy"
)

// Found is the attestation a certificate carries, before verification.
type Found struct {
	// Format is the carrier; FormatNone when the certificate has no
	// evidence (the null attester).
	Format Format
	// Evidence is the raw evidence and its type.
	Evidence instance.Evidence
	// Tag is the CBOR tag (0 for legacy and none).
	Tag uint64
	// ClaimsBytes are the claims exactly as received (nil for legacy).
	ClaimsBytes []byte
	// Claims are the decoded claims (zero for legacy and none).
	Claims Claims
	// Endorsements is the raw CBOR endorsements item, if any.
	Endorsements []byte
	// ReportData is what the evidence must carry to be bound to this
	// certificate.
	ReportData []byte
}

// Find extracts and binds the evidence of cert: it decodes the extension,
// checks the pubkey-hash claim against the certificate key (in constant
// time) and computes the report data the evidence must carry. maxSize caps
// each extension (0: DefaultMaxEvidenceSize). A certificate without evidence
// gives Format none and no error.
func Find(cert *x509.Certificate, maxSize int) (*Found, error) {
	if maxSize <= 0 {
		maxSize = DefaultMaxEvidenceSize
	}
	var dice, cmw, endorse []byte
	var legacy []int
	var legacyVals [][]byte
	for _, e := range cert.Extensions {
		var dst *[]byte
		switch {
		case e.Id.Equal(OIDTaggedEvidence):
			dst = &dice
		case e.Id.Equal(OIDCMW):
			dst = &cmw
		case e.Id.Equal(OIDEndorsementManifest):
			dst = &endorse
		default:
			for i, l := range legacyOIDs {
				if e.Id.Equal(l.oid) {
					legacy, legacyVals = append(legacy, i), append(legacyVals, e.Value)
				}
			}
			continue
		}
		if len(e.Value) > maxSize {
			return nil, fmt.Errorf("%w: extension %s has %d bytes, the cap is %d", ErrTooLarge, e.Id, len(e.Value), maxSize)
		}
		if *dst != nil {
			return nil, fmt.Errorf("%w: extension %s appears twice", ErrMalformed, e.Id)
		}
		*dst = e.Value
	}
	carriers := len(legacy)
	if dice != nil {
		carriers++
	}
	if cmw != nil {
		carriers++
	}
	switch {
	case carriers == 0:
		return &Found{Format: FormatNone, Evidence: instance.Evidence{Type: instance.EvidenceTypeNull}}, nil
	case carriers > 1:
		return nil, fmt.Errorf("%w: the certificate carries %d evidence extensions; exactly one is allowed", ErrMalformed, carriers)
	case len(legacy) == 1:
		return findLegacy(cert, legacyOIDs[legacy[0]].evType, legacyVals[0], maxSize)
	}
	format, ext := FormatDICE, dice
	if cmw != nil {
		format = FormatCMW
		var err error
		if ext, err = unwrapCMW(cmw); err != nil {
			return nil, err
		}
	}
	return Bind(cert, format, ext, endorse)
}

// Bind decodes a tagged evidence value (and, when not nil, an endorsements
// value) that belongs to cert, wherever it travelled: in cert's extensions
// or in a message after the handshake. It checks the pubkey-hash claim
// against cert's key in constant time and computes the report data the
// evidence must carry. Size caps are the caller's.
func Bind(cert *x509.Certificate, format Format, evidence, endorsements []byte) (*Found, error) {
	tag, ev, claims, err := DecodeEvidence(evidence)
	if err != nil {
		return nil, err
	}
	evType, err := TypeOf(tag, ev)
	if err != nil {
		return nil, err
	}
	f := &Found{Format: format, Tag: tag, Evidence: instance.Evidence{Type: evType, Data: ev}, ClaimsBytes: claims}
	if f.Claims, err = DecodeClaims(claims); err != nil {
		return nil, err
	}
	if err := checkKey(cert, f.Claims.PubKeyHash); err != nil {
		return nil, err
	}
	f.ReportData = ReportData(claims)
	if endorsements != nil {
		etag, item, err := DecodeEndorsements(endorsements)
		if err != nil {
			return nil, err
		}
		if etag != tag {
			return nil, fmt.Errorf("%w: endorsements tagged %d but evidence tagged %d", ErrMalformed, etag, tag)
		}
		f.Endorsements = item
	}
	return f, nil
}

func checkKey(cert *x509.Certificate, pk PubKeyHash) error {
	h := pk.Alg.CryptoHash()
	d := h.New()
	d.Write(cert.RawSubjectPublicKeyInfo)
	if subtle.ConstantTimeCompare(d.Sum(nil), pk.Hash) != 1 {
		return fmt.Errorf("%w (%s over the SubjectPublicKeyInfo)", ErrKeyMismatch, pk.Alg)
	}
	return nil
}

func findLegacy(cert *x509.Certificate, evType string, ev []byte, maxSize int) (*Found, error) {
	if len(ev) > maxSize {
		return nil, fmt.Errorf("%w: legacy %s extension has %d bytes, the cap is %d", ErrTooLarge, evType, len(ev), maxSize)
	}
	if len(ev) == 0 {
		return nil, fmt.Errorf("%w: empty legacy %s extension", ErrMalformed, evType)
	}
	// Rats-TLS before 0.6 put SHA-256 of the public key in the report data:
	// of the SubjectPublicKeyInfo for EC keys, of the PKCS #1 key for RSA.
	keyDER := cert.RawSubjectPublicKeyInfo
	if cert.PublicKeyAlgorithm == x509.RSA {
		var spki struct {
			Alg asn1.RawValue
			Key asn1.BitString
		}
		if _, err := asn1.Unmarshal(cert.RawSubjectPublicKeyInfo, &spki); err != nil {
			return nil, fmt.Errorf("%w: RSA SubjectPublicKeyInfo: %w", ErrMalformed, err)
		}
		keyDER = spki.Key.Bytes
	}
	return &Found{
		Format:     FormatLegacy,
		Evidence:   instance.Evidence{Type: evType, Data: ev},
		ReportData: ReportData(keyDER),
	}, nil
}

// unwrapCMW returns the tagged evidence held by a CBOR CMW: either a CMW
// record [type, value, ?indicator] whose value is the tagged evidence, or the
// tagged evidence itself (a tagged CMW whose tag is an evidence tag).
func unwrapCMW(b []byte) ([]byte, error) {
	var raw cbor.RawMessage
	if _, err := decMode.UnmarshalFirst(b, &raw); err != nil {
		return nil, fmt.Errorf("%w: CMW extension is not CBOR: %w", ErrMalformed, err)
	}
	if len(raw) > 0 && raw[0]>>5 == 6 { // major type 6: a tag
		return raw, nil
	}
	var rec []cbor.RawMessage
	if err := decMode.Unmarshal(raw, &rec); err != nil || len(rec) < 2 || len(rec) > 3 {
		return nil, fmt.Errorf("%w: CMW is neither a record [type, value, ?ind] nor tagged evidence", ErrMalformed)
	}
	var value byteString
	if err := decMode.Unmarshal(rec[1], &value); err != nil {
		return nil, fmt.Errorf("%w: CMW value is not a byte string: %w", ErrMalformed, err)
	}
	return value, nil
}

// attestationMessage is the evidence a peer sends after the handshake in
// exporter mode: the same values the certificate extensions would hold.
type attestationMessage struct {
	_            struct{} `cbor:",toarray"`
	Evidence     byteString
	Endorsements byteString
}

// EncodeMessage returns the post-handshake attestation message carrying a
// tagged evidence value and an endorsements value (either may be empty:
// no evidence is the null attester).
func EncodeMessage(evidence, endorsements []byte) ([]byte, error) {
	return encMode.Marshal(attestationMessage{Evidence: evidence, Endorsements: endorsements})
}

// DecodeMessage parses a post-handshake attestation message; empty values
// come back nil.
func DecodeMessage(b []byte) (evidence, endorsements []byte, err error) {
	if len(b) == 0 || b[0]>>5 != 4 { // major type 4: an array, untagged
		return nil, nil, fmt.Errorf("%w: attestation message is not [evidence, endorsements]: not an untagged array", ErrMalformed)
	}
	var m attestationMessage
	rest, err := decMode.UnmarshalFirst(b, &m)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: attestation message is not [evidence, endorsements]: %w", ErrMalformed, err)
	}
	if len(rest) != 0 {
		return nil, nil, fmt.Errorf("%w: %d stray bytes after the attestation message", ErrMalformed, len(rest))
	}
	if len(m.Evidence) > 0 {
		evidence = m.Evidence
	}
	if len(m.Endorsements) > 0 {
		endorsements = m.Endorsements
	}
	return evidence, endorsements, nil
}
