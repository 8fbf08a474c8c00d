// Package api is the protocol between shelter and inclavared on the
// attested channel, after the Rats-TLS handshake.
//
// The channel carries the workload's own bytes, forwarded both ways, with
// one exception: when the first bytes shelter sends are exactly
// [GetEnclaveInfoLine], or a [GetEnclaveInfoNonceLine], inclavared consumes
// them and answers with one line of JSON, an [EnclaveInfo] (or an
// [EnclaveInfo] whose MsgType is [MsgError]), before it forwards anything.
// Everything after that line, and everything on a channel that does not
// start with it, is the workload's.
//
// With a nonce, inclavared attests the workload in nonce mode with
// shelter's nonce (ratstls.Conn.UseNonce): the workload's evidence, in its
// certificate, is then bound to a value shelter chose for this session,
// and shelter checks its freshness itself.
//
// EnclaveInfo carries the workload's leaf certificate, evidence and
// endorsements as inclavared received them, so shelter re-verifies the
// workload's evidence itself and does not have to take inclavared's word
// for it. An error answer says why in Error, and classifies it in Reason.
package api

import (
	"encoding/hex"
	"strings"
)

// Message types.
const (
	// TypeGetEnclaveInfo asks inclavared for the workload's identity.
	TypeGetEnclaveInfo = "GETENCLAVEINFO"
	// MsgEnclaveInfo answers TypeGetEnclaveInfo.
	MsgEnclaveInfo = "ENCLAVEINFO"
	// MsgError answers TypeGetEnclaveInfo when there is no verified
	// workload to describe; Error says why.
	MsgError = "ERROR"
	// Version is the version of EnclaveInfo.
	Version = 1
)

// GetEnclaveInfoLine is the exact request, a JSON object and a newline.
const GetEnclaveInfoLine = `{"type":"GETENCLAVEINFO"}` + "\n"

// NonceSize is the size of a request's nonce.
const NonceSize = 32

// nonceLinePrefix and nonceLineSuffix frame the hex nonce of a request.
const (
	nonceLinePrefix = `{"type":"GETENCLAVEINFO","nonce":"`
	nonceLineSuffix = `"}` + "\n"
	// NonceLineSize is the length of every GetEnclaveInfoNonceLine.
	NonceLineSize = len(nonceLinePrefix) + 2*NonceSize + len(nonceLineSuffix)
)

// GetEnclaveInfoNonceLine is the request with nonce (NonceSize bytes), in
// lower-case hex: exactly NonceLineSize bytes.
func GetEnclaveInfoNonceLine(nonce [NonceSize]byte) string {
	return nonceLinePrefix + hex.EncodeToString(nonce[:]) + nonceLineSuffix
}

// ParseNonceLine reads a GetEnclaveInfoNonceLine; ok is false for
// anything else (upper-case hex included: the line has one spelling).
func ParseNonceLine(b []byte) (nonce [NonceSize]byte, ok bool) {
	if len(b) != NonceLineSize || !strings.HasPrefix(string(b), nonceLinePrefix) || !strings.HasSuffix(string(b), nonceLineSuffix) {
		return nonce, false
	}
	h := b[len(nonceLinePrefix) : len(nonceLinePrefix)+2*NonceSize]
	for _, c := range h {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return nonce, false
		}
	}
	if _, err := hex.Decode(nonce[:], h); err != nil {
		return nonce, false
	}
	return nonce, true
}

// Request is a request from shelter.
type Request struct {
	// Type is TypeGetEnclaveInfo.
	Type string `json:"type"`
	// Nonce, when present, is the nonce (hex) the workload's evidence must
	// be bound to.
	Nonce string `json:"nonce,omitempty"`
}

// EnclaveInfo is the verified identity of the workload behind inclavared.
type EnclaveInfo struct {
	// ID identifies the workload: its evidence type and primary launch
	// measurement, "sev_snp:<hex>" for example.
	ID string `json:"id"`
	// MsgType is MsgEnclaveInfo, or MsgError.
	MsgType string `json:"msgtype"`
	// Version is [Version].
	Version int `json:"version"`
	// EvidenceType is the type of the workload's evidence.
	EvidenceType string `json:"evidence_type,omitempty"`
	// Freshness is the freshness mode of inclavared's channel to the
	// workload (none, nonce or exporter).
	Freshness string `json:"freshness,omitempty"`
	// Verifier names the verifier inclavared used.
	Verifier string `json:"verifier,omitempty"`
	// Measurements are the launch measurements of the workload's TEE
	// (claim name to hex), as in appraisal/reference.
	Measurements map[string]string `json:"measurements,omitempty"`
	// Claims are all the claims inclavared's verifier produced.
	Claims map[string]any `json:"claims,omitempty"`
	// Certificate is the workload's DER leaf certificate, which carries
	// its evidence (base64 in JSON).
	Certificate []byte `json:"certificate,omitempty"`
	// Evidence and Endorsements are the workload's evidence and
	// endorsements as inclavared received them (base64 in JSON). In
	// exporter freshness mode the certificate carries no evidence, so
	// these are what shelter re-verifies.
	Evidence     []byte `json:"evidence,omitempty"`
	Endorsements []byte `json:"endorsements,omitempty"`
	// Error says why there is no identity (MsgType MsgError).
	Error string `json:"error,omitempty"`
	// Reason classifies Error for programs (MsgType MsgError): one of
	// the Reason constants.
	Reason string `json:"reason,omitempty"`
}

// Reasons an EnclaveInfo of MsgType MsgError gives, in Reason. They are
// also the reason label of inclavared's verification failure metric.
const (
	// ReasonUnreachable: inclavared could not connect to the workload.
	ReasonUnreachable = "unreachable"
	// ReasonTimeout: connecting to or attesting the workload took too long.
	ReasonTimeout = "timeout"
	// ReasonNoEvidence: the workload presented no evidence.
	ReasonNoEvidence = "no_evidence"
	// ReasonBadCertificate: the workload's certificate was refused.
	ReasonBadCertificate = "bad_certificate"
	// ReasonPolicy: the appraisal policy refused the workload.
	ReasonPolicy = "policy"
	// ReasonRefused: the workload's evidence did not verify.
	ReasonRefused = "refused"
	// ReasonFreshness: no freshness mode both sides accept.
	ReasonFreshness = "freshness"
	// ReasonUnattested: the workload was accepted without evidence.
	ReasonUnattested = "unattested"
	// ReasonNoMeasurement: the workload's evidence type has no launch
	// measurements to identify it by.
	ReasonNoMeasurement = "no_measurement"
	// ReasonNotTLS13: the channel to the workload is not TLS 1.3.
	ReasonNotTLS13 = "not_tls13"
	// ReasonHandshake: any other failure of the handshake.
	ReasonHandshake = "handshake"
	// ReasonShutdown: inclavared is stopping.
	ReasonShutdown = "shutdown"
)
