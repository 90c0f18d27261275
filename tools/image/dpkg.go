package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// dpkgDB answers which Debian package shipped a file, so the image can
// carry each package's status stanza (/var/lib/dpkg/status.d/<name>, the
// distroless convention that vulnerability scanners read) and its copyright
// file, as a redistributed Debian library must.
type dpkgDB struct {
	dir     string
	owner   map[string]string // file path -> "name" or "name:arch"
	stanzas map[string]string // "name" and "name:arch" -> status stanza
}

// loadDpkg reads the dpkg database in dir (normally /var/lib/dpkg). It
// returns nil, nil when there is none (not a Debian-based machine).
func loadDpkg(dir string) (*dpkgDB, error) {
	if _, err := os.Stat(filepath.Join(dir, "status")); err != nil {
		return nil, nil
	}
	db := &dpkgDB{dir: dir, owner: map[string]string{}, stanzas: map[string]string{}}
	lists, err := filepath.Glob(filepath.Join(dir, "info", "*.list"))
	if err != nil {
		return nil, err
	}
	for _, list := range lists {
		pkg := strings.TrimSuffix(filepath.Base(list), ".list")
		data, err := os.ReadFile(list)
		if err != nil {
			return nil, err
		}
		for _, p := range strings.Split(string(data), "\n") {
			if p != "" {
				db.owner[p] = pkg
			}
		}
	}
	status, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return nil, err
	}
	for _, stanza := range strings.Split(string(status), "\n\n") {
		name, arch, installed := "", "", false
		sc := bufio.NewScanner(strings.NewReader(stanza))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "Package: "):
				name = strings.TrimPrefix(line, "Package: ")
			case strings.HasPrefix(line, "Architecture: "):
				arch = strings.TrimPrefix(line, "Architecture: ")
			case strings.HasPrefix(line, "Status: "):
				installed = strings.HasSuffix(line, " installed")
			}
		}
		if name == "" || !installed {
			continue
		}
		clean := dropField(strings.TrimSpace(stanza), "Conffiles") + "\n"
		db.stanzas[name+":"+arch] = clean
		if _, dup := db.stanzas[name]; !dup {
			db.stanzas[name] = clean
		}
	}
	return db, nil
}

// dropField removes a (possibly multi-line) field from a control stanza.
func dropField(stanza, field string) string {
	var out []string
	skipping := false
	for _, line := range strings.Split(stanza, "\n") {
		if strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t") {
			if !skipping {
				out = append(out, line)
			}
			continue
		}
		skipping = strings.HasPrefix(line, field+":")
		if !skipping {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// ownerOf returns the package that installed `path`, trying the spellings a
// merged-/usr system uses for the same file (/lib/x vs /usr/lib/x) and the
// resolved path.
func (db *dpkgDB) ownerOf(paths ...string) string {
	for _, p := range paths {
		for _, c := range []string{p, strings.TrimPrefix(p, "/usr"), "/usr" + p} {
			if pkg, ok := db.owner[c]; ok {
				return pkg
			}
		}
	}
	return ""
}

// pkgFiles are the files that describe one package inside the image.
type pkgFiles struct {
	Name      string `json:"name"`
	Version   string `json:"version"`
	status    []byte
	copyright string // host path, empty when the package has none
}

// describe returns the metadata files of the packages `pkgs` (dpkg names,
// possibly with ":arch"), sorted by name. An unknown package is an error:
// it would leave the image's inventory incomplete.
func (db *dpkgDB) describe(pkgs []string) ([]pkgFiles, error) {
	seen := map[string]bool{}
	var out []pkgFiles
	for _, pkg := range pkgs {
		stanza, ok := db.stanzas[pkg]
		if !ok {
			return nil, fmt.Errorf("package %s has no installed status stanza in %s/status", pkg, db.dir)
		}
		name := strings.SplitN(pkg, ":", 2)[0]
		if seen[name] {
			continue
		}
		seen[name] = true
		pf := pkgFiles{Name: name, status: []byte(stanza)}
		for _, line := range strings.Split(stanza, "\n") {
			if strings.HasPrefix(line, "Version: ") {
				pf.Version = strings.TrimPrefix(line, "Version: ")
			}
		}
		// /usr/share/doc/<pkg> is sometimes a link to the source package's
		// directory; the file is what matters.
		if c, err := filepath.EvalSymlinks(filepath.Join("/usr/share/doc", name, "copyright")); err == nil {
			pf.copyright = c
		}
		out = append(out, pf)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
