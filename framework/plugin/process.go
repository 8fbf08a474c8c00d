package plugin

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/inclavare/inclavare/framework/instance"
	pb "github.com/inclavare/inclavare/framework/plugin/proto"
)

// exitGrace is how long a call whose connection broke waits for the process
// to be seen exiting before it calls the failure something else.
const exitGrace = time.Second

// session is one running plugin process and its gRPC connection.
type session struct {
	f      *file
	client *goplugin.Client
	cmd    *exec.Cmd
	conn   *grpc.ClientConn
	stderr *stderrTail
	gen    uint64 // which start of its proc this is; set under proc.mu

	ready atomic.Bool // the start attempt is over: cmd.Process is settled
	once  sync.Once
	dead  atomic.Bool
}

// live holds the sessions that CleanupClients kills.
var live = struct {
	sync.Mutex
	m map[*session]struct{}
}{m: map[*session]struct{}{}}

// CleanupClients kills every plugin process this package started that is
// still running, and waits until they are gone (a process still starting is
// killed when its start ends). Hosts call it on their way out, after closing
// the instances they could; a host killed outright relies instead on its
// plugins noticing that their parent is gone. Instances whose process it
// killed start a fresh one on their next call.
func CleanupClients() {
	live.Lock()
	ss := make([]*session, 0, len(live.m))
	for s := range live.m {
		ss = append(ss, s)
	}
	live.Unlock()
	var wg sync.WaitGroup
	for _, s := range ss {
		wg.Go(s.kill)
	}
	wg.Wait()
}

// start checks the plugin against its manifest, starts it and connects to
// it, within Config.StartTimeout (and ctx).
func (f *file) start(ctx context.Context) (*session, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("starting plugin %s: %w", f.path, err)
	}
	sum, err := checkPlugin(f.path)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(f.path)
	// The host's environment, less what this host says itself (a host that
	// is itself a plugin has its own host's values); go-plugin adds its own.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envHostPID+"=") && !strings.HasPrefix(kv, envLogLevel+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env,
		envHostPID+"="+strconv.Itoa(os.Getpid()),
		envLogLevel+"="+newHCLogger(f.log, "").GetLevel().String())
	setParentDeathSignal(cmd)
	s := &session{f: f, cmd: cmd, stderr: &stderrTail{}}
	s.client = goplugin.NewClient(&goplugin.ClientConfig{
		HandshakeConfig:  Handshake,
		VersionedPlugins: hostPlugins(),
		Cmd:              cmd,
		SecureConfig:     &goplugin.SecureConfig{Checksum: sum, Hash: sha256.New()},
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		AutoMTLS:         true,
		SkipHostEnv:      true,
		StartTimeout:     f.cfg.StartTimeout,
		Logger:           newHCLogger(f.log, filepath.Base(f.path)),
		Stderr:           s.stderr,
		GRPCDialOptions: []grpc.DialOption{grpc.WithDefaultCallOptions(
			grpc.MaxCallRecvMsgSize(maxMessageSize), grpc.MaxCallSendMsgSize(maxMessageSize))},
	})
	f.log.Debug("starting plugin")
	live.Lock()
	live.m[s] = struct{}{}
	live.Unlock()
	done := make(chan error, 1)
	go func() {
		err := s.connect()
		s.ready.Store(true)
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			return nil, s.startFailed(err)
		}
	case <-ctx.Done():
		go func() {
			<-done
			s.kill()
		}()
		return nil, fmt.Errorf("starting plugin %s: %w", f.path, ctx.Err())
	}
	f.log.Debug("plugin started", "pid", s.pid())
	return s, nil
}

func (s *session) connect() error {
	cp, err := s.client.Client()
	if err != nil {
		return err
	}
	raw, err := cp.Dispense(string(s.f.kind))
	if err != nil {
		return err
	}
	conn, ok := raw.(*grpc.ClientConn)
	if !ok {
		return fmt.Errorf("go-plugin dispensed a %T, not a gRPC connection", raw)
	}
	s.conn = conn
	return nil
}

// startFailed kills what is left of a failed start and says what happened,
// from go-plugin's error and the process's fate.
func (s *session) startFailed(err error) error {
	s.kill()
	f := s.f
	msg := err.Error()
	first, _, _ := strings.Cut(msg, "\n")
	const unrecognized = "Unrecognized remote plugin message: "
	ps := s.cmd.ProcessState
	switch {
	case errors.Is(err, goplugin.ErrChecksumsDoNotMatch):
		return untrusted("plugin %s does not match its manifest checksum: refusing to run it (it changed while it was being started)", f.path)
	case strings.HasPrefix(first, unrecognized) && len(first) > len(unrecognized):
		return &pluginError{
			msg:  fmt.Sprintf("plugin %s returned a malformed handshake line %q: it is not a Rats-TLS plugin, or it wrote to stdout before serving", f.path, truncate(strings.TrimPrefix(first, unrecognized))),
			errs: []error{ErrMalformed, err},
		}
	case ps != nil && ps.ExitCode() >= 0, strings.Contains(msg, "exited before we could connect"), strings.Contains(msg, "Failed to read any lines"):
		return &pluginError{msg: fmt.Sprintf("plugin %s exited before its handshake%s", f.path, s.exitDetail()), errs: []error{ErrExited, err}}
	case strings.Contains(msg, "timeout while waiting for plugin to start"):
		return &pluginError{msg: fmt.Sprintf("plugin %s did not start within %s", f.path, f.cfg.StartTimeout), errs: []error{ErrTimeout, err}}
	}
	return &pluginError{msg: fmt.Sprintf("plugin %s did not start: %s", f.path, first), errs: []error{err}}
}

// kill ends the process at once and waits until it is reaped. A process
// still being started is left to go-plugin's Kill, which waits for the start
// to end (at most Config.StartTimeout).
func (s *session) kill() {
	s.once.Do(func() {
		s.dead.Store(true)
		if s.ready.Load() && s.cmd.Process != nil {
			_ = s.cmd.Process.Kill()
		}
		s.client.Kill()
		s.untrack()
	})
}

// stop asks the process to exit (go-plugin kills it if it does not within
// two seconds) and waits until it is reaped.
func (s *session) stop() {
	s.once.Do(func() {
		s.dead.Store(true)
		s.client.Kill()
		s.untrack()
	})
}

func (s *session) untrack() {
	live.Lock()
	delete(live.m, s)
	live.Unlock()
}

func (s *session) pid() int {
	if !s.ready.Load() || s.cmd.Process == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// waitExit reports whether the process is seen to exit within d.
func (s *session) waitExit(d time.Duration) bool {
	deadline := time.Now().Add(d)
	for !s.client.Exited() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

// exitDetail describes how the process ended, for example
// " (exit status 2: panic: boom)". The process must have been reaped.
func (s *session) exitDetail() string {
	var parts []string
	if ps := s.cmd.ProcessState; ps != nil {
		parts = append(parts, ps.String())
	}
	if h := s.stderr.hint(); h != "" {
		parts = append(parts, h)
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ": ") + ")"
}

// commonClient is the part every kind's service shares.
type commonClient interface {
	Describe(ctx context.Context, in *pb.DescribeRequest, opts ...grpc.CallOption) (*pb.DescribeResponse, error)
	Probe(ctx context.Context, in *pb.ProbeRequest, opts ...grpc.CallOption) (*pb.ProbeResponse, error)
	Init(ctx context.Context, in *pb.InitRequest, opts ...grpc.CallOption) (*pb.InitResponse, error)
	Close(ctx context.Context, in *pb.CloseRequest, opts ...grpc.CallOption) (*pb.CloseResponse, error)
}

func (s *session) common() commonClient {
	switch s.f.kind {
	case instance.KindAttester:
		return pb.NewAttesterClient(s.conn)
	case instance.KindVerifier:
		return pb.NewVerifierClient(s.conn)
	case instance.KindTLS:
		return pb.NewTLSClient(s.conn)
	}
	return pb.NewCryptoClient(s.conn)
}

// invoke runs one call on s, bounded by ctx's deadline or else
// Config.CallTimeout, and turns a failure into an error that names the
// plugin and says what happened. A plugin that exited, did not answer in
// time or answered garbage is killed; an error the plugin reported leaves
// it running.
func (f *file) invoke(ctx context.Context, s *session, op string, fn func(context.Context) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("plugin %s: %s: %w", f.path, op, err)
	}
	budget := f.cfg.CallTimeout
	var cancel context.CancelFunc
	if dl, ok := ctx.Deadline(); ok {
		budget = time.Until(dl)
		ctx, cancel = context.WithCancel(ctx)
	} else {
		ctx, cancel = context.WithTimeout(ctx, budget)
	}
	defer cancel()
	err := fn(ctx)
	if err == nil {
		return nil
	}
	return f.failure(ctx, s, op, budget, err)
}

func (f *file) failure(ctx context.Context, s *session, op string, budget time.Duration, err error) error {
	var bad *malformed
	if errors.As(err, &bad) {
		s.kill()
		f.log.Warn("plugin answered malformed data; killed it", "op", op, "problem", bad.what)
		return &pluginError{msg: fmt.Sprintf("plugin %s returned malformed %s response: %s", f.path, op, bad.what), errs: []error{ErrMalformed}}
	}
	st, isStatus := status.FromError(err)
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded) || st.Code() == codes.DeadlineExceeded:
		s.kill()
		f.log.Warn("plugin did not answer in time; killed it", "op", op, "timeout", roundDuration(budget))
		return &pluginError{
			msg:  fmt.Sprintf("plugin %s did not answer %s within %s", f.path, op, roundDuration(budget)),
			errs: []error{ErrTimeout, context.DeadlineExceeded},
		}
	case errors.Is(ctx.Err(), context.Canceled):
		return fmt.Errorf("plugin %s: %s: %w", f.path, op, context.Canceled)
	case !isStatus:
		return fmt.Errorf("plugin %s: %s: %w", f.path, op, err)
	}
	switch st.Code() {
	case codes.Unknown, codes.InvalidArgument, codes.NotFound, codes.FailedPrecondition, codes.Unimplemented, codes.PermissionDenied, codes.Canceled:
		return f.reported(op, st)
	case codes.ResourceExhausted:
		s.kill()
		return &pluginError{msg: fmt.Sprintf("plugin %s returned malformed %s response: %s", f.path, op, st.Message()), errs: []error{ErrMalformed}}
	}
	if s.waitExit(exitGrace) {
		s.kill()
		detail := s.exitDetail()
		f.log.Warn("plugin exited during a call", "op", op, "status", strings.Trim(detail, " ()"))
		return &pluginError{msg: fmt.Sprintf("plugin %s exited during %s%s", f.path, op, detail), errs: []error{ErrExited}}
	}
	s.kill()
	if st.Code() == codes.Internal {
		return &pluginError{msg: fmt.Sprintf("plugin %s returned malformed %s response: %s", f.path, op, st.Message()), errs: []error{ErrMalformed, err}}
	}
	return &pluginError{msg: fmt.Sprintf("plugin %s failed during %s: %s; killed it", f.path, op, st.Message()), errs: []error{err}}
}

// reported turns an error the plugin's instance returned into a host error,
// mapping the status code back to the framework's sentinels.
func (f *file) reported(op string, st *status.Status) error {
	msg := fmt.Sprintf("plugin %s: %s", f.path, st.Message())
	var errs []error
	switch st.Code() {
	case codes.Unimplemented:
		if strings.HasPrefix(st.Message(), "unknown service") {
			msg = fmt.Sprintf("plugin %s does not serve the %s service (%s): its file name says %s, but it is another kind", f.path, f.kind, st.Message(), f.kind)
		}
		errs = append(errs, instance.ErrUnsupported)
	case codes.FailedPrecondition:
		errs = append(errs, instance.ErrUnavailable)
	case codes.NotFound:
		errs = append(errs, ErrKeyLost)
	}
	return &pluginError{msg: msg, errs: errs}
}

func roundDuration(d time.Duration) time.Duration {
	if d >= time.Second {
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

func truncate(s string) string {
	const max = 400
	if len(s) > max {
		return s[:max] + "..."
	}
	return s
}

// stderrTail keeps what a plugin last wrote on stderr outside its JSON log
// lines (a panic, a message before exiting), to say why it died.
type stderrTail struct {
	mu      sync.Mutex
	partial []byte
	last    string
	panic   string
}

func (t *stderrTail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.partial = append(t.partial, p...)
	for {
		i := bytes.IndexByte(t.partial, '\n')
		if i < 0 {
			break
		}
		t.line(string(t.partial[:i]))
		t.partial = t.partial[i+1:]
	}
	if len(t.partial) > 4096 {
		t.partial = t.partial[:0]
	}
	return len(p), nil
}

func (t *stderrTail) line(l string) {
	l = strings.TrimSpace(l)
	if l == "" || strings.HasPrefix(l, "{") {
		return
	}
	if t.panic == "" && (strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ")) {
		t.panic = l
	}
	t.last = l
}

func (t *stderrTail) hint() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.panic != "" {
		return truncate(t.panic)
	}
	return truncate(t.last)
}
