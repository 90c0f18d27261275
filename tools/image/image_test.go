package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// hostBinary is a dynamically linked program of this machine to build test
// images around (the builder does not care that it is not vaultca-server).
func hostBinary(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/openssl", "/usr/bin/curl", "/bin/ls"} {
		if deps, err := resolveELF(p); err == nil && deps.interp != "" {
			return p
		}
	}
	t.Skip("no dynamically linked host program found")
	return ""
}

func TestResolveELFAgreesWithLdd(t *testing.T) {
	bin := hostBinary(t)
	ldd, err := exec.LookPath("ldd")
	if err != nil {
		t.Skip("no ldd to compare with")
	}
	out, err := exec.Command(ldd, bin).Output()
	if err != nil {
		t.Fatalf("ldd %s: %v", bin, err)
	}
	var want []string
	for _, m := range regexp.MustCompile(`(?m)^\s*(\S+) => `).FindAllStringSubmatch(string(out), -1) {
		want = append(want, m[1])
	}
	sort.Strings(want)
	deps, err := resolveELF(bin)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range deps.libs {
		got = append(got, l.Soname)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("resolveELF(%s) = %v\nldd says          %v", bin, got, want)
	}
}

func TestResolveELFRejectsNonELF(t *testing.T) {
	p := filepath.Join(t.TempDir(), "script")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := resolveELF(p); err == nil || !strings.Contains(err.Error(), "not an ELF file") {
		t.Errorf("resolveELF(script) error = %v, want 'not an ELF file'", err)
	}
}

func testOptions(t *testing.T, out string) buildOptions {
	return buildOptions{
		binary: hostBinary(t), out: out, tag: "vaultca-server:test", version: "test",
		revision: "0123abc", source: "https://example.invalid/vaultca",
		caBundle: "/etc/ssl/certs/ca-certificates.crt", dpkgDir: "", epoch: 1700000000,
	}
}

func TestBuildIsReproducible(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(t, filepath.Join(dir, "a"))
	if _, err := os.Stat(o.caBundle); err != nil {
		t.Skip("no CA bundle on this machine")
	}
	a, err := build(o)
	if err != nil {
		t.Fatal(err)
	}
	o.out = filepath.Join(dir, "b")
	b, err := build(o)
	if err != nil {
		t.Fatal(err)
	}
	if a.Digest != b.Digest {
		t.Errorf("same inputs, different digests: %s vs %s", a.Digest, b.Digest)
	}
	ta, _ := os.ReadFile(a.Archive)
	tb, _ := os.ReadFile(b.Archive)
	if !bytes.Equal(ta, tb) {
		t.Error("same inputs, different image.tar bytes")
	}
	// The digest does follow its inputs.
	o.out, o.epoch = filepath.Join(dir, "c"), o.epoch+1
	c, err := build(o)
	if err != nil {
		t.Fatal(err)
	}
	if c.Digest == a.Digest {
		t.Error("another timestamp gave the same digest")
	}
	if got, err := validateLayout(a.Layout); err != nil || got != a.Digest {
		t.Errorf("validateLayout = %s, %v; want %s", got, err, a.Digest)
	}
}

func TestBuildReplacesOutputOnlyWhenComplete(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(t, filepath.Join(dir, "out"))
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(o.out, "previous")
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	o.caBundle = filepath.Join(dir, "missing.crt")
	if _, err := build(o); err == nil {
		t.Fatal("build with a missing CA bundle succeeded")
	}
	if _, err := os.Stat(marker); err != nil {
		t.Errorf("a failed build touched the previous output: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("a failed build left temporary files: %v", entries)
	}
}

func TestImageConfig(t *testing.T) {
	dir := t.TempDir()
	o := testOptions(t, filepath.Join(dir, "out"))
	if _, err := os.Stat(o.caBundle); err != nil {
		t.Skip("no CA bundle on this machine")
	}
	s, err := build(o)
	if err != nil {
		t.Fatal(err)
	}
	lp := s.Layout
	idx, err := os.ReadFile(filepath.Join(lp, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(idx), "artifactType") {
		t.Errorf("index.json marks the image as an artifact: %s", idx)
	}
	var m struct {
		Config struct{ Digest string }
		Layers []struct{ Digest string }
	}
	readBlob := func(d string) []byte {
		b, err := os.ReadFile(filepath.Join(lp, "blobs", "sha256", strings.TrimPrefix(d, "sha256:")))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if err := json.Unmarshal(readBlob(s.Digest), &m); err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Created string
		Config  struct {
			User         string
			Entrypoint   []string
			ExposedPorts map[string]struct{}
			Labels       map[string]string
		}
	}
	if err := json.Unmarshal(readBlob(m.Config.Digest), &cfg); err != nil {
		t.Fatal(err)
	}
	c := cfg.Config
	if c.User != "65532:65532" || len(c.Entrypoint) != 1 || c.Entrypoint[0] != serverPath {
		t.Errorf("User %q Entrypoint %q", c.User, c.Entrypoint)
	}
	if _, ok := c.ExposedPorts["15012/tcp"]; !ok || len(c.ExposedPorts) != 2 {
		t.Errorf("ExposedPorts %v", c.ExposedPorts)
	}
	for k, want := range map[string]string{
		"org.opencontainers.image.source":   o.source,
		"org.opencontainers.image.version":  o.version,
		"org.opencontainers.image.revision": o.revision,
		"org.opencontainers.image.created":  "2023-11-14T22:13:20Z",
	} {
		if c.Labels[k] != want {
			t.Errorf("label %s = %q, want %q", k, c.Labels[k], want)
		}
	}
	if cfg.Created != "2023-11-14T22:13:20Z" {
		t.Errorf("created %s", cfg.Created)
	}
}

func TestRootFSTar(t *testing.T) {
	r := newRootFS()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(r.file("/usr/lib-x/a", 0o644, []byte("a")))
	must(r.file("/usr/lib/x/b", 0o644, []byte("b")))
	must(r.dir("/var/run/vaultca", 0o700, nonrootID, nonrootID))
	must(r.symlink("/lib64/ld.so", "../usr/lib/x/b"))
	if err := r.file("/usr/lib/x/b", 0o644, []byte("other")); err == nil {
		t.Error("adding a path twice with other content succeeded")
	}
	if err := r.file("/usr/lib/x/b/c", 0o644, nil); err == nil {
		t.Error("a file below a file was accepted")
	}
	mtime := time.Unix(1700000000, 0)
	data, err := r.tar(mtime)
	must(err)
	tr := tar.NewReader(bytes.NewReader(data))
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		must(err)
		names = append(names, h.Name)
		if !h.ModTime.Equal(mtime) || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: mtime %v uname %q gname %q", h.Name, h.ModTime, h.Uname, h.Gname)
		}
		if h.Name == "var/run/vaultca/" && (h.Uid != nonrootID || h.Mode != 0o700) {
			t.Errorf("%s: uid %d mode %o", h.Name, h.Uid, h.Mode)
		}
	}
	want := "lib64/ lib64/ld.so usr/ usr/lib/ usr/lib/x/ usr/lib/x/b usr/lib-x/ usr/lib-x/a var/ var/run/ var/run/vaultca/"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("entries\n got %s\nwant %s", got, want)
	}
}
