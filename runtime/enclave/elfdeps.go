package enclave

import (
	"bufio"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DefaultLibraryDirs are searched after /etc/ld.so.conf's directories, as
// the dynamic loader does.
var DefaultLibraryDirs = []string{"/lib64", "/usr/lib64", "/lib", "/usr/lib"}

// HostLibraryDirs returns the host loader's search path: the directories of
// /etc/ld.so.conf (following its include lines) and then the defaults.
func HostLibraryDirs() []string {
	var dirs []string
	readLdSoConf("/etc/ld.so.conf", &dirs, map[string]bool{})
	return append(dirs, DefaultLibraryDirs...)
}

func readLdSoConf(path string, dirs *[]string, seen map[string]bool) {
	if seen[path] {
		return
	}
	seen[path] = true
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		line = strings.TrimSpace(line)
		switch {
		case line == "":
		case strings.HasPrefix(line, "include"):
			pattern := strings.TrimSpace(strings.TrimPrefix(line, "include"))
			if !filepath.IsAbs(pattern) {
				pattern = filepath.Join(filepath.Dir(path), pattern)
			}
			matches, _ := filepath.Glob(pattern)
			for _, m := range matches {
				readLdSoConf(m, dirs, seen)
			}
		default:
			*dirs = append(*dirs, line)
		}
	}
}

// Deps is the dynamic linking closure of a set of ELF objects.
type Deps struct {
	// Interp is the host path of the program interpreter (the dynamic
	// loader) named by the executables' PT_INTERP, or "" if none has one.
	Interp string
	// Libs maps each needed library name (DT_NEEDED) to its host path.
	Libs map[string]string
}

// Resolver finds the libraries ELF objects need, as the dynamic loader would.
type Resolver struct {
	// Dirs is the search path after DT_RPATH/DT_RUNPATH; nil means
	// HostLibraryDirs().
	Dirs []string
}

// Resolve returns the closure of the libraries paths need, recursively,
// and the loader that the first of paths (the program) asks for. extra are libraries loaded at run time (dlopen): they and their own
// needs are included under their base names.
func (r Resolver) Resolve(paths []string, extra []string) (*Deps, error) {
	dirs := r.Dirs
	if dirs == nil {
		dirs = HostLibraryDirs()
	}
	d := &Deps{Libs: map[string]string{}}
	done := map[string]bool{}
	type item struct {
		path, name string
		program    bool // the first of paths: its PT_INTERP is the loader
	}
	var queue []item
	for i, p := range paths {
		queue = append(queue, item{path: p, program: i == 0})
	}
	for _, p := range extra {
		queue = append(queue, item{path: p, name: filepath.Base(p)})
	}
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		if it.name != "" {
			if prev, ok := d.Libs[it.name]; ok && !sameFile(prev, it.path) {
				return nil, fmt.Errorf("two libraries named %s are needed: %s and %s; the container can hold only one", it.name, prev, it.path)
			}
			d.Libs[it.name] = it.path
		}
		real, err := filepath.EvalSymlinks(it.path)
		if err != nil {
			return nil, fmt.Errorf("resolving %s: %w", it.path, err)
		}
		if done[real] {
			continue
		}
		done[real] = true
		f, err := elf.Open(real)
		if err != nil {
			return nil, fmt.Errorf("reading %s as ELF: %w", it.path, err)
		}
		needed, search, interp, err := dynamicInfo(f, real)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("reading the dynamic section of %s: %w", it.path, err)
		}
		if it.program {
			d.Interp = interp
		}
		for _, n := range needed {
			lib, err := findLibrary(n, search, dirs, real)
			if err != nil {
				return nil, fmt.Errorf("%s needs %s: %w", it.path, n, err)
			}
			queue = append(queue, item{path: lib, name: filepath.Base(n)})
		}
	}
	return d, nil
}

// maxInterp bounds the program interpreter's path.
const maxInterp = 4096

// dynamicInfo returns an object's DT_NEEDED names, the directories its
// DT_RPATH/DT_RUNPATH ask to search first, and its PT_INTERP.
func dynamicInfo(f *elf.File, path string) (needed, search []string, interp string, err error) {
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			if p.Filesz == 0 || p.Filesz > maxInterp {
				return nil, nil, "", fmt.Errorf("PT_INTERP of %d bytes", p.Filesz)
			}
			b := make([]byte, p.Filesz)
			if _, err := p.ReadAt(b, 0); err != nil {
				return nil, nil, "", fmt.Errorf("reading PT_INTERP: %w", err)
			}
			interp = strings.TrimRight(string(b), "\x00")
		}
	}
	if f.Section(".dynamic") == nil && f.Type != elf.ET_DYN {
		return nil, nil, interp, nil
	}
	needed, err = f.DynString(elf.DT_NEEDED)
	if err != nil {
		return nil, nil, "", err
	}
	runpath, _ := f.DynString(elf.DT_RUNPATH)
	rpath, _ := f.DynString(elf.DT_RPATH)
	if len(runpath) > 0 {
		rpath = nil // DT_RUNPATH disables DT_RPATH
	}
	origin := filepath.Dir(path)
	for _, list := range append(rpath, runpath...) {
		for _, dir := range strings.Split(list, ":") {
			dir = strings.ReplaceAll(strings.ReplaceAll(dir, "${ORIGIN}", origin), "$ORIGIN", origin)
			if dir != "" {
				search = append(search, dir)
			}
		}
	}
	return needed, search, interp, nil
}

// findLibrary looks name up in search then dirs, keeping only ELF files of
// the same class and machine as the object that needs it.
func findLibrary(name string, search, dirs []string, from string) (string, error) {
	want, err := elfIdent(from)
	if err != nil {
		return "", err
	}
	if strings.Contains(name, "/") {
		return name, nil
	}
	for _, dir := range append(append([]string(nil), search...), dirs...) {
		p := filepath.Join(dir, name)
		got, err := elfIdent(p)
		if err != nil {
			continue
		}
		if got == want {
			return p, nil
		}
	}
	return "", fmt.Errorf("not found in %s: install it, or name its directory in /etc/ld.so.conf", strings.Join(append(search, dirs...), ":"))
}

type ident struct {
	class   elf.Class
	machine elf.Machine
}

func elfIdent(path string) (ident, error) {
	f, err := elf.Open(path)
	if err != nil {
		return ident{}, err
	}
	defer f.Close()
	return ident{f.Class, f.Machine}, nil
}

func sameFile(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

// errNotShared is returned for an ELF file that is not a shared object.
var errNotShared = errors.New("not an ELF shared object")

// checkSharedObject checks that path is a readable ELF shared object for
// this machine.
func checkSharedObject(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%w: not a regular file", errNotShared)
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	ef, err := elf.NewFile(f)
	if err != nil {
		return fmt.Errorf("%w: %v", errNotShared, err)
	}
	if ef.Type != elf.ET_DYN {
		return fmt.Errorf("%w: ELF type is %s", errNotShared, ef.Type)
	}
	if ef.Machine != hostMachine {
		return fmt.Errorf("%w for this machine: built for %s, want %s", errNotShared, ef.Machine, hostMachine)
	}
	return nil
}
