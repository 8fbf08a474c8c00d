package plugin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"time"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/inclavare/inclavare/framework/instance"
	pb "github.com/inclavare/inclavare/framework/plugin/proto"
	"github.com/inclavare/inclavare/framework/registry"
)

// hostPollInterval is how often a plugin checks that its host is alive, in
// case the parent-death signal did not reach it.
const hostPollInterval = 250 * time.Millisecond

// Serve serves r as a subprocess plugin and exits when the host is done
// with it. It is the whole main of a plugin binary:
//
//	func main() { plugin.Serve(nullattester.Registration) }
//
// The process serves exactly one instance of r's kind: the host's Init
// probes r and creates the instance with r.New, later calls use it, and
// Close closes it. The binary must be named rats-tls-<kind>-<name> after r
// and be listed in its directory's manifest (see WriteManifest).
//
// Serve exits at once with a message on stderr if r cannot be served: an
// incomplete registration, or a TLS wrapper that does not implement
// instance.TLSProfiler (a plugin supplies a profile and a peer check; the
// host runs the session). The plugin exits when its host does, even if the
// host is killed. Logs written with log/slog reach the host's logger.
func Serve(r *registry.Registration) {
	os.Exit(serve(r))
}

func serve(r *registry.Registration) int {
	// go-plugin points os.Stderr at a stream to the host once serving; the
	// log handler keeps the real stderr, which the host reads line by line.
	stderr := os.Stderr
	log := slog.New(pluginLogHandler(stderr, parseLogLevel(os.Getenv(envLogLevel))))
	slog.SetDefault(log)
	if err := watchHost(); err != nil {
		fmt.Fprintf(stderr, "rats-tls plugin %s: %v\n", os.Args[0], err)
		return 1
	}
	if err := servable(r); err != nil {
		fmt.Fprintf(stderr, "rats-tls plugin %s: %v\n", os.Args[0], err)
		return 1
	}
	srv := &server{reg: r, log: log}
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig: Handshake,
		VersionedPlugins: map[int]goplugin.PluginSet{ProtocolVersion: {
			string(r.Descriptor.Kind): &grpcPlugin{register: srv.register},
		}},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(append(opts, grpc.MaxRecvMsgSize(maxMessageSize), grpc.MaxSendMsgSize(maxMessageSize))...)
		},
		Logger: newHCLogger(log, ""),
	})
	srv.closeInstance()
	return 0
}

// servable refuses a registration that cannot be served.
func servable(r *registry.Registration) error {
	if r == nil || r.New == nil || r.Descriptor.Name == "" {
		return errors.New("incomplete registration: it needs a kind, a name and New")
	}
	if _, err := instance.ParseKind(string(r.Descriptor.Kind)); err != nil {
		return err
	}
	if r.Descriptor.Kind != instance.KindTLS {
		return nil
	}
	// Whether a TLS wrapper supplies a profile is known only from an
	// instance; when none can be made here, Init says why.
	ctx, cancel := context.WithTimeout(context.Background(), DefaultCallTimeout)
	defer cancel()
	inst, err := r.New(ctx, instance.Options{})
	if err != nil {
		return nil
	}
	defer inst.Close()
	if _, ok := inst.(instance.TLSProfiler); !ok {
		return fmt.Errorf("TLS wrapper %q cannot be served as a plugin: it does not implement instance.TLSProfiler (Profile and CheckPeer); the host runs every session with the wrapper's profile, so a plugin must supply one", r.Descriptor.Name)
	}
	return nil
}

// watchHost makes the plugin exit when the host that started it is gone:
// the kernel's parent-death signal where there is one, and a poll of the
// parent PID in case the signal was missed (it is tied to the host thread
// that forked).
func watchHost() error {
	v := os.Getenv(envHostPID)
	if v == "" {
		return nil
	}
	host, err := strconv.Atoi(v)
	if err != nil {
		return fmt.Errorf("%s=%q is not a PID", envHostPID, v)
	}
	setOwnParentDeathSignal()
	if os.Getppid() != host {
		return fmt.Errorf("the host process %d is gone", host)
	}
	go func() {
		t := time.NewTicker(hostPollInterval)
		defer t.Stop()
		for range t.C {
			if os.Getppid() != host {
				fmt.Fprintf(os.Stderr, "rats-tls plugin %s: the host process %d is gone; exiting\n", os.Args[0], host)
				os.Exit(1)
			}
		}
	}()
	return nil
}

// server holds the one instance a plugin process serves, and answers the
// calls every kind shares.
type server struct {
	reg *registry.Registration
	log *slog.Logger

	mu   sync.Mutex
	inst instance.Instance
}

func (s *server) register(g *grpc.Server) {
	switch s.reg.Descriptor.Kind {
	case instance.KindAttester:
		pb.RegisterAttesterServer(g, &attesterServer{server: s})
	case instance.KindVerifier:
		pb.RegisterVerifierServer(g, &verifierServer{server: s})
	case instance.KindTLS:
		pb.RegisterTLSServer(g, &tlsServer{server: s})
	case instance.KindCrypto:
		pb.RegisterCryptoServer(g, &cryptoServer{server: s})
	}
}

func (s *server) Describe(ctx context.Context, _ *pb.DescribeRequest) (*pb.DescribeResponse, error) {
	d, err := s.reg.Resolve(ctx)
	if err != nil {
		return nil, toStatus(err)
	}
	return &pb.DescribeResponse{Instance: &pb.Descriptor{
		Kind: string(d.Kind), Name: d.Name, Type: d.Type, Priority: int64(d.Priority),
	}}, nil
}

func (s *server) Probe(ctx context.Context, _ *pb.ProbeRequest) (*pb.ProbeResponse, error) {
	if s.reg.Probe == nil {
		return &pb.ProbeResponse{Usable: true}, nil
	}
	if err := s.reg.Probe(ctx); err != nil {
		return &pb.ProbeResponse{Usable: false, Reason: err.Error()}, nil
	}
	return &pb.ProbeResponse{Usable: true}, nil
}

// Init probes the registration and creates the instance.
func (s *server) Init(ctx context.Context, req *pb.InitRequest) (*pb.InitResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inst != nil {
		return nil, status.Error(codes.FailedPrecondition, "the instance is already initialised: a plugin process serves one instance")
	}
	if s.reg.Probe != nil {
		if err := s.reg.Probe(ctx); err != nil {
			return nil, status.Errorf(codes.FailedPrecondition, "%s %q is not usable here: %v", s.reg.Descriptor.Kind, s.reg.Descriptor.Name, err)
		}
	}
	o := req.GetOptions()
	inst, err := s.reg.New(ctx, instance.Options{DebugEnclave: o.GetDebugEnclave(), Endorsements: o.GetEndorsements(), AllowSimulated: o.GetAllowSimulated()})
	if err != nil {
		return nil, toStatus(fmt.Errorf("creating %s %q: %w", s.reg.Descriptor.Kind, s.reg.Descriptor.Name, err))
	}
	if err := checkKind(s.reg.Descriptor.Kind, inst); err != nil {
		inst.Close()
		return nil, status.Error(codes.FailedPrecondition, err.Error())
	}
	s.inst = inst
	s.log.Debug("instance created", "kind", s.reg.Descriptor.Kind, "name", s.reg.Descriptor.Name)
	return &pb.InitResponse{}, nil
}

func checkKind(k instance.Kind, inst instance.Instance) error {
	var ok bool
	switch k {
	case instance.KindAttester:
		_, ok = inst.(instance.Attester)
	case instance.KindVerifier:
		_, ok = inst.(instance.Verifier)
	case instance.KindCrypto:
		_, ok = inst.(instance.CryptoWrapper)
	case instance.KindTLS:
		_, ok = inst.(instance.TLSProfiler)
	}
	if !ok {
		return fmt.Errorf("the %s plugin's instance is a %T, which does not implement the %s interface", k, inst, k)
	}
	return nil
}

// Close closes the instance; the host then stops the process.
func (s *server) Close(context.Context, *pb.CloseRequest) (*pb.CloseResponse, error) {
	if err := s.closeInstance(); err != nil {
		return nil, toStatus(err)
	}
	return &pb.CloseResponse{}, nil
}

func (s *server) closeInstance() error {
	s.mu.Lock()
	inst := s.inst
	s.inst = nil
	s.mu.Unlock()
	if inst == nil {
		return nil
	}
	return inst.Close()
}

// instanceOf returns the instance as a T, or FAILED_PRECONDITION before Init.
func instanceOf[T any](s *server) (T, error) {
	s.mu.Lock()
	inst := s.inst
	s.mu.Unlock()
	t, ok := inst.(T)
	if !ok {
		return t, status.Error(codes.FailedPrecondition, "no instance: the host must call Init first")
	}
	return t, nil
}

// toStatus carries an instance's error to the host: the message as it is,
// and the framework's sentinels as status codes (the host maps them back).
func toStatus(err error) error {
	code := codes.Unknown
	switch {
	case errors.Is(err, instance.ErrUnsupported):
		code = codes.Unimplemented
	case errors.Is(err, instance.ErrUnavailable):
		code = codes.FailedPrecondition
	case errors.Is(err, ErrKeyLost):
		code = codes.NotFound
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	}
	return status.Error(code, err.Error())
}
