package registry_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	_ "github.com/inclavare/inclavare/framework/builtins"
	"github.com/inclavare/inclavare/framework/instance"
	"github.com/inclavare/inclavare/framework/registry"
)

var quiet = slog.New(slog.DiscardHandler)

// fake is the instance every test registration creates.
type fake struct{ d instance.Descriptor }

func (f fake) Descriptor() instance.Descriptor { return f.d }
func (fake) Close() error                      { return nil }

// reg is a test registration. probeErr and newErr, when set, make the probe
// or the constructor fail; source is registry.SourceBuiltin or a plugin
// path.
type reg struct {
	kind     instance.Kind
	name     string
	typ      string
	prio     int
	source   string
	probeErr error
	newErr   error
}

func (r reg) build() *registry.Registration {
	d := instance.Descriptor{Kind: r.kind, Name: r.name, Type: r.typ, Priority: r.prio}
	src := r.source
	if src == "" {
		src = registry.SourceBuiltin
	}
	out := &registry.Registration{
		Descriptor: d,
		Source:     src,
		New: func(context.Context, instance.Options) (instance.Instance, error) {
			if r.newErr != nil {
				return nil, r.newErr
			}
			return fake{d}, nil
		},
	}
	if r.probeErr != nil {
		out.Probe = func(context.Context) error { return r.probeErr }
	}
	return out
}

func catalog(log *slog.Logger, rs ...reg) *registry.Catalog {
	var regs []*registry.Registration
	for _, r := range rs {
		regs = append(regs, r.build())
	}
	if log == nil {
		log = quiet
	}
	return registry.NewCatalog(true, regs, log)
}

func unavailable(why string) error {
	return fmt.Errorf("%s: %w", why, instance.ErrUnavailable)
}

// selected returns the name of the selected instance, checking that the
// instance and the registration agree.
func selected(t *testing.T, s registry.Selected) string {
	t.Helper()
	if s.Instance == nil || s.Registration == nil {
		t.Fatalf("Selected = %+v, want an instance and its registration", s)
	}
	if got, want := s.Instance.Descriptor().Name, s.Registration.Descriptor.Name; got != want {
		t.Fatalf("instance %q came with registration %q", got, want)
	}
	return s.Instance.Descriptor().Name
}

func TestSelectByName(t *testing.T) {
	ctx := context.Background()
	tests := map[string]struct {
		regs    []reg
		name    string
		want    string
		wantErr []string // substrings; empty means success
		notIs   bool     // the error must not wrap ErrNotFound
	}{
		"named over higher priority": {
			regs: []reg{
				{kind: instance.KindAttester, name: "best", prio: 90},
				{kind: instance.KindAttester, name: "low", prio: 1},
			},
			name: "low",
			want: "low",
		},
		"named probe fails, no fallback": {
			regs: []reg{
				{kind: instance.KindAttester, name: "sgx", prio: 90, probeErr: unavailable("no /dev/sgx_enclave")},
				{kind: instance.KindAttester, name: "other", prio: 10},
			},
			name:    "sgx",
			wantErr: []string{`"sgx"`, "no /dev/sgx_enclave", "not usable"},
			notIs:   true,
		},
		"named New fails, no fallback": {
			regs: []reg{
				{kind: instance.KindAttester, name: "tdx", prio: 90, newErr: errors.New("no quote provider")},
				{kind: instance.KindAttester, name: "other", prio: 10},
			},
			name:    "tdx",
			wantErr: []string{`"tdx"`, "no quote provider"},
			notIs:   true,
		},
		"named of another kind is not found": {
			regs: []reg{
				{kind: instance.KindVerifier, name: "sgx", prio: 90},
			},
			name:    "sgx",
			wantErr: []string{`attester "sgx"`, "--list-instances"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			cat := catalog(nil, tc.regs...)
			s, err := cat.Select(ctx, instance.KindAttester, tc.name, instance.Options{})
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Select(%q): %v", tc.name, err)
				}
				if got := selected(t, s); got != tc.want {
					t.Fatalf("Select(%q) = %q, want %q", tc.name, got, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Select(%q) = %q, want an error", tc.name, selected(t, s))
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Select(%q) error %q does not mention %q", tc.name, err, w)
				}
			}
			if tc.notIs && errors.Is(err, registry.ErrNotFound) {
				t.Errorf("Select(%q) error %q wraps ErrNotFound; the instance exists", tc.name, err)
			}
			if s.Instance != nil {
				t.Errorf("Select(%q) returned an instance with its error", tc.name)
			}
		})
	}
}

func TestSelectNamedProbeErrorWrapsReason(t *testing.T) {
	cat := catalog(nil, reg{kind: instance.KindAttester, name: "sev", probeErr: unavailable("no /dev/sev-guest")})
	_, err := cat.Select(context.Background(), instance.KindAttester, "sev", instance.Options{})
	if !errors.Is(err, instance.ErrUnavailable) {
		t.Fatalf("Select error %v does not wrap instance.ErrUnavailable", err)
	}
}

func TestSelectNotFound(t *testing.T) {
	cat := catalog(nil, reg{kind: instance.KindTLS, name: "gotls", prio: 50})
	ctx := context.Background()

	_, err := cat.Select(ctx, instance.KindTLS, "wolfssl", instance.Options{})
	if !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("Select(wolfssl) error %v does not wrap ErrNotFound", err)
	}
	for _, w := range []string{`tls "wolfssl"`, "--list-instances"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("Select(wolfssl) error %q does not mention %q", err, w)
		}
	}

	// Nothing of the kind at all.
	_, err = cat.Select(ctx, instance.KindAttester, "", instance.Options{})
	if !errors.Is(err, registry.ErrNotFound) || !strings.Contains(err.Error(), "--list-instances") {
		t.Fatalf("Select(attester) error %v: want ErrNotFound with the --list-instances hint", err)
	}
	_, err = cat.SelectVerifier(ctx, "", "sgx_ecdsa", instance.Options{})
	if !errors.Is(err, registry.ErrNotFound) || !strings.Contains(err.Error(), `"sgx_ecdsa"`) {
		t.Fatalf("SelectVerifier(sgx_ecdsa) error %v: want ErrNotFound naming the evidence type", err)
	}
}

func TestSelectByPriority(t *testing.T) {
	plugin := "/usr/local/lib/rats-tls/plugins/rats-tls-attester-x"
	tests := map[string]struct {
		regs []reg
		want string
	}{
		"highest wins": {
			regs: []reg{
				{name: "low", prio: 10},
				{name: "high", prio: 80},
				{name: "mid", prio: 40},
			},
			want: "high",
		},
		"probe failure falls through": {
			regs: []reg{
				{name: "high", prio: 80, probeErr: unavailable("no device")},
				{name: "mid", prio: 40},
				{name: "low", prio: 10},
			},
			want: "mid",
		},
		"New failure falls through": {
			regs: []reg{
				{name: "high", prio: 80, newErr: errors.New("broken")},
				{name: "mid", prio: 40},
			},
			want: "mid",
		},
		"tie: built-in before plugin": {
			regs: []reg{
				{name: "aaa-plugin", prio: 50, source: plugin},
				{name: "zzz-builtin", prio: 50},
			},
			want: "zzz-builtin",
		},
		"tie: then by name": {
			regs: []reg{
				{name: "charlie", prio: 50},
				{name: "alpha", prio: 50},
				{name: "bravo", prio: 50},
			},
			want: "alpha",
		},
		"tie between plugins: by name": {
			regs: []reg{
				{name: "b", prio: 50, source: plugin + "b"},
				{name: "a", prio: 50, source: plugin + "a"},
			},
			want: "a",
		},
		"other kinds ignored": {
			regs: []reg{
				{kind: instance.KindVerifier, name: "verifier", prio: 99},
				{name: "attester", prio: 1},
			},
			want: "attester",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			for i := range tc.regs {
				if tc.regs[i].kind == "" {
					tc.regs[i].kind = instance.KindAttester
				}
			}
			cat := catalog(nil, tc.regs...)
			s, err := cat.Select(context.Background(), instance.KindAttester, "", instance.Options{})
			if err != nil {
				t.Fatalf("Select: %v", err)
			}
			if got := selected(t, s); got != tc.want {
				t.Fatalf("Select = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSelectBestAllFail(t *testing.T) {
	cat := catalog(nil,
		reg{kind: instance.KindAttester, name: "sgx", prio: 80, probeErr: unavailable("no /dev/sgx_enclave")},
		reg{kind: instance.KindAttester, name: "tdx", prio: 70, newErr: errors.New("no quote provider")},
	)
	_, err := cat.Select(context.Background(), instance.KindAttester, "", instance.Options{})
	if err == nil {
		t.Fatal("Select succeeded with no usable attester")
	}
	for _, w := range []string{"no usable attester", "no /dev/sgx_enclave", "no quote provider"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
	if errors.Is(err, registry.ErrNotFound) {
		t.Errorf("error %q wraps ErrNotFound; attesters exist but are unusable", err)
	}
}

func TestSelectVerifier(t *testing.T) {
	regs := []reg{
		{kind: instance.KindVerifier, name: "sgx_ecdsa", typ: "sgx_ecdsa", prio: 80},
		{kind: instance.KindVerifier, name: "sgx_ecdsa_qve", typ: "sgx_ecdsa", prio: 90, probeErr: unavailable("no QvE")},
		{kind: instance.KindVerifier, name: "tdx_ecdsa", typ: "tdx_ecdsa", prio: 99},
		{kind: instance.KindVerifier, name: "nullverifier", typ: instance.EvidenceTypeNull},
	}
	ctx := context.Background()
	cat := catalog(nil, regs...)

	s, err := cat.SelectVerifier(ctx, "", "sgx_ecdsa", instance.Options{})
	if err != nil {
		t.Fatalf("SelectVerifier(sgx_ecdsa): %v", err)
	}
	if got := selected(t, s); got != "sgx_ecdsa" {
		t.Errorf("SelectVerifier(sgx_ecdsa) = %q, want sgx_ecdsa (the higher one's probe fails, tdx is another type)", got)
	}

	s, err = cat.SelectVerifier(ctx, "tdx_ecdsa", "tdx_ecdsa", instance.Options{})
	if err != nil {
		t.Fatalf("SelectVerifier named tdx_ecdsa: %v", err)
	}
	if got := selected(t, s); got != "tdx_ecdsa" {
		t.Errorf("SelectVerifier named tdx_ecdsa = %q", got)
	}

	_, err = cat.SelectVerifier(ctx, "tdx_ecdsa", "sgx_ecdsa", instance.Options{})
	if err == nil {
		t.Fatal("the named verifier of the wrong evidence type was accepted")
	}
	for _, w := range []string{`"tdx_ecdsa"`, `"sgx_ecdsa"`} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %s", err, w)
		}
	}

	_, err = cat.SelectVerifier(ctx, "", "sev_snp", instance.Options{})
	if !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("SelectVerifier(sev_snp) error %v does not wrap ErrNotFound", err)
	}
}

// recorder is a slog.Handler that keeps every record.
type recorder struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, rec.Clone())
	return nil
}
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *recorder) WithGroup(string) slog.Handler      { return r }

// attrs returns the attributes of the records at level, as strings.
func (r *recorder) attrs(level slog.Level) []map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []map[string]string
	for _, rec := range r.recs {
		if rec.Level != level {
			continue
		}
		m := map[string]string{"msg": rec.Message}
		rec.Attrs(func(a slog.Attr) bool {
			m[a.Key] = a.Value.String()
			return true
		})
		out = append(out, m)
	}
	return out
}

func TestCanonical(t *testing.T) {
	tests := []struct {
		kind      instance.Kind
		name      string
		want      string
		wantAlias bool
	}{
		{instance.KindTLS, "openssl", "gotls", true},
		{instance.KindCrypto, "openssl", "gocrypto", true},
		{instance.KindAttester, "openssl", "openssl", false},
		{instance.KindVerifier, "openssl", "openssl", false},
		{instance.KindTLS, "gotls", "gotls", false},
		{instance.KindTLS, "nulltls", "nulltls", false},
	}
	for _, tc := range tests {
		got, alias := registry.Canonical(tc.kind, tc.name)
		if got != tc.want || alias != tc.wantAlias {
			t.Errorf("Canonical(%s, %q) = %q, %v; want %q, %v", tc.kind, tc.name, got, alias, tc.want, tc.wantAlias)
		}
	}
}

func TestSelectOpensslAlias(t *testing.T) {
	for kind, want := range map[instance.Kind]string{instance.KindTLS: "gotls", instance.KindCrypto: "gocrypto"} {
		t.Run(string(kind), func(t *testing.T) {
			rec := &recorder{}
			cat := catalog(slog.New(rec),
				reg{kind: kind, name: want, prio: 50},
				reg{kind: kind, name: "null" + string(kind), prio: 0},
			)
			s, err := cat.Select(context.Background(), kind, "openssl", instance.Options{})
			if err != nil {
				t.Fatalf("Select(openssl): %v", err)
			}
			if got := selected(t, s); got != want {
				t.Fatalf("Select(openssl) = %q, want %q", got, want)
			}
			notices := rec.attrs(slog.LevelInfo)
			if len(notices) != 1 {
				t.Fatalf("logged %d notices at info, want 1: %v", len(notices), notices)
			}
			n := notices[0]
			if n["requested"] != "openssl" || n["using"] != want || n["kind"] != string(kind) {
				t.Errorf("notice %v: want kind=%s requested=openssl using=%s", n, kind, want)
			}
		})
	}

	// No notice when the Go name is used, and no alias for other kinds.
	rec := &recorder{}
	cat := catalog(slog.New(rec), reg{kind: instance.KindTLS, name: "gotls"})
	if _, err := cat.Select(context.Background(), instance.KindTLS, "gotls", instance.Options{}); err != nil {
		t.Fatalf("Select(gotls): %v", err)
	}
	if n := rec.attrs(slog.LevelInfo); len(n) != 0 {
		t.Errorf("selecting gotls by its own name logged %v", n)
	}
	cat = catalog(nil, reg{kind: instance.KindAttester, name: "nullattester"})
	_, err := cat.Select(context.Background(), instance.KindAttester, "openssl", instance.Options{})
	if !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("Select(attester openssl) error %v, want ErrNotFound", err)
	}
}

func TestResolve(t *testing.T) {
	ctx := context.Background()
	base := instance.Descriptor{Kind: instance.KindVerifier, Name: "sev_snp"}

	t.Run("no Describe", func(t *testing.T) {
		r := &registry.Registration{Descriptor: base}
		d, err := r.Resolve(ctx)
		if err != nil || d != base {
			t.Fatalf("Resolve = %v, %v; want %v", d, err, base)
		}
	})

	t.Run("described once", func(t *testing.T) {
		var calls atomic.Int32
		full := base
		full.Type, full.Priority = "sev_snp", 42
		r := &registry.Registration{
			Descriptor: base,
			Source:     "/plugins/rats-tls-verifier-sev_snp",
			Describe: func(context.Context) (instance.Descriptor, error) {
				calls.Add(1)
				return full, nil
			},
		}
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				d, err := r.Resolve(ctx)
				if err != nil || d != full {
					t.Errorf("Resolve = %v, %v; want %v", d, err, full)
				}
			})
		}
		wg.Wait()
		if n := calls.Load(); n != 1 {
			t.Errorf("Describe called %d times, want 1", n)
		}
	})

	for name, d := range map[string]instance.Descriptor{
		"wrong kind": {Kind: instance.KindAttester, Name: "sev_snp", Type: "sev_snp"},
		"wrong name": {Kind: instance.KindVerifier, Name: "sev", Type: "sev_snp"},
	} {
		t.Run(name, func(t *testing.T) {
			var calls atomic.Int32
			r := &registry.Registration{
				Descriptor: base,
				Source:     "/plugins/rats-tls-verifier-sev_snp",
				Describe: func(context.Context) (instance.Descriptor, error) {
					calls.Add(1)
					return d, nil
				},
			}
			for range 2 {
				_, err := r.Resolve(ctx)
				if err == nil {
					t.Fatalf("Resolve accepted a plugin describing itself as %v", d)
				}
				for _, w := range []string{"/plugins/rats-tls-verifier-sev_snp", fmt.Sprintf("%q", d.Name), string(d.Kind)} {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("Resolve error %q does not mention %s", err, w)
					}
				}
			}
			if n := calls.Load(); n != 1 {
				t.Errorf("Describe called %d times, want 1", n)
			}
		})
	}

	t.Run("Describe error stops selection and is tried again", func(t *testing.T) {
		boom := errors.New("plugin exited")
		var calls int
		r := &registry.Registration{
			Descriptor: base,
			Source:     "/plugins/rats-tls-verifier-sev_snp",
			Describe: func(context.Context) (instance.Descriptor, error) {
				calls++
				return instance.Descriptor{}, boom
			},
			New: func(context.Context, instance.Options) (instance.Instance, error) {
				t.Error("New called although Describe failed")
				return nil, errors.New("unreachable")
			},
		}
		cat := registry.NewCatalog(true, []*registry.Registration{r}, quiet)
		_, err := cat.SelectVerifier(ctx, "sev_snp", "sev_snp", instance.Options{})
		if !errors.Is(err, boom) || !strings.Contains(err.Error(), r.Source) {
			t.Errorf("SelectVerifier error %v: want it to wrap the Describe error and name the plugin", err)
		}
		_, err = cat.SelectVerifier(ctx, "", "sev_snp", instance.Options{})
		if !errors.Is(err, boom) {
			t.Errorf("SelectVerifier (best) error %v: want it to wrap the Describe error", err)
		}
		if calls != 2 {
			t.Errorf("Describe called %d times for two selections; a failure must not be remembered", calls)
		}
	})
}

// TestSelectDescribedPlugin checks that selection by priority and type uses
// the descriptor the plugin reports, not the partial one from its file
// name.
func TestSelectDescribedPlugin(t *testing.T) {
	newFake := func(d instance.Descriptor) func(context.Context, instance.Options) (instance.Instance, error) {
		return func(context.Context, instance.Options) (instance.Instance, error) { return fake{d}, nil }
	}
	full := instance.Descriptor{Kind: instance.KindVerifier, Name: "sev_snp", Type: "sev_snp", Priority: 70}
	plugin := &registry.Registration{
		Descriptor: instance.Descriptor{Kind: full.Kind, Name: full.Name},
		Source:     "/plugins/rats-tls-verifier-sev_snp",
		Describe:   func(context.Context) (instance.Descriptor, error) { return full, nil },
		New:        newFake(full),
	}
	other := instance.Descriptor{Kind: instance.KindVerifier, Name: "sev_snp_lite", Type: "sev_snp", Priority: 60}
	builtin := &registry.Registration{Descriptor: other, Source: registry.SourceBuiltin, New: newFake(other)}
	cat := registry.NewCatalog(true, []*registry.Registration{builtin, plugin}, quiet)
	s, err := cat.SelectVerifier(context.Background(), "", "sev_snp", instance.Options{})
	if err != nil {
		t.Fatalf("SelectVerifier: %v", err)
	}
	if got := selected(t, s); got != "sev_snp" {
		t.Errorf("SelectVerifier = %q, want the described plugin (priority 70)", got)
	}
}

func TestList(t *testing.T) {
	plugin := "/plugins/rats-tls-attester-tdx"
	describedTDX := instance.Descriptor{Kind: instance.KindAttester, Name: "tdx", Type: "tdx_ecdsa", Priority: 60}
	regs := []*registry.Registration{
		reg{kind: instance.KindCrypto, name: "gocrypto", typ: "go", prio: 50}.build(),
		reg{kind: instance.KindCrypto, name: "nullcrypto", typ: "none", prio: 0}.build(),
		reg{kind: instance.KindTLS, name: "gotls", typ: "tls1.3", prio: 50}.build(),
		reg{kind: instance.KindVerifier, name: "nullverifier", typ: "null", prio: 0}.build(),
		reg{kind: instance.KindAttester, name: "nullattester", typ: "null", prio: 0}.build(),
		reg{kind: instance.KindAttester, name: "sgx", typ: "sgx_ecdsa", prio: 80, probeErr: unavailable("no /dev/sgx_enclave")}.build(),
		{
			Descriptor: instance.Descriptor{Kind: instance.KindAttester, Name: "tdx"},
			Source:     plugin,
			Describe:   func(context.Context) (instance.Descriptor, error) { return describedTDX, nil },
			New:        func(context.Context, instance.Options) (instance.Instance, error) { return fake{describedTDX}, nil },
		},
		{
			Descriptor: instance.Descriptor{Kind: instance.KindVerifier, Name: "broken"},
			Source:     "/plugins/rats-tls-verifier-broken",
			Describe: func(context.Context) (instance.Descriptor, error) {
				return instance.Descriptor{}, errors.New("plugin exited with status 2")
			},
			New: func(context.Context, instance.Options) (instance.Instance, error) {
				return nil, errors.New("unreachable")
			},
		},
	}
	cat := registry.NewCatalog(true, regs, quiet)
	rows := cat.List(context.Background())

	type row struct {
		kind   instance.Kind
		name   string
		prio   int
		usable bool
		reason string
		source string
	}
	want := []row{
		{instance.KindAttester, "sgx", 80, false, "no /dev/sgx_enclave", registry.SourceBuiltin},
		{instance.KindAttester, "tdx", 60, true, "", plugin},
		{instance.KindAttester, "nullattester", 0, true, "", registry.SourceBuiltin},
		{instance.KindVerifier, "nullverifier", 0, true, "", registry.SourceBuiltin},
		{instance.KindVerifier, "broken", 0, false, "plugin exited with status 2", "/plugins/rats-tls-verifier-broken"},
		{instance.KindTLS, "gotls", 50, true, "", registry.SourceBuiltin},
		{instance.KindCrypto, "gocrypto", 50, true, "", registry.SourceBuiltin},
		{instance.KindCrypto, "nullcrypto", 0, true, "", registry.SourceBuiltin},
	}
	if len(rows) != len(want) {
		t.Fatalf("List returned %d rows, want %d: %+v", len(rows), len(want), rows)
	}
	for i, w := range want {
		r := rows[i]
		if r.Kind != w.kind || r.Name != w.name || r.Priority != w.prio || r.Usable != w.usable || r.Source != w.source {
			t.Errorf("row %d = %s %q prio %d usable %v source %s; want %s %q prio %d usable %v source %s",
				i, r.Kind, r.Name, r.Priority, r.Usable, r.Source, w.kind, w.name, w.prio, w.usable, w.source)
		}
		if w.usable && r.Reason != "" {
			t.Errorf("row %d (%s) is usable but has reason %q", i, r.Name, r.Reason)
		}
		if !w.usable && !strings.Contains(r.Reason, w.reason) {
			t.Errorf("row %d (%s) reason %q does not mention %q", i, r.Name, r.Reason, w.reason)
		}
	}
	if rows[1].Type != "tdx_ecdsa" {
		t.Errorf("described plugin listed with type %q, want tdx_ecdsa", rows[1].Type)
	}
}

var registerOnce sync.Once

func TestRegisterPanics(t *testing.T) {
	newFake := func(context.Context, instance.Options) (instance.Instance, error) { return fake{}, nil }
	mustPanic := func(t *testing.T, what string, r *registry.Registration) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("Register(%s) did not panic", what)
			}
		}()
		registry.Register(r)
	}
	before := len(registry.Builtins())

	mustPanic(t, "no kind", &registry.Registration{Descriptor: instance.Descriptor{Name: "x"}, New: newFake})
	mustPanic(t, "no name", &registry.Registration{Descriptor: instance.Descriptor{Kind: instance.KindTLS}, New: newFake})
	mustPanic(t, "no New", &registry.Registration{Descriptor: instance.Descriptor{Kind: instance.KindTLS, Name: "x"}})
	// gotls is registered by framework/builtins.
	mustPanic(t, "duplicate gotls", &registry.Registration{Descriptor: instance.Descriptor{Kind: instance.KindTLS, Name: "gotls"}, New: newFake})

	if after := len(registry.Builtins()); after != before {
		t.Errorf("refused registrations changed Builtins from %d to %d entries", before, after)
	}

	// The same name under another kind is not a duplicate. The kind is one
	// no other test selects, so this registration stays out of their way.
	// Registered once per test binary, so that -count=N works.
	kind := instance.Kind("registry-test")
	registerOnce.Do(func() {
		r := &registry.Registration{Descriptor: instance.Descriptor{Kind: kind, Name: "gotls"}, New: newFake}
		registry.Register(r)
		if !r.Builtin() || r.Source != registry.SourceBuiltin {
			t.Errorf("Register left Source %q, want %q", r.Source, registry.SourceBuiltin)
		}
	})
	mustPanic(t, "duplicate in new kind", &registry.Registration{Descriptor: instance.Descriptor{Kind: kind, Name: "gotls"}, New: newFake})
}

func TestBuiltins(t *testing.T) {
	want := map[instance.Kind][]string{
		instance.KindAttester: {"nullattester"},
		instance.KindVerifier: {"nullverifier"},
		instance.KindTLS:      {"gotls", "nulltls"},
		instance.KindCrypto:   {"gocrypto", "nullcrypto"},
	}
	have := map[string]*registry.Registration{}
	for _, r := range registry.Builtins() {
		have[string(r.Descriptor.Kind)+"/"+r.Descriptor.Name] = r
	}
	for kind, names := range want {
		for _, n := range names {
			r, ok := have[string(kind)+"/"+n]
			if !ok {
				t.Errorf("Builtins lacks %s %q", kind, n)
				continue
			}
			if !r.Builtin() {
				t.Errorf("built-in %s %q has Source %q", kind, n, r.Source)
			}
		}
	}

	// With the built-ins, automatic selection picks the Go wrappers, and
	// no attester beats the null one.
	cat := registry.NewCatalog(false, nil, quiet)
	ctx := context.Background()
	for kind, want := range map[instance.Kind]string{
		instance.KindTLS:      "gotls",
		instance.KindCrypto:   "gocrypto",
		instance.KindAttester: "nullattester",
	} {
		s, err := cat.Select(ctx, kind, "", instance.Options{})
		if err != nil {
			t.Errorf("Select(%s): %v", kind, err)
			continue
		}
		if got := selected(t, s); got != want {
			t.Errorf("Select(%s) = %q, want %q", kind, got, want)
		}
	}
	if got := len(cat.All()); got < 6 {
		t.Errorf("NewCatalog(false, nil) has %d registrations, want the six built-ins", got)
	}
	if got := len(registry.NewCatalog(true, nil, quiet).All()); got != 0 {
		t.Errorf("NewCatalog(true, nil) has %d registrations, want none", got)
	}
}
