package interop

// vaultca in a mesh, end to end with the real Istio control plane: the real
// kube-apiserver with Istio's CRDs, the real Vault holding the CA,
// vaultca-server with both mesh duties on (istio-ca-root-cert in every
// namespace, istiod's serving certificate in Secret istiod-tls), the real
// istiod (pilot-discovery, its own CA off) reading that Secret and
// ConfigMap through kubelet-style projected volumes, and a real istio-agent
// (pkg/istio-agent in process, Envoy disabled as Istio's own agent tests
// do) with a pod-bound token, CA_ADDR = vaultca and the XDS address =
// istiod. Then the CA is rotated in Vault and everything must follow
// without a restart.

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	tlsv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	discovery "github.com/envoyproxy/go-control-plane/envoy/service/discovery/v3"
	sdsv3 "github.com/envoyproxy/go-control-plane/envoy/service/secret/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/structpb"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshconfig "istio.io/api/mesh/v1alpha1"
	"istio.io/istio/pkg/bootstrap/platform"
	"istio.io/istio/pkg/config/mesh"
	"istio.io/istio/pkg/envoy"
	istioagent "istio.io/istio/pkg/istio-agent"
	"istio.io/istio/pkg/security"
	"istio.io/istio/security/pkg/nodeagent/sds"

	"vaultca.dev/tests/interop/internal/agent"
	"vaultca.dev/tests/interop/internal/jwtutil"
	"vaultca.dev/tests/interop/internal/kubelet"
	"vaultca.dev/tests/interop/internal/kubetestbed"
	"vaultca.dev/tests/interop/internal/pki"
)

var netDialer = net.Dialer{Timeout: 5 * time.Second}

const (
	meshRootConfigMap = "istio-ca-root-cert"
	meshIstiodSecret  = "istiod-tls"
	clusterTypeURL    = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
	secretTypeURL     = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"
	// The cluster istiod makes for the API server's own Service: proof that
	// what the agent received was computed from the real API server.
	kubernetesCluster = "outbound|443||kubernetes.default.svc.cluster.local"
	// Short, so that the agent's next certificate (at half its life, as
	// SECRET_GRACE_PERIOD_RATIO=0.5 does) comes while the test waits.
	meshAgentSecretTTL = 20 * time.Second
)

// meshOutDir keeps istiod's and vaultca's logs after the run:
// INTEROP_MESH_OUT (run.sh: build/interop/mesh), else under the test dir.
func meshOutDir(t *testing.T, fallback string) string {
	d := os.Getenv("INTEROP_MESH_OUT")
	if d == "" {
		d = fallback
	}
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

func TestMesh(t *testing.T) {
	pilotBin, err := mustEnvBin("VAULTCA_PILOT_DISCOVERY_BIN", "build it with `bash tools/istiod/build.sh` (tests/interop/run.sh does)")
	if err != nil {
		t.Fatal(err)
	}
	testStart := time.Now()
	dir := filepath.Join(env.dir, "mesh")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	out := meshOutDir(t, filepath.Join(dir, "out"))
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()

	// Its own API server and Vault: istiod watches the whole cluster and
	// the CA is rotated here, so the shared environment stays as it is.
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
	root, err := pki.NewRoot("Mesh Root CA", false)
	if err != nil {
		t.Fatal(err)
	}
	inter1, err := pki.NewIntermediate(root, "Mesh Intermediate 1", false, signingCALife)
	if err != nil {
		t.Fatal(err)
	}
	if err := seed.putCA(inter1); err != nil {
		t.Fatal(err)
	}
	if err := kube.Wait(120 * time.Second); err != nil {
		t.Fatal(err)
	}

	// Istio's CRDs, as the base chart installs them.
	crdFile, err := istioCRDFile()
	if err != nil {
		t.Fatal(err)
	}
	crdStart := time.Now()
	crds, err := applyCRDs(ctx, kube.Admin, crdFile)
	if err != nil {
		t.Fatal(err)
	}
	measured(t, "%d Istio CRDs created and Established in %v", len(crds), time.Since(crdStart).Round(time.Millisecond))

	fx, err := setupMeshKube(ctx, kube, dir)
	if err != nil {
		t.Fatalf("kubernetes objects: %v", err)
	}

	// vaultca with both mesh duties.
	vca, err := startMeshVaultca(seed, kube, fx, dir, out)
	if err != nil {
		t.Fatalf("vaultca-server: %v", err)
	}
	defer vca.stop()

	rootPEM := root.CertPEM
	// The root ConfigMap in istiod's namespace and in the workload's.
	for _, ns := range []string{"istio-system", "default"} {
		if err := waitRootConfigMap(ctx, kube, ns, rootPEM); err != nil {
			t.Fatalf("%v\n%s", err, readTail(filepath.Join(out, "vaultca.log"), 4000))
		}
	}
	secretStart := time.Now()
	sec, err := waitIstiodSecret(ctx, kube, func(s *corev1.Secret) error { return checkIstiodSecret(s, rootPEM, inter1) })
	if err != nil {
		t.Fatalf("%v\n%s", err, readTail(filepath.Join(out, "vaultca.log"), 4000))
	}
	measured(t, "Secret istio-system/%s (issued by %q) there %v after vaultca was ready", meshIstiodSecret,
		mustLeaf(t, sec.Data["tls.crt"]).Issuer.CommonName, time.Since(secretStart).Round(time.Millisecond))

	// The kubelet's part: istiod's two volumes and the sidecar's root.
	istiodDir := filepath.Join(dir, "istiod")
	agentDir := filepath.Join(dir, "agent")
	agentRootDir := filepath.Join(agentDir, "var/run/secrets/istio")
	syncer := kubelet.NewSyncer(kube.Client, 100*time.Millisecond,
		kubelet.Source{Kind: "Secret", Namespace: "istio-system", Name: meshIstiodSecret, Dir: filepath.Join(istiodDir, istiodTLSDir)},
		kubelet.Source{Kind: "ConfigMap", Namespace: "istio-system", Name: meshRootConfigMap, Dir: filepath.Join(istiodDir, istiodCADir)},
		kubelet.Source{Kind: "ConfigMap", Namespace: "default", Name: meshRootConfigMap, Dir: agentRootDir},
	)
	if missing, err := syncer.SyncOnce(ctx); err != nil || len(missing) > 0 {
		t.Fatalf("projecting volumes: %v (missing %v)", err, missing)
	}
	syncer.Start()
	defer syncer.Stop()

	// The real istiod.
	istiod, err := startIstiod(pilotBin, istiodDir, kube.Env["KUBECONFIG"], filepath.Join(out, "istiod.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer istiod.stop()
	readyIn, err := istiod.waitReady(90 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	measured(t, "istiod (pilot-discovery, ENABLE_CA_SERVER=false) ready in %v", readyIn.Round(time.Millisecond))
	if !strings.Contains(readTail(istiod.logPath, 1<<20), "adding watcher for certificate "+"./"+istiodTLSDir+"/tls.crt") {
		t.Errorf("istiod did not take its certificate from %s (log: %s)", istiodTLSDir, istiod.logPath)
	}
	for name, port := range map[string]int{"XDS (15012)": istiod.xdsPort, "webhooks (15017)": istiod.webhookPort} {
		chain, err := servingChain(port, rootPEM)
		if err != nil {
			t.Fatalf("istiod %s: TLS with the mesh root as istiod.istio-system.svc: %v", name, err)
		}
		if want := mustLeaf(t, sec.Data["tls.crt"]); !chain[0].Equal(want) {
			t.Fatalf("istiod %s serves %q (serial %v), not the certificate of Secret %s (serial %v)", name,
				chain[0].Subject, chain[0].SerialNumber, meshIstiodSecret, want.SerialNumber)
		}
	}

	// The pod and its istio-agent.
	tokenFile := filepath.Join(agentDir, "var/run/secrets/tokens/istio-token")
	tok, err := kube.PodToken(ctx, fx.pod, []string{"istio-ca"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(tokenFile), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := jwtutil.WriteFile(tokenFile, []byte(tok)); err != nil {
		t.Fatal(err)
	}
	ag := startMeshAgent(t, agentDir, vca.addr(), istiod.xdsPort, filepath.Join(agentRootDir, "root-cert.pem"), tokenFile)

	identity := spiffeID("default", "sleep")
	sdsStream, err := openSDS(ctx, filepath.Join(agentDir, security.GetIstioSDSServerSocketPath()))
	if err != nil {
		t.Fatal(err)
	}
	defer sdsStream.close()
	first, err := sdsStream.next(30 * time.Second)
	if err != nil {
		t.Fatalf("agent SDS: %v", err)
	}
	if err := checkWorkloadSecret(first, rootPEM, inter1, identity); err != nil {
		t.Fatalf("agent's first workload certificate: %v", err)
	}
	measured(t, "agent workload certificate %s from vaultca, issued by %q, %v after agent start", identity,
		first.leaf.Issuer.CommonName, time.Since(ag.started).Round(time.Millisecond))

	xdsStart := time.Now()
	clusters, err := requestClusters(ctx, ag.xdsPath, fx.pod, 30*time.Second)
	if err != nil {
		t.Fatalf("CDS through the agent from istiod: %v\n%s", err, istiod.logTail(4000))
	}
	if !clusters[kubernetesCluster] {
		t.Fatalf("istiod's CDS has %d clusters but not %s: %v", len(clusters), kubernetesCluster, keys(clusters))
	}
	measured(t, "CDS from istiod through the agent (TLS, istiod's certificate verified against the published root; the pod's token): %d clusters in %v",
		len(clusters), time.Since(xdsStart).Round(time.Millisecond))

	// ---- Rotation: a new intermediate under the same root.
	istiodPid, vcaPid := istiod.cmd.Process.Pid, vca.cmd.Process.Pid
	inter2, err := pki.NewIntermediate(root, "Mesh Intermediate 2", false, signingCALife)
	if err != nil {
		t.Fatal(err)
	}
	rootCMBefore := rootConfigMapVersions(ctx, t, kube)
	putAt := time.Now()
	if err := seed.putCA(inter2); err != nil {
		t.Fatal(err)
	}
	var secretAt, fileAt, servingAt time.Time
	tlsFile := filepath.Join(istiodDir, istiodTLSDir, "tls.crt")
	for servingAt.IsZero() || secretAt.IsZero() || fileAt.IsZero() {
		if time.Since(putAt) > 60*time.Second {
			t.Fatalf("60 s after vault kv put: Secret re-issued %v, file %v, serving %v\nvaultca:\n%s\nistiod:\n%s",
				!secretAt.IsZero(), !fileAt.IsZero(), !servingAt.IsZero(),
				readTail(filepath.Join(out, "vaultca.log"), 3000), istiod.logTail(3000))
		}
		if secretAt.IsZero() {
			if s, err := kube.Client.CoreV1().Secrets("istio-system").Get(ctx, meshIstiodSecret, metav1.GetOptions{}); err == nil &&
				checkIstiodSecret(s, rootPEM, inter2) == nil {
				secretAt = time.Now()
			}
		}
		if fileAt.IsZero() {
			if b, err := os.ReadFile(tlsFile); err == nil && issuedBy(b, inter2) {
				fileAt = time.Now()
			}
		}
		if servingAt.IsZero() {
			if chain, err := servingChain(istiod.xdsPort, rootPEM); err == nil && chain[0].CheckSignatureFrom(inter2.Signing.Cert) == nil {
				servingAt = time.Now()
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	measured(t, "rotation: vault kv put -> Secret %s re-issued %v, -> projected file %v, -> istiod serving it on 15012 %v",
		meshIstiodSecret, secretAt.Sub(putAt).Round(time.Millisecond), fileAt.Sub(putAt).Round(time.Millisecond),
		servingAt.Sub(putAt).Round(time.Millisecond))
	if chain, err := servingChain(istiod.webhookPort, rootPEM); err != nil || chain[0].CheckSignatureFrom(inter2.Signing.Cert) != nil {
		t.Errorf("istiod's webhook port (15017) does not serve the new certificate: %v", err)
	}

	// The agent's next certificate, pushed over SDS at its renewal.
	var next *workloadSecret
	for next == nil {
		s, err := sdsStream.next(meshAgentSecretTTL + 20*time.Second)
		if err != nil {
			t.Fatalf("no renewed workload certificate: %v", err)
		}
		if issuedBy(s.chainPEM, inter2) {
			next = s
		}
	}
	if err := checkWorkloadSecret(next, rootPEM, inter2, identity); err != nil {
		t.Fatalf("agent's renewed workload certificate: %v", err)
	}
	measured(t, "agent's renewed certificate issued by %q %v after vault kv put (renewal due at half of its %v life)",
		next.leaf.Issuer.CommonName, time.Since(putAt).Round(time.Millisecond), meshAgentSecretTTL)

	// istiod, serving its new certificate, still answers the agent.
	clusters, err = requestClusters(ctx, ag.xdsPath, fx.pod, 30*time.Second)
	if err != nil || !clusters[kubernetesCluster] {
		t.Fatalf("CDS after the rotation: %v (%d clusters)", err, len(clusters))
	}
	// Same root: the ConfigMaps are not rewritten.
	if after := rootConfigMapVersions(ctx, t, kube); !equalStringMaps(rootCMBefore, after) {
		t.Errorf("istio-ca-root-cert rewritten by an intermediate-only rotation: %v -> %v", rootCMBefore, after)
	}
	for _, ns := range []string{"istio-system", "default"} {
		if err := waitRootConfigMap(ctx, kube, ns, rootPEM); err != nil {
			t.Error(err)
		}
	}
	// Nothing restarted.
	if !istiod.running() || istiod.cmd.Process.Pid != istiodPid {
		t.Errorf("istiod restarted or exited")
	}
	if vca.cmd.Process.Pid != vcaPid || !vcaReady(vca) {
		t.Errorf("vaultca-server restarted, exited or not ready")
	}

	// ---- Root rotation, Istio's multi-root way: first trust both roots,
	// then sign under the new one, then drop the old one.
	root2, err := pki.NewRoot("Mesh Root CA 2", false)
	if err != nil {
		t.Fatal(err)
	}
	inter3, err := pki.NewIntermediate(root2, "Mesh Intermediate 3 (root 2)", false, signingCALife)
	if err != nil {
		t.Fatal(err)
	}
	bundle := append(append([]byte{}, rootPEM...), root2.CertPEM...)

	// 1. Same signing CA, root bundle {root, root 2}.
	putAt = time.Now()
	if err := seed.putCABundle(inter2, bundle); err != nil {
		t.Fatal(err)
	}
	got := waitAll(t, putAt, 60*time.Second, map[string]func() bool{
		"ConfigMaps": func() bool {
			return rootConfigMapIs(ctx, kube, "istio-system", bundle) && rootConfigMapIs(ctx, kube, "default", bundle)
		},
		"Secret ca.crt": func() bool {
			s, err := kube.Client.CoreV1().Secrets("istio-system").Get(ctx, meshIstiodSecret, metav1.GetOptions{})
			return err == nil && checkIstiodSecret(s, bundle, inter2) == nil
		},
		"projected files": func() bool {
			return fileIs(filepath.Join(istiodDir, istiodTLSDir, "ca.crt"), bundle) &&
				fileIs(filepath.Join(istiodDir, istiodCADir, "root-cert.pem"), bundle) &&
				fileIs(filepath.Join(agentRootDir, "root-cert.pem"), bundle)
		},
	})
	measured(t, "root rotation step 1 (add root 2 to the bundle): vault kv put -> %s", got)

	// 2. Sign under root 2; the bundle stays {root, root 2}.
	putAt = time.Now()
	if err := seed.putCABundle(inter3, bundle); err != nil {
		t.Fatal(err)
	}
	got = waitAll(t, putAt, 60*time.Second, map[string]func() bool{
		"Secret re-issued under root 2": func() bool {
			s, err := kube.Client.CoreV1().Secrets("istio-system").Get(ctx, meshIstiodSecret, metav1.GetOptions{})
			return err == nil && checkIstiodSecret(s, bundle, inter3) == nil
		},
		"istiod serving it on 15012": func() bool {
			chain, err := servingChain(istiod.xdsPort, root2.CertPEM)
			return err == nil && chain[0].CheckSignatureFrom(inter3.Signing.Cert) == nil
		},
	})
	measured(t, "root rotation step 2 (sign under root 2): vault kv put -> %s", got)
	if chain, err := servingChain(istiod.xdsPort, rootPEM); err == nil {
		t.Errorf("istiod's new certificate verified under the old root alone (issuer %q)", chain[0].Issuer)
	}
	next = nil
	for next == nil {
		s, err := sdsStream.next(meshAgentSecretTTL + 20*time.Second)
		if err != nil {
			t.Fatalf("no workload certificate under root 2: %v", err)
		}
		if issuedBy(s.chainPEM, inter3) {
			next = s
		}
	}
	if err := checkWorkloadSecret(next, root2.CertPEM, inter3, identity); err != nil {
		t.Fatalf("agent's workload certificate under root 2: %v", err)
	}
	measured(t, "root rotation step 2: agent's renewed certificate under root 2 %v after vault kv put", time.Since(putAt).Round(time.Millisecond))
	// The agent now trusts the bundle and istiod serves a certificate under
	// root 2: still served, no restart.
	clusters, err = requestClusters(ctx, ag.xdsPath, fx.pod, 30*time.Second)
	if err != nil || !clusters[kubernetesCluster] {
		t.Fatalf("CDS after signing under root 2: %v (%d clusters)\n%s", err, len(clusters), istiod.logTail(3000))
	}

	// 3. Drop the old root (vaultca runs with multi_root, which allows it).
	putAt = time.Now()
	if err := seed.putCABundle(inter3, root2.CertPEM); err != nil {
		t.Fatal(err)
	}
	got = waitAll(t, putAt, 60*time.Second, map[string]func() bool{
		"ConfigMaps": func() bool {
			return rootConfigMapIs(ctx, kube, "istio-system", root2.CertPEM) && rootConfigMapIs(ctx, kube, "default", root2.CertPEM)
		},
		"Secret ca.crt": func() bool {
			s, err := kube.Client.CoreV1().Secrets("istio-system").Get(ctx, meshIstiodSecret, metav1.GetOptions{})
			return err == nil && checkIstiodSecret(s, root2.CertPEM, inter3) == nil
		},
		"projected files": func() bool {
			return fileIs(filepath.Join(istiodDir, istiodCADir, "root-cert.pem"), root2.CertPEM) &&
				fileIs(filepath.Join(agentRootDir, "root-cert.pem"), root2.CertPEM)
		},
	})
	measured(t, "root rotation step 3 (drop the old root): vault kv put -> %s", got)
	if _, err := servingChain(istiod.xdsPort, root2.CertPEM); err != nil {
		t.Errorf("istiod with root 2 alone: %v", err)
	}
	// The agent trusts root 2 alone now.
	clusters, err = requestClusters(ctx, ag.xdsPath, fx.pod, 30*time.Second)
	if err != nil || !clusters[kubernetesCluster] {
		t.Fatalf("CDS after dropping the old root: %v (%d clusters)", err, len(clusters))
	}
	if !istiod.running() || istiod.cmd.Process.Pid != istiodPid {
		t.Errorf("istiod restarted or exited")
	}
	if vca.cmd.Process.Pid != vcaPid || !vcaReady(vca) {
		t.Errorf("vaultca-server restarted, exited or not ready")
	}

	for src, errv := range syncer.Errors() {
		t.Logf("syncer %s: last error %v", src, errv)
	}
	for src, ts := range syncer.Updates() {
		t.Logf("volume %s written %d times", src, len(ts))
	}
	measured(t, "TestMesh total %v", time.Since(testStart).Round(time.Millisecond))
}

// ---------------------------------------------------------------- fixture

type meshFixture struct {
	vaultcaTokenFile string
	pod              *corev1.Pod
}

// setupMeshKube makes the namespaces, vaultca's service account with what
// its config's docs ask of it for TokenReview and both mesh duties, and
// the workload pod.
func setupMeshKube(ctx context.Context, kube *kubetestbed.Testbed, dir string) (*meshFixture, error) {
	for _, ns := range []string{"istio-system", "default"} {
		if err := kube.Namespace(ctx, ns); err != nil {
			return nil, err
		}
	}
	for _, a := range [][2]string{{"istio-system", "vaultca"}, {"default", "sleep"}} {
		if err := kube.ServiceAccount(ctx, a[0], a[1]); err != nil {
			return nil, err
		}
	}
	if err := kube.Node(ctx, "node-a"); err != nil {
		return nil, err
	}
	if err := kube.ClusterRole(ctx, "vaultca-mesh", []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{""}, Resources: []string{"namespaces"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get", "list", "watch", "create", "patch", "update"}},
	}); err != nil {
		return nil, err
	}
	for _, role := range []string{"system:auth-delegator", "vaultca-mesh"} {
		if err := kube.BindClusterRole(ctx, role, "istio-system", "vaultca"); err != nil {
			return nil, err
		}
	}
	// In istiod's namespace only: its Secret and the two Leases.
	if _, err := kube.Client.RbacV1().Roles("istio-system").Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "vaultca-mesh"},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"get", "list", "watch", "create", "patch", "update", "delete"}},
			{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "create", "update"}},
		},
	}, metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	if _, err := kube.Client.RbacV1().RoleBindings("istio-system").Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "vaultca-mesh"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "vaultca-mesh"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: "istio-system", Name: "vaultca"}},
	}, metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	fx := &meshFixture{vaultcaTokenFile: filepath.Join(dir, "vaultca-kube-token")}
	tok, err := kube.ServiceAccountToken(ctx, "istio-system", "vaultca", nil, 4*time.Hour)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(fx.vaultcaTokenFile, []byte(tok), 0o600); err != nil {
		return nil, err
	}
	pod, err := kube.Pod(ctx, "default", "sleep-1", "sleep", "node-a", corev1.PodRunning)
	if err != nil {
		return nil, err
	}
	fx.pod = pod
	return fx, nil
}

// startMeshVaultca runs vaultca-server with the mesh section on; its log
// goes to out.
func startMeshVaultca(seed *environment, kube *kubetestbed.Testbed, fx *meshFixture, dir, out string) (*vaultcaServer, error) {
	vdir := filepath.Join(dir, "vaultca")
	if err := os.MkdirAll(vdir, 0o700); err != nil {
		return nil, err
	}
	vaultJWT, err := seed.signer.Mint(jwtutil.Claims{Namespace: "istio-system", ServiceAccount: "istiod",
		PodName: "vaultca-0", PodUID: "vaultca-0-uid", Audiences: []string{"vault"}, Expiry: time.Now().Add(2 * time.Hour)})
	if err != nil {
		return nil, err
	}
	if err := jwtutil.WriteFile(filepath.Join(vdir, "vault-sa.jwt"), []byte(vaultJWT)); err != nil {
		return nil, err
	}
	cfg := fmt.Sprintf(`trust_domain: %s
cluster_id: %s
listen:
  grpc: 127.0.0.1:0
  http: 127.0.0.1:0
ca:
  source: vault
  vault:
    cert_ref: vault:secret/data/pki/istiod#certificate
    key_ref: vault:secret/data/pki/istiod#privateKey
    chain_ref: vault:secret/data/pki/istiod#certChain
    root_ref: vault:secret/data/pki/istiod#rootCert
  refresh_interval: 1s
  # The root rotation ends by dropping the old root.
  multi_root: true
  root_cert_file: %s
auth:
  token_review:
    enabled: true
    api_server: %s
    token_file: %s
    ca_file: %s
    audiences: [istio-ca]
serving:
  cert_dir: %s
mesh:
  root_configmap:
    enabled: true
  istiod_certificate:
    enabled: true
    namespace: istio-system
    secret_name: %s
    revisions: []
    dns_names: []
    ttl: 24h
`, trustDomain, clusterID, filepath.Join(vdir, "root-cert.pem"), kube.APIServer, fx.vaultcaTokenFile, kube.CAFile,
		filepath.Join(vdir, "serving"), meshIstiodSecret)
	if err := os.WriteFile(filepath.Join(vdir, "vaultca.yaml"), []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	// The Leases' namespace and holder name come from the downward API,
	// as in the Deployment.
	seed.vcaExtraEnv = []string{"POD_NAMESPACE=istio-system", "POD_NAME=vaultca-0"}
	s, err := startVaultcaConfig(os.Getenv("VAULTCA_SERVER_BIN"), seed, vdir, filepath.Join(vdir, "vaultca.yaml"), filepath.Join(out, "vaultca.log"))
	if err != nil {
		return nil, fmt.Errorf("%v\n%s", err, readTail(filepath.Join(out, "vaultca.log"), 4000))
	}
	return s, nil
}

func readTail(path string, n int) string {
	b, _ := os.ReadFile(path)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

func waitRootConfigMap(ctx context.Context, kube *kubetestbed.Testbed, ns string, rootPEM []byte) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var last string
	for {
		cm, err := kube.Client.CoreV1().ConfigMaps(ns).Get(ctx, meshRootConfigMap, metav1.GetOptions{})
		if err == nil && cm.Data["root-cert.pem"] == string(rootPEM) && cm.Labels["istio.io/config"] == "true" {
			return nil
		}
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("data %d bytes, labels %v", len(cm.Data["root-cert.pem"]), cm.Labels)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("ConfigMap %s/%s never held the mesh root (last: %s)", ns, meshRootConfigMap, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func rootConfigMapVersions(ctx context.Context, t *testing.T, kube *kubetestbed.Testbed) map[string]string {
	t.Helper()
	out := map[string]string{}
	nss, err := kube.Client.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range nss.Items {
		cm, err := kube.Client.CoreV1().ConfigMaps(ns.Name).Get(ctx, meshRootConfigMap, metav1.GetOptions{})
		if err != nil {
			out[ns.Name] = "missing"
			continue
		}
		out[ns.Name] = cm.ResourceVersion
	}
	return out
}

func equalStringMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func waitIstiodSecret(ctx context.Context, kube *kubetestbed.Testbed, check func(*corev1.Secret) error) (*corev1.Secret, error) {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var last error
	for {
		s, err := kube.Client.CoreV1().Secrets("istio-system").Get(ctx, meshIstiodSecret, metav1.GetOptions{})
		if err == nil {
			if last = check(s); last == nil {
				return s, nil
			}
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("Secret istio-system/%s: %v", meshIstiodSecret, last)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// checkIstiodSecret: the chart's istiod-tls as istio-csr or cert-manager
// make it (kubernetes.io/tls, tls.crt leaf + chain, tls.key, ca.crt the
// root), a leaf for istiod's Service names that chains to the mesh root
// through m's intermediate, and a key that is the leaf's.
func checkIstiodSecret(s *corev1.Secret, rootPEM []byte, m *pki.Material) error {
	if s.Type != corev1.SecretTypeTLS {
		return fmt.Errorf("type %q, want %q", s.Type, corev1.SecretTypeTLS)
	}
	if !bytes.Equal(bytes.TrimSpace(s.Data["ca.crt"]), bytes.TrimSpace(rootPEM)) {
		return errors.New("ca.crt is not the mesh root")
	}
	certs, err := parsePEMCerts(s.Data["tls.crt"])
	if err != nil || len(certs) == 0 {
		return fmt.Errorf("tls.crt: %v", err)
	}
	if certs[0].CheckSignatureFrom(m.Signing.Cert) != nil {
		return fmt.Errorf("tls.crt issued by %q, not by %q", certs[0].Issuer, m.Signing.Cert.Subject)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(rootPEM)
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: "istiod.istio-system.svc",
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		return fmt.Errorf("tls.crt does not verify as istiod.istio-system.svc: %v", err)
	}
	if _, err := tlsKeyPair(s.Data["tls.crt"], s.Data["tls.key"]); err != nil {
		return fmt.Errorf("tls.key: %v", err)
	}
	return nil
}

func parsePEMCerts(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return out, nil
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
}

func mustLeaf(t *testing.T, chainPEM []byte) *x509.Certificate {
	t.Helper()
	certs, err := parsePEMCerts(chainPEM)
	if err != nil || len(certs) == 0 {
		t.Fatalf("no certificate: %v", err)
	}
	return certs[0]
}

func issuedBy(chainPEM []byte, m *pki.Material) bool {
	certs, err := parsePEMCerts(chainPEM)
	return err == nil && len(certs) > 0 && certs[0].CheckSignatureFrom(m.Signing.Cert) == nil
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// ------------------------------------------------------------- the agent

type meshAgent struct {
	started time.Time
	xdsPath string
}

// startMeshAgent runs Istio's pkg/istio-agent in process as Istio's own
// agent tests do (Envoy not started; the agent's SDS server and XDS proxy
// run), configured as pilot-agent in the pod would be: CA_ADDR = vaultca,
// discovery address = istiod's 15012, root from the istio-ca-root-cert
// volume, the pod's projected token. The agent's socket paths are relative
// to the working directory (./var/run/secrets/workload-spiffe-uds), so the
// test runs in agentDir meanwhile.
func startMeshAgent(t *testing.T, agentDir, caAddr string, xdsPort int, rootFile, tokenFile string) *meshAgent {
	t.Chdir(agentDir)
	sec, err := agent.SecurityOptions(agent.Config{
		CAAddr: caAddr, RootCertFile: rootFile, TokenFile: tokenFile,
		Namespace: "default", ServiceAccount: "sleep", SecretTTL: meshAgentSecretTTL, WorkDir: agentDir,
	})
	if err != nil {
		t.Fatal(err)
	}
	pc := mesh.DefaultProxyConfig()
	// "localhost" makes istio-agent check istiod's certificate as
	// istiod.istio-system.svc, the name a cluster's discovery address has.
	pc.DiscoveryAddress = fmt.Sprintf("localhost:%d", xdsPort)
	pc.ControlPlaneAuthPolicy = meshconfig.AuthenticationPolicy_MUTUAL_TLS
	pc.ConfigPath = filepath.Join(agentDir, "etc/istio/proxy")
	pc.TerminationDrainDuration = nil
	xdsPath := filepath.Join(agentDir, "etc/istio/proxy/XDS")
	if err := os.MkdirAll(filepath.Dir(xdsPath), 0o755); err != nil {
		t.Fatal(err)
	}
	opts := &istioagent.AgentOptions{
		CARootCerts:      rootFile,
		XDSRootCerts:     rootFile,
		XdsUdsPath:       xdsPath,
		ServiceNode:      "sidecar~127.0.0.1~sleep-1.default~default.svc.cluster.local",
		ProxyIPAddresses: []string{"127.0.0.1"},
		ProxyNamespace:   "default",
		ProxyDomain:      "default.svc.cluster.local",
		Platform:         &platform.Unknown{},
		SDSFactory: func(o *security.Options, c security.SecretManager, pkp *meshconfig.PrivateKeyProvider) istioagent.SDSService {
			return sds.NewServer(o, c, pkp)
		},
		WorkloadIdentitySocketFile: security.DefaultWorkloadIdentitySocketFile,
	}
	a := istioagent.NewAgent(pc, opts, sec, envoy.ProxyConfig{TestOnly: true})
	ma := &meshAgent{started: time.Now(), xdsPath: xdsPath}
	ctx, done := context.WithCancel(context.Background())
	wait, err := a.Run(ctx)
	if err != nil {
		done()
		a.Close()
		t.Fatalf("istio-agent: %v", err)
	}
	// Cleanups run last-in first-out: cancel, then wait, then close.
	t.Cleanup(a.Close)
	t.Cleanup(wait)
	t.Cleanup(done)
	return ma
}

func proxyNode(pod *corev1.Pod) *corev3.Node {
	md, _ := structpb.NewStruct(map[string]any{
		"NAMESPACE": pod.Namespace, "SERVICE_ACCOUNT": pod.Spec.ServiceAccountName, "CLUSTER_ID": clusterID,
		"NAME": pod.Name, "LABELS": map[string]any{"app": pod.Labels["app"]},
	})
	return &corev3.Node{
		Id:       fmt.Sprintf("sidecar~127.0.0.1~%s.%s~%s.svc.cluster.local", pod.Name, pod.Namespace, pod.Namespace),
		Metadata: md,
	}
}

// requestClusters sends Envoy's first CDS request to the agent's XDS
// socket and returns the cluster names of the answer. The agent forwards
// it to istiod over TLS, verifying istiod's certificate against the mesh
// root and authenticating with the pod's token, as istio-agent does in a
// pod (it presents no client certificate).
func requestClusters(ctx context.Context, xdsPath string, pod *corev1.Pod, within time.Duration) (map[string]bool, error) {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	conn, err := grpc.NewClient("unix://"+xdsPath, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	// The agent connects to istiod when Envoy connects, and both may need
	// a moment (the workload certificate comes first): retry like Envoy.
	var last error
	for {
		stream, err := discovery.NewAggregatedDiscoveryServiceClient(conn).StreamAggregatedResources(ctx)
		if err == nil {
			err = stream.Send(&discovery.DiscoveryRequest{Node: proxyNode(pod), TypeUrl: clusterTypeURL})
		}
		var resp *discovery.DiscoveryResponse
		if err == nil {
			resp, err = stream.Recv()
		}
		if err == nil {
			out := map[string]bool{}
			for _, r := range resp.Resources {
				var c clusterv3.Cluster
				if err := r.UnmarshalTo(&c); err != nil {
					return nil, err
				}
				out[c.Name] = true
			}
			_ = stream.CloseSend()
			return out, nil
		}
		last = err
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("no CDS answer: %v", last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

type workloadSecret struct {
	chainPEM, keyPEM []byte
	leaf             *x509.Certificate
}

type sdsClient struct {
	conn *grpc.ClientConn
	mu   sync.Mutex
	got  chan *workloadSecret
	errc chan error
}

// openSDS asks the agent's SDS server for "default" as Envoy does and acks
// every push, so that renewals arrive on the channel.
func openSDS(ctx context.Context, socket string) (*sdsClient, error) {
	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	c := &sdsClient{conn: conn, got: make(chan *workloadSecret, 16), errc: make(chan error, 1)}
	stream, err := sdsv3.NewSecretDiscoveryServiceClient(conn).StreamSecrets(ctx)
	if err != nil {
		conn.Close()
		return nil, err
	}
	node := &corev3.Node{Id: "sidecar~127.0.0.1~sleep-1.default~default.svc.cluster.local"}
	if err := stream.Send(&discovery.DiscoveryRequest{Node: node, TypeUrl: secretTypeURL, ResourceNames: []string{"default"}}); err != nil {
		conn.Close()
		return nil, err
	}
	go func() {
		for {
			resp, err := stream.Recv()
			if err != nil {
				c.errc <- err
				return
			}
			for _, r := range resp.Resources {
				var s tlsv3.Secret
				if err := r.UnmarshalTo(&s); err != nil {
					c.errc <- err
					return
				}
				tc := s.GetTlsCertificate()
				if s.Name != "default" || tc == nil {
					continue
				}
				ws := &workloadSecret{chainPEM: tc.GetCertificateChain().GetInlineBytes(), keyPEM: tc.GetPrivateKey().GetInlineBytes()}
				if certs, err := parsePEMCerts(ws.chainPEM); err == nil && len(certs) > 0 {
					ws.leaf = certs[0]
				}
				c.got <- ws
			}
			_ = stream.Send(&discovery.DiscoveryRequest{Node: node, TypeUrl: secretTypeURL, ResourceNames: []string{"default"},
				VersionInfo: resp.VersionInfo, ResponseNonce: resp.Nonce})
		}
	}()
	return c, nil
}

func (c *sdsClient) next(within time.Duration) (*workloadSecret, error) {
	select {
	case s := <-c.got:
		if s.leaf == nil {
			return nil, errors.New("SDS secret without a certificate")
		}
		return s, nil
	case err := <-c.errc:
		return nil, fmt.Errorf("SDS stream: %v", err)
	case <-time.After(within):
		return nil, fmt.Errorf("no SDS push within %v", within)
	}
}

func (c *sdsClient) close() { c.conn.Close() }

// checkWorkloadSecret verifies a workload certificate as Istio's tests do
// (chain to the root, key match, SPIFFE id) and that m's intermediate
// issued it.
func checkWorkloadSecret(s *workloadSecret, rootPEM []byte, m *pki.Material, identity string) error {
	certs, err := parsePEMCerts(s.chainPEM)
	if err != nil || len(certs) < 2 {
		return fmt.Errorf("chain of %d certificates: %v", len(certs), err)
	}
	// SDS's chain ends with the root when the CA returns it; VerifyCertificate
	// takes the chain without the root.
	var chain []byte
	for _, c := range certs {
		if c.Equal(m.Root.Cert) {
			continue
		}
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	if _, err := agent.Verify(s.keyPEM, chain, rootPEM, identity); err != nil {
		return err
	}
	if certs[0].CheckSignatureFrom(m.Signing.Cert) != nil {
		return fmt.Errorf("issued by %q, not by %q", certs[0].Issuer, m.Signing.Cert.Subject)
	}
	return nil
}

func tlsKeyPair(certPEM, keyPEM []byte) (tls.Certificate, error) {
	return tls.X509KeyPair(certPEM, keyPEM)
}

func fileIs(path string, want []byte) bool {
	b, err := os.ReadFile(path)
	return err == nil && bytes.Equal(bytes.TrimSpace(b), bytes.TrimSpace(want))
}

func rootConfigMapIs(ctx context.Context, kube *kubetestbed.Testbed, ns string, want []byte) bool {
	cm, err := kube.Client.CoreV1().ConfigMaps(ns).Get(ctx, meshRootConfigMap, metav1.GetOptions{})
	return err == nil && bytes.Equal(bytes.TrimSpace([]byte(cm.Data["root-cert.pem"])), bytes.TrimSpace(want))
}

func vcaReady(s *vaultcaServer) bool {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/ready", s.httpPort))
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == 200
}

// putCABundle is putCA with rootCert set to bundle (a root rotation's
// {old, new} roots) instead of m's root alone.
func (e *environment) putCABundle(m *pki.Material, bundle []byte) error {
	d, err := os.MkdirTemp(e.dir, "kvput-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(d)
	if err := m.WriteCacerts(d); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(d, "root-cert.pem"), bundle, 0o600); err != nil {
		return err
	}
	_, err = e.vault.cli(nil, "kv", "put", kvPath,
		"privateKey=@"+filepath.Join(d, "ca-key.pem"),
		"certificate=@"+filepath.Join(d, "ca-cert.pem"),
		"certChain=@"+filepath.Join(d, "cert-chain.pem"),
		"rootCert=@"+filepath.Join(d, "root-cert.pem"))
	return err
}

// waitAll polls every condition until each has held once and returns, per
// condition, when it first held (from since), formatted; it fails the test
// after within.
func waitAll(t *testing.T, since time.Time, within time.Duration, conds map[string]func() bool) string {
	t.Helper()
	at := map[string]time.Duration{}
	for len(at) < len(conds) {
		for name, cond := range conds {
			if _, ok := at[name]; !ok && cond() {
				at[name] = time.Since(since)
			}
		}
		if len(at) == len(conds) {
			break
		}
		if time.Since(since) > within {
			var missing []string
			for name := range conds {
				if _, ok := at[name]; !ok {
					missing = append(missing, name)
				}
			}
			t.Fatalf("%v after vault kv put, still waiting for: %s", within, strings.Join(missing, ", "))
		}
		time.Sleep(20 * time.Millisecond)
	}
	names := make([]string, 0, len(at))
	for name := range at {
		names = append(names, name)
	}
	sort.Slice(names, func(i, j int) bool { return at[names[i]] < at[names[j]] })
	parts := make([]string, 0, len(names))
	for _, name := range names {
		parts = append(parts, fmt.Sprintf("%s %v", name, at[name].Round(time.Millisecond)))
	}
	return strings.Join(parts, ", ")
}
