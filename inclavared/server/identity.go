package server

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"

	"github.com/inclavare/inclavare/appraisal/reference"
	"github.com/inclavare/inclavare/framework/ratstls"
	"github.com/inclavare/inclavare/inclavared/api"
)

// tls13 is what a TLS 1.3 session reports as its version.
const tls13 = "TLS 1.3"

// WorkloadError is why inclavared has no verified workload for a session.
type WorkloadError struct {
	// Reason is one of the api.Reason constants.
	Reason string
	// Err is the failure.
	Err error
}

// Error says what failed; Reason is not repeated.
func (e *WorkloadError) Error() string { return e.Err.Error() }

// Unwrap returns the failure.
func (e *WorkloadError) Unwrap() error { return e.Err }

// PolicyError marks a refusal by the appraisal policy (the workload
// configuration's VerifyPeer), so that it is told apart from evidence that
// did not verify.
type PolicyError struct{ Err error }

// Error is the policy's refusal.
func (e *PolicyError) Error() string { return e.Err.Error() }

// Unwrap returns the policy's refusal.
func (e *PolicyError) Unwrap() error { return e.Err }

// reason classifies a failure to connect to and attest the workload.
func reason(err error) string {
	var we *WorkloadError
	var pe *PolicyError
	var oe *net.OpError
	switch {
	case errors.As(err, &we):
		return we.Reason
	case errors.Is(err, ratstls.ErrNoEvidence):
		return api.ReasonNoEvidence
	case errors.Is(err, ratstls.ErrBadCertificate):
		return api.ReasonBadCertificate
	case errors.As(err, &pe):
		return api.ReasonPolicy
	case errors.Is(err, ratstls.ErrFreshness):
		return api.ReasonFreshness
	case errors.Is(err, ratstls.ErrRefused):
		return api.ReasonRefused
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return api.ReasonTimeout
	case errors.Is(err, ratstls.ErrClosed) || errors.Is(err, context.Canceled):
		return api.ReasonShutdown
	case errors.As(err, &oe) && oe.Op == "dial":
		return api.ReasonUnreachable
	default:
		return api.ReasonHandshake
	}
}

// Identity is the workload's verified identity on conn, a completed client
// handshake: the GETENCLAVEINFO answer. It fails closed: a workload that
// was not attested (accepted by the null verifier), whose evidence type
// has no launch measurements, or whose channel is not TLS 1.3 has no
// identity, and the error is a *WorkloadError.
func Identity(conn *ratstls.Conn) (*api.EnclaveInfo, error) {
	s := conn.Session()
	if s == nil {
		return nil, &WorkloadError{api.ReasonHandshake, errors.New("the handshake has not completed")}
	}
	if v := s.Version(); v != tls13 {
		return nil, &WorkloadError{api.ReasonNotTLS13, fmt.Errorf("the channel is %s; inclavared forwards only over TLS 1.3 (do not use the nulltls wrapper)", v)}
	}
	p := conn.Peer()
	if p == nil || !p.Attested {
		return nil, &WorkloadError{api.ReasonUnattested, errors.New("the workload presented no verified evidence; inclavared vouches only for attested workloads")}
	}
	vals, err := reference.Measurements(p.EvidenceType, p.Claims)
	if err != nil {
		return nil, &WorkloadError{api.ReasonNoMeasurement, fmt.Errorf("identifying the workload: %w", err)}
	}
	info := &api.EnclaveInfo{
		ID:           p.EvidenceType + ":" + vals.Measurements[reference.Primary(p.EvidenceType)],
		MsgType:      api.MsgEnclaveInfo,
		Version:      api.Version,
		EvidenceType: p.EvidenceType,
		Freshness:    string(conn.Freshness()),
		Verifier:     p.Verifier,
		Measurements: vals.Measurements,
		Claims:       maps.Clone(map[string]any(p.Claims)),
		Evidence:     p.Evidence,
		Endorsements: p.Endorsements,
	}
	if p.Certificate != nil {
		info.Certificate = p.Certificate.Raw
	}
	return info, nil
}

// errorInfo is the GETENCLAVEINFO answer when there is no verified
// workload.
func errorInfo(err error) *api.EnclaveInfo {
	return &api.EnclaveInfo{MsgType: api.MsgError, Version: api.Version, Error: err.Error(), Reason: reason(err)}
}
