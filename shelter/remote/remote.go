// Package remote is the library behind "shelter remoteattestation": it
// attests a confidential workload through inclavared, from outside the
// cloud, and appraises it.
//
// The steps, each checked by shelter itself:
//
//  1. Connect to inclavared (Options.Addr, tcp://HOST:PORT or unix://PATH)
//     and complete a Rats-TLS handshake (Options.Config): inclavared
//     attests itself, and its verified attestation is Result.Channel.
//     A refused attestation wraps ErrVerification; a network failure
//     ErrConnection.
//  2. Ask for the workload's identity (inclavared/api: GetEnclaveInfoLine)
//     and read the one-line answer, an api.EnclaveInfo (ParseEnclaveInfo).
//  3. Re-verify the workload: EnclaveInfo.Certificate is the workload's
//     leaf certificate. When it carries the evidence (freshness none or
//     nonce on inclavared's channel to the workload), the evidence is bound
//     to its key and shelter/verify checks it exactly as "shelter verify"
//     checks a certificate, with Options.Verify. In exporter mode the
//     evidence followed the handshake, bound to a TLS session shelter
//     cannot see; EnclaveInfo.Evidence and Endorsements carry it, and it
//     is verified as raw evidence: genuine, but bound to nothing shelter
//     can check (Result.Bound false), so at best a warning. Nothing else
//     inclavared says is believed: its evidence type, identity,
//     measurements and evidence must equal those of the verified
//     certificate, or the result is a verification failure (an
//     inclavared that lies is as bad as evidence that does not verify).
//  4. Appraise: verify's appraisal (Options.Verify.Policy, else the
//     default), then the reference values (Options.Reference,
//     appraisal/reference Values.Check): a mismatch makes the result
//     contraindicated. Result.Workload.Appraisal is the EAR result.
//  5. Only when the verdict is accepted and Options.Message is set: send
//     the message to the workload and read one line of reply
//     (Result.Reply).
//
// What the verdict proves: the workload's evidence is genuine (bound to the
// workload's certificate key, when Result.Bound), and its launch
// measurements are those appraised. inclavared's channel to the workload used that key; shelter
// cannot see that channel, so it relies on inclavared (itself attested in
// step 1) to have forwarded the certificate of the workload it talks to.
// The certificate's evidence carries no freshness for shelter: its
// appraisal's freshness is "none".
//
// The context bounds everything: the handshake, the exchange and the reply.
package remote

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/inclavare/inclavare/appraisal/ear"
	appref "github.com/inclavare/inclavare/appraisal/reference"
	"github.com/inclavare/inclavare/framework/dice"
	"github.com/inclavare/inclavare/framework/ratstls"
	"github.com/inclavare/inclavare/inclavared/api"
	"github.com/inclavare/inclavare/shelter/verify"
	"github.com/inclavare/inclavare/tee/intel"
	snp "github.com/inclavare/inclavare/tee/sevsnp"
)

// tls13 is what a TLS 1.3 session reports as its version.
const tls13 = "TLS 1.3"

// Limits on what inclavared and the workload may send.
const (
	// MaxInfoSize caps the EnclaveInfo line (a certificate with evidence
	// and endorsements, in base64, is a few tens of KiB).
	MaxInfoSize = 1 << 20
	// MaxReplySize caps the workload's reply to Options.Message.
	MaxReplySize = 64 << 10
)

var (
	// ErrVerification is wrapped when the workload or inclavared could not
	// be verified: inclavared's attestation refused; an error, malformed
	// or inconsistent EnclaveInfo; a certificate without evidence or whose
	// evidence does not verify (then verify.ErrVerification is wrapped
	// too).
	ErrVerification = errors.New("remote attestation failed")
	// ErrConnection is wrapped when talking to inclavared failed: no
	// connection, a timeout, a connection closed early.
	ErrConnection = errors.New("connection to inclavared failed")
	// ErrMessage is wrapped when sending Options.Message or reading the
	// reply failed, after the verdict.
	ErrMessage = errors.New("exchanging the message with the workload failed")
)

// Options configure Attest.
type Options struct {
	// Addr is inclavared's address: tcp://HOST:PORT or unix://PATH.
	Addr string
	// Config is the Rats-TLS configuration of the channel to inclavared
	// (required): which verifier accepts inclavared, whether shelter
	// attests itself (Mutual), a VerifyPeer callback appraising
	// inclavared.
	Config *ratstls.Config
	// Verify configures the verification and appraisal of the workload's
	// evidence: Policy, AllowSimulated, Collateral, Now. Type must be
	// empty or auto, and ReportData nil: the certificate's key is what
	// the evidence must be bound to.
	Verify verify.Options
	// Reference, when not nil, are the launch measurements the workload
	// must have.
	Reference *appref.Values
	// ReferenceName names Reference in the verdict's reasons (the
	// workload name they were recorded under).
	ReferenceName string
	// Message, when not empty, is sent to the workload after an accepted
	// verdict (a newline is added if it has none), and one line of reply
	// is read into Result.Reply.
	Message []byte
	// Nonce, when set, is the nonce the workload's evidence must carry
	// (Attest sets a fresh one for every attestation and sends it to
	// inclavared, which attests the workload with it).
	Nonce []byte
	// NoNonce makes Attest send the request without a nonce (an
	// inclavared that predates them, or a test replaying fixed answers):
	// the workload's evidence is then not known to be fresh.
	NoNonce bool
	// Logger gets one line per attestation (nil: none).
	Logger *slog.Logger
}

// Result is what Attest found.
type Result struct {
	// Addr is inclavared's address.
	Addr string
	// Channel is inclavared's attestation of the channel, as the Rats-TLS
	// handshake verified it; Channel.Appraisal holds the VerifyPeer
	// callback's verdict, if any.
	Channel *ratstls.Peer
	// Info is inclavared's answer as received. Only Certificate is used,
	// and only after verification; the rest was checked against it.
	Info *api.EnclaveInfo
	// Certificate is the workload's leaf certificate.
	Certificate *x509.Certificate
	// Workload is shelter's own verification of the workload's evidence;
	// Workload.Appraisal is the verdict, reference values included.
	Workload *verify.Result
	// ID is the workload's identity, "<evidence type>:<primary
	// measurement>", from the verified evidence.
	ID string
	// Measurements are the verified launch measurements.
	Measurements appref.Values
	// Bound tells that the evidence came in the workload's certificate,
	// bound to its key; false for evidence inclavared forwarded from an
	// exporter-mode channel, bound to a TLS session shelter cannot see.
	Bound bool
	// Fresh tells that the evidence carries Options.Nonce: it was made for
	// this attestation.
	Fresh bool
	// ReferenceChecked tells that Options.Reference was compared.
	ReferenceChecked bool
	// ReferenceError is the mismatch with Options.Reference, if any
	// (wrapping appraisal/reference.ErrMismatch); the verdict is then
	// contraindicated.
	ReferenceError error
	// Reply is the workload's reply to Options.Message, newline included.
	Reply []byte
}

// Accepted reports whether the verdict accepts the workload.
func (r *Result) Accepted() bool { return r.Workload.Appraisal.Status.Accepted() }

// ParseAddr splits "tcp://HOST:PORT" or "unix://PATH" into a network and
// an address to dial.
func ParseAddr(addr string) (network, address string, err error) {
	scheme, rest, ok := strings.Cut(addr, "://")
	switch {
	case !ok:
		return "", "", fmt.Errorf("address %q: want tcp://HOST:PORT or unix://PATH", addr)
	case scheme == "unix":
		if rest == "" || strings.ContainsRune(rest, 0) {
			return "", "", fmt.Errorf("address %q: want unix://PATH with a socket path", addr)
		}
		return "unix", rest, nil
	case scheme == "tcp":
		host, port, err := net.SplitHostPort(rest)
		if err != nil {
			return "", "", fmt.Errorf("address %q: want tcp://HOST:PORT: %w", addr, err)
		}
		if host == "" || port == "" || port == "0" {
			return "", "", fmt.Errorf("address %q: want tcp://HOST:PORT with a host and a port", addr)
		}
		return "tcp", rest, nil
	default:
		return "", "", fmt.Errorf("address %q: unknown scheme %q, want tcp or unix", addr, scheme)
	}
}

// Attest attests the workload behind inclavared at opts.Addr (see the
// package doc). A verdict that refuses the workload is not an error: check
// Result.Accepted. An error wraps ErrVerification, ErrConnection, or
// verify.ErrUsage for bad options; with ErrMessage the Result is complete
// but for Reply.
func Attest(ctx context.Context, opts Options) (*Result, error) {
	if opts.Config == nil {
		return nil, fmt.Errorf("%w: remote attestation needs a Rats-TLS configuration", verify.ErrUsage)
	}
	if (opts.Verify.Type != "" && opts.Verify.Type != verify.TypeAuto) || opts.Verify.ReportData != nil {
		return nil, fmt.Errorf("%w: the workload's evidence type and report data come from its certificate", verify.ErrUsage)
	}
	if opts.Reference != nil {
		if err := opts.Reference.Validate(); err != nil {
			return nil, fmt.Errorf("%w: reference values %s: %w", verify.ErrUsage, opts.ReferenceName, err)
		}
	}
	network, address, err := ParseAddr(opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", verify.ErrUsage, err)
	}

	conn, err := ratstls.Dial(ctx, network, address, opts.Config)
	if err != nil {
		if errors.Is(err, ratstls.ErrRefused) || errors.Is(err, ratstls.ErrNoEvidence) ||
			errors.Is(err, ratstls.ErrBadCertificate) || errors.Is(err, ratstls.ErrFreshness) {
			return nil, fmt.Errorf("%w: inclavared at %s: its attestation was refused: %w", ErrVerification, opts.Addr, err)
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrConnection, opts.Addr, err)
	}
	defer conn.Close()
	if s := conn.Session(); s == nil || s.Version() != tls13 {
		v := "no TLS"
		if s != nil {
			v = s.Version()
		}
		return nil, fmt.Errorf("%w: the channel to inclavared at %s is %s; shelter talks to inclavared over TLS 1.3 only (do not use the nulltls wrapper)", verify.ErrUsage, opts.Addr, v)
	}
	// The context bounds the exchange too: its deadline is the
	// connection's, and cancelling it unblocks any read or write.
	if d, ok := ctx.Deadline(); ok {
		conn.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	// A fresh nonce: inclavared attests the workload with it, so the
	// workload's evidence is fresh for shelter itself.
	request := api.GetEnclaveInfoLine
	if !opts.NoNonce {
		var nonce [api.NonceSize]byte
		if _, err := rand.Read(nonce[:]); err != nil {
			return nil, fmt.Errorf("nonce: %w", err)
		}
		opts.Nonce, request = nonce[:], api.GetEnclaveInfoNonceLine(nonce)
	}
	r := bufio.NewReaderSize(conn, 4096)
	if _, err := io.WriteString(conn, request); err != nil {
		return nil, fmt.Errorf("%w: sending the enclave info request to %s: %w", ErrConnection, opts.Addr, ctxErr(ctx, err))
	}
	line, err := readLine(r, MaxInfoSize)
	if err != nil {
		if errors.Is(err, errTooLong) {
			return nil, fmt.Errorf("inclavared at %s: %w: its enclave info is longer than %d bytes", opts.Addr, ErrVerification, MaxInfoSize)
		}
		return nil, fmt.Errorf("%w: reading the enclave info from %s: %w", ErrConnection, opts.Addr, ctxErr(ctx, err))
	}
	info, err := ParseEnclaveInfo(line)
	if err != nil {
		return nil, fmt.Errorf("inclavared at %s: %w", opts.Addr, err)
	}
	res, err := VerifyInfo(ctx, info, opts)
	if err != nil {
		return nil, fmt.Errorf("inclavared at %s: %w", opts.Addr, err)
	}
	res.Addr, res.Channel = opts.Addr, conn.Peer()
	a := res.Workload.Appraisal
	if opts.Logger != nil {
		opts.Logger.Info("workload attested", "addr", opts.Addr, "id", res.ID, "status", a.Status,
			"reasons", a.Reasons, "inclavared", res.Channel.EvidenceType, "freshness", res.Channel.Freshness)
	}
	if !res.Accepted() || len(opts.Message) == 0 {
		return res, nil
	}
	msg := opts.Message
	if !bytes.HasSuffix(msg, []byte("\n")) {
		msg = append(slices.Clip(msg), '\n')
	}
	if _, err := conn.Write(msg); err != nil {
		return res, fmt.Errorf("%w: sending: %w", ErrMessage, ctxErr(ctx, err))
	}
	if res.Reply, err = readLine(r, MaxReplySize); err != nil {
		return res, fmt.Errorf("%w: reading the reply: %w", ErrMessage, ctxErr(ctx, err))
	}
	return res, nil
}

// ctxErr prefers the context's error to the deadline error it caused.
func ctxErr(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%w (%w)", cerr, err)
	}
	// The connection's deadline is the context's, and may fire first.
	var ne net.Error
	if d, ok := ctx.Deadline(); ok && errors.As(err, &ne) && ne.Timeout() && !time.Now().Before(d) {
		return fmt.Errorf("%w (%w)", context.DeadlineExceeded, err)
	}
	return err
}

var errTooLong = errors.New("line too long")

// readLine reads up to and including a newline, at most max bytes.
func readLine(r *bufio.Reader, max int) ([]byte, error) {
	var line []byte
	for {
		chunk, err := r.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > max {
			return nil, errTooLong
		}
		switch {
		case err == nil:
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			return nil, fmt.Errorf("the connection closed after %d bytes, before a newline: %w", len(line), io.ErrUnexpectedEOF)
		default:
			return nil, err
		}
	}
}

// ParseEnclaveInfo decodes inclavared's answer: one JSON object and a
// newline. An ERROR answer, another message type or version, or an answer
// without a certificate wraps ErrVerification, with the reason inclavared
// gave (made printable).
func ParseEnclaveInfo(line []byte) (*api.EnclaveInfo, error) {
	body, ok := bytes.CutSuffix(line, []byte("\n"))
	if !ok || bytes.IndexByte(body, '\n') >= 0 {
		return nil, fmt.Errorf("%w: the enclave info is not one line", ErrVerification)
	}
	var info api.EnclaveInfo
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&info); err != nil {
		return nil, fmt.Errorf("%w: the enclave info is not an EnclaveInfo JSON object: %w", ErrVerification, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: the enclave info has data after its JSON object", ErrVerification)
	}
	switch info.MsgType {
	case api.MsgEnclaveInfo:
	case api.MsgError:
		return nil, fmt.Errorf("%w: inclavared has no verified workload: %s", ErrVerification, printable(info.Error, 500))
	default:
		return nil, fmt.Errorf("%w: the enclave info's msgtype is %q, want %q", ErrVerification, printable(info.MsgType, 40), api.MsgEnclaveInfo)
	}
	if info.Version != api.Version {
		return nil, fmt.Errorf("%w: the enclave info is version %d, this shelter reads version %d", ErrVerification, info.Version, api.Version)
	}
	if len(info.Certificate) == 0 {
		return nil, fmt.Errorf("%w: the enclave info carries no workload certificate", ErrVerification)
	}

	return &info, nil
}

// printable returns s with control and other unprintable characters
// replaced, cut to max runes, for messages from the other side.
func printable(s string, max int) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == max {
			b.WriteString("…")
			break
		}
		if !unicode.IsPrint(r) {
			r = '?'
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// VerifyInfo verifies the workload's evidence in info and appraises it
// (steps 3 and 4 of the package doc). The Result has neither Addr, Channel
// nor Reply. opts.Addr, Config and Message are not used.
func VerifyInfo(ctx context.Context, info *api.EnclaveInfo, opts Options) (*Result, error) {
	cert, err := checkCertificate(info.Certificate, opts.Verify.Now)
	if err != nil {
		return nil, err
	}
	found, err := dice.Find(cert, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: the workload certificate's evidence: %w (%w)", ErrVerification, err, verify.ErrVerification)
	}
	var vr *verify.Result
	bound := found.Format != dice.FormatNone
	if opts.Nonce != nil {
		// Asked for evidence over shelter's nonce: anything else is stale
		// or replayed, or inclavared did not relay the nonce.
		got := found.Claims.Custom[ratstls.ClaimNonce]
		if !bound || subtle.ConstantTimeCompare(got, opts.Nonce) != 1 {
			return nil, fmt.Errorf("%w: the workload's evidence is not over shelter's nonce (it carries %s): stale or replayed evidence, or an inclavared that did not attest the workload with the nonce", ErrVerification, nonceText(got, bound))
		}
		opts.Verify.Freshness = string(ratstls.FreshnessNonce)
	}
	switch {
	case bound:
		// The certificate carries the evidence: verified, and bound to
		// the certificate's key, as shelter verify does.
		if len(info.Evidence) > 0 && !bytes.Equal(info.Evidence, found.Evidence.Data) {
			return nil, fmt.Errorf("%w: inclavared's enclave info disagrees with the workload's certificate: its evidence is not the certificate's", ErrVerification)
		}
		vr, err = verify.Evidence(ctx, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: info.Certificate}), opts.Verify)
	case len(info.Evidence) > 0:
		// Exporter mode: the evidence followed the handshake, bound to
		// the key and to inclavared's TLS session with the workload,
		// which shelter cannot see. It is verified as raw evidence.
		switch info.EvidenceType {
		case verify.TypeSGX, verify.TypeTDX, verify.TypeSNP:
		default:
			return nil, fmt.Errorf("%w: the enclave info's evidence type %q is not one shelter verifies (%s, %s, %s)", ErrVerification,
				printable(info.EvidenceType, 40), verify.TypeSGX, verify.TypeTDX, verify.TypeSNP)
		}
		vo := opts.Verify
		vo.Type = info.EvidenceType
		if err := endorse(&vo, info.EvidenceType, info.Endorsements); err != nil {
			return nil, err
		}
		vr, err = verify.Evidence(ctx, info.Evidence, vo)
	default:
		return nil, fmt.Errorf("%w: the workload certificate carries no evidence and the enclave info none either (%w): a workload without a TEE, or an inclavared that does not forward the evidence of an exporter-mode channel", ErrVerification, verify.ErrVerification)
	}
	if err != nil {
		if errors.Is(err, verify.ErrVerification) {
			return nil, fmt.Errorf("%w: the workload's evidence: %w", ErrVerification, err)
		}
		return nil, err
	}
	m, err := appref.Measurements(vr.Type, vr.Claims)
	if err != nil {
		return nil, fmt.Errorf("%w: the workload's launch measurements: %w", ErrVerification, err)
	}
	id := vr.Type + ":" + m.Measurements[appref.Primary(vr.Type)]
	if err := consistent(info, m, id); err != nil {
		return nil, err
	}
	res := &Result{Info: info, Certificate: cert, Workload: vr, Measurements: m, ID: id, Bound: bound, Fresh: opts.Nonce != nil}
	a := &res.Workload.Appraisal
	if !bound {
		a.Reasons = append(a.Reasons, "the workload's evidence is bound to inclavared's TLS session with it (exporter mode), which shelter cannot check: it is genuine, but not bound to the workload's certificate key")
	}
	if opts.Reference != nil {
		res.ReferenceChecked = true
		if err := opts.Reference.Check(vr.Type, vr.Claims); err != nil {
			res.ReferenceError = err
			a.Status = ear.Contraindicated
			a.Reasons = append(a.Reasons, fmt.Sprintf("reference values %s: %v", opts.ReferenceName, err))
		}
	}
	return res, nil
}

// nonceText describes the nonce a certificate's evidence carries.
func nonceText(n []byte, bound bool) string {
	switch {
	case !bound:
		return "no evidence in the certificate"
	case n == nil:
		return "no nonce"
	default:
		return "nonce " + printable(hex.EncodeToString(n), 80)
	}
}

// checkCertificate parses the workload's certificate and checks it as a
// Rats-TLS peer does: valid now, no unknown critical extension, signed by
// its own key.
func checkCertificate(der []byte, now time.Time) (*x509.Certificate, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%w: the workload certificate: %w", ErrVerification, err)
	}
	if now.IsZero() {
		now = time.Now()
	}
	if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
		return nil, fmt.Errorf("%w: the workload certificate is valid from %s to %s, not at %s", ErrVerification,
			cert.NotBefore.Format(time.RFC3339), cert.NotAfter.Format(time.RFC3339), now.Format(time.RFC3339))
	}
	for _, oid := range cert.UnhandledCriticalExtensions {
		if !oid.Equal(dice.OIDTaggedEvidence) && !oid.Equal(dice.OIDEndorsementManifest) && !oid.Equal(dice.OIDCMW) {
			return nil, fmt.Errorf("%w: the workload certificate has an unknown critical extension %s", ErrVerification, oid)
		}
	}
	if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
		return nil, fmt.Errorf("%w: the workload certificate is not self-signed by its key: %w", ErrVerification, err)
	}
	return cert, nil
}

// endorse sets the collateral of o from the endorsements of raw evidence
// of evidenceType (the CBOR item a Rats-TLS peer sends), when there are
// any; otherwise o's own collateral, if any, is used.
func endorse(o *verify.Options, evidenceType string, endorsements []byte) error {
	if len(endorsements) == 0 {
		return nil
	}
	switch evidenceType {
	case verify.TypeSGX, verify.TypeTDX:
		c, err := intel.DecodeEndorsements(endorsements)
		if err != nil {
			return fmt.Errorf("%w: the workload's endorsements: %w (%w)", ErrVerification, err, verify.ErrVerification)
		}
		o.Collateral = c
	case verify.TypeSNP:
		t, err := snp.DecodeEndorsements(endorsements)
		if err != nil {
			return fmt.Errorf("%w: the workload's endorsements: %w (%w)", ErrVerification, err, verify.ErrVerification)
		}
		c := snp.CertificatesOf(t)
		o.SNPCertificates = &c
	}
	return nil
}

// consistent checks that what inclavared said about the workload is what
// its verified evidence says: a difference means inclavared (or someone
// between it and the workload) is not to be believed.
func consistent(info *api.EnclaveInfo, verified appref.Values, id string) error {
	var bad []string
	if info.EvidenceType != verified.EvidenceType {
		bad = append(bad, fmt.Sprintf("evidence type %q, the certificate's is %q", printable(info.EvidenceType, 40), verified.EvidenceType))
	}
	if info.ID != "" && !strings.EqualFold(info.ID, id) {
		bad = append(bad, fmt.Sprintf("id %q, the certificate's is %q", printable(info.ID, 200), id))
	}
	for _, k := range slices.Sorted(maps.Keys(info.Measurements)) {
		if _, ok := verified.Measurements[k]; !ok {
			bad = append(bad, fmt.Sprintf("measurement %q, which %s evidence does not have", printable(k, 40), verified.EvidenceType))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(verified.Measurements)) {
		said, ok := info.Measurements[k]
		if !ok {
			bad = append(bad, fmt.Sprintf("no %s", k))
			continue
		}
		got, err := hex.DecodeString(said)
		want, _ := hex.DecodeString(verified.Measurements[k])
		if err != nil || subtle.ConstantTimeCompare(got, want) != 1 {
			bad = append(bad, fmt.Sprintf("%s %s, the certificate's evidence has %s", k, printable(said, 200), verified.Measurements[k]))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("%w: inclavared's enclave info disagrees with the workload's verified evidence: it says %s", ErrVerification, strings.Join(bad, "; "))
	}
	return nil
}
