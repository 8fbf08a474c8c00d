// Package registry records the instances Rats-TLS can use and selects one of
// each kind, as the C Rats-TLS does: by name (enforced: the named instance
// must work or selection fails), or else the highest-priority instance whose
// probe and construction succeed. A verifier that is not named is chosen by
// the evidence type the peer presents.
//
// Built-in instances register themselves from an init function with
// [Register]; blank-importing framework/builtins brings them all in. A
// [Catalog] joins the built-ins with the subprocess plugins found in a
// plugin directory (see framework/plugin).
package registry

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/inclavare/inclavare/framework/instance"
)

// SourceBuiltin is the Source of instances compiled into the binary.
const SourceBuiltin = "builtin"

// Registration describes one instance that can be created.
type Registration struct {
	// Descriptor says what the instance is. For a plugin that has not been
	// described yet only Kind and Name are known (see Describe).
	Descriptor instance.Descriptor
	// Source is SourceBuiltin or the path of the plugin binary.
	Source string
	// Describe, when set, completes Descriptor (it starts a plugin once).
	Describe func(ctx context.Context) (instance.Descriptor, error)
	// Probe reports whether the instance can work here; nil means it always
	// can. The error says why not and wraps instance.ErrUnavailable.
	Probe func(ctx context.Context) error
	// New creates a ready instance of Descriptor.Kind.
	New func(ctx context.Context, opts instance.Options) (instance.Instance, error)

	mu       sync.Mutex
	resolved *instance.Descriptor
	wrong    error // a plugin that misnames itself stays refused
}

// Builtin reports whether the registration is compiled in.
func (r *Registration) Builtin() bool { return r.Source == SourceBuiltin }

// Resolve returns the complete descriptor, describing a plugin on first use.
// A description is remembered once it succeeds, as is a plugin that
// misnames itself; any other failure (a plugin that timed out, say) is
// tried again on the next use.
func (r *Registration) Resolve(ctx context.Context) (instance.Descriptor, error) {
	if r.Describe == nil {
		return r.Descriptor, nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.resolved != nil {
		return *r.resolved, nil
	}
	if r.wrong != nil {
		return instance.Descriptor{}, r.wrong
	}
	d, err := r.Describe(ctx)
	if err != nil {
		return instance.Descriptor{}, err
	}
	if d.Kind != r.Descriptor.Kind || d.Name != r.Descriptor.Name {
		r.wrong = fmt.Errorf("plugin %s describes itself as %s %q, but its file name says %s %q",
			r.Source, d.Kind, d.Name, r.Descriptor.Kind, r.Descriptor.Name)
		return instance.Descriptor{}, r.wrong
	}
	r.resolved = &d
	return d, nil
}

var (
	builtinMu sync.Mutex
	builtins  []*Registration
)

// Register adds a built-in instance. It panics on a duplicate kind and name,
// which is a programming error.
func Register(r *Registration) {
	builtinMu.Lock()
	defer builtinMu.Unlock()
	if r.Descriptor.Kind == "" || r.Descriptor.Name == "" || r.New == nil {
		panic(fmt.Sprintf("registry: incomplete registration %+v", r.Descriptor))
	}
	for _, b := range builtins {
		if b.Descriptor.Kind == r.Descriptor.Kind && b.Descriptor.Name == r.Descriptor.Name {
			panic(fmt.Sprintf("registry: %s %q registered twice", r.Descriptor.Kind, r.Descriptor.Name))
		}
	}
	r.Source = SourceBuiltin
	builtins = append(builtins, r)
}

// Builtins returns the registered built-in instances.
func Builtins() []*Registration {
	builtinMu.Lock()
	defer builtinMu.Unlock()
	return slices.Clone(builtins)
}

// aliases maps the C Rats-TLS names that have a Go counterpart here.
var aliases = map[instance.Kind]map[string]string{
	instance.KindTLS:    {"openssl": "gotls"},
	instance.KindCrypto: {"openssl": "gocrypto"},
}

// Canonical returns the name used here for a (possibly C Rats-TLS) name and
// whether it was an alias.
func Canonical(kind instance.Kind, name string) (string, bool) {
	if to, ok := aliases[kind][name]; ok {
		return to, true
	}
	return name, false
}

// Catalog is the set of instances selection chooses from.
type Catalog struct {
	regs []*Registration
	log  *slog.Logger
}

// NewCatalog joins registrations; builtins come from Builtins unless
// noBuiltin is set. plugins are typically from plugin.Discover.
func NewCatalog(noBuiltin bool, plugins []*Registration, log *slog.Logger) *Catalog {
	if log == nil {
		log = slog.Default()
	}
	c := &Catalog{log: log}
	if !noBuiltin {
		c.regs = append(c.regs, Builtins()...)
	}
	c.regs = append(c.regs, plugins...)
	return c
}

// All returns every registration.
func (c *Catalog) All() []*Registration { return slices.Clone(c.regs) }

// ErrNotFound is wrapped when no instance of a name or type exists.
var ErrNotFound = errors.New("no such instance")

// Selected is a created instance and where it came from.
type Selected struct {
	Instance     instance.Instance
	Registration *Registration
}

// Select creates the named instance of kind, or, when name is empty, the
// highest-priority one that probes and creates successfully.
func (c *Catalog) Select(ctx context.Context, kind instance.Kind, name string, opts instance.Options) (Selected, error) {
	if name != "" {
		return c.selectNamed(ctx, kind, name, "", opts)
	}
	return c.selectBest(ctx, kind, "", opts)
}

// SelectVerifier creates a verifier for evidence of evType: the named one
// (which must accept that type) or the best one that does.
func (c *Catalog) SelectVerifier(ctx context.Context, name, evType string, opts instance.Options) (Selected, error) {
	if name != "" {
		return c.selectNamed(ctx, instance.KindVerifier, name, evType, opts)
	}
	return c.selectBest(ctx, instance.KindVerifier, evType, opts)
}

func (c *Catalog) selectNamed(ctx context.Context, kind instance.Kind, name, evType string, opts instance.Options) (Selected, error) {
	canon, alias := Canonical(kind, name)
	if alias {
		c.log.Info("using the Go counterpart of a C Rats-TLS instance", "kind", kind, "requested", name, "using", canon)
	}
	var errs []error
	for _, r := range c.regs {
		if r.Descriptor.Kind != kind || r.Descriptor.Name != canon {
			continue
		}
		s, err := c.create(ctx, r, evType, opts)
		if err == nil {
			return s, nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return Selected{}, fmt.Errorf("%s %q: %w (see --list-instances for what is available)", kind, name, ErrNotFound)
	}
	return Selected{}, errors.Join(errs...)
}

func (c *Catalog) selectBest(ctx context.Context, kind instance.Kind, evType string, opts instance.Options) (Selected, error) {
	type cand struct {
		r *Registration
		d instance.Descriptor
	}
	var cands []cand
	var errs []error
	for _, r := range c.regs {
		if r.Descriptor.Kind != kind {
			continue
		}
		d, err := r.Resolve(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %q from %s: %w", kind, r.Descriptor.Name, r.Source, err))
			continue
		}
		if evType != "" && d.Type != evType {
			continue
		}
		cands = append(cands, cand{r, d})
	}
	// Highest priority first; on a tie a built-in wins, then the name decides.
	slices.SortStableFunc(cands, func(a, b cand) int {
		if p := cmp.Compare(b.d.Priority, a.d.Priority); p != 0 {
			return p
		}
		if a.r.Builtin() != b.r.Builtin() {
			if a.r.Builtin() {
				return -1
			}
			return 1
		}
		return strings.Compare(a.d.Name, b.d.Name)
	})
	for _, cd := range cands {
		s, err := c.create(ctx, cd.r, "", opts)
		if err == nil {
			return s, nil
		}
		c.log.Debug("instance not selected", "kind", kind, "name", cd.d.Name, "reason", err)
		errs = append(errs, err)
	}
	what := string(kind)
	if evType != "" {
		what = fmt.Sprintf("%s for evidence type %q", kind, evType)
	}
	if len(errs) == 0 {
		return Selected{}, fmt.Errorf("no %s: %w (see --list-instances for what is available)", what, ErrNotFound)
	}
	return Selected{}, fmt.Errorf("no usable %s (see --list-instances): %w", what, errors.Join(errs...))
}

func (c *Catalog) create(ctx context.Context, r *Registration, evType string, opts instance.Options) (Selected, error) {
	d, err := r.Resolve(ctx)
	if err != nil {
		return Selected{}, fmt.Errorf("%s %q from %s: %w", r.Descriptor.Kind, r.Descriptor.Name, r.Source, err)
	}
	if evType != "" && d.Type != evType {
		return Selected{}, fmt.Errorf("verifier %q verifies evidence type %q, but the peer presented %q", d.Name, d.Type, evType)
	}
	if r.Probe != nil {
		if err := r.Probe(ctx); err != nil {
			return Selected{}, fmt.Errorf("%s %q is not usable here: %w", d.Kind, d.Name, err)
		}
	}
	inst, err := r.New(ctx, opts)
	if err != nil {
		return Selected{}, fmt.Errorf("creating %s %q: %w", d.Kind, d.Name, err)
	}
	return Selected{Instance: inst, Registration: r}, nil
}

// Listing is one row of a catalogue listing.
type Listing struct {
	instance.Descriptor
	// Source is "builtin" or the plugin path.
	Source string `json:"source"`
	// Usable tells whether the probe succeeded.
	Usable bool `json:"usable"`
	// Reason says why not, when not usable.
	Reason string `json:"reason,omitempty"`
}

// List describes and probes every registration, sorted by kind, then
// priority.
func (c *Catalog) List(ctx context.Context) []Listing {
	var out []Listing
	for _, r := range c.regs {
		l := Listing{Descriptor: r.Descriptor, Source: r.Source, Usable: true}
		d, err := r.Resolve(ctx)
		switch {
		case err != nil:
			l.Usable, l.Reason = false, err.Error()
		default:
			l.Descriptor = d
			if r.Probe != nil {
				if err := r.Probe(ctx); err != nil {
					l.Usable, l.Reason = false, err.Error()
				}
			}
		}
		out = append(out, l)
	}
	kindOrder := func(k instance.Kind) int { return slices.Index(instance.Kinds, k) }
	slices.SortStableFunc(out, func(a, b Listing) int {
		if k := cmp.Compare(kindOrder(a.Kind), kindOrder(b.Kind)); k != 0 {
			return k
		}
		return cmp.Compare(b.Priority, a.Priority)
	})
	return out
}
