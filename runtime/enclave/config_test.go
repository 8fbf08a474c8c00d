package enclave

import (
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/runtime-spec/specs-go"
)

func TestFromSpecNoEnclave(t *testing.T) {
	spec := &specs.Spec{Process: &specs.Process{Env: []string{"PATH=/bin", "HOME=/"}}}
	c, err := FromSpec(spec)
	if err != nil || c != nil {
		t.Fatalf("FromSpec = %+v, %v; want nil, nil", c, err)
	}
	if !slices.Equal(spec.Process.Env, []string{"PATH=/bin", "HOME=/"}) {
		t.Errorf("env changed: %q", spec.Process.Env)
	}
}

func TestFromSpecEnvOverridesAndIsRemoved(t *testing.T) {
	spec := &specs.Spec{
		Annotations: map[string]string{
			AnnotationType:        "intelSgx",
			AnnotationRuntimePath: "/a/liberpal-a.so",
			AnnotationRuntimeArgs: "from-annotation",
			AnnotationLibs:        "/l/one.so:/l/two.so",
		},
		Process: &specs.Process{Env: []string{
			"PATH=/bin",
			"ENCLAVE_TYPE=simulated",
			"ENCLAVE_RUNTIME_PATH=/b/liberpal-b.so",
			"ENCLAVE_RUNTIME_LOGLEVEL=debug",
			"KEEP=ENCLAVE_TYPE=x",
		}},
	}
	c, err := FromSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Type: TypeSimulated, RuntimePath: "/b/liberpal-b.so", RuntimeArgs: "from-annotation", LogLevel: "debug", Libs: []string{"/l/one.so", "/l/two.so"}}
	if c.Type != want.Type || c.RuntimePath != want.RuntimePath || c.RuntimeArgs != want.RuntimeArgs || c.LogLevel != want.LogLevel || !slices.Equal(c.Libs, want.Libs) {
		t.Errorf("FromSpec = %+v, want %+v", *c, want)
	}
	if !slices.Equal(spec.Process.Env, []string{"PATH=/bin", "KEEP=ENCLAVE_TYPE=x"}) {
		t.Errorf("workload env = %q: the ENCLAVE_* variables must be removed, others kept", spec.Process.Env)
	}
}

func TestFromSpecDefaultLogLevel(t *testing.T) {
	c, err := FromSpec(&specs.Spec{Annotations: map[string]string{AnnotationType: "wasm"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.LogLevel != DefaultLogLevel {
		t.Errorf("LogLevel = %q, want %q", c.LogLevel, DefaultLogLevel)
	}
}

func TestConfigBadInputs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ann     map[string]string
		env     []string
		wantErr string
	}{
		{"no type", map[string]string{AnnotationRuntimePath: "/x.so"}, nil, "without a type"},
		{"empty type from env", map[string]string{AnnotationType: "simulated"}, []string{"ENCLAVE_TYPE="}, "without a type"},
		{"unknown type", map[string]string{AnnotationType: "sgx2"}, nil, `unknown enclave type "sgx2"`},
		{"type case", map[string]string{AnnotationType: "intelsgx"}, nil, "unknown enclave type"},
		{"bad log level", map[string]string{AnnotationType: "simulated", AnnotationRuntimePath: "/x.so", AnnotationLogLevel: "loud"}, nil, `bad enclave log level "loud"`},
		{"PAL type without path", map[string]string{AnnotationType: "simulated"}, nil, "needs the PAL"},
		{"relative PAL path", map[string]string{AnnotationType: "intelSgx", AnnotationRuntimePath: "lib/x.so"}, nil, "not an absolute path"},
		{"relative lib", map[string]string{AnnotationType: "simulated", AnnotationRuntimePath: "/x.so", AnnotationLibs: "/ok.so:rel.so"}, nil, `entry "rel.so" is not an absolute path`},
		{"NUL in args", map[string]string{AnnotationType: "simulated", AnnotationRuntimePath: "/x.so", AnnotationRuntimeArgs: "a\x00b"}, nil, "NUL"},
		{"wasm with PAL", map[string]string{AnnotationType: "wasm", AnnotationRuntimePath: "/x.so"}, nil, "not used with enclave type wasm"},
		{"wasm with args", map[string]string{AnnotationType: "wasm"}, []string{"ENCLAVE_RUNTIME_ARGS=x"}, "not used with enclave type wasm"},
		{"wasm with libs", map[string]string{AnnotationType: "wasm", AnnotationLibs: "/x.so"}, nil, "not used with enclave type wasm"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := &specs.Spec{Annotations: tc.ann, Process: &specs.Process{Env: tc.env}}
			c, err := FromSpec(spec)
			if err == nil {
				err = c.check()
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestAttestationSettings(t *testing.T) {
	spec := &specs.Spec{
		Annotations: map[string]string{AnnotationType: "wasm", AnnotationAttestationListen: "tcp://127.0.0.1:1"},
		Process: &specs.Process{Env: []string{
			"ENCLAVE_ATTESTATION_LISTEN=tcp://127.0.0.1:7000",
			"ENCLAVE_ATTESTATION_ATTESTER=sgx_ecdsa_sim",
		}},
	}
	c, err := FromSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	if c.AttestationListen != "tcp://127.0.0.1:7000" || c.Attester != "sgx_ecdsa_sim" || len(spec.Process.Env) != 0 {
		t.Errorf("FromSpec = %+v, env %q", *c, spec.Process.Env)
	}
	if err := c.check(); err != nil {
		t.Errorf("check: %v", err)
	}
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{Type: TypeWasm, LogLevel: "info", AttestationListen: "127.0.0.1:7000"}, "want tcp://HOST:PORT"},
		{Config{Type: TypeWasm, LogLevel: "info", AttestationListen: "tcp://127.0.0.1"}, "want tcp://HOST:PORT"},
		{Config{Type: TypeWasm, LogLevel: "info", AttestationListen: "tcp://127.0.0.1:"}, "want tcp://HOST:PORT"},
		{Config{Type: TypeWasm, LogLevel: "info", Attester: "sev_snp_sim"}, "cannot carry a wasm module's measurement"},
		{Config{Type: TypeSimulated, LogLevel: "info", RuntimePath: "/p.so", AttestationListen: "tcp://127.0.0.1:7000"}, "for wasm enclaves"},
		{Config{Type: TypeSimulated, LogLevel: "info", RuntimePath: "/p.so", Attester: "sgx_ecdsa_sim"}, "local report"},
	} {
		if err := tc.cfg.check(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: error %v, want one containing %q", tc.cfg, err, tc.want)
		}
	}
}
