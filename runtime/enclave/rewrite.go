package enclave

import (
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/inclavare/inclavare/runtime/wasm/attest"
)

// Paths inside the container. /dev is a tmpfs in every OCI container, so
// they can be created even on a read-only root filesystem.
const (
	ContainerDir         = "/dev/.rune"
	ContainerRunelet     = ContainerDir + "/runelet"
	ContainerRuneletWasm = ContainerDir + "/runelet-wasm"
	ContainerLibDir      = ContainerDir + "/lib"
	ContainerPALDir      = ContainerDir + "/pal"
	ContainerRunDir      = ContainerDir + "/run"
	// ContainerAesmdDir is where SGX PALs expect the aesmd socket.
	ContainerAesmdDir = "/var/run/aesmd"
)

// DefaultCacheDir is the host directory of the wasm compiled-module caches.
const DefaultCacheDir = "/var/cache/rune/wasm"

// Host is what the spec rewrite uses from the host.
type Host struct {
	// Runelet is the host path of the runelet (PAL types).
	Runelet string
	// RuneletWasm is the host path of runelet-wasm (wasm type).
	RuneletWasm string
	// Prober inspects the PAL; nil means RuneletProber{Runelet: Runelet},
	// behind a CachingProber when ProbeCacheDir is set.
	Prober Prober
	// ProbeCacheDir, when set, caches the probe reports of PALs that
	// passed (see CachingProber); rune uses ProbeCacheDir(root).
	ProbeCacheDir string
	// LibraryDirs is the library search path; nil means HostLibraryDirs().
	LibraryDirs []string
	// DevDir holds the SGX devices; "" means /dev.
	DevDir string
	// AesmdDir is the aesmd socket directory; "" means /var/run/aesmd.
	AesmdDir string
	// CacheDir is the root of the wasm caches; "" means DefaultCacheDir.
	CacheDir string
	// CacheFD is the descriptor number the container's init gets the wasm
	// cache directory on (the caller passes it open there).
	CacheFD int
	// PALDirs, when not empty, are the only host directories the PAL and
	// the extra libraries may come from. A bundle's annotations are input
	// from whoever wrote the bundle, and the PAL is loaded on the host by
	// the probe: on a shared host, name the installed PALs' directories.
	PALDirs []string
}

func (h *Host) devDir() string   { return or(h.DevDir, "/dev") }
func (h *Host) aesmdDir() string { return or(h.AesmdDir, "/var/run/aesmd") }
func (h *Host) cacheDir() string { return or(h.CacheDir, DefaultCacheDir) }

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Validate checks c against the host: the type and log level, and for PAL
// types that the PAL is a readable ELF shared object whose probe (run in
// the runelet, never in rune) shows a supported API version and no missing
// symbol. It creates nothing.
func (c *Config) Validate(ctx context.Context, h Host) error {
	if err := c.check(); err != nil {
		return err
	}
	if !c.Type.UsesPAL() {
		if h.RuneletWasm == "" {
			return errors.New("the wasm runtime runelet-wasm was not found: install it next to rune or set RUNE_RUNELET_WASM")
		}
		if err := checkStatic(h.RuneletWasm); err != nil {
			return fmt.Errorf("runelet-wasm %s: %w", h.RuneletWasm, err)
		}
		return nil
	}
	if err := checkSharedObject(c.RuntimePath); err != nil {
		return fmt.Errorf("PAL %s (%s): %w", c.RuntimePath, AnnotationRuntimePath, err)
	}
	if err := checkAllowed(c.RuntimePath, h.PALDirs); err != nil {
		return fmt.Errorf("PAL %s (%s): %w", c.RuntimePath, AnnotationRuntimePath, err)
	}
	for _, l := range c.Libs {
		if err := checkSharedObject(l); err != nil {
			return fmt.Errorf("library %s (%s): %w", l, AnnotationLibs, err)
		}
		if err := checkAllowed(l, h.PALDirs); err != nil {
			return fmt.Errorf("library %s (%s): %w", l, AnnotationLibs, err)
		}
	}
	if h.Runelet == "" {
		return errors.New("the runelet was not found: install it next to rune or set RUNE_RUNELET")
	}
	if _, err := os.Stat(h.Runelet); err != nil {
		return fmt.Errorf("runelet: %w (install it next to rune or set RUNE_RUNELET)", err)
	}
	prober := h.Prober
	if prober == nil {
		prober = RuneletProber{Runelet: h.Runelet}
		if h.ProbeCacheDir != "" {
			prober = CachingProber{Prober: prober, Dir: h.ProbeCacheDir, Runelet: h.Runelet}
		}
	}
	r, err := prober.Probe(ctx, c.RuntimePath)
	if err != nil {
		return err
	}
	return checkProbe(c.RuntimePath, r)
}

// checkAllowed checks that path, symbolic links resolved, lies in one of
// dirs (any path when dirs is empty).
func checkAllowed(path string, dirs []string) error {
	if len(dirs) == 0 {
		return nil
	}
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return err
	}
	for _, d := range dirs {
		rd, err := filepath.EvalSymlinks(d)
		if err != nil {
			continue
		}
		if strings.HasPrefix(real, rd+string(filepath.Separator)) {
			return nil
		}
	}
	return fmt.Errorf("%s is outside the allowed PAL directories %s: install it there, or add its directory to RUNE_PAL_DIRS", real, strings.Join(dirs, ":"))
}

// checkStatic checks that path is an ELF executable with no interpreter, so
// it runs on a root filesystem without a loader.
func checkStatic(path string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("not an ELF executable: %w", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New("dynamically linked: build it with CGO_ENABLED=0")
		}
	}
	return nil
}

// Rewrite changes spec so that the container's init is the enclave
// launcher: bind mounts of what it needs, devices, and its arguments in
// front of the workload's. runDir is the host run directory (created by the
// caller before the container starts), rootfs the host path of the root
// filesystem. Validate must have succeeded. On error spec may be partly
// changed and must not be used; nothing on the host has been changed.
func (c *Config) Rewrite(spec *specs.Spec, h Host, runDir, rootfs string) error {
	if spec.Process == nil || len(spec.Process.Args) == 0 {
		return errors.New("enclave container without process args: give the workload in process.args")
	}
	if !hasDevMount(spec) {
		return errors.New("enclave container without a mount at /dev: rune puts the enclave launcher under /dev/.rune; keep the usual tmpfs at /dev")
	}
	if c.Type == TypeWasm {
		return c.rewriteWasm(spec, h, rootfs)
	}
	return c.rewritePAL(spec, h, runDir)
}

func hasDevMount(spec *specs.Spec) bool {
	for _, m := range spec.Mounts {
		if filepath.Clean(m.Destination) == "/dev" {
			return true
		}
	}
	return false
}

func roBind(src, dst string) specs.Mount {
	return specs.Mount{Destination: dst, Type: "bind", Source: src, Options: []string{"bind", "ro", "nosuid", "nodev"}}
}

func (c *Config) rewritePAL(spec *specs.Spec, h Host, runDir string) error {
	deps, err := Resolver{Dirs: h.LibraryDirs}.Resolve([]string{h.Runelet, c.RuntimePath}, c.Libs)
	if err != nil {
		return fmt.Errorf("finding the libraries of the runelet and the PAL: %w", err)
	}
	if deps.Interp == "" {
		return fmt.Errorf("runelet %s has no program interpreter: it must be a dynamically linked executable", h.Runelet)
	}
	loaderName := filepath.Base(deps.Interp)
	palName := filepath.Base(c.RuntimePath)
	mounts := []specs.Mount{
		roBind(h.Runelet, ContainerRunelet),
		roBind(c.RuntimePath, ContainerPALDir+"/"+palName),
		roBind(deps.Interp, ContainerLibDir+"/"+loaderName),
	}
	for _, name := range slices.Sorted(maps.Keys(deps.Libs)) {
		if name == loaderName {
			continue
		}
		mounts = append(mounts, roBind(deps.Libs[name], ContainerLibDir+"/"+name))
	}
	mounts = append(mounts, specs.Mount{
		Destination: ContainerRunDir, Type: "bind", Source: runDir,
		Options: []string{"bind", "rw", "nosuid", "nodev", "noexec"},
	})
	if c.Type == TypeIntelSGX {
		if err := c.addSGX(spec, h, &mounts); err != nil {
			return err
		}
	}
	args := []string{
		ContainerLibDir + "/" + loaderName, "--library-path", ContainerLibDir,
		ContainerRunelet, "--pal", ContainerPALDir + "/" + palName,
	}
	if c.RuntimeArgs != "" {
		args = append(args, "--pal-args", c.RuntimeArgs)
	}
	args = append(args, "--loglevel", c.LogLevel, "--run-dir", ContainerRunDir, "--")
	spec.Process.Args = append(args, spec.Process.Args...)
	spec.Mounts = append(spec.Mounts, mounts...)
	return nil
}

// addSGX adds the SGX devices (in-kernel driver, else the legacy one) with
// their cgroup rules, and the aesmd socket directory when the host has it.
func (c *Config) addSGX(spec *specs.Spec, h Host, mounts *[]specs.Mount) error {
	dev := h.devDir()
	names := []string{"sgx_enclave", "sgx_provision"}
	if _, err := os.Stat(filepath.Join(dev, "sgx_enclave")); err != nil {
		names = []string{"isgx"}
		if _, err := os.Stat(filepath.Join(dev, "isgx")); err != nil {
			return fmt.Errorf("enclave type intelSgx needs the SGX device, but neither %s nor %s exists: load the SGX driver, or use enclave type simulated", filepath.Join(dev, "sgx_enclave"), filepath.Join(dev, "isgx"))
		}
	}
	if spec.Linux == nil {
		spec.Linux = &specs.Linux{}
	}
	if spec.Linux.Resources == nil {
		spec.Linux.Resources = &specs.LinuxResources{}
	}
	for _, n := range names {
		p := filepath.Join(dev, n)
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			if n == "sgx_provision" && errors.Is(err, unix.ENOENT) {
				continue // only quoting enclaves need it
			}
			return fmt.Errorf("SGX device %s: %w", p, err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFCHR {
			return fmt.Errorf("SGX device %s is not a character device", p)
		}
		major, minor := int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
		mode := os.FileMode(0o666)
		uid, gid := uint32(0), uint32(0)
		spec.Linux.Devices = append(spec.Linux.Devices, specs.LinuxDevice{
			Path: "/dev/" + n, Type: "c", Major: major, Minor: minor, FileMode: &mode, UID: &uid, GID: &gid,
		})
		spec.Linux.Resources.Devices = append(spec.Linux.Resources.Devices, specs.LinuxDeviceCgroup{
			Allow: true, Type: "c", Major: &major, Minor: &minor, Access: "rwm",
		})
	}
	if st, err := os.Stat(h.aesmdDir()); err == nil && st.IsDir() {
		*mounts = append(*mounts, specs.Mount{
			Destination: ContainerAesmdDir, Type: "bind", Source: h.aesmdDir(),
			Options: []string{"bind", "rw", "nosuid", "nodev", "noexec"},
		})
	}
	return nil
}

func (c *Config) rewriteWasm(spec *specs.Spec, h Host, rootfs string) error {
	module := spec.Process.Args[0]
	sum, err := moduleDigest(rootfs, module)
	if err != nil {
		return err
	}
	cache := filepath.Join(h.cacheDir(), sum)
	if h.CacheFD < 3 {
		return fmt.Errorf("the wasm cache descriptor must be above stdio, not %d", h.CacheFD)
	}
	// The cache is handed over as a descriptor, never mounted: runelet-wasm
	// runs the native code it finds there, so no path in the container (the
	// module's filesystem) may lead to it.
	args := []string{ContainerRuneletWasm, "--cache-fd", strconv.Itoa(h.CacheFD)}
	if c.logLevelGiven {
		// Otherwise runelet-wasm keeps its own default (warnings only), so
		// that the workload's stderr holds the module's output alone.
		args = append(args, "--loglevel", c.LogLevel)
	}
	if r := spec.Linux; r != nil && r.Resources != nil && r.Resources.Memory != nil && r.Resources.Memory.Limit != nil && *r.Resources.Memory.Limit > 0 {
		args = append(args, "--memory-limit", strconv.FormatInt(*r.Resources.Memory.Limit, 10))
	}
	// runelet-wasm refuses a module changed since it was measured here, so
	// that the recorded measurement is what runs (and what rune attest
	// reports).
	args = append(args, "--measurement", sum)
	if c.AttestationListen != "" {
		args = append(args, "--serve", c.AttestationListen, "--attester", c.attester())
	}
	args = append(args, "--")
	// Created last: everything that can fail has been checked.
	if err := os.MkdirAll(cache, 0o700); err != nil {
		return fmt.Errorf("creating the wasm cache directory: %w", err)
	}
	c.cacheDir = cache
	spec.Process.Args = append(args, spec.Process.Args...)
	// Recorded in the container's configuration for rune attest: the
	// resolved settings, whether they came from annotations or the
	// environment.
	if spec.Annotations == nil {
		spec.Annotations = map[string]string{}
	}
	spec.Annotations[AnnotationMeasurement] = sum
	spec.Annotations[AnnotationAttestationAttester] = c.attester()
	if c.AttestationListen != "" {
		spec.Annotations[AnnotationAttestationListen] = c.AttestationListen
	}
	spec.Mounts = append(spec.Mounts, roBind(h.RuneletWasm, ContainerRuneletWasm))
	return nil
}

// moduleDigest returns the hex SHA-256 of the module at path inside rootfs.
// The cache is per module so that an instance can only affect later
// instances of the same module.
func moduleDigest(rootfs, module string) (string, error) {
	if !filepath.IsAbs(module) {
		return "", fmt.Errorf("wasm module %q in process.args[0] is not an absolute path inside the container: give its absolute path", module)
	}
	p, err := securejoin.SecureJoin(rootfs, module)
	if err != nil {
		return "", fmt.Errorf("resolving wasm module %s in the root filesystem: %w", module, err)
	}
	f, err := os.Open(p)
	if err != nil {
		return "", fmt.Errorf("wasm module %s (process.args[0]) in the root filesystem: %w", module, err)
	}
	defer f.Close()
	magic := make([]byte, 4)
	if _, err := io.ReadFull(f, magic); err != nil || string(magic) != "\x00asm" {
		return "", fmt.Errorf("wasm module %s (process.args[0]) is not a WebAssembly binary (no \\0asm magic)", module)
	}
	hash := sha256.New()
	hash.Write(magic)
	if _, err := io.Copy(hash, f); err != nil {
		return "", fmt.Errorf("reading wasm module %s: %w", module, err)
	}
	return hex.EncodeToString(hash.Sum(nil)), nil
}

// attester is the wasm enclave's attester, the default when none is set.
func (c *Config) attester() string {
	if c.Attester == "" {
		return attest.DefaultAttester
	}
	return c.Attester
}
