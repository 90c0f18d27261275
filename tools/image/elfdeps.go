package main

import (
	"debug/elf"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// arch describes the machine an ELF binary was built for: the OCI platform
// name and the Debian multiarch directory its libraries live in.
type arch struct {
	goarch  string // OCI "architecture"
	triplet string // Debian multiarch tuple
}

var arches = map[elf.Machine]arch{
	elf.EM_X86_64:  {"amd64", "x86_64-linux-gnu"},
	elf.EM_AARCH64: {"arm64", "aarch64-linux-gnu"},
}

// sharedLib is one shared object the binary loads at start.
type sharedLib struct {
	Soname string `json:"soname"` // the DT_NEEDED name the loader looks for
	Host   string `json:"host"`   // where it was found on this machine
	real   string // Host with every symbolic link resolved: the bytes shipped
}

// elfDeps is what a dynamically linked binary needs from its root file
// system.
type elfDeps struct {
	arch       arch
	interp     string      // PT_INTERP (the dynamic loader), as the binary names it
	interpReal string      // the loader's file on this machine
	libs       []sharedLib // every DT_NEEDED, recursively, sorted by soname
}

// resolveELF follows the DT_NEEDED entries of `binary` and of every library
// it pulls in, the way the dynamic loader does (DT_RPATH, DT_RUNPATH with
// $ORIGIN, /etc/ld.so.conf, the multiarch system directories), and returns
// the loader and the libraries. A static binary has neither. It fails when a
// library cannot be found, so an image is never built around a binary that
// would not start.
func resolveELF(binary string) (*elfDeps, error) {
	f, err := elf.Open(binary)
	if err != nil {
		return nil, fmt.Errorf("%s: not an ELF file: %w", binary, err)
	}
	defer f.Close()
	a, ok := arches[f.Machine]
	if !ok {
		return nil, fmt.Errorf("%s: unsupported machine %v (supported: x86-64, aarch64)", binary, f.Machine)
	}
	deps := &elfDeps{arch: a}
	for _, p := range f.Progs {
		if p.Type != elf.PT_INTERP {
			continue
		}
		b := make([]byte, p.Filesz)
		if _, err := p.ReadAt(b, 0); err != nil {
			return nil, fmt.Errorf("%s: reading PT_INTERP: %w", binary, err)
		}
		deps.interp = strings.TrimRight(string(b), "\x00")
	}
	if deps.interp == "" {
		return deps, nil
	}
	if deps.interpReal, err = filepath.EvalSymlinks(deps.interp); err != nil {
		return nil, fmt.Errorf("%s: its loader %s is missing on this machine: %w", binary, deps.interp, err)
	}

	system := append(ldSoConfDirs("/etc/ld.so.conf", 0),
		"/lib/"+a.triplet, "/usr/lib/"+a.triplet, "/lib64", "/usr/lib64", "/lib", "/usr/lib")
	found := map[string]sharedLib{}
	// The loader itself satisfies a DT_NEEDED of its own soname.
	found[filepath.Base(deps.interp)] = sharedLib{Soname: filepath.Base(deps.interp), Host: deps.interp, real: deps.interpReal}

	type object struct {
		path  string
		rpath []string // DT_RPATH of the executable applies to every object
	}
	queue := []object{{path: binary}}
	for len(queue) > 0 {
		obj := queue[0]
		queue = queue[1:]
		needed, rpath, runpath, err := dynamicInfo(obj.path, f.Class, f.Machine)
		if err != nil {
			return nil, err
		}
		origin := filepath.Dir(obj.path)
		var dirs []string
		inherited := append(append([]string{}, obj.rpath...), expandOrigin(rpath, origin)...)
		if len(runpath) == 0 {
			dirs = append(dirs, inherited...)
		}
		dirs = append(dirs, expandOrigin(runpath, origin)...)
		dirs = append(dirs, system...)
		for _, name := range needed {
			if _, ok := found[name]; ok {
				continue
			}
			path, err := findLibrary(name, dirs, f.Class, f.Machine)
			if err != nil {
				return nil, fmt.Errorf("%s (needed by %s): %w", name, obj.path, err)
			}
			real, err := filepath.EvalSymlinks(path)
			if err != nil {
				return nil, err
			}
			found[name] = sharedLib{Soname: name, Host: path, real: real}
			queue = append(queue, object{path: path, rpath: inherited})
		}
	}
	delete(found, filepath.Base(deps.interp))
	for _, l := range found {
		deps.libs = append(deps.libs, l)
	}
	sort.Slice(deps.libs, func(i, j int) bool { return deps.libs[i].Soname < deps.libs[j].Soname })
	return deps, nil
}

// dynamicInfo reads DT_NEEDED, DT_RPATH and DT_RUNPATH of one object and
// checks that it matches the executable's class and machine.
func dynamicInfo(path string, class elf.Class, machine elf.Machine) (needed, rpath, runpath []string, err error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	if f.Class != class || f.Machine != machine {
		return nil, nil, nil, fmt.Errorf("%s: %v/%v, the binary is %v/%v", path, f.Class, f.Machine, class, machine)
	}
	if needed, err = f.DynString(elf.DT_NEEDED); err != nil {
		return nil, nil, nil, fmt.Errorf("%s: DT_NEEDED: %w", path, err)
	}
	for tag, out := range map[elf.DynTag]*[]string{elf.DT_RPATH: &rpath, elf.DT_RUNPATH: &runpath} {
		values, err := f.DynString(tag)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("%s: %v: %w", path, tag, err)
		}
		for _, v := range values {
			*out = append(*out, filepath.SplitList(v)...)
		}
	}
	return needed, rpath, runpath, nil
}

func expandOrigin(dirs []string, origin string) []string {
	var out []string
	for _, d := range dirs {
		d = strings.ReplaceAll(strings.ReplaceAll(d, "${ORIGIN}", origin), "$ORIGIN", origin)
		if d != "" {
			out = append(out, d)
		}
	}
	return out
}

// findLibrary returns the first file called `name` in `dirs` that is an ELF
// object of the right class and machine (a multilib system keeps i386
// libraries of the same name in other directories).
func findLibrary(name string, dirs []string, class elf.Class, machine elf.Machine) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		f, err := elf.Open(p)
		if err != nil {
			continue
		}
		ok := f.Class == class && f.Machine == machine
		f.Close()
		if ok {
			return p, nil
		}
	}
	return "", fmt.Errorf("not found in %s", strings.Join(dirs, ":"))
}

// ldSoConfDirs reads the directories of an ld.so.conf file, following its
// include lines (globs, relative to /etc).
func ldSoConfDirs(path string, depth int) []string {
	if depth > 8 {
		return nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var dirs []string
	for _, line := range strings.Split(string(data), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		line = strings.TrimSpace(line)
		switch {
		case line == "":
		case strings.HasPrefix(line, "include "):
			pattern := strings.TrimSpace(strings.TrimPrefix(line, "include "))
			if !filepath.IsAbs(pattern) {
				pattern = filepath.Join(filepath.Dir(path), pattern)
			}
			matches, _ := filepath.Glob(pattern)
			sort.Strings(matches)
			for _, m := range matches {
				dirs = append(dirs, ldSoConfDirs(m, depth+1)...)
			}
		default:
			dirs = append(dirs, line)
		}
	}
	return dirs
}
