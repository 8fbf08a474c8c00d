package plugin

import (
	"context"
	"fmt"
	"sync"

	"github.com/inclavare/inclavare/framework/instance"
	pb "github.com/inclavare/inclavare/framework/plugin/proto"
)

// ask starts the plugin to ask its Describe and Probe, then stops it.
func (f *file) ask(ctx context.Context) (d instance.Descriptor, probeErr, err error) {
	s, err := f.start(ctx)
	if err != nil {
		return d, nil, err
	}
	defer s.stop()
	err = f.invoke(ctx, s, "Describe", func(ctx context.Context) error {
		resp, err := s.common().Describe(ctx, &pb.DescribeRequest{})
		if err != nil {
			return err
		}
		pd := resp.GetInstance()
		kind, err := instance.ParseKind(pd.GetKind())
		if err != nil {
			return &malformed{fmt.Sprintf("descriptor: %v", err)}
		}
		if pd.GetName() == "" {
			return &malformed{"descriptor without a name"}
		}
		d = instance.Descriptor{Kind: kind, Name: pd.GetName(), Type: pd.GetType(), Priority: int(pd.GetPriority())}
		return nil
	})
	if err != nil {
		return d, nil, err
	}
	if d.Kind != f.kind || d.Name != f.name {
		return d, nil, fmt.Errorf("plugin %s describes itself as %s %q, but its file name says %s %q", f.path, d.Kind, d.Name, f.kind, f.name)
	}
	err = f.invoke(ctx, s, "Probe", func(ctx context.Context) error {
		resp, err := s.common().Probe(ctx, &pb.ProbeRequest{})
		if err != nil {
			return err
		}
		if !resp.GetUsable() {
			reason := resp.GetReason()
			if reason == "" {
				reason = "it does not say why"
			}
			probeErr = &pluginError{msg: fmt.Sprintf("plugin %s is unusable here: %s", f.path, reason), errs: []error{instance.ErrUnavailable}}
		}
		return nil
	})
	f.log.Debug("plugin described", "descriptor", d, "usable", probeErr == nil)
	return d, probeErr, err
}

// new creates an instance: a process serving it, and a proxy in front.
func (f *file) new(ctx context.Context, opts instance.Options) (instance.Instance, error) {
	d, err := f.describe(ctx)
	if err != nil {
		return nil, err
	}
	p := &proc{f: f, opts: opts}
	if _, err := p.session(ctx); err != nil {
		return nil, err
	}
	x := &proxy{p: p, desc: d}
	switch f.kind {
	case instance.KindAttester:
		return &attester{x}, nil
	case instance.KindVerifier:
		return &verifier{x}, nil
	case instance.KindTLS:
		return &tlsWrapper{proxy: x}, nil
	}
	return &cryptoWrapper{x}, nil
}

// proc runs the process behind one instance. After the process crashed,
// hung or answered garbage (and was killed), the next call starts a fresh
// one and initialises it again with the same options.
type proc struct {
	f    *file
	opts instance.Options

	mu     sync.Mutex
	cur    *session
	gen    uint64
	closed bool
}

// session returns the running process, starting one if there is none.
func (p *proc) session(ctx context.Context) (*session, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, fmt.Errorf("plugin %s: the instance is closed", p.f.path)
	}
	if s := p.cur; s != nil {
		if !s.dead.Load() && !s.client.Exited() {
			return s, nil
		}
		p.cur = nil
		if !s.dead.Load() {
			s.kill()
			p.f.log.Warn("plugin process exited between calls", "status", s.exitDetail())
		}
	}
	s, err := p.f.start(ctx)
	if err != nil {
		return nil, err
	}
	err = p.f.invoke(ctx, s, "Init", func(ctx context.Context) error {
		_, err := s.common().Init(ctx, &pb.InitRequest{Options: &pb.Options{
			DebugEnclave:   p.opts.DebugEnclave,
			Endorsements:   p.opts.Endorsements,
			AllowSimulated: p.opts.AllowSimulated,
		}})
		return err
	})
	if err != nil {
		s.kill()
		return nil, err
	}
	p.gen++
	s.gen = p.gen
	p.cur = s
	if p.gen > 1 {
		p.f.log.Info("plugin restarted", "pid", s.pid(), "start", p.gen)
	}
	return s, nil
}

// call runs op on the current process, starting it if needed.
func (p *proc) call(ctx context.Context, op string, fn func(context.Context, *session) error) error {
	s, err := p.session(ctx)
	if err != nil {
		return err
	}
	return p.f.invoke(ctx, s, op, func(ctx context.Context) error { return fn(ctx, s) })
}

// callKey runs op on the process that made a key (start gen), and fails
// with ErrKeyLost if that process is gone.
func (p *proc) callKey(ctx context.Context, op string, gen uint64, fn func(context.Context, *session) error) error {
	p.mu.Lock()
	s, closed := p.cur, p.closed
	p.mu.Unlock()
	if closed {
		return fmt.Errorf("plugin %s: the crypto instance is closed: %w", p.f.path, ErrKeyLost)
	}
	if s == nil || s.gen != gen || s.dead.Load() || s.client.Exited() {
		return fmt.Errorf("plugin %s no longer holds this key: its process was restarted since the key was made: %w", p.f.path, ErrKeyLost)
	}
	err := p.f.invoke(ctx, s, op, func(ctx context.Context) error { return fn(ctx, s) })
	if err != nil && s.dead.Load() {
		return &pluginError{msg: err.Error() + "; the key is lost with it", errs: []error{err, ErrKeyLost}}
	}
	return err
}

// close closes the instance in the plugin and stops its process.
func (p *proc) close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	s := p.cur
	p.cur = nil
	p.mu.Unlock()
	if s == nil {
		return nil
	}
	if s.dead.Load() || s.client.Exited() {
		s.kill()
		return nil
	}
	err := p.f.invoke(context.Background(), s, "Close", func(ctx context.Context) error {
		_, err := s.common().Close(ctx, &pb.CloseRequest{})
		return err
	})
	s.stop()
	return err
}

// proxy is what every kind's host-side instance shares.
type proxy struct {
	p    *proc
	desc instance.Descriptor
}

// Descriptor says what the plugin instance is.
func (x *proxy) Descriptor() instance.Descriptor { return x.desc }

// Close closes the instance in the plugin and stops its process.
func (x *proxy) Close() error { return x.p.close() }
