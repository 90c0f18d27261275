package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"path"
	"sort"
	"strings"
	"time"
)

// entry is one file, directory or symbolic link of the image's root file
// system.
type entry struct {
	typ      byte // tar.TypeDir, tar.TypeReg or tar.TypeSymlink
	mode     int64
	uid, gid int
	data     []byte
	link     string
}

// rootFS collects the entries of a single-layer image and writes them as a
// reproducible tar: sorted names, one fixed time, numeric owners only, no
// host user or group names, no access/change times.
type rootFS struct {
	entries map[string]*entry // clean absolute path -> entry
}

func newRootFS() *rootFS { return &rootFS{entries: map[string]*entry{}} }

// dir adds a directory (and its missing parents, root-owned 0755).
func (r *rootFS) dir(p string, mode int64, uid, gid int) error {
	p = path.Clean(p)
	if e, ok := r.entries[p]; ok && e.typ != tar.TypeDir {
		return fmt.Errorf("%s: already added as a file", p)
	}
	if err := r.parents(p); err != nil {
		return err
	}
	r.entries[p] = &entry{typ: tar.TypeDir, mode: mode, uid: uid, gid: gid}
	return nil
}

// file adds a regular file owned by root.
func (r *rootFS) file(p string, mode int64, data []byte) error {
	return r.add(p, &entry{typ: tar.TypeReg, mode: mode, data: data})
}

// hostFile adds a copy of a file of this machine (its content, not a link).
func (r *rootFS) hostFile(p string, mode int64, src string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return r.file(p, mode, data)
}

// symlink adds a symbolic link.
func (r *rootFS) symlink(p, target string) error {
	return r.add(p, &entry{typ: tar.TypeSymlink, mode: 0o777, link: target})
}

func (r *rootFS) add(p string, e *entry) error {
	p = path.Clean(p)
	if old, ok := r.entries[p]; ok {
		if old.typ == e.typ && bytes.Equal(old.data, e.data) && old.link == e.link && old.mode == e.mode {
			return nil
		}
		return fmt.Errorf("%s: added twice with different content", p)
	}
	if err := r.parents(p); err != nil {
		return err
	}
	r.entries[p] = e
	return nil
}

func (r *rootFS) parents(p string) error {
	for d := path.Dir(p); d != "/"; d = path.Dir(d) {
		e, ok := r.entries[d]
		if !ok {
			r.entries[d] = &entry{typ: tar.TypeDir, mode: 0o755}
			continue
		}
		if e.typ != tar.TypeDir {
			return fmt.Errorf("%s: parent %s is not a directory", p, d)
		}
	}
	return nil
}

// tar returns the layer: every entry, parents before children, all stamped
// with `mtime`.
func (r *rootFS) tar(mtime time.Time) ([]byte, error) {
	names := make([]string, 0, len(r.entries))
	for p := range r.entries {
		names = append(names, p)
	}
	// Sorting by path components keeps a directory next to its content
	// ("usr/lib" before "usr/lib/x" before "usr/lib-x"), as tar -c writes.
	sort.Slice(names, func(i, j int) bool {
		return strings.ReplaceAll(names[i], "/", "\x00") < strings.ReplaceAll(names[j], "/", "\x00")
	})
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range names {
		e := r.entries[p]
		h := &tar.Header{
			Typeflag: e.typ,
			Name:     strings.TrimPrefix(p, "/"),
			Mode:     e.mode,
			Uid:      e.uid,
			Gid:      e.gid,
			ModTime:  mtime,
			Linkname: e.link,
			Format:   tar.FormatPAX,
		}
		switch e.typ {
		case tar.TypeDir:
			h.Name += "/"
		case tar.TypeReg:
			h.Size = int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// contentSize is the total size of the regular files, what "du" of the
// unpacked root file system roughly shows.
func (r *rootFS) contentSize() int64 {
	var n int64
	for _, e := range r.entries {
		n += int64(len(e.data))
	}
	return n
}
