package interop

// What the tests of istiod as the CA fed by `vaultca sync` share: their own
// API server and Vault, the seed's cluster objects, Vault set up by
// `vaultca bootstrap`, and the kubelet mounting Secret cacerts.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vaultca.dev/tests/interop/internal/kubelet"
	"vaultca.dev/tests/interop/internal/kubetestbed"
	"vaultca.dev/tests/interop/internal/pki"
)

// newSyncIstiodFixture starts an API server (istiod watches the whole
// cluster and writes the root ConfigMaps, so each test has its own) and a
// Vault under env.dir/name, creates the seed's cluster objects (setupKube)
// and runs `vaultca bootstrap` importing first (twice: the second run must
// change nothing). Everything stops when the test ends.
func newSyncIstiodFixture(ctx context.Context, t *testing.T, name string, first *pki.Material) *syncIstiodFixture {
	t.Helper()
	cliBin, err := mustEnvBin("VAULTCA_CLI_BIN", "build it with `bazel build //cli:vaultca` (tests/interop/run.sh does)")
	if err != nil {
		t.Fatal(err)
	}
	pilotBin, err := mustEnvBin("VAULTCA_PILOT_DISCOVERY_BIN", "build it with `bash tools/istiod/build.sh` (tests/interop/run.sh does)")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(env.dir, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(meshOutDir(t, filepath.Join(dir, "out")), name)
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	kube, err := kubetestbed.Launch(filepath.Join(dir, "kube"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kube.Stop)
	vault, err := startVault(os.Getenv("VAULTCA_VAULT_BIN"), filepath.Join(dir, "vault"))
	if err != nil {
		t.Fatalf("vault: %v", err)
	}
	t.Cleanup(vault.stop)
	if err := kube.Wait(120 * time.Second); err != nil {
		t.Fatal(err)
	}
	crdFile, err := istioCRDFile()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := applyCRDs(ctx, kube.Admin, crdFile); err != nil {
		t.Fatal(err)
	}
	f := &syncIstiodFixture{kube: kube, vault: vault, cli: cliBin, istiod: pilotBin, root: first.Root, dir: dir, out: out,
		sleepIdentity: spiffeID("default", "sleep")}
	reviewerToken := f.setupKube(ctx, t)
	f.rootFile = filepath.Join(dir, "root-cert.pem")
	if err := os.WriteFile(f.rootFile, first.Root.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}

	// The seed's "Configure Vault" and "Add secrets in Vault" steps, by
	// vaultca bootstrap importing the operator's intermediate.
	cacerts := filepath.Join(dir, "bootstrap-cacerts")
	if err := first.WriteCacerts(cacerts); err != nil {
		t.Fatal(err)
	}
	bootstrap := []string{"bootstrap",
		"--service-account=" + seedIstiodSA, "--namespace=istio-system",
		"--kubernetes-host=" + kube.APIServer, "--kubernetes-ca-file=" + kube.CAFile,
		"--token-reviewer-jwt-file=" + reviewerToken,
		"--cert=" + filepath.Join(cacerts, "ca-cert.pem"), "--key=" + filepath.Join(cacerts, "ca-key.pem"),
		"--chain=" + filepath.Join(cacerts, "cert-chain.pem"), "--root=" + filepath.Join(cacerts, "root-cert.pem")}
	if o, err := f.run(f.rootEnv(), bootstrap...); err != nil {
		t.Fatalf("vaultca bootstrap: %v\n%s", err, o)
	}
	if o, err := f.run(f.rootEnv(), bootstrap...); err != nil || !strings.Contains(o, "nothing changed") {
		t.Fatalf("vaultca bootstrap again: %v, want `nothing changed`:\n%s", err, o)
	}
	return f
}

// rootEnv: the operator's Vault environment (root token).
func (f *syncIstiodFixture) rootEnv() []string {
	return []string{"VAULT_ADDR=" + f.vault.addr, "VAULT_CACERT=" + f.vault.caCert, "VAULT_TOKEN=" + f.vault.rootToken}
}

// mountCacertsSecret is the kubelet projecting Secret istio-system/cacerts
// into dir (every 100 ms, as its sync loop does, only faster). The
// returned func makes the first projection, which must find the Secret,
// then keeps it in step until the test ends.
func (f *syncIstiodFixture) mountCacertsSecret(ctx context.Context, t *testing.T, dir string) func() error {
	syncer := kubelet.NewSyncer(f.kube.Client, 100*time.Millisecond,
		kubelet.Source{Kind: "Secret", Namespace: "istio-system", Name: "cacerts", Dir: dir})
	t.Cleanup(syncer.Stop)
	return func() error {
		missing, err := syncer.SyncOnce(ctx)
		if err == nil && len(missing) > 0 {
			err = fmt.Errorf("not there yet: %v", missing)
		}
		if err == nil {
			syncer.Start()
		}
		return err
	}
}
