// vaultca-image builds the vaultca-server container image without a
// container daemon: one reproducible layer holding the binary, exactly the
// shared libraries its ELF headers ask for (and the dynamic loader), a
// non-root user, the CA bundle and the directories the server writes,
// written as an OCI image layout and as one tar that is both an
// `oci-archive` (skopeo, podman, crane) and a `docker load` archive.
//
//	vaultca-image build -binary bazel-bin/server/vaultca-server -out build/image \
//	    -version v1.2.3 -revision $(git rev-parse HEAD) -source https://... -epoch $SOURCE_DATE_EPOCH
//	vaultca-image validate -layout build/image/layout
//
// The same inputs (binary, libraries, CA bundle, flags) give the same bytes
// and so the same image digest.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "build":
		err = buildCmd(os.Args[2:])
	case "validate":
		err = validateCmd(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "vaultca-image %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: vaultca-image build -binary FILE -out DIR [flags] | validate -layout DIR  (-h for flags)")
	os.Exit(2)
}

func buildCmd(args []string) error {
	fs := flag.NewFlagSet("build", flag.ExitOnError)
	var o buildOptions
	fs.StringVar(&o.binary, "binary", "", "the vaultca-server executable (required)")
	fs.StringVar(&o.out, "out", "", "output directory: layout/, image.tar, image.json (replaced as a whole; required)")
	fs.StringVar(&o.tag, "tag", "", `image reference recorded in the archive (default "vaultca-server:<version>")`)
	fs.StringVar(&o.version, "version", "dev", "org.opencontainers.image.version")
	fs.StringVar(&o.revision, "revision", "", "org.opencontainers.image.revision (the git commit)")
	fs.StringVar(&o.source, "source", "", "org.opencontainers.image.source (repository URL); empty: label left out")
	fs.Int64Var(&o.epoch, "epoch", 0, "timestamp of every file and of the image, seconds since 1970 (SOURCE_DATE_EPOCH)")
	fs.StringVar(&o.caBundle, "ca-bundle", "/etc/ssl/certs/ca-certificates.crt", "CA bundle installed as /etc/ssl/certs/ca-certificates.crt")
	fs.StringVar(&o.dpkgDir, "dpkg-dir", "/var/lib/dpkg", "dpkg database naming the packages of the shipped libraries; empty: no package metadata")
	_ = fs.Parse(args)
	if o.binary == "" || o.out == "" || fs.NArg() != 0 {
		fs.Usage()
		return fmt.Errorf("-binary and -out are required, and nothing else")
	}
	if o.tag == "" {
		o.tag = "vaultca-server:" + strings.TrimPrefix(o.version, "+")
	}
	sum, err := build(o)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(sum)
}

func validateCmd(args []string) error {
	fs := flag.NewFlagSet("validate", flag.ExitOnError)
	dir := fs.String("layout", "", "OCI image layout directory")
	_ = fs.Parse(args)
	if *dir == "" {
		return fmt.Errorf("-layout is required")
	}
	digest, err := validateLayout(*dir)
	if err != nil {
		return err
	}
	fmt.Printf("valid: %s\n", digest)
	return nil
}
