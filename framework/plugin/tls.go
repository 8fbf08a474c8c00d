package plugin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"

	"github.com/inclavare/inclavare/framework/instance"
	pb "github.com/inclavare/inclavare/framework/plugin/proto"
	"github.com/inclavare/inclavare/framework/tlsengine"
)

// tlsWrapper is the host-side proxy of a TLS wrapper plugin. It fetches the
// plugin's profile once and runs every session in this process with
// tlsengine; the only call per handshake is the plugin's peer check.
type tlsWrapper struct {
	*proxy

	mu      sync.Mutex
	profile *instance.TLSProfile
}

var (
	_ instance.TLSWrapper  = (*tlsWrapper)(nil)
	_ instance.TLSProfiler = (*tlsWrapper)(nil)
)

// Profile returns the plugin's session configuration, asked once and cached
// for the life of the instance (across restarts of its process).
func (w *tlsWrapper) Profile(ctx context.Context) (instance.TLSProfile, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.profile != nil {
		return *w.profile, nil
	}
	var p instance.TLSProfile
	err := w.p.call(ctx, "Profile", func(ctx context.Context, s *session) error {
		resp, err := pb.NewTLSClient(s.conn).Profile(ctx, &pb.ProfileRequest{})
		if err != nil {
			return err
		}
		p, err = profileFromProto(resp)
		return err
	})
	if err != nil {
		return instance.TLSProfile{}, err
	}
	w.profile = &p
	return p, nil
}

func profileFromProto(resp *pb.ProfileResponse) (instance.TLSProfile, error) {
	p := instance.TLSProfile{Protocol: resp.GetProtocol(), ChecksPeer: resp.GetChecksPeer()}
	switch p.Protocol {
	case instance.ProtocolTLS13, instance.ProtocolNone:
	case "":
		p.Protocol = instance.ProtocolTLS13
	default:
		return p, &malformed{fmt.Sprintf("protocol %q (want %q or %q)", p.Protocol, instance.ProtocolTLS13, instance.ProtocolNone)}
	}
	ids := func(what string, in []uint32) ([]uint16, error) {
		var out []uint16
		for _, v := range in {
			if v > 0xffff {
				return nil, &malformed{fmt.Sprintf("%s identifier %#x does not fit 16 bits", what, v)}
			}
			out = append(out, uint16(v))
		}
		return out, nil
	}
	var err error
	if p.CipherSuites, err = ids("cipher suite", resp.GetCipherSuites()); err != nil {
		return p, err
	}
	if p.CurvePreferences, err = ids("curve", resp.GetCurvePreferences()); err != nil {
		return p, err
	}
	return p, nil
}

// CheckPeer asks the plugin whether it accepts the peer's chain.
func (w *tlsWrapper) CheckPeer(ctx context.Context, rawCerts [][]byte) error {
	return w.p.call(ctx, "CheckPeer", func(ctx context.Context, s *session) error {
		_, err := pb.NewTLSClient(s.conn).CheckPeer(ctx, &pb.CheckPeerRequest{Certificates: rawCerts})
		return err
	})
}

// Negotiate runs the session in this process with the plugin's profile. The
// peer check runs the plugin's CheckPeer first, then cfg.VerifyPeer.
func (w *tlsWrapper) Negotiate(ctx context.Context, conn net.Conn, cfg *instance.TLSConfig) (instance.Session, error) {
	p, err := w.Profile(ctx)
	if err != nil {
		return nil, err
	}
	verify := cfg.VerifyPeer
	if verify == nil && p.Protocol != instance.ProtocolNone {
		return nil, errors.New("TLS session without a peer check: the framework must set VerifyPeer")
	}
	if !p.ChecksPeer {
		// The plugin has no peer check of its own: no round trip.
		return tlsengine.Negotiate(ctx, conn, cfg, p)
	}
	c := *cfg
	c.VerifyPeer = func(ps instance.PeerState) error {
		if err := w.CheckPeer(ctx, ps.Certificates); err != nil {
			return err
		}
		if verify != nil {
			return verify(ps)
		}
		return nil
	}
	return tlsengine.Negotiate(ctx, conn, &c, p)
}

// tlsServer serves a TLS wrapper's profile and peer check in a plugin
// process.
type tlsServer struct {
	*server
	tlsUnimplemented
}

type tlsUnimplemented struct{ pb.UnimplementedTLSServer }

func (s *tlsServer) Profile(ctx context.Context, _ *pb.ProfileRequest) (*pb.ProfileResponse, error) {
	t, err := instanceOf[instance.TLSProfiler](s.server)
	if err != nil {
		return nil, err
	}
	p, err := t.Profile(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	resp := &pb.ProfileResponse{Protocol: p.Protocol, ChecksPeer: p.ChecksPeer}
	for _, c := range p.CipherSuites {
		resp.CipherSuites = append(resp.CipherSuites, uint32(c))
	}
	for _, c := range p.CurvePreferences {
		resp.CurvePreferences = append(resp.CurvePreferences, uint32(c))
	}
	return resp, nil
}

func (s *tlsServer) CheckPeer(ctx context.Context, req *pb.CheckPeerRequest) (*pb.CheckPeerResponse, error) {
	t, err := instanceOf[instance.TLSProfiler](s.server)
	if err != nil {
		return nil, err
	}
	if err := t.CheckPeer(ctx, req.GetCertificates()); err != nil {
		return nil, toStatus(err)
	}
	return &pb.CheckPeerResponse{}, nil
}
