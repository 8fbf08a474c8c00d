package plugin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/inclavare/inclavare/framework/instance"
	pb "github.com/inclavare/inclavare/framework/plugin/proto"
)

// verifier is the host-side proxy of a verifier plugin.
type verifier struct{ *proxy }

var _ instance.Verifier = (*verifier)(nil)

// Verify asks the plugin to check ev. A refusal carries the verifier's own
// reason.
func (v *verifier) Verify(ctx context.Context, ev instance.Evidence, reportData, endorsements []byte) (instance.Claims, error) {
	var claims instance.Claims
	err := v.p.call(ctx, "Verify", func(ctx context.Context, s *session) error {
		resp, err := pb.NewVerifierClient(s.conn).Verify(ctx, &pb.VerifyRequest{
			Evidence:     &pb.Evidence{Type: ev.Type, Data: ev.Data},
			ReportData:   reportData,
			Endorsements: endorsements,
		})
		if err != nil {
			return err
		}
		c, err := decodeClaims(resp.GetClaims())
		if err != nil {
			return &malformed{err.Error()}
		}
		claims = c
		return nil
	})
	return claims, err
}

// encodeClaims writes claims as a JSON object.
func encodeClaims(c instance.Claims) ([]byte, error) {
	if c == nil {
		c = instance.Claims{}
	}
	out, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encoding claims: %w", err)
	}
	return out, nil
}

// decodeClaims reads a JSON object of claims. Values must be strings,
// booleans or integers; integers become int64, or uint64 when they do not
// fit, as instance.Claims requires.
func decodeClaims(data []byte) (instance.Claims, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("claims are not a JSON object: %v", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("claims have data after the JSON object")
	}
	claims := make(instance.Claims, len(raw))
	for k, v := range raw {
		switch v := v.(type) {
		case string, bool:
			claims[k] = v
		case json.Number:
			n, err := integer(v)
			if err != nil {
				return nil, fmt.Errorf("claim %q: %v", k, err)
			}
			claims[k] = n
		default:
			return nil, fmt.Errorf("claim %q is a %T; claims are strings, booleans or integers", k, v)
		}
	}
	return claims, nil
}

func integer(n json.Number) (any, error) {
	if i, err := strconv.ParseInt(n.String(), 10, 64); err == nil {
		return i, nil
	}
	if u, err := strconv.ParseUint(n.String(), 10, 64); err == nil {
		return u, nil
	}
	// An integral value written with an exponent or a fraction, like 1e3.
	if f, err := n.Float64(); err == nil && f == math.Trunc(f) {
		switch {
		case f >= math.MinInt64 && f < math.MaxInt64:
			return int64(f), nil
		case f >= 0 && f < math.MaxUint64:
			return uint64(f), nil
		}
	}
	return nil, fmt.Errorf("number %s is not an int64 or uint64", n)
}

// verifierServer serves a verifier in a plugin process.
type verifierServer struct {
	*server
	verifierUnimplemented
}

type verifierUnimplemented struct{ pb.UnimplementedVerifierServer }

func (s *verifierServer) Verify(ctx context.Context, req *pb.VerifyRequest) (*pb.VerifyResponse, error) {
	v, err := instanceOf[instance.Verifier](s.server)
	if err != nil {
		return nil, err
	}
	e := req.GetEvidence()
	var endorsements []byte
	if len(req.GetEndorsements()) > 0 {
		endorsements = req.GetEndorsements()
	}
	claims, err := v.Verify(ctx, instance.Evidence{Type: e.GetType(), Data: e.GetData()}, req.GetReportData(), endorsements)
	if err != nil {
		return nil, toStatus(err)
	}
	out, err := encodeClaims(claims)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.VerifyResponse{Claims: out}, nil
}
