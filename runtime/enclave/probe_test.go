package enclave

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/runtime-spec/specs-go"
)

// script writes an executable shell script standing in for the runelet.
func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "runelet")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRuneletProber(t *testing.T) {
	args := filepath.Join(t.TempDir(), "args")
	ok := script(t, `echo "$@" > `+args+`; echo '{"version": 2, "symbols": ["pal_init","pal_exec"], "missing": []}'`)
	r, err := RuneletProber{Runelet: ok}.Probe(context.Background(), "/p/liberpal.so")
	if err != nil {
		t.Fatal(err)
	}
	if r.Version != 2 || !slices.Equal(r.Symbols, []string{"pal_init", "pal_exec"}) || len(r.Missing) != 0 {
		t.Errorf("probe = %+v", r)
	}
	if b, _ := os.ReadFile(args); strings.TrimSpace(string(b)) != "probe --pal /p/liberpal.so" {
		t.Errorf("runelet called with %q", b)
	}

	for _, tc := range []struct {
		name, body, wantErr string
		timeout             time.Duration
	}{
		{"fails", `echo "dlopen /p/liberpal.so: cannot open shared object file" >&2; exit 1`, "", 0},
		{"bad JSON", `echo 'version 2'`, "no valid JSON", 0},
		{"no version", `echo '{"symbols": []}'`, "no version", 0},
		{"two reports", `echo '{"version": 1} {"version": 3}'`, "more than one", 0},
		{"hangs", `exec sleep 10`, "took longer than", 200 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := tc.wantErr
			if want == "" {
				want = "cannot open shared object file"
			}
			start := time.Now()
			_, err := RuneletProber{Runelet: script(t, tc.body), Timeout: tc.timeout}.Probe(context.Background(), "/p/liberpal.so")
			if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "/p/liberpal.so") {
				t.Fatalf("error = %v, want one naming the PAL and containing %q", err, want)
			}
			if time.Since(start) > 5*time.Second {
				t.Errorf("probe took %s", time.Since(start))
			}
		})
	}
}

func FuzzParseProbe(f *testing.F) {
	f.Add([]byte(`{"version": 3, "symbols": ["pal_init"], "missing": ["pal_kill"]}`))
	f.Add([]byte(`{"version": 1}`))
	f.Add([]byte(`{"version": 1} x`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"version": 2, "missing": [], "error": "pal_get_version returned 0"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseProbe(data)
		if err != nil {
			return
		}
		// Whatever parses must be judged by checkProbe without panicking,
		// and only versions 1..3 without missing symbols pass.
		if checkProbe("/p.so", r) == nil && (r.Version < 1 || r.Version > MaxPALVersion || len(r.Missing) > 0 || r.Error != "") {
			t.Fatalf("checkProbe accepted %+v", r)
		}
	})
}

func FuzzFromSpec(f *testing.F) {
	f.Add("simulated", "/p.so", "args", "info", "/l.so", "ENCLAVE_TYPE=wasm")
	f.Add("", "", "", "", "", "PATH=/bin")
	f.Add("wasm", "", "", "loud", "::", "ENCLAVE_RUNTIME_LIBS=")
	f.Fuzz(func(t *testing.T, typ, path, args, level, libs, env string) {
		spec := &specs.Spec{
			Annotations: map[string]string{},
			Process:     &specs.Process{Env: strings.Split(env, "\n")},
		}
		for k, v := range map[string]string{AnnotationType: typ, AnnotationRuntimePath: path, AnnotationRuntimeArgs: args, AnnotationLogLevel: level, AnnotationLibs: libs} {
			if v != "" {
				spec.Annotations[k] = v
			}
		}
		c, err := FromSpec(spec)
		for _, kv := range spec.Process.Env {
			if strings.HasPrefix(kv, "ENCLAVE_") {
				name, _, _ := strings.Cut(kv, "=")
				if slices.ContainsFunc(settings, func(s struct{ annotation, env string }) bool { return s.env == name }) {
					t.Fatalf("%s left in the workload's environment", name)
				}
			}
		}
		if err != nil || c == nil {
			return
		}
		if c.check() == nil {
			if !slices.Contains(Types, c.Type) || !slices.Contains(LogLevels, c.LogLevel) {
				t.Fatalf("check accepted %+v", *c)
			}
			if c.Type.UsesPAL() && !filepath.IsAbs(c.RuntimePath) {
				t.Fatalf("check accepted a relative PAL path %q", c.RuntimePath)
			}
		}
	})
}
