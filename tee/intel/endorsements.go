package intel

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"github.com/fxamacker/cbor/v2"
)

// CollateralVersionDER is the endorsements version this package writes:
// the C sgx_ql_qve_collateral_t version 3.1 (major 3 in the low 16 bits,
// minor 1 in the high 16 bits), whose CRLs are DER.
const CollateralVersionDER uint32 = 0x0001_0003

var endorsementsDec = func() cbor.DecMode {
	m, err := cbor.DecOptions{
		MaxNestedLevels:  4,
		MaxArrayElements: 16,
		MaxMapPairs:      16,
		IndefLength:      cbor.IndefLengthForbidden,
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return m
}()

// DecodeEndorsements reads the endorsements item of evidence types
// "sgx_ecdsa" and "tdx_ecdsa" (the content of the CBOR tag that
// framework/dice strips), as the C Rats-TLS writes it: a definite-length
// array of 8 or 9 items,
//
//	[ version: uint, tcb_info: bstr, tcb_info_issuer_chain: bstr,
//	  pck_crl: bstr, root_ca_crl: bstr, pck_crl_issuer_chain: bstr,
//	  qe_identity: bstr, qe_identity_issuer_chain: bstr,
//	  ? creation_datetime: bstr / tstr ]
//
// where tcb_info and qe_identity are the PCS response bodies (the signed
// object and its signature), the strings may end in NUL bytes, and the
// CRLs are DER, PEM or hex. Bytes after the array are refused.
func DecodeEndorsements(item []byte) (*Collateral, error) {
	if len(item) > MaxCollateralSize {
		return nil, fmt.Errorf("%w: %d bytes of endorsements, the cap is %d", ErrMalformedCollateral, len(item), MaxCollateralSize)
	}
	var items []cbor.RawMessage
	if err := endorsementsDec.Unmarshal(item, &items); err != nil {
		return nil, fmt.Errorf("%w: endorsements are not a CBOR array: %w", ErrMalformedCollateral, err)
	}
	if len(items) != 8 && len(items) != 9 {
		return nil, fmt.Errorf("%w: the endorsements array has %d items, want 8 or 9", ErrMalformedCollateral, len(items))
	}
	c := &Collateral{}
	var version uint64
	if err := endorsementsDec.Unmarshal(items[0], &version); err != nil || version > 0xffffffff {
		return nil, fmt.Errorf("%w: endorsements item 0 (version) is not a 32-bit unsigned integer: %v", ErrMalformedCollateral, errOr(err, version))
	}
	c.Version = uint32(version)
	names := []string{"", "tcb_info", "tcb_info_issuer_chain", "pck_crl", "root_ca_crl", "pck_crl_issuer_chain", "qe_identity", "qe_identity_issuer_chain"}
	outs := []*[]byte{nil, &c.TCBInfo, &c.TCBInfoIssuerChain, &c.PCKCRL, &c.RootCACRL, &c.PCKCRLIssuerChain, &c.QEIdentity, &c.QEIdentityIssuerChain}
	for i := 1; i < 8; i++ {
		if len(items[i]) == 0 || items[i][0]>>5 != 2 {
			return nil, fmt.Errorf("%w: endorsements item %d (%s) is not a byte string", ErrMalformedCollateral, i, names[i])
		}
		if err := endorsementsDec.Unmarshal(items[i], outs[i]); err != nil {
			return nil, fmt.Errorf("%w: endorsements item %d (%s): %w", ErrMalformedCollateral, i, names[i], err)
		}
	}
	if len(items) == 9 {
		if mt := items[8][0] >> 5; mt != 2 && mt != 3 {
			return nil, fmt.Errorf("%w: endorsements item 8 (creation datetime) is CBOR major type %d, want a byte or text string", ErrMalformedCollateral, mt)
		}
		var b []byte
		if err := endorsementsDec.Unmarshal(items[8], &b); err != nil {
			var s string
			if err := endorsementsDec.Unmarshal(items[8], &s); err != nil {
				return nil, fmt.Errorf("%w: endorsements item 8 (creation datetime): %w", ErrMalformedCollateral, err)
			}
			b = []byte(s)
		}
		c.CreationDatetime = string(trimNUL(b))
	}
	for _, f := range []struct {
		name string
		b    *[]byte
	}{{"pck_crl", &c.PCKCRL}, {"root_ca_crl", &c.RootCACRL}} {
		if len(trimNUL(*f.b)) == 0 {
			*f.b = nil
			continue
		}
		der, err := crlDER(f.name, *f.b)
		if err != nil {
			return nil, err
		}
		*f.b = der
	}
	if len(c.PCKCRLIssuerChain) > 0 && len(trimNUL(c.PCKCRLIssuerChain)) == 0 {
		c.PCKCRLIssuerChain = nil
	}
	if err := c.normalize(); err != nil {
		return nil, err
	}
	return c, nil
}

func errOr(err error, v uint64) string {
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%d", v)
}

func trimNUL(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return b
}

// EncodeEndorsements writes c as the endorsements item DecodeEndorsements
// reads and the C Rats-TLS verifier accepts: version as a 4-byte unsigned
// integer (CollateralVersionDER when c.Version is 0), tcb_info and
// qe_identity as PCS response bodies, every text item NUL-terminated as C
// strings are, CRLs in DER, and CreationDatetime, when set, as a ninth
// item. framework/dice tags it with the evidence's tag.
func EncodeEndorsements(c *Collateral) ([]byte, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: no collateral to encode", ErrMalformedCollateral)
	}
	probe := *c
	if err := probe.normalize(); err != nil {
		return nil, err
	}
	version := c.Version
	if version == 0 {
		version = CollateralVersionDER
	}
	n := byte(8)
	if c.CreationDatetime != "" {
		n = 9
	}
	out := []byte{0x80 | n, 0x1a, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(out[2:], version)
	cstr := func(b []byte) []byte {
		if len(b) == 0 {
			return nil
		}
		return append(trimNUL(b), 0)
	}
	tcb := pcsResponse("tcbInfo", probe.TCBInfo, probe.TCBInfoSignature)
	qe := pcsResponse("enclaveIdentity", probe.QEIdentity, probe.QEIdentitySignature)
	for _, b := range [][]byte{cstr(tcb), cstr(probe.TCBInfoIssuerChain), c.PCKCRL, c.RootCACRL,
		cstr(probe.PCKCRLIssuerChain), cstr(qe), cstr(probe.QEIdentityIssuerChain)} {
		out = appendBstr(out, b)
	}
	if n == 9 {
		out = appendBstr(out, []byte(c.CreationDatetime))
	}
	return out, nil
}

// pcsResponse rebuilds a PCS response body around a signed object.
func pcsResponse(key string, body, sig []byte) []byte {
	out := make([]byte, 0, len(body)+len(key)+2*len(sig)+32)
	out = append(out, `{"`...)
	out = append(out, key...)
	out = append(out, `":`...)
	out = append(out, body...)
	out = append(out, `,"signature":"`...)
	out = hex.AppendEncode(out, sig)
	return append(out, `"}`...)
}

// appendBstr appends b as a definite-length CBOR byte string.
func appendBstr(out, b []byte) []byte {
	n := uint64(len(b))
	switch {
	case n < 24:
		out = append(out, 0x40|byte(n))
	case n <= 0xff:
		out = append(out, 0x58, byte(n))
	case n <= 0xffff:
		out = append(out, 0x59, byte(n>>8), byte(n))
	default:
		out = append(out, 0x5a, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(out, b...)
}
