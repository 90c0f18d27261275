package interop

// The Kubernetes side of the environment: RBAC for both CA servers and
// the pods (API objects; no kubelet) whose node placement and phase the
// impersonation cases rely on. Everything is created before the Istio CA
// starts its informers, so its first sync already holds it.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"

	"vaultca.dev/tests/interop/internal/jwtutil"
	"vaultca.dev/tests/interop/internal/kubetestbed"
)

type kubeFixture struct {
	// Service-account tokens the CA servers call the API server with.
	vaultcaTokenFile, istiodTokenFile string
	// "ns/name" -> the pod as created (its uid is the API server's).
	pods map[string]*corev1.Pod
}

// fixturePods: node proxies (istio-system/ztunnel, the trusted node
// account) and workloads on node-a and node-b in the phases the cases need.
var fixturePods = []struct {
	ns, name, sa, node string
	phase              corev1.PodPhase
}{
	{"istio-system", "ztunnel-a", "ztunnel", "node-a", corev1.PodRunning},
	{"istio-system", "ztunnel-b", "ztunnel", "node-b", corev1.PodRunning},
	{"istio-system", "ztunnel-pending", "ztunnel", "node-a", corev1.PodPending},
	{"istio-system", "ztunnel-failed", "ztunnel", "node-a", corev1.PodFailed},
	{"istio-system", "ztunnel-stale", "ztunnel", "node-a", corev1.PodRunning}, // deleted and re-created by a test
	{"default", "sleep-1", "sleep", "node-a", corev1.PodRunning},
	{"default", "httpbin-1", "httpbin", "node-b", corev1.PodRunning},
	{"default", "rogue-1", "rogue", "node-a", corev1.PodRunning}, // not a trusted node account
	{"default", "pending-1", "pending", "node-a", corev1.PodPending},
	{"default", "done-1", "done", "node-a", corev1.PodSucceeded},
	{"default", "failed-1", "failed", "node-a", corev1.PodFailed},
	{"default", "gone-1", "gone", "node-a", corev1.PodRunning}, // deleted by a test
}

func setupKube(tb *kubetestbed.Testbed, dir string) (*kubeFixture, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	f := &kubeFixture{pods: map[string]*corev1.Pod{}}
	for _, ns := range []string{"istio-system", "default"} {
		if err := tb.Namespace(ctx, ns); err != nil {
			return nil, err
		}
	}
	accounts := map[string]bool{"istio-system/istiod": true, "istio-system/vaultca": true}
	for _, p := range fixturePods {
		accounts[p.ns+"/"+p.sa] = true
	}
	for a := range accounts {
		ns, sa, _ := strings.Cut(a, "/")
		if err := tb.ServiceAccount(ctx, ns, sa); err != nil {
			return nil, err
		}
	}
	for _, n := range []string{"node-a", "node-b"} {
		if err := tb.Node(ctx, n); err != nil {
			return nil, err
		}
	}
	// vaultca-server: what its docs ask for, system:auth-delegator
	// (TokenReview) and reading pods (node authorizer), nothing else.
	read := []string{"get", "list", "watch"}
	if err := tb.ClusterRole(ctx, "vaultca-interop-pods", []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: read},
	}); err != nil {
		return nil, err
	}
	// istiod: the reads its multicluster controller's informers make.
	if err := tb.ClusterRole(ctx, "istiod-interop-reader", []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"pods", "nodes", "namespaces", "services", "secrets"}, Verbs: read},
		{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: read},
		{APIGroups: []string{"apiextensions.k8s.io"}, Resources: []string{"customresourcedefinitions"}, Verbs: read},
		{APIGroups: []string{"gateway.networking.k8s.io"}, Resources: []string{"gateways"}, Verbs: read},
	}); err != nil {
		return nil, err
	}
	for _, b := range [][2]string{
		{"system:auth-delegator", "vaultca"}, {"vaultca-interop-pods", "vaultca"},
		{"system:auth-delegator", "istiod"}, {"istiod-interop-reader", "istiod"},
	} {
		if err := tb.BindClusterRole(ctx, b[0], "istio-system", b[1]); err != nil {
			return nil, err
		}
	}
	for sa, dst := range map[string]*string{"vaultca": &f.vaultcaTokenFile, "istiod": &f.istiodTokenFile} {
		tok, err := tb.ServiceAccountToken(ctx, "istio-system", sa, nil, 4*time.Hour)
		if err != nil {
			return nil, err
		}
		*dst = filepath.Join(dir, sa+"-kube-token")
		if err := os.WriteFile(*dst, []byte(tok), 0o600); err != nil {
			return nil, err
		}
	}
	for _, p := range fixturePods {
		pod, err := tb.Pod(ctx, p.ns, p.name, p.sa, p.node, p.phase)
		if err != nil {
			return nil, fmt.Errorf("pod %s/%s: %v", p.ns, p.name, err)
		}
		f.pods[p.ns+"/"+p.name] = pod
	}
	return f, nil
}

// pod is a fixture pod as last created.
func (f *kubeFixture) pod(t *testing.T, key string) *corev1.Pod {
	t.Helper()
	p := f.pods[key]
	if p == nil {
		t.Fatalf("no fixture pod %s", key)
	}
	return p
}

// podToken is a real projected token (TokenRequest bound to the pod,
// audience istio-ca, as the kubelet mounts for istio-agent and ztunnel),
// written where the agent reads it.
func podToken(t *testing.T, pod *corev1.Pod) string {
	t.Helper()
	tok, err := env.kube.PodToken(context.Background(), pod, []string{"istio-ca"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return writeToken(t, tok)
}

// saToken is a real token of a service account bound to no pod.
func saToken(t *testing.T, ns, sa string) string {
	t.Helper()
	tok, err := env.kube.ServiceAccountToken(context.Background(), ns, sa, []string{"istio-ca"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return writeToken(t, tok)
}

func writeToken(t *testing.T, tok string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "istio-token")
	if err := jwtutil.WriteFile(p, []byte(tok)); err != nil {
		t.Fatal(err)
	}
	return p
}
