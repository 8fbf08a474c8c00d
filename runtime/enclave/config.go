// Package enclave is rune's enclave configuration: what a bundle asks for
// (annotations, overridden by the process environment), its validation with
// clear errors, and the rewrite of the OCI spec at `rune create` that makes
// the container start its workload inside the enclave runtime.
//
// A PAL enclave (intelSgx, simulated) runs the runelet as the container's
// init: the dynamic loader, the runelet, the PAL and every library they need
// are bind-mounted read-only from the host under /dev/.rune, and the loader
// is called explicitly, so the container's root filesystem needs no libc and
// may be read-only. A wasm enclave runs the static runelet-wasm instead.
package enclave

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"

	"github.com/opencontainers/runtime-spec/specs-go"

	"github.com/inclavare/inclavare/runtime/wasm/attest"
)

// Type is the kind of enclave a container runs in.
type Type string

// The enclave types rune knows.
const (
	// TypeIntelSGX is a PAL enclave runtime on Intel SGX hardware.
	TypeIntelSGX Type = "intelSgx"
	// TypeSimulated is a PAL enclave runtime without hardware (for example
	// the skeleton PAL, where the enclave is a process).
	TypeSimulated Type = "simulated"
	// TypeWasm is the built-in WebAssembly runtime (runelet-wasm).
	TypeWasm Type = "wasm"
)

// Types lists the known enclave types.
var Types = []Type{TypeIntelSGX, TypeSimulated, TypeWasm}

// UsesPAL reports whether t is launched through a PAL shared object.
func (t Type) UsesPAL() bool { return t == TypeIntelSGX || t == TypeSimulated }

// Annotations of the OCI configuration that select and configure the enclave.
const (
	AnnotationType        = "enclave.type"
	AnnotationRuntimePath = "enclave.runtime.path"
	AnnotationRuntimeArgs = "enclave.runtime.args"
	AnnotationLogLevel    = "enclave.runtime.loglevel"
	// AnnotationLibs names extra host libraries (absolute paths separated
	// by ':') that the PAL dlopens itself, so that they are mounted too.
	AnnotationLibs = "enclave.runtime.libs"
	// AnnotationAttestationListen asks a wasm enclave to serve its module
	// over Rats-TLS at tcp://HOST:PORT (runelet-wasm --serve).
	AnnotationAttestationListen = "enclave.attestation.listen"
	// AnnotationAttestationAttester names the attester of a wasm enclave's
	// simulated TEE (default sgx_ecdsa_sim; see runtime/wasm/attest), used
	// by the listener and by `rune attest`.
	AnnotationAttestationAttester = "enclave.attestation.attester"
	// AnnotationMeasurement is written by rune at create (any value in the
	// bundle is replaced): the SHA-256 of a wasm enclave's module, which
	// runelet-wasm checks before it runs the module and `rune attest`
	// reports.
	AnnotationMeasurement = "io.github.inclavare.rune.enclave.measurement"
)

// Environment variables of the container process that override the
// annotations; rune removes them from the workload's environment.
const (
	EnvType        = "ENCLAVE_TYPE"
	EnvRuntimePath = "ENCLAVE_RUNTIME_PATH"
	EnvRuntimeArgs = "ENCLAVE_RUNTIME_ARGS"
	EnvLogLevel    = "ENCLAVE_RUNTIME_LOGLEVEL"
	EnvLibs        = "ENCLAVE_RUNTIME_LIBS"
	// EnvAttestationListen overrides AnnotationAttestationListen.
	EnvAttestationListen = "ENCLAVE_ATTESTATION_LISTEN"
	// EnvAttestationAttester overrides AnnotationAttestationAttester.
	EnvAttestationAttester = "ENCLAVE_ATTESTATION_ATTESTER"
)

// LogLevels are the accepted values of enclave.runtime.loglevel.
var LogLevels = []string{"trace", "debug", "info", "warning", "error", "fatal", "panic", "off"}

// DefaultLogLevel is the PAL log level when none is given.
const DefaultLogLevel = "info"

// Config is a container's enclave configuration.
type Config struct {
	// Type is the enclave type.
	Type Type
	// RuntimePath is the host path of the PAL shared object (PAL types only).
	RuntimePath string
	// RuntimeArgs is passed to pal_init as its args string.
	RuntimeArgs string
	// LogLevel is passed to pal_init as its log level.
	LogLevel string
	// Libs are extra host libraries the PAL loads itself.
	Libs []string
	// AttestationListen is where a wasm enclave serves its module over
	// Rats-TLS (tcp://HOST:PORT); empty: it runs the module once.
	AttestationListen string
	// Attester names the attester of a wasm enclave's simulated TEE;
	// empty means attest.DefaultAttester.
	Attester string

	// cacheDir is the host wasm cache directory Rewrite chose.
	cacheDir string
	// logLevelGiven is whether the log level was set, not defaulted.
	logLevelGiven bool
}

// CacheDir is the host directory of the wasm compiled-module cache that
// Rewrite chose ("" for PAL types). The caller gives it to the container's
// user and passes it, open, to the container's init on Host.CacheFD.
func (c *Config) CacheDir() string { return c.cacheDir }

var settings = []struct{ annotation, env string }{
	{AnnotationType, EnvType},
	{AnnotationRuntimePath, EnvRuntimePath},
	{AnnotationRuntimeArgs, EnvRuntimeArgs},
	{AnnotationLogLevel, EnvLogLevel},
	{AnnotationLibs, EnvLibs},
	{AnnotationAttestationListen, EnvAttestationListen},
	{AnnotationAttestationAttester, EnvAttestationAttester},
}

// FromSpec reads the enclave configuration of spec: each annotation,
// overridden by the process environment variable of the same meaning. It
// removes those variables from spec.Process.Env, so the workload never sees
// them. It returns nil and no error when spec asks for no enclave.
func FromSpec(spec *specs.Spec) (*Config, error) {
	if spec == nil {
		return nil, errors.New("enclave configuration: the OCI spec is empty")
	}
	values := map[string]string{}
	for _, s := range settings {
		if v, ok := spec.Annotations[s.annotation]; ok {
			values[s.annotation] = v
		}
	}
	if spec.Process != nil {
		kept := spec.Process.Env[:0:0]
		for _, kv := range spec.Process.Env {
			name, value, _ := strings.Cut(kv, "=")
			i := slices.IndexFunc(settings, func(s struct{ annotation, env string }) bool { return s.env == name })
			if i < 0 {
				kept = append(kept, kv)
				continue
			}
			values[settings[i].annotation] = value
		}
		spec.Process.Env = kept
	}
	if len(values) == 0 {
		return nil, nil
	}
	c := &Config{
		Type:        Type(values[AnnotationType]),
		RuntimePath: values[AnnotationRuntimePath],
		RuntimeArgs: values[AnnotationRuntimeArgs],
		LogLevel:    values[AnnotationLogLevel],

		AttestationListen: values[AnnotationAttestationListen],
		Attester:          values[AnnotationAttestationAttester],
	}
	if c.Type == "" {
		return nil, fmt.Errorf("enclave configuration without a type: set annotation %s (or %s) to one of %s", AnnotationType, EnvType, typeList())
	}
	c.logLevelGiven = c.LogLevel != ""
	if c.LogLevel == "" {
		c.LogLevel = DefaultLogLevel
	}
	for _, l := range strings.Split(values[AnnotationLibs], ":") {
		if l != "" {
			c.Libs = append(c.Libs, l)
		}
	}
	return c, nil
}

// checkListen checks an AnnotationAttestationListen value: tcp://HOST:PORT.
func checkListen(v string) error {
	rest, ok := strings.CutPrefix(v, "tcp://")
	if ok {
		_, port, err := net.SplitHostPort(rest)
		if err == nil && port != "" {
			return nil
		}
	}
	return fmt.Errorf("%s %q: want tcp://HOST:PORT, the address the wasm enclave listens on", AnnotationAttestationListen, v)
}

func typeList() string {
	s := make([]string, len(Types))
	for i, t := range Types {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// check validates what needs no file access: the type, the log level and
// which settings the type allows.
func (c *Config) check() error {
	if !slices.Contains(Types, c.Type) {
		return fmt.Errorf("unknown enclave type %q in %s: use one of %s", c.Type, AnnotationType, typeList())
	}
	if !slices.Contains(LogLevels, c.LogLevel) {
		return fmt.Errorf("bad enclave log level %q in %s: use one of %s", c.LogLevel, AnnotationLogLevel, strings.Join(LogLevels, ", "))
	}
	if c.Type == TypeWasm {
		switch {
		case c.RuntimePath != "":
			return fmt.Errorf("%s is not used with enclave type wasm (the wasm runtime is built into rune): remove it", AnnotationRuntimePath)
		case c.RuntimeArgs != "":
			return fmt.Errorf("%s is not used with enclave type wasm: remove it", AnnotationRuntimeArgs)
		case len(c.Libs) != 0:
			return fmt.Errorf("%s is not used with enclave type wasm: remove it", AnnotationLibs)
		}
		if err := attest.CheckName(c.Attester); err != nil {
			return fmt.Errorf("%s: %w", AnnotationAttestationAttester, err)
		}
		if c.AttestationListen != "" {
			if err := checkListen(c.AttestationListen); err != nil {
				return err
			}
		}
		return nil
	}
	switch {
	case c.AttestationListen != "":
		return fmt.Errorf("%s is for wasm enclaves (runelet-wasm serves the module); in a %s enclave the workload serves Rats-TLS itself: remove it", AnnotationAttestationListen, c.Type)
	case c.Attester != "":
		return fmt.Errorf("%s is for wasm enclaves; a %s enclave's evidence is its PAL's local report (rune attest): remove it", AnnotationAttestationAttester, c.Type)
	}
	if c.RuntimePath == "" {
		return fmt.Errorf("enclave type %s needs the PAL: set %s (or %s) to the host path of the enclave runtime's shared object", c.Type, AnnotationRuntimePath, EnvRuntimePath)
	}
	if !filepath.IsAbs(c.RuntimePath) {
		return fmt.Errorf("%s %q is not an absolute path: give the PAL's absolute host path", AnnotationRuntimePath, c.RuntimePath)
	}
	for _, l := range c.Libs {
		if !filepath.IsAbs(l) {
			return fmt.Errorf("%s entry %q is not an absolute path: give absolute host paths separated by ':'", AnnotationLibs, l)
		}
	}
	if strings.ContainsRune(c.RuntimeArgs, 0) {
		return fmt.Errorf("%s contains a NUL byte", AnnotationRuntimeArgs)
	}
	return nil
}
