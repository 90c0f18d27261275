package interop

// `vaultca rotate` (VAULTCA_CLI_BIN) end to end under load: an intermediate
// rotation, then a root rotation in its four steps, while workloads ask
// vaultca-server for certificates with Istio's own client, each trusting
// what its namespace's istio-ca-root-cert holds at that moment. Every
// request must succeed and every new leaf must verify against the trust
// bundle every OTHER namespace holds at that moment: a rotation that signs
// under a root some workload does not trust yet would show here.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"vaultca.dev/tests/interop/internal/kubetestbed"
	"vaultca.dev/tests/interop/internal/pki"
)

type rotateResult struct {
	at     time.Time
	who    string
	issuer string // the issuing certificate's subject key id, hex
	root   string // the subject of the root the leaf chains to (RFC 2253)
	err    error
}

func TestRotateUnderLoad(t *testing.T) {
	cli, err := mustEnvBin("VAULTCA_CLI_BIN", "build it with `bazel build //cli:vaultca` (tests/interop/run.sh does)")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(env.dir, "rotate-load")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// Its own API server and Vault: the CA's root changes here.
	kube, err := kubetestbed.Launch(filepath.Join(dir, "kube"))
	if err != nil {
		t.Fatal(err)
	}
	defer kube.Stop()
	vault, err := startVault(os.Getenv("VAULTCA_VAULT_BIN"), filepath.Join(dir, "vault"))
	if err != nil {
		t.Fatalf("vault: %v", err)
	}
	defer vault.stop()
	seed := &environment{dir: dir, signer: env.signer, vault: vault}
	if err := seed.seedVault(); err != nil {
		t.Fatalf("seeding vault: %v", err)
	}
	root, err := pki.NewRoot("Rotate Root 1", true)
	if err != nil {
		t.Fatal(err)
	}
	inter1, err := pki.NewIntermediate(root, "Rotate Intermediate 1", true, signingCALife)
	if err != nil {
		t.Fatal(err)
	}
	if err := seed.putCA(inter1); err != nil {
		t.Fatal(err)
	}
	rootKeyFile := filepath.Join(dir, "root-1.key")
	if err := os.WriteFile(rootKeyFile, root.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := kube.Wait(120 * time.Second); err != nil {
		t.Fatal(err)
	}
	fx, err := setupMeshKube(ctx, kube, dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := kube.Namespace(ctx, "apps"); err != nil {
		t.Fatal(err)
	}
	if err := kube.ServiceAccount(ctx, "apps", "web"); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if err := os.MkdirAll(out, 0o700); err != nil {
		t.Fatal(err)
	}
	srv, err := startMeshVaultca(seed, kube, fx, dir, out)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.stop()
	namespaces := []string{"default", "apps", "istio-system"}

	bundleOf := func(ns string) ([]byte, error) { return rootBundle(ctx, kube, ns) }
	for _, ns := range namespaces {
		if err := waitRootConfigMap(ctx, kube, ns, root.CertPEM); err != nil {
			t.Fatalf("istio-ca-root-cert in %s: %v", ns, err)
		}
	}

	workloads := []podWorkload{
		{ns: "default", sa: "sleep"},
		{ns: "default", sa: "sleep", alg: "ECDSA"},
		{ns: "apps", sa: "web", alg: "ECDSA"},
	}
	for i := range workloads {
		w := &workloads[i]
		tok, err := kube.ServiceAccountToken(ctx, w.ns, w.sa, []string{"istio-ca"}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		w.tokenFile = filepath.Join(dir, fmt.Sprintf("token-%d", i))
		if err := os.WriteFile(w.tokenFile, []byte(tok), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	// One request as a pod's istio-agent makes it; every other workload
	// must accept the leaf with what it trusts now.
	load := startPodLoad(workloads, func(i int, w podWorkload) rotateResult {
		r := rotateResult{at: time.Now(), who: w.String()}
		certs, _, err := requestAsPod(ctx, kube, srv.addr(), filepath.Join(dir, fmt.Sprintf("root-cert-%d.pem", i)),
			w, namespaces)
		if err != nil {
			r.err = err
			return r
		}
		r.issuer = fmt.Sprintf("%x", certs[0].AuthorityKeyId)
		if len(certs) > 1 {
			r.root = certs[len(certs)-1].Issuer.String()
		}
		return r
	})
	defer load.stop()

	tokenArg := "--server-token-file=" + workloads[0].tokenFile
	kubeArgs := []string{"--kube-api=" + kube.APIServer, "--kube-token-file=" + kube.AdminTokenFile,
		"--kube-ca-file=" + kube.CAFile}
	rotate := func(want int, args ...string) string {
		t.Helper()
		start := time.Now()
		out, code := runCLI(cli, []string{"VAULT_ADDR=" + vault.addr, "VAULT_CACERT=" + vault.caCert,
			"VAULT_TOKEN=" + vault.rootToken}, append([]string{"rotate"}, args...)...)
		t.Logf("vaultca rotate %s -> %d in %v", strings.Join(args[:1], " "), code, time.Since(start).Round(time.Millisecond))
		if code != want {
			t.Fatalf("vaultca rotate %v: exit %d, want %d:\n%s", args, code, want, out)
		}
		return out
	}
	server := "--server=" + srv.addr()
	loadStart := time.Now()
	var marks []string
	mark := func(what string) {
		marks = append(marks, fmt.Sprintf("%s@%v", what, time.Since(loadStart).Round(100*time.Millisecond)))
	}

	time.Sleep(2 * time.Second)
	// 1. A new intermediate under the same root.
	rotate(0, "intermediate", "--root-key="+rootKeyFile, server, tokenArg)
	mark("intermediate")
	if o := rotate(0, "intermediate", "--root-key="+rootKeyFile, server, tokenArg); !strings.Contains(o, "already done") {
		t.Errorf("a re-run rotated again:\n%s", o)
	}
	time.Sleep(2 * time.Second)

	// 2. A new root: bundle first, then signing, then (after the grace)
	// the old root goes.
	root2Key := filepath.Join(dir, "root-2.key")
	rootArgs := append([]string{"root"}, kubeArgs...)
	rotate(0, append(rootArgs, "--root-key-out="+root2Key)...)
	mark("publish-bundle")
	rotate(0, append(rootArgs, "--step=wait-bundle", "--wait=60s", server, tokenArg)...)
	mark("wait-bundle")
	rotate(0, append(rootArgs, "--wait=60s", server, tokenArg)...)
	mark("switch-signing")
	if o := rotate(1, append(rootArgs, "--grace=1h", "--multi-root")...); !strings.Contains(o, "not yet: wait until") {
		t.Errorf("drop-old-root before the grace was not refused as expected:\n%s", o)
	}
	time.Sleep(3 * time.Second)
	rotate(0, append(rootArgs, "--grace=3s", "--multi-root", server, tokenArg)...)
	mark("drop-old-root")
	// The ConfigMaps follow; the load keeps verifying against them.
	deadline := time.Now().Add(30 * time.Second)
	for {
		n := 0
		for _, ns := range namespaces {
			if b, err := bundleOf(ns); err == nil && !bytes.Contains(b, root.CertPEM) && len(b) > 0 {
				n++
			}
		}
		if n == len(namespaces) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the old root is still in istio-ca-root-cert in some namespace after 30s")
		}
		time.Sleep(200 * time.Millisecond)
	}
	mark("configmaps new root only")
	time.Sleep(2 * time.Second)
	if o := rotate(0, rootArgs...); !strings.Contains(o, "already done") {
		t.Errorf("a re-run after the rotation started another:\n%s", o)
	}
	results := load.stop()

	issuers := map[string]int{}
	roots := map[string]int{}
	errs := 0
	for _, r := range results {
		if r.err != nil {
			errs++
			if errs <= 5 {
				t.Errorf("%s at %s: %v", r.who, r.at.Format("15:04:05.000"), r.err)
			}
			continue
		}
		issuers[r.issuer]++
		roots[r.root]++
	}
	t.Logf("%d requests over %v, %d failed; %d issuing intermediates; leaves per root %v; steps %s",
		len(results), time.Since(loadStart).Round(100*time.Millisecond), errs, len(issuers), roots,
		strings.Join(marks, ", "))
	if len(issuers) < 3 {
		t.Errorf("want leaves from 3 intermediates (first, rotated, under the new root), got %d", len(issuers))
	}
	last := results[len(results)-1]
	if last.err == nil && last.root == root.Cert.Subject.String() {
		t.Errorf("the last leaf still chains to the old root")
	}
}
