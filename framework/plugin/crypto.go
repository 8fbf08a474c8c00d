package plugin

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/inclavare/inclavare/framework/instance"
	pb "github.com/inclavare/inclavare/framework/plugin/proto"
)

// cryptoWrapper is the host-side proxy of a crypto wrapper plugin. Its keys
// live in the plugin process; the host holds a handle and the public key.
type cryptoWrapper struct{ *proxy }

var _ instance.CryptoWrapper = (*cryptoWrapper)(nil)

// GenerateKey makes a key in the plugin and returns a signer for it. The
// signer does one Sign call per signature and checks each signature with the
// public key before returning it.
func (c *cryptoWrapper) GenerateKey(ctx context.Context, alg instance.KeyAlgorithm) (crypto.Signer, error) {
	var k *remoteKey
	err := c.p.call(ctx, "GenerateKey", func(ctx context.Context, s *session) error {
		resp, err := pb.NewCryptoClient(s.conn).GenerateKey(ctx, &pb.GenerateKeyRequest{Algorithm: string(alg)})
		if err != nil {
			return err
		}
		if resp.GetHandle() == 0 {
			return &malformed{"key handle 0"}
		}
		pub, err := x509.ParsePKIXPublicKey(resp.GetPublicKey())
		if err != nil {
			return &malformed{fmt.Sprintf("public key does not parse: %v", err)}
		}
		if err := keyMatches(alg, pub); err != nil {
			return &malformed{err.Error()}
		}
		k = &remoteKey{c: c, gen: s.gen, handle: resp.GetHandle(), pub: pub}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return k, nil
}

// keyMatches checks that pub is a key of alg.
func keyMatches(alg instance.KeyAlgorithm, pub crypto.PublicKey) error {
	ok := false
	switch alg {
	case instance.KeyECDSAP256, "":
		k, isEC := pub.(*ecdsa.PublicKey)
		ok = isEC && k.Curve == elliptic.P256()
	case instance.KeyECDSAP384:
		k, isEC := pub.(*ecdsa.PublicKey)
		ok = isEC && k.Curve == elliptic.P384()
	case instance.KeyRSA3072:
		k, isRSA := pub.(*rsa.PublicKey)
		ok = isRSA && k.N.BitLen() == 3072
	case instance.KeyEd25519:
		_, ok = pub.(ed25519.PublicKey)
	default:
		// A key type the framework does not know; the plugin decides.
		ok = true
	}
	if !ok {
		return fmt.Errorf("asked for a %s key, got a %T", alg, pub)
	}
	return nil
}

// Hash asks the plugin to digest data.
func (c *cryptoWrapper) Hash(ctx context.Context, alg instance.HashAlgorithm, data []byte) ([]byte, error) {
	var out []byte
	err := c.p.call(ctx, "Hash", func(ctx context.Context, s *session) error {
		resp, err := pb.NewCryptoClient(s.conn).Hash(ctx, &pb.HashRequest{Algorithm: uint64(alg), Data: data})
		if err != nil {
			return err
		}
		out = resp.GetDigest()
		return checkDigest(alg, out)
	})
	return out, err
}

// PubKeyHash asks the plugin to digest the DER SubjectPublicKeyInfo of pub.
func (c *cryptoWrapper) PubKeyHash(ctx context.Context, alg instance.HashAlgorithm, pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: encoding the public key to hash: %w", c.p.f.path, err)
	}
	var out []byte
	err = c.p.call(ctx, "PubKeyHash", func(ctx context.Context, s *session) error {
		resp, err := pb.NewCryptoClient(s.conn).PubKeyHash(ctx, &pb.PubKeyHashRequest{Algorithm: uint64(alg), PublicKey: der})
		if err != nil {
			return err
		}
		out = resp.GetDigest()
		return checkDigest(alg, out)
	})
	return out, err
}

func checkDigest(alg instance.HashAlgorithm, d []byte) error {
	if h := alg.CryptoHash(); h != 0 && len(d) != h.Size() {
		return &malformed{fmt.Sprintf("%s digest of %d bytes, want %d", alg, len(d), h.Size())}
	}
	if len(d) == 0 {
		return &malformed{"empty digest"}
	}
	return nil
}

// SelfSignedCertificate asks the plugin to issue a certificate for key,
// which must come from this instance's GenerateKey, and checks that the
// answer is a certificate for that key, signed by it.
func (c *cryptoWrapper) SelfSignedCertificate(ctx context.Context, key crypto.Signer, t instance.CertificateTemplate) ([]byte, error) {
	k, ok := key.(*remoteKey)
	if !ok || k.c != c {
		return nil, fmt.Errorf("plugin %s: the key was not made by this crypto wrapper instance", c.p.f.path)
	}
	if t.SerialNumber == nil || t.SerialNumber.Sign() <= 0 {
		return nil, fmt.Errorf("plugin %s: certificate serial number %v is not positive", c.p.f.path, t.SerialNumber)
	}
	subject, err := asn1.Marshal(t.Subject.ToRDNSequence())
	if err != nil {
		return nil, fmt.Errorf("plugin %s: encoding certificate subject: %w", c.p.f.path, err)
	}
	req := &pb.SelfSignedCertificateRequest{
		Handle:       k.handle,
		Subject:      subject,
		SerialNumber: t.SerialNumber.Bytes(),
		NotBefore:    timestamppb.New(t.NotBefore),
		NotAfter:     timestamppb.New(t.NotAfter),
	}
	for _, e := range t.Extensions {
		id := make([]int64, len(e.Id))
		for i, a := range e.Id {
			id[i] = int64(a)
		}
		req.Extensions = append(req.Extensions, &pb.Extension{Id: id, Critical: e.Critical, Value: e.Value})
	}
	var der []byte
	err = c.p.callKey(ctx, "SelfSignedCertificate", k.gen, func(ctx context.Context, s *session) error {
		resp, err := pb.NewCryptoClient(s.conn).SelfSignedCertificate(ctx, req)
		if err != nil {
			return err
		}
		cert, err := x509.ParseCertificate(resp.GetCertificate())
		if err != nil {
			return &malformed{fmt.Sprintf("certificate does not parse: %v", err)}
		}
		if eq, ok := cert.PublicKey.(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(k.pub) {
			return &malformed{"certificate is for another key"}
		}
		if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
			return &malformed{fmt.Sprintf("certificate is not signed by its key: %v", err)}
		}
		der = resp.GetCertificate()
		return nil
	})
	return der, err
}

// remoteKey is a key held by a crypto plugin process.
type remoteKey struct {
	c      *cryptoWrapper
	gen    uint64 // the process start that made the key
	handle uint64
	pub    crypto.PublicKey
}

// Public returns the public key, cached when the key was made.
func (k *remoteKey) Public() crypto.PublicKey { return k.pub }

// Sign signs digest in the plugin (one call, bounded by Config.CallTimeout)
// and verifies the signature before returning it. rand is not used: the
// plugin draws its own randomness. It fails with an error wrapping
// ErrKeyLost if the plugin process was restarted since the key was made.
func (k *remoteKey) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	req := &pb.SignRequest{Handle: k.handle, Digest: digest}
	var hash crypto.Hash
	if opts != nil {
		hash = opts.HashFunc()
		req.Hash = uint32(hash)
	}
	pss, isPSS := opts.(*rsa.PSSOptions)
	if isPSS {
		req.Pss = true
		req.PssSaltLength = int32(pss.SaltLength)
	}
	if eo, ok := opts.(*ed25519.Options); ok && eo.Context != "" {
		return nil, fmt.Errorf("plugin %s: Ed25519 signing with a context: %w", k.c.p.f.path, instance.ErrUnsupported)
	}
	var sig []byte
	err := k.c.p.callKey(context.Background(), "Sign", k.gen, func(ctx context.Context, s *session) error {
		resp, err := pb.NewCryptoClient(s.conn).Sign(ctx, req)
		if err != nil {
			return err
		}
		sig = resp.GetSignature()
		if err := verifySignature(k.pub, digest, sig, hash, pss); err != nil {
			return &malformed{err.Error()}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return sig, nil
}

// maxSignatureSize bounds any signature: RSA-16384 is 2 KiB.
const maxSignatureSize = 2048

func verifySignature(pub crypto.PublicKey, digest, sig []byte, hash crypto.Hash, pss *rsa.PSSOptions) error {
	if len(sig) == 0 || len(sig) > maxSignatureSize {
		return fmt.Errorf("signature of %d bytes", len(sig))
	}
	var ok bool
	switch pub := pub.(type) {
	case *ecdsa.PublicKey:
		ok = ecdsa.VerifyASN1(pub, digest, sig)
	case *rsa.PublicKey:
		if pss != nil {
			ok = rsa.VerifyPSS(pub, hash, digest, sig, pss) == nil
		} else {
			ok = rsa.VerifyPKCS1v15(pub, hash, digest, sig) == nil
		}
	case ed25519.PublicKey:
		ok = ed25519.VerifyWithOptions(pub, digest, sig, &ed25519.Options{Hash: hash}) == nil
	default:
		// A key type the framework cannot check: only the size is bounded.
		ok = true
	}
	if !ok {
		return errors.New("signature does not verify with the key's public key")
	}
	return nil
}

// cryptoServer serves a crypto wrapper in a plugin process. It holds the
// keys it made, by handle, for the life of the process.
type cryptoServer struct {
	*server
	cryptoUnimplemented

	mu   sync.Mutex
	keys map[uint64]crypto.Signer
	next uint64
}

type cryptoUnimplemented struct{ pb.UnimplementedCryptoServer }

func (s *cryptoServer) key(h uint64) (crypto.Signer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[h]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "no key with handle %d in this process: %v", h, ErrKeyLost)
	}
	return k, nil
}

func (s *cryptoServer) GenerateKey(ctx context.Context, req *pb.GenerateKeyRequest) (*pb.GenerateKeyResponse, error) {
	c, err := instanceOf[instance.CryptoWrapper](s.server)
	if err != nil {
		return nil, err
	}
	k, err := c.GenerateKey(ctx, instance.KeyAlgorithm(req.GetAlgorithm()))
	if err != nil {
		return nil, toStatus(err)
	}
	der, err := x509.MarshalPKIXPublicKey(k.Public())
	if err != nil {
		return nil, toStatus(fmt.Errorf("encoding the new public key: %w", err))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys == nil {
		s.keys = map[uint64]crypto.Signer{}
	}
	s.next++
	s.keys[s.next] = k
	return &pb.GenerateKeyResponse{Handle: s.next, PublicKey: der}, nil
}

func (s *cryptoServer) Sign(_ context.Context, req *pb.SignRequest) (*pb.SignResponse, error) {
	k, err := s.key(req.GetHandle())
	if err != nil {
		return nil, err
	}
	hash := crypto.Hash(req.GetHash())
	if hash != 0 && !hash.Available() {
		return nil, status.Errorf(codes.InvalidArgument, "hash %d is not available", req.GetHash())
	}
	var opts crypto.SignerOpts = hash
	if req.GetPss() {
		opts = &rsa.PSSOptions{SaltLength: int(req.GetPssSaltLength()), Hash: hash}
	}
	sig, err := k.Sign(rand.Reader, req.GetDigest(), opts)
	if err != nil {
		return nil, toStatus(fmt.Errorf("signing: %w", err))
	}
	return &pb.SignResponse{Signature: sig}, nil
}

func (s *cryptoServer) Hash(ctx context.Context, req *pb.HashRequest) (*pb.HashResponse, error) {
	c, err := instanceOf[instance.CryptoWrapper](s.server)
	if err != nil {
		return nil, err
	}
	d, err := c.Hash(ctx, instance.HashAlgorithm(req.GetAlgorithm()), req.GetData())
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.HashResponse{Digest: d}, nil
}

func (s *cryptoServer) PubKeyHash(ctx context.Context, req *pb.PubKeyHashRequest) (*pb.PubKeyHashResponse, error) {
	c, err := instanceOf[instance.CryptoWrapper](s.server)
	if err != nil {
		return nil, err
	}
	pub, err := x509.ParsePKIXPublicKey(req.GetPublicKey())
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "public key does not parse: %v", err)
	}
	d, err := c.PubKeyHash(ctx, instance.HashAlgorithm(req.GetAlgorithm()), pub)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.PubKeyHashResponse{Digest: d}, nil
}

func (s *cryptoServer) SelfSignedCertificate(ctx context.Context, req *pb.SelfSignedCertificateRequest) (*pb.SelfSignedCertificateResponse, error) {
	c, err := instanceOf[instance.CryptoWrapper](s.server)
	if err != nil {
		return nil, err
	}
	k, err := s.key(req.GetHandle())
	if err != nil {
		return nil, err
	}
	t, err := certificateTemplate(req)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	der, err := c.SelfSignedCertificate(ctx, k, t)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.SelfSignedCertificateResponse{Certificate: der}, nil
}

// certificateTemplate rebuilds the host's template. The subject keeps its
// standard attributes in their fields and any other in ExtraNames, so that
// it encodes as the host's pkix.Name did.
func certificateTemplate(req *pb.SelfSignedCertificateRequest) (instance.CertificateTemplate, error) {
	var rdn pkix.RDNSequence
	rest, err := asn1.Unmarshal(req.GetSubject(), &rdn)
	if err != nil || len(rest) > 0 {
		return instance.CertificateTemplate{}, fmt.Errorf("certificate subject is not a DER RDNSequence")
	}
	var subject pkix.Name
	subject.FillFromRDNSequence(&rdn)
	for _, set := range rdn {
		for _, atv := range set {
			if !standardAttribute(atv.Type) {
				subject.ExtraNames = append(subject.ExtraNames, atv)
			}
		}
	}
	t := instance.CertificateTemplate{
		Subject:      subject,
		SerialNumber: new(big.Int).SetBytes(req.GetSerialNumber()),
		NotBefore:    req.GetNotBefore().AsTime(),
		NotAfter:     req.GetNotAfter().AsTime(),
	}
	for _, e := range req.GetExtensions() {
		id := make(asn1.ObjectIdentifier, len(e.GetId()))
		for i, a := range e.GetId() {
			id[i] = int(a)
		}
		t.Extensions = append(t.Extensions, pkix.Extension{Id: id, Critical: e.GetCritical(), Value: e.GetValue()})
	}
	return t, nil
}

// standardAttribute reports whether pkix.Name has a field for an attribute
// type (country, organization, OU, common name, serial number, locality,
// province, street, postal code).
func standardAttribute(t asn1.ObjectIdentifier) bool {
	if len(t) != 4 || t[0] != 2 || t[1] != 5 || t[2] != 4 {
		return false
	}
	switch t[3] {
	case 3, 5, 6, 7, 8, 9, 10, 11, 17:
		return true
	}
	return false
}
