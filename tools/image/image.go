package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

const (
	// Where the server lives in the image (the image's Entrypoint).
	serverPath = "/usr/local/bin/vaultca-server"
	// distroless's "nonroot" user and group.
	nonrootID = 65532
	// Debian's CA bundle location, which libcurl (Vault) reads by default.
	caBundlePath = "/etc/ssl/certs/ca-certificates.crt"
)

type buildOptions struct {
	binary, out, tag, version, revision, source, caBundle, dpkgDir string
	epoch                                                          int64
}

// summary is what `build` prints (and leaves in image.json).
type summary struct {
	Digest            string      `json:"digest"`    // the image manifest's digest
	Reference         string      `json:"reference"` // the tag recorded in the archive
	Platform          string      `json:"platform"`
	CompressedBytes   int64       `json:"compressed_bytes"`   // manifest + config + gzipped layer: what a registry stores
	UncompressedBytes int64       `json:"uncompressed_bytes"` // the layer tar: what a node unpacks
	Interpreter       string      `json:"interpreter"`
	Libraries         []sharedLib `json:"libraries"`
	Packages          []pkgFiles  `json:"packages"`
	Layout            string      `json:"layout"`
	Archive           string      `json:"archive"`
}

// The image's Entrypoint runs the server with its defaults: gRPC on 15012
// and /ready, /live, /metrics on 15014 (istiod's ports), self-signed CA in
// /var/lib/vaultca/self-signed, serving certificate in
// /var/run/vaultca/serving. A deployment adds --config=/etc/vaultca/... as
// the container's args.
func imageConfig(o buildOptions, a arch, created time.Time) *v1.ConfigFile {
	labels := map[string]string{
		"org.opencontainers.image.title":       "vaultca-server",
		"org.opencontainers.image.description": "Istio-compatible certificate authority whose CA key lives in HashiCorp Vault",
		"org.opencontainers.image.version":     o.version,
		"org.opencontainers.image.created":     created.UTC().Format(time.RFC3339),
	}
	if o.revision != "" {
		labels["org.opencontainers.image.revision"] = o.revision
	}
	if o.source != "" {
		labels["org.opencontainers.image.source"] = o.source
	}
	return &v1.ConfigFile{
		Architecture: a.goarch,
		OS:           "linux",
		Created:      v1.Time{Time: created},
		RootFS:       v1.RootFS{Type: "layers"},
		Config: v1.Config{
			User:       fmt.Sprintf("%d:%d", nonrootID, nonrootID),
			Entrypoint: []string{serverPath},
			Env: []string{
				"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
				"SSL_CERT_FILE=" + caBundlePath,
			},
			ExposedPorts: map[string]struct{}{"15012/tcp": {}, "15014/tcp": {}},
			WorkingDir:   "/",
			Labels:       labels,
			// The server drains on SIGTERM (NOT_SERVING, GOAWAY, exit 0).
			StopSignal: "SIGTERM",
		},
	}
}

// populate lays out the root file system.
func populate(o buildOptions, deps *elfDeps, db *dpkgDB) (*rootFS, []pkgFiles, error) {
	r := newRootFS()
	libdir := "/usr/lib/" + deps.arch.triplet
	steps := []func() error{
		func() error { return r.hostFile(serverPath, 0o755, o.binary) },
		func() error { return r.hostFile(caBundlePath, 0o644, o.caBundle) },
		func() error {
			return r.file("/etc/passwd", 0o644, []byte(
				"root:x:0:0:root:/root:/sbin/nologin\n"+
					"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"+
					"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"))
		},
		func() error {
			return r.file("/etc/group", 0o644, []byte("root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n"))
		},
		// glibc without this file tries DNS before /etc/hosts.
		func() error { return r.file("/etc/nsswitch.conf", 0o644, []byte("hosts: files dns\n")) },
		func() error { return r.dir("/root", 0o700, 0, 0) },
		func() error { return r.dir("/home/nonroot", 0o700, nonrootID, nonrootID) },
		func() error { return r.dir("/tmp", 0o1777, 0, 0) },
		// Mount point for the configuration (a ConfigMap) and JWKS files.
		func() error { return r.dir("/etc/vaultca", 0o755, 0, 0) },
		// Written by the server: ca.self_signed.state_dir and
		// serving.cert_dir live below these. With a read-only root file
		// system, mount an emptyDir on each; the server creates the 0700
		// subdirectories itself (it refuses a group- or world-writable
		// serving directory, and an emptyDir is 0777).
		func() error { return r.dir("/var/lib/vaultca", 0o700, nonrootID, nonrootID) },
		func() error { return r.dir("/var/run/vaultca", 0o700, nonrootID, nonrootID) },
	}
	if deps.interp != "" {
		inLib := path.Join(libdir, path.Base(deps.interp))
		steps = append(steps, func() error { return r.hostFile(inLib, 0o755, deps.interpReal) })
		if deps.interp != inLib {
			rel, err := filepath.Rel(path.Dir(deps.interp), inLib)
			if err != nil {
				return nil, nil, err
			}
			steps = append(steps, func() error { return r.symlink(deps.interp, rel) })
		}
	}
	// Every library goes where the loader looks without an ld.so.cache:
	// the multiarch directory, under its soname.
	for _, l := range deps.libs {
		l := l
		steps = append(steps, func() error { return r.hostFile(path.Join(libdir, l.Soname), 0o644, l.real) })
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return nil, nil, err
		}
	}
	if db == nil {
		return r, nil, nil
	}
	var owners []string
	var unowned []string
	for _, l := range append([]sharedLib{{Soname: "loader", Host: deps.interp, real: deps.interpReal}}, deps.libs...) {
		if l.Host == "" {
			continue
		}
		owner := db.ownerOf(l.Host, l.real)
		if owner == "" {
			unowned = append(unowned, l.Host)
			continue
		}
		owners = append(owners, owner)
	}
	if len(unowned) > 0 {
		return nil, nil, fmt.Errorf("no dpkg package owns %s; pass -dpkg-dir= to build without package metadata", strings.Join(unowned, ", "))
	}
	if o.caBundle == caBundlePath {
		if _, ok := db.stanzas["ca-certificates"]; ok {
			owners = append(owners, "ca-certificates")
		}
	}
	pkgs, err := db.describe(owners)
	if err != nil {
		return nil, nil, err
	}
	for _, p := range pkgs {
		if err := r.file("/var/lib/dpkg/status.d/"+p.Name, 0o644, p.status); err != nil {
			return nil, nil, err
		}
		if p.copyright != "" {
			if err := r.hostFile("/usr/share/doc/"+p.Name+"/copyright", 0o644, p.copyright); err != nil {
				return nil, nil, err
			}
		}
	}
	return r, pkgs, nil
}

func build(o buildOptions) (*summary, error) {
	deps, err := resolveELF(o.binary)
	if err != nil {
		return nil, err
	}
	if deps.interp == "" {
		return nil, fmt.Errorf("%s is statically linked: this builder is for the dynamically linked vaultca-server", o.binary)
	}
	var db *dpkgDB
	if o.dpkgDir != "" {
		if db, err = loadDpkg(o.dpkgDir); err != nil {
			return nil, err
		}
	}
	created := time.Unix(o.epoch, 0).UTC()
	fsys, pkgs, err := populate(o, deps, db)
	if err != nil {
		return nil, err
	}
	layerTar, err := fsys.tar(created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithCompressionLevel(gzip.BestCompression), tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
	if err != nil {
		return nil, err
	}

	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	if img, err = mutate.ConfigFile(img, imageConfig(o, deps.arch, created)); err != nil {
		return nil, err
	}
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History: v1.History{
			Created:   v1.Time{Time: created},
			CreatedBy: fmt.Sprintf("vaultca-image build: vaultca-server, %d shared libraries, the loader, nonroot user, CA bundle", len(deps.libs)),
			Comment:   "built without a container daemon (tools/image)",
		},
	})
	if err != nil {
		return nil, err
	}
	digest, err := img.Digest()
	if err != nil {
		return nil, err
	}

	// Everything goes to a new directory that replaces the old one only
	// when complete.
	out := filepath.Clean(o.out)
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(out), "."+filepath.Base(out)+".tmp-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}
	lp, err := layout.Write(filepath.Join(tmp, "layout"), empty.Index)
	if err != nil {
		return nil, err
	}
	refName := o.tag
	if i := strings.LastIndex(o.tag, ":"); i > strings.LastIndex(o.tag, "/") {
		refName = o.tag[i+1:]
	}
	// The index entry is written by hand: go-containerregistry would add
	// an artifactType, which marks artifacts, not runnable images.
	if err := lp.WriteImage(img); err != nil {
		return nil, err
	}
	rawManifest, err := img.RawManifest()
	if err != nil {
		return nil, err
	}
	if err := lp.AppendDescriptor(v1.Descriptor{
		MediaType: types.OCIManifestSchema1,
		Size:      int64(len(rawManifest)),
		Digest:    digest,
		Platform:  &v1.Platform{OS: "linux", Architecture: deps.arch.goarch},
		// OCI's tag (skopeo oci:DIR:TAG) and containerd's full name
		// (docker load of an OCI archive uses it).
		Annotations: map[string]string{
			"org.opencontainers.image.ref.name": refName,
			"io.containerd.image.name":          o.tag,
		},
	}); err != nil {
		return nil, err
	}
	manifest, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	if err := writeArchive(filepath.Join(tmp, "layout"), filepath.Join(tmp, "image.tar"), manifest, o.tag, created); err != nil {
		return nil, err
	}

	sum := &summary{
		Digest:            digest.String(),
		Reference:         o.tag,
		Platform:          "linux/" + deps.arch.goarch,
		CompressedBytes:   int64(len(rawManifest)) + manifest.Config.Size,
		UncompressedBytes: int64(len(layerTar)),
		Interpreter:       deps.interp,
		Libraries:         deps.libs,
		Packages:          pkgs,
		Layout:            filepath.Join(out, "layout"),
		Archive:           filepath.Join(out, "image.tar"),
	}
	for _, l := range manifest.Layers {
		sum.CompressedBytes += l.Size
	}
	js, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(tmp, "image.json"), append(js, '\n'), 0o644); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(out); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, out); err != nil {
		return nil, err
	}
	return sum, nil
}

// writeArchive packs the layout directory into one tar that is an OCI
// archive (oci-layout, index.json, blobs/) and, through a Docker
// manifest.json naming the same blobs, a `docker load` archive: the shape
// `docker save` itself writes since Docker 25. Entries are sorted and
// stamped with `mtime`, so the archive is as reproducible as the layout.
func writeArchive(layoutDir, dest string, m *v1.Manifest, tag string, mtime time.Time) error {
	blob := func(h v1.Hash) string { return "blobs/" + h.Algorithm + "/" + h.Hex }
	dm := []map[string]any{{
		"Config":   blob(m.Config.Digest),
		"RepoTags": []string{tag},
		"Layers":   []string{},
	}}
	var layers []string
	for _, l := range m.Layers {
		layers = append(layers, blob(l.Digest))
	}
	dm[0]["Layers"] = layers
	dockerManifest, err := json.Marshal(dm)
	if err != nil {
		return err
	}

	files := map[string][]byte{"manifest.json": dockerManifest}
	dirs := map[string]bool{}
	err = filepath.Walk(layoutDir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(layoutDir, p)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if info.IsDir() {
			dirs[rel] = true
			return nil
		}
		data, err := os.ReadFile(p)
		files[rel] = data
		return err
	})
	if err != nil {
		return err
	}
	var names []string
	for n := range files {
		names = append(names, n)
	}
	for d := range dirs {
		names = append(names, d+"/")
	}
	sort.Strings(names)
	f, err := os.Create(dest)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	for _, n := range names {
		h := &tar.Header{Name: n, ModTime: mtime, Format: tar.FormatPAX}
		if strings.HasSuffix(n, "/") {
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		} else {
			h.Typeflag, h.Mode, h.Size = tar.TypeReg, 0o644, int64(len(files[n]))
		}
		if err := tw.WriteHeader(h); err != nil {
			f.Close()
			return err
		}
		if _, err := tw.Write(files[n]); err != nil {
			f.Close()
			return err
		}
	}
	if err := tw.Close(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// validateLayout checks every blob of a layout against its digest and
// size, every layer's diff ID, and the manifests' and config's fields, and
// returns the digest of its only image.
func validateLayout(dir string) (string, error) {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return "", err
	}
	if err := validate.Index(idx); err != nil {
		return "", err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return "", err
	}
	if len(im.Manifests) != 1 {
		return "", fmt.Errorf("%s holds %d manifests, want 1", dir, len(im.Manifests))
	}
	return im.Manifests[0].Digest.String(), nil
}
