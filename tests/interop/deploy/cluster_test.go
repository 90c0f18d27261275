package deploy

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"vaultca.dev/tests/interop/internal/agent"
	"vaultca.dev/tests/interop/internal/kubetestbed"
	"vaultca.dev/tests/interop/internal/pki"
)

const (
	ns        = "istio-system"
	saUser    = "system:serviceaccount:istio-system:vaultca"
	rootCM    = "istio-ca-root-cert"
	istiodTLS = "istiod-tls"
)

// monitoringCRDDir holds prometheus-operator's CRDs, or "" with the reason
// they could not be had.
func monitoringCRDDir(t *testing.T) (string, string) {
	if d := os.Getenv("VAULTCA_MONITORING_CRD_DIR"); d != "" {
		return d, ""
	}
	out, err := exec.Command("bash", filepath.Join(repoRoot(t), "tools", "helm", "monitoring-crds.sh")).Output()
	if err != nil {
		reason := err.Error()
		if ee, ok := err.(*exec.ExitError); ok {
			reason += ": " + strings.TrimSpace(string(ee.Stderr))
		}
		return "", "tools/helm/monitoring-crds.sh failed (" + reason + ")"
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1], ""
}

// TestChartOnAPIServer applies the chart's default render to a real
// kube-apiserver with server-side apply, checks its RBAC with
// SubjectAccessReviews, then runs two real vaultca-server replicas with the
// chart's service account and the rendered vaultca.yaml, records every API
// call they make, and checks that each one was allowed, none was refused,
// every granted permission was used, and the mesh duties were done.
func TestChartOnAPIServer(t *testing.T) {
	bin := serverBin(t)
	dir := t.TempDir()
	tb, err := kubetestbed.Start(filepath.Join(dir, "kube"), 120*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer tb.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	for _, n := range []string{ns, "app-a", "app-b"} {
		if err := tb.Namespace(ctx, n); err != nil {
			t.Fatal(err)
		}
	}

	dyn, err := dynamic.NewForConfig(tb.Admin)
	if err != nil {
		t.Fatal(err)
	}
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(tb.Client.Discovery()))
	apply := func(o *unstructured.Unstructured) error {
		gvk := o.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return err
		}
		data, err := json.Marshal(o.Object)
		if err != nil {
			return err
		}
		force := true
		ri := dyn.Resource(m.Resource)
		if m.Scope.Name() == "namespace" {
			_, err = ri.Namespace(o.GetNamespace()).Patch(ctx, o.GetName(), types.ApplyPatchType, data,
				metav1.PatchOptions{FieldManager: "vaultca-chart-test", Force: &force})
			return err
		}
		_, err = ri.Patch(ctx, o.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: "vaultca-chart-test", Force: &force})
		return err
	}

	crdDir, why := monitoringCRDDir(t)
	if crdDir != "" {
		for _, f := range []string{"monitoring.coreos.com_prometheusrules.yaml", "monitoring.coreos.com_servicemonitors.yaml"} {
			data, err := os.ReadFile(filepath.Join(crdDir, f))
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range parseObjects(t, string(data)) {
				if err := apply(o); err != nil {
					t.Fatalf("apply CRD %s: %v", o.GetName(), err)
				}
				waitFor(t, 30*time.Second, "CRD "+o.GetName()+" established", func() bool {
					got, err := dyn.Resource(crdGVR).Get(ctx, o.GetName(), metav1.GetOptions{})
					if err != nil {
						return false
					}
					conds, _, _ := unstructured.NestedSlice(got.Object, "status", "conditions")
					for _, c := range conds {
						cm := c.(map[string]any)
						if cm["type"] == "Established" && cm["status"] == "True" {
							return true
						}
					}
					return false
				})
			}
		}
		mapper.Reset()
	} else {
		t.Logf("SKIPPING the PrometheusRule and ServiceMonitor objects: no monitoring.coreos.com CRDs: %s", why)
	}

	objs := renderChart(t)
	applied := 0
	for _, o := range objs {
		if crdDir == "" && o.GetAPIVersion() == "monitoring.coreos.com/v1" {
			continue
		}
		if err := apply(o); err != nil {
			t.Fatalf("server-side apply %s %s: %v", o.GetKind(), o.GetName(), err)
		}
		applied++
	}
	t.Logf("server-side applied %d of %d rendered objects", applied, len(objs))
	// Applied again unchanged: the render is stable (no field fights).
	for _, o := range objs {
		if crdDir == "" && o.GetAPIVersion() == "monitoring.coreos.com/v1" {
			continue
		}
		if err := apply(o); err != nil {
			t.Fatalf("re-apply %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}

	t.Run("SubjectAccessReview", func(t *testing.T) { checkSARs(t, ctx, tb) })
	t.Run("RealServer", func(t *testing.T) { runRealServer(t, ctx, tb, bin, objs, dir) })
}

// checkSARs asks the API server, as the chart's service account, about the
// calls vaultca makes (allowed) and neighbouring ones (refused).
func checkSARs(t *testing.T, ctx context.Context, tb *kubetestbed.Testbed) {
	allowed := []attrs{
		{"create", "authentication.k8s.io", "tokenreviews", "", ""},
		{"list", "", "pods", "", ""},
		{"watch", "", "pods", "", ""},
		{"list", "", "namespaces", "", ""},
		{"watch", "", "namespaces", "", ""},
		{"list", "", "configmaps", "", rootCM},
		{"watch", "", "configmaps", "", rootCM},
		{"get", "", "configmaps", "app-a", rootCM},
		{"patch", "", "configmaps", "app-a", rootCM},
		{"create", "", "configmaps", "app-a", ""},
		{"get", "coordination.k8s.io", "leases", ns, "vaultca-root-publisher"},
		{"update", "coordination.k8s.io", "leases", ns, "vaultca-root-publisher"},
		{"get", "coordination.k8s.io", "leases", ns, "vaultca-istiod-cert"},
		{"update", "coordination.k8s.io", "leases", ns, "vaultca-istiod-cert"},
		{"create", "coordination.k8s.io", "leases", ns, ""},
		{"get", "", "secrets", ns, istiodTLS},
		{"list", "", "secrets", ns, istiodTLS},
		{"watch", "", "secrets", ns, istiodTLS},
		{"patch", "", "secrets", ns, istiodTLS},
		{"delete", "", "secrets", ns, istiodTLS},
		{"create", "", "secrets", ns, ""},
	}
	refused := []attrs{
		{"get", "", "secrets", ns, "other"},
		{"list", "", "secrets", ns, ""},
		{"list", "", "secrets", "", ""},
		{"get", "", "secrets", "app-a", istiodTLS},
		{"update", "", "secrets", ns, istiodTLS},
		{"get", "", "configmaps", "app-a", "other"},
		{"patch", "", "configmaps", "app-a", "kube-root-ca.crt"},
		{"list", "", "configmaps", "", ""},
		{"list", "", "configmaps", "app-a", ""},
		{"delete", "", "configmaps", "app-a", rootCM},
		{"update", "", "configmaps", "app-a", rootCM},
		{"get", "", "pods", "app-a", "sleep"},
		{"create", "", "pods", "app-a", ""},
		{"delete", "", "pods", "app-a", "sleep"},
		{"update", "coordination.k8s.io", "leases", ns, "other"},
		{"get", "coordination.k8s.io", "leases", "app-a", "vaultca-root-publisher"},
		{"delete", "coordination.k8s.io", "leases", ns, "vaultca-root-publisher"},
		{"create", "", "namespaces", "", ""},
		{"get", "", "namespaces", "", "app-a"},
		{"create", "", "serviceaccounts", ns, "vaultca"},
	}
	for _, a := range allowed {
		if ok, reason := sar(t, ctx, tb, a); !ok {
			t.Errorf("%v refused: %s", a, reason)
		}
	}
	for _, a := range refused {
		if ok, _ := sar(t, ctx, tb, a); ok {
			t.Errorf("%v allowed; the chart grants more than vaultca uses", a)
		}
	}
}

// attrs is one API call as RBAC sees it.
type attrs struct{ Verb, Group, Resource, Namespace, Name string }

func (a attrs) String() string {
	where := "cluster-wide"
	if a.Namespace != "" {
		where = "in " + a.Namespace
	}
	name := ""
	if a.Name != "" {
		name = " " + a.Name
	}
	return fmt.Sprintf("%s %s/%s%s %s", a.Verb, a.Group, a.Resource, name, where)
}

func sar(t *testing.T, ctx context.Context, tb *kubetestbed.Testbed, a attrs) (bool, string) {
	t.Helper()
	r, err := tb.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authzv1.SubjectAccessReview{
		Spec: authzv1.SubjectAccessReviewSpec{
			User:   saUser,
			Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
			ResourceAttributes: &authzv1.ResourceAttributes{
				Verb: a.Verb, Group: a.Group, Resource: a.Resource, Namespace: a.Namespace, Name: a.Name,
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("SubjectAccessReview: %v", err)
	}
	return r.Status.Allowed, r.Status.Reason + r.Status.EvaluationError
}

var crdGVR = schemaGVR("apiextensions.k8s.io", "v1", "customresourcedefinitions")

// ------------------------------------------------------------ real run

// call is one request a replica sent through the recording proxy.
type call struct {
	Method, Path, Query string
	Status              int
}

type recorder struct {
	mu    sync.Mutex
	calls []call
}

func (r *recorder) add(c call) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, c)
}

func (r *recorder) snapshot() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]call(nil), r.calls...)
}

// startRecordingProxy is a TLS reverse proxy to the real API server that
// records each request and its status; it changes nothing (the replicas'
// own bearer token goes through). It returns its URL and CA file.
func startRecordingProxy(t *testing.T, tb *kubetestbed.Testbed, dir string) (string, string, *recorder) {
	t.Helper()
	upstream, err := url.Parse(tb.APIServer)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(tb.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	rec := &recorder{}
	rp := httputil.NewSingleHostReverseProxy(upstream)
	rp.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	rp.FlushInterval = -1 // watches stream
	rp.ModifyResponse = func(resp *http.Response) error {
		rec.add(call{resp.Request.Method, resp.Request.URL.Path, resp.Request.URL.RawQuery, resp.StatusCode})
		return nil
	}
	rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		rec.add(call{r.Method, r.URL.Path, r.URL.RawQuery, http.StatusBadGateway})
		w.WriteHeader(http.StatusBadGateway)
	}
	cert, certPEM := selfSignedIP(t)
	srv := httptest.NewUnstartedServer(rp)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	caFile := filepath.Join(dir, "proxy-ca.crt")
	if err := os.WriteFile(caFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return srv.URL, caFile, rec
}

func selfSignedIP(t *testing.T) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "recording proxy"},
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, certPEM
}

// attrsOf maps a recorded request to what RBAC checks, as the API server's
// request-info resolver does (a list or watch narrowed by fieldSelector
// metadata.name=X is checked against the name X).
func attrsOf(c call) (attrs, error) {
	seg := strings.Split(strings.Trim(c.Path, "/"), "/")
	var group string
	var rest []string
	switch {
	case len(seg) >= 2 && seg[0] == "api":
		rest = seg[2:]
	case len(seg) >= 3 && seg[0] == "apis":
		group, rest = seg[1], seg[3:]
	default:
		return attrs{}, fmt.Errorf("not a resource path: %s", c.Path)
	}
	a := attrs{Group: group}
	if len(rest) >= 3 && rest[0] == "namespaces" {
		a.Namespace, rest = rest[1], rest[2:]
	}
	if len(rest) == 0 || len(rest) > 2 {
		return attrs{}, fmt.Errorf("unexpected path shape (subresource?): %s", c.Path)
	}
	a.Resource = rest[0]
	if len(rest) == 2 {
		a.Name = rest[1]
	}
	q, _ := url.ParseQuery(c.Query)
	switch c.Method {
	case "GET":
		switch {
		case a.Name != "":
			a.Verb = "get"
		case q.Get("watch") == "1" || q.Get("watch") == "true":
			a.Verb = "watch"
		default:
			a.Verb = "list"
		}
		if a.Name == "" {
			if fs := q.Get("fieldSelector"); strings.HasPrefix(fs, "metadata.name=") && !strings.Contains(fs, ",") {
				a.Name = strings.TrimPrefix(fs, "metadata.name=")
			}
		}
	case "POST":
		a.Verb = "create"
	case "PUT":
		a.Verb = "update"
	case "PATCH":
		a.Verb = "patch"
	case "DELETE":
		a.Verb = "delete"
		if a.Name == "" {
			a.Verb = "deletecollection"
		}
	default:
		return attrs{}, fmt.Errorf("unexpected method %s %s", c.Method, c.Path)
	}
	return a, nil
}

type replica struct {
	name               string
	grpcPort, httpPort int
	cmd                *exec.Cmd
	log                string
	exited             chan struct{}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func runRealServer(t *testing.T, ctx context.Context, tb *kubetestbed.Testbed, bin string, objs []*unstructured.Unstructured, dir string) {
	// What the cluster has besides the chart: a node, ztunnel and a sleep
	// workload on it, a stale root ConfigMap in app-b (to be corrected with
	// a patch) and an istiod-tls Secret of the wrong type (to be replaced).
	if err := tb.Node(ctx, "node-1"); err != nil {
		t.Fatal(err)
	}
	for _, s := range [][2]string{{ns, "ztunnel"}, {"app-a", "sleep"}} {
		if err := tb.ServiceAccount(ctx, s[0], s[1]); err != nil {
			t.Fatal(err)
		}
	}
	zt, err := tb.Pod(ctx, ns, "ztunnel-node-1", "ztunnel", "node-1", corev1.PodRunning)
	if err != nil {
		t.Fatal(err)
	}
	sleep, err := tb.Pod(ctx, "app-a", "sleep-1", "sleep", "node-1", corev1.PodRunning)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tb.Client.CoreV1().ConfigMaps("app-b").Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: rootCM},
		Data:       map[string]string{"root-cert.pem": "stale"},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := tb.Client.CoreV1().Secrets(ns).Create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: istiodTLS},
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{"note": []byte("left by an earlier install")},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// CA material both replicas share (the chart's Vault source, as files:
	// the Kubernetes calls do not depend on where the material comes from).
	root, err := pki.NewRoot("mesh root", false)
	if err != nil {
		t.Fatal(err)
	}
	mat, err := pki.NewIntermediate(root, "cluster.local", false, 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cacerts := filepath.Join(dir, "cacerts")
	if err := mat.WriteCacerts(cacerts); err != nil {
		t.Fatal(err)
	}

	proxyURL, proxyCA, rec := startRecordingProxy(t, tb, dir)
	token, err := tb.ServiceAccountToken(ctx, ns, "vaultca", nil, time.Hour)
	if err != nil {
		t.Fatalf("a token of the chart's service account: %v", err)
	}
	tokenFile := filepath.Join(dir, "vaultca-token")
	if err := os.WriteFile(tokenFile, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}

	_, cfg := serverConfig(t, objs)
	var reps []*replica
	for i := 0; i < 2; i++ {
		r := &replica{name: fmt.Sprintf("vaultca-%d", i), grpcPort: freePort(t), httpPort: freePort(t), exited: make(chan struct{})}
		rdir := filepath.Join(dir, r.name)
		if err := os.MkdirAll(rdir, 0o700); err != nil {
			t.Fatal(err)
		}
		c := deepCopyMap(cfg)
		// Only what a laptop differs from the pod in: addresses, paths, and
		// the API server (through the proxy) instead of in-cluster.
		set(c, "listen.grpc", fmt.Sprintf("127.0.0.1:%d", r.grpcPort))
		set(c, "listen.http", fmt.Sprintf("127.0.0.1:%d", r.httpPort))
		set(c, "ca.source", "files")
		set(c, "ca.files", map[string]any{"dir": cacerts})
		set(c, "auth.token_review.api_server", proxyURL)
		set(c, "auth.token_review.token_file", tokenFile)
		set(c, "auth.token_review.ca_file", proxyCA)
		set(c, "serving.cert_dir", filepath.Join(rdir, "serving"))
		// istio-agent checks a CA_ADDR of "localhost" as this name.
		names, _ := path(c, "serving.dns_names").([]any)
		set(c, "serving.dns_names", append(names, "istiod.istio-system.svc"))
		data, err := yaml.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		cfgFile := filepath.Join(rdir, "vaultca.yaml")
		if err := os.WriteFile(cfgFile, data, 0o600); err != nil {
			t.Fatal(err)
		}
		r.log = filepath.Join(rdir, "vaultca.log")
		logf, err := os.Create(r.log)
		if err != nil {
			t.Fatal(err)
		}
		r.cmd = exec.Command(bin, "--config="+cfgFile)
		r.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + rdir, "POD_NAME=" + r.name, "POD_NAMESPACE=" + ns}
		r.cmd.Stdout, r.cmd.Stderr = logf, logf
		if err := r.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func(r *replica, f *os.File) { _ = r.cmd.Wait(); f.Close(); close(r.exited) }(r, logf)
		reps = append(reps, r)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		for _, r := range reps {
			_ = r.cmd.Process.Signal(syscall.SIGTERM)
		}
		for _, r := range reps {
			select {
			case <-r.exited:
			case <-time.After(40 * time.Second):
				_ = r.cmd.Process.Kill()
				<-r.exited
			}
		}
	}
	defer stop()
	defer func() {
		if t.Failed() {
			for _, r := range reps {
				data, _ := os.ReadFile(r.log)
				if len(data) > 4000 {
					data = data[len(data)-4000:]
				}
				t.Logf("---- tail of %s ----\n%s", r.log, data)
			}
		}
	}()
	for _, r := range reps {
		r := r
		waitFor(t, 60*time.Second, r.name+" /ready", func() bool {
			select {
			case <-r.exited:
				t.Fatalf("%s exited", r.name)
			default:
			}
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/ready", r.httpPort))
			if err != nil {
				return false
			}
			resp.Body.Close()
			return resp.StatusCode == 200
		})
	}

	// Duty 1: istio-ca-root-cert in every namespace, the stale one patched.
	rootPEM := strings.TrimSpace(string(root.CertPEM))
	for _, n := range []string{ns, "app-a", "app-b", "default", "kube-system"} {
		n := n
		waitFor(t, 60*time.Second, "istio-ca-root-cert in "+n, func() bool {
			cm, err := tb.Client.CoreV1().ConfigMaps(n).Get(ctx, rootCM, metav1.GetOptions{})
			return err == nil && strings.TrimSpace(cm.Data["root-cert.pem"]) == rootPEM && cm.Labels["istio.io/config"] == "true"
		})
	}
	// Duty 2: istiod's serving certificate, the wrong-typed Secret replaced.
	var istiodSecret *corev1.Secret
	waitFor(t, 60*time.Second, "istiod-tls of type kubernetes.io/tls", func() bool {
		s, err := tb.Client.CoreV1().Secrets(ns).Get(ctx, istiodTLS, metav1.GetOptions{})
		if err != nil || s.Type != corev1.SecretTypeTLS || len(s.Data["tls.crt"]) == 0 {
			return false
		}
		istiodSecret = s
		return true
	})
	checkIstiodCert(t, istiodSecret, root)
	// Edited by someone else: vaultca restores it (a patch of the Secret).
	istiodSecret.Data["tls.crt"] = []byte("edited")
	if _, err := tb.Client.CoreV1().Secrets(ns).Update(ctx, istiodSecret, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "istiod-tls restored after an edit", func() bool {
		s, err := tb.Client.CoreV1().Secrets(ns).Get(ctx, istiodTLS, metav1.GetOptions{})
		if err != nil || string(s.Data["tls.crt"]) == "edited" {
			return false
		}
		istiodSecret = s
		return true
	})
	checkIstiodCert(t, istiodSecret, root)

	// Workloads: a sidecar's request (TokenReview) and ztunnel's on behalf
	// of the sleep pod (TokenReview + the pod index), as Istio's client sends
	// them, trusting the root from the ConfigMap vaultca published.
	rootFile := filepath.Join(dir, "root-cert.pem")
	cm, err := tb.Client.CoreV1().ConfigMaps("app-a").Get(ctx, rootCM, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rootFile, []byte(cm.Data["root-cert.pem"]), 0o600); err != nil {
		t.Fatal(err)
	}
	podToken := func(p *corev1.Pod) string {
		tok, err := tb.PodToken(ctx, p, []string{"istio-ca"}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(dir, p.Name+"-token")
		if err := os.WriteFile(f, []byte(tok), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	caAddr := fmt.Sprintf("localhost:%d", reps[0].grpcPort)
	w, err := agent.NewWorkload(agent.Config{
		CAAddr: caAddr, RootCertFile: rootFile, TokenFile: podToken(sleep),
		Namespace: "app-a", ServiceAccount: "sleep", WorkDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	item, err := w.Generate()
	w.Close()
	if err != nil {
		t.Fatalf("istio-agent's request to vaultca: %v", err)
	}
	sleepID := "spiffe://cluster.local/ns/app-a/sa/sleep"
	if _, err := agent.Verify(item.PrivateKey, item.CertificateChain, item.RootCert, sleepID); err != nil {
		t.Errorf("sidecar certificate: %v", err)
	}
	chain, key, err := agent.ZtunnelRequest(ctx, agent.Config{
		CAAddr: fmt.Sprintf("localhost:%d", reps[1].grpcPort), RootCertFile: rootFile, TokenFile: podToken(zt),
		Namespace: ns, ServiceAccount: "ztunnel", WorkDir: t.TempDir(),
	}, sleepID, 3600)
	if err != nil {
		t.Fatalf("ztunnel's request on behalf of sleep: %v", err)
	}
	if _, err := agent.Verify(key, []byte(strings.Join(chain[:len(chain)-1], "")), []byte(chain[len(chain)-1]), sleepID); err != nil {
		t.Errorf("ztunnel-requested certificate: %v", err)
	}

	// Every metric the PrometheusRule alerts on is one vaultca exports.
	checkRuleMetrics(t, objs, reps)

	// Let the lease renewals run, then stop (the leader releases its leases).
	time.Sleep(3 * time.Second)
	stop()

	checkCalls(t, ctx, tb, objs, rec.snapshot())
}

func checkIstiodCert(t *testing.T, s *corev1.Secret, root *pki.CA) {
	t.Helper()
	block, _ := pem.Decode(s.Data["tls.crt"])
	if block == nil {
		t.Fatal("istiod-tls tls.crt: no PEM")
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(root.Cert)
	inter := x509.NewCertPool()
	for rest := s.Data["tls.crt"]; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if c, err := x509.ParseCertificate(b.Bytes); err == nil {
			inter.AddCert(c)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter, DNSName: "istiod.istio-system.svc",
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Errorf("istiod-tls certificate does not verify as istiod.istio-system.svc to the mesh root: %v", err)
	}
	if _, err := tls.X509KeyPair(s.Data["tls.crt"], s.Data["tls.key"]); err != nil {
		t.Errorf("istiod-tls tls.key does not match tls.crt: %v", err)
	}
}

var metricRE = regexp.MustCompile(`\b((?:vaultca|citadel)_[a-z_]+)\{`)

func checkRuleMetrics(t *testing.T, objs []*unstructured.Unstructured, reps []*replica) {
	t.Helper()
	exported := map[string]bool{}
	for _, r := range reps {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", r.httpPort))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, line := range strings.Split(string(body), "\n") {
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			name := line
			if i := strings.IndexAny(line, "{ "); i >= 0 {
				name = line[:i]
			}
			exported[name] = true
		}
	}
	var rules []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "PrometheusRule" {
			rules = append(rules, o)
		}
	}
	for _, pr := range rules {
		for alert, expr := range ruleExprs(t, pr) {
			for _, m := range metricRE.FindAllStringSubmatch(expr, -1) {
				if !exported[m[1]] {
					t.Errorf("alert %s uses %s, which vaultca-server does not export", alert, m[1])
				}
			}
		}
	}
}

// rareCalls are permissions vaultca needs only on a path this run does not
// force: re-reading an object after a write conflict (409) that races with
// its watch.
var rareCalls = map[string]string{
	"get /configmaps": "re-read of istio-ca-root-cert after a create or patch conflict",
	"get /secrets":    "re-read of istiod-tls after a write conflict",
}

// checkCalls: no call was refused; each distinct call is allowed to the
// chart's service account; every permission the chart grants was used.
func checkCalls(t *testing.T, ctx context.Context, tb *kubetestbed.Testbed, objs []*unstructured.Unstructured, calls []call) {
	t.Helper()
	if len(calls) == 0 {
		t.Fatal("the recording proxy saw no API call")
	}
	distinct := map[attrs]int{}
	statuses := map[int]int{}
	for _, c := range calls {
		statuses[c.Status]++
		if c.Status == http.StatusUnauthorized || c.Status == http.StatusForbidden {
			t.Errorf("refused: %s %s?%s -> %d", c.Method, c.Path, c.Query, c.Status)
		}
		a, err := attrsOf(c)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		// Names of created objects are in the body: RBAC checks create
		// without a name.
		if a.Verb == "create" {
			a.Name = ""
		}
		distinct[a]++
	}
	var lines []string
	used := map[string]bool{}
	for a, n := range distinct {
		lines = append(lines, fmt.Sprintf("%4d x %s", n, a))
		used[a.Verb+" "+a.Group+"/"+a.Resource] = true
		if ok, reason := sar(t, ctx, tb, a); !ok {
			t.Errorf("vaultca made %s, which the chart does not allow (%s)", a, reason)
		}
	}
	sort.Strings(lines)
	t.Logf("%d API calls through the proxy, statuses %v; distinct:\n%s", len(calls), statuses, strings.Join(lines, "\n"))

	for _, o := range objs {
		if o.GetKind() != "ClusterRole" && o.GetKind() != "Role" {
			continue
		}
		rules, _, _ := unstructured.NestedSlice(o.Object, "rules")
		for _, r := range rules {
			rm := r.(map[string]any)
			for _, g := range rm["apiGroups"].([]any) {
				for _, res := range rm["resources"].([]any) {
					for _, v := range rm["verbs"].([]any) {
						key := fmt.Sprintf("%s %s/%s", v, g, res)
						if used[key] {
							continue
						}
						if why, ok := rareCalls[key]; ok {
							t.Logf("granted, not exercised by this run: %s (%s)", key, why)
							continue
						}
						t.Errorf("%s %s grants %s, which vaultca never used", o.GetKind(), o.GetName(), key)
					}
				}
			}
		}
	}
	if !used["create authentication.k8s.io/tokenreviews"] {
		t.Error("no TokenReview was made: the workload requests did not reach the API server")
	}
}

// ------------------------------------------------------------ helpers

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func deepCopyMap(m map[string]any) map[string]any {
	data, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(data, &out)
	return out
}

// set writes a nested field ("a.b.c"), creating maps on the way.
func set(m map[string]any, dotted string, v any) {
	keys := strings.Split(dotted, ".")
	for _, k := range keys[:len(keys)-1] {
		next, ok := m[k].(map[string]any)
		if !ok {
			next = map[string]any{}
			m[k] = next
		}
		m = next
	}
	m[keys[len(keys)-1]] = v
}

func schemaGVR(group, version, resource string) schema.GroupVersionResource {
	return schema.GroupVersionResource{Group: group, Version: version, Resource: resource}
}
