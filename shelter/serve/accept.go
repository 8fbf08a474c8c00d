package serve

import (
	"errors"
	"mime"
	"strconv"
	"strings"
)

// Media types of the verification responses.
const (
	// MediaTypeJSON is the EAR result as JSON (appraisal/ear).
	MediaTypeJSON = "application/json"
	// MediaTypeCOSE is the EAR result signed as COSE_Sign1 by the
	// service's key (RFC 9052 media type with its cose-type parameter).
	MediaTypeCOSE = `application/cose; cose-type="cose-sign1"`
)

// format is the encoding of a verification response.
type format int

const (
	formatJSON format = iota
	formatCOSE
)

// errNotAcceptable is returned by negotiate when the Accept header allows
// neither response format.
var errNotAcceptable = errors.New("the Accept header allows neither " + MediaTypeJSON + " nor " + MediaTypeCOSE)

// maxAcceptItems bounds the work one Accept header can cause.
const maxAcceptItems = 32

// negotiate picks the response format for an Accept header: the acceptable
// media range with the highest q, a specific type before a wildcard, the
// earliest on a tie. No header means JSON; wildcards mean JSON;
// "application/cose" without a cose-type, or with cose-type="cose-sign1",
// means COSE_Sign1. Items that do not parse are ignored.
func negotiate(accept string) (format, error) {
	if strings.TrimSpace(accept) == "" {
		return formatJSON, nil
	}
	best, bestQ, bestSpecific, found := formatJSON, -1.0, false, false
	for i, item := range strings.Split(accept, ",") {
		if i == maxAcceptItems {
			break
		}
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(item))
		if err != nil {
			continue
		}
		q := 1.0
		if s, ok := params["q"]; ok {
			if q, err = strconv.ParseFloat(s, 64); err != nil || q < 0 || q > 1 {
				continue
			}
		}
		if q == 0 {
			continue
		}
		var f format
		specific := true
		switch mt {
		case "application/cose":
			if ct, ok := params["cose-type"]; ok && ct != "cose-sign1" {
				continue
			}
			f = formatCOSE
		case MediaTypeJSON:
			f = formatJSON
		case "*/*", "application/*":
			f, specific = formatJSON, false
		default:
			continue
		}
		if q > bestQ || (q == bestQ && specific && !bestSpecific) {
			best, bestQ, bestSpecific, found = f, q, specific, true
		}
	}
	if !found {
		return 0, errNotAcceptable
	}
	return best, nil
}
