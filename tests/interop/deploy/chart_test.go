package deploy

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"vaultca.dev/tests/interop/internal/pki"
)

func testdata(t testing.TB, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// valuesFiles are the values the chart is linted and rendered with.
func valuesFiles(t testing.TB) map[string][]string {
	return map[string][]string{
		"defaults":    nil,
		"options":     {testdata(t, "options-values.yaml")},
		"istiod-only": {testdata(t, "istiod-only-values.yaml")},
	}
}

func TestHelmLintStrict(t *testing.T) {
	for name, files := range valuesFiles(t) {
		t.Run(name, func(t *testing.T) {
			args := []string{"lint", "--strict", chartDir(t), "--namespace", "istio-system"}
			for _, f := range files {
				args = append(args, "-f", f)
			}
			out := helm(t, args...)
			if !strings.Contains(out, "1 chart(s) linted, 0 chart(s) failed") {
				t.Fatalf("helm lint: %s", out)
			}
		})
	}
}

// The committed deploy/manifests must be what the chart renders now.
func TestManifestsMatchChart(t *testing.T) {
	fresh := filepath.Join(t.TempDir(), "vaultca.yaml")
	cmd := exec.Command("bash", filepath.Join(repoRoot(t), "tools", "helm", "render-manifests.sh"), fresh)
	cmd.Env = append(os.Environ(), "VAULTCA_HELM_BIN="+helmBin(t))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("render-manifests.sh: %v\n%s", err, out)
	}
	want, err := os.ReadFile(fresh)
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "manifests", "vaultca.yaml"))
	if err != nil {
		t.Fatalf("%v (generate it with `bash tools/helm/render-manifests.sh`)", err)
	}
	if string(got) != string(want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		i := 0
		for i < len(gl) && i < len(wl) && gl[i] == wl[i] {
			i++
		}
		line := func(l []string) string {
			if i < len(l) {
				return l[i]
			}
			return "<end of file>"
		}
		t.Fatalf("deploy/manifests/vaultca.yaml differs from a fresh render of deploy/helm/vaultca at line %d:\n committed: %s\n fresh:     %s\nre-run `bash tools/helm/render-manifests.sh`",
			i+1, line(gl), line(wl))
	}
}

func TestRenderDefaults(t *testing.T) {
	objs := renderChart(t)
	_, cfg := serverConfig(t, objs)

	dep := find(t, objs, "Deployment", "vaultca")
	if r, _, _ := unstructured.NestedFieldNoCopy(dep.Object, "spec", "replicas"); toInt(r) != 2 {
		t.Errorf("replicas = %d, want 2", r)
	}
	pod, _, _ := unstructured.NestedMap(dep.Object, "spec", "template", "spec")
	wantFields(t, "pod", pod, map[string]any{
		"serviceAccountName":                  "vaultca",
		"automountServiceAccountToken":        false,
		"securityContext.runAsNonRoot":        true,
		"securityContext.runAsUser":           int64(65532),
		"securityContext.seccompProfile.type": "RuntimeDefault",
	})
	if tsc, _ := pod["topologySpreadConstraints"].([]any); len(tsc) != 2 {
		t.Errorf("topologySpreadConstraints: %d entries, want zone and hostname", len(tsc))
	}
	c := container(t, dep)
	wantFields(t, "container", c, map[string]any{
		"image":                                  "vaultca/vaultca-server:" + chartAppVersion(t),
		"securityContext.readOnlyRootFilesystem": true,
		"securityContext.allowPrivilegeEscalation": false,
		"securityContext.runAsNonRoot":             true,
		"securityContext.runAsUser":                int64(65532),
		"securityContext.seccompProfile.type":      "RuntimeDefault",
		"readinessProbe.httpGet.path":              "/ready",
		"readinessProbe.httpGet.port":              "http-monitoring",
		"livenessProbe.httpGet.path":               "/live",
		"livenessProbe.httpGet.port":               "http-monitoring",
		"startupProbe.httpGet.path":                "/live",
		"resources.requests.memory":                "64Mi",
		"resources.limits.memory":                  "512Mi",
	})
	if caps := path(c, "securityContext.capabilities.drop"); !reflect.DeepEqual(caps, []any{"ALL"}) {
		t.Errorf("capabilities.drop = %v, want [ALL]", caps)
	}
	// Ports: the container's, the Service's and vaultca.yaml's agree.
	ports := map[string]int64{}
	for _, p := range c["ports"].([]any) {
		pm := p.(map[string]any)
		ports[pm["name"].(string)] = toInt(pm["containerPort"])
	}
	if ports["grpc-ca"] != 15012 || ports["http-monitoring"] != 15014 {
		t.Errorf("container ports %v, want grpc-ca 15012, http-monitoring 15014", ports)
	}
	if g, h := path(cfg, "listen.grpc"), path(cfg, "listen.http"); g != "0.0.0.0:15012" || h != "0.0.0.0:15014" {
		t.Errorf("vaultca.yaml listen = %v / %v, want 0.0.0.0:15012 / 0.0.0.0:15014", g, h)
	}
	svc := find(t, objs, "Service", "vaultca")
	svcPorts := map[int64]string{}
	sp, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
	for _, p := range sp {
		pm := p.(map[string]any)
		svcPorts[toInt(pm["port"])] = fmt.Sprint(pm["targetPort"])
	}
	if !reflect.DeepEqual(svcPorts, map[int64]string{15012: "grpc-ca", 15014: "http-monitoring"}) {
		t.Errorf("Service ports %v", svcPorts)
	}
	podLabels, _, _ := unstructured.NestedStringMap(dep.Object, "spec", "template", "metadata", "labels")
	if podLabels["sidecar.istio.io/inject"] != "false" {
		t.Errorf("pods are not excluded from sidecar injection (labels %v): the CA's own sidecar would need the CA", podLabels)
	}
	svcSel, _, _ := unstructured.NestedStringMap(svc.Object, "spec", "selector")
	for k, v := range svcSel {
		if podLabels[k] != v {
			t.Errorf("Service selector %s=%s does not select the pods (%v)", k, v, podLabels)
		}
	}
	pdb := find(t, objs, "PodDisruptionBudget", "vaultca")
	if m, _, _ := unstructured.NestedFieldNoCopy(pdb.Object, "spec", "minAvailable"); toInt(m) != 1 {
		t.Errorf("PDB minAvailable = %v, want 1", m)
	}
	pdbSel, _, _ := unstructured.NestedStringMap(pdb.Object, "spec", "selector", "matchLabels")
	for k, v := range pdbSel {
		if podLabels[k] != v {
			t.Errorf("PDB selector %s=%s does not select the pods", k, v)
		}
	}

	env := envOf(c)
	for name, field := range map[string]string{"POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace"} {
		if got := path(env[name], "valueFrom.fieldRef.fieldPath"); got != field {
			t.Errorf("env %s from %v, want the downward API's %s", name, got, field)
		}
	}
	for name, want := range map[string]string{
		"VAULT_ADDR": "https://vault.default:8200", "VAULT_ROLE": "istiod",
		"VAULT_AUTH_METHOD": "kubernetes", "VAULT_PATH": "kubernetes",
		"VAULT_JWT_FILE": "/var/run/secrets/kubernetes.io/serviceaccount/token",
	} {
		if got := path(env[name], "value"); got != want {
			t.Errorf("env %s = %v, want %q", name, got, want)
		}
	}
	for _, absent := range []string{"VAULT_CACERT", "VAULT_NAMESPACE", "VAULT_TOKEN"} {
		if _, ok := env[absent]; ok {
			t.Errorf("env %s set by default", absent)
		}
	}

	// The files vaultca.yaml names are where the pod mounts them.
	mounts := mountsOf(c)
	vols := volumesOf(pod)
	tokenFile := fmt.Sprint(path(cfg, "auth.token_review.token_file"))
	caFile := fmt.Sprint(path(cfg, "auth.token_review.ca_file"))
	kubeDir := filepath.Dir(tokenFile)
	if filepath.Dir(caFile) != kubeDir {
		t.Errorf("token_file %s and ca_file %s in different directories", tokenFile, caFile)
	}
	kv := vols[mounts[kubeDir]]
	if kv == nil {
		t.Fatalf("nothing mounted at %s (token_review.token_file)", kubeDir)
	}
	srcs, _ := path(kv, "projected.sources").([]any)
	var haveToken, haveCA bool
	for _, s := range srcs {
		sm := s.(map[string]any)
		if path(sm, "serviceAccountToken.path") == filepath.Base(tokenFile) {
			haveToken = true
		}
		if path(sm, "configMap.name") == "kube-root-ca.crt" {
			haveCA = true
		}
	}
	if !haveToken || !haveCA {
		t.Errorf("projected volume at %s: token %v, kube-root-ca.crt %v: %v", kubeDir, haveToken, haveCA, srcs)
	}
	certDir := fmt.Sprint(path(cfg, "serving.cert_dir"))
	run := vols[mounts[filepath.Dir(certDir)]]
	if run == nil || run["emptyDir"] == nil {
		t.Errorf("serving.cert_dir %s: its parent is not an emptyDir mount (%v)", certDir, mounts)
	}
	cfgVol := vols[mounts["/etc/vaultca"]]
	if path(cfgVol, "configMap.name") != "vaultca" || !containsArg(c, "--config=/etc/vaultca/vaultca.yaml") {
		t.Errorf("vaultca.yaml is not mounted from the ConfigMap and passed with --config")
	}

	wantFields(t, "vaultca.yaml", cfg, map[string]any{
		"ca.source":                              "vault",
		"ca.vault.cert_ref":                      "vault:secret/data/pki/istiod#certificate",
		"ca.vault.key_ref":                       "vault:secret/data/pki/istiod#privateKey",
		"auth.token_review.enabled":              true,
		"auth.token_review.api_server":           "",
		"mesh.root_configmap.enabled":            true,
		"mesh.root_configmap.namespace_selector": "",
		"mesh.root_configmap.lease_name":         "vaultca-root-publisher",
		"mesh.istiod_certificate.enabled":        true,
		"mesh.istiod_certificate.namespace":      "istio-system",
		"mesh.istiod_certificate.secret_name":    "istiod-tls",
		"mesh.istiod_certificate.ttl":            "24h",
		"mesh.istiod_certificate.lease_name":     "vaultca-istiod-cert",
		"trust_domain":                           "cluster.local",
	})
	if got := path(cfg, "auth.trusted_node_accounts"); !reflect.DeepEqual(got, []any{"istio-system/ztunnel"}) {
		t.Errorf("auth.trusted_node_accounts = %v, want [istio-system/ztunnel]", got)
	}
	if got := path(cfg, "serving.dns_names"); !reflect.DeepEqual(got, []any{"vaultca.istio-system.svc", "vaultca.istio-system.svc.cluster.local"}) {
		t.Errorf("serving.dns_names = %v", got)
	}

	// RBAC, as rules (the API server test checks what they allow).
	rules := grantedRules(t, objs)
	want := []string{
		"cluster: create authentication.k8s.io/tokenreviews (system:auth-delegator)",
		"cluster: list,watch /pods",
		"cluster: list,watch /namespaces",
		"cluster: get,list,watch,patch /configmaps [istio-ca-root-cert]",
		"cluster: create /configmaps",
		"istio-system: get,update coordination.k8s.io/leases [vaultca-root-publisher vaultca-istiod-cert]",
		"istio-system: create coordination.k8s.io/leases",
		"istio-system: get,list,watch,patch,delete /secrets [istiod-tls]",
		"istio-system: create /secrets",
	}
	if !reflect.DeepEqual(rules, sorted(want)) {
		t.Errorf("RBAC rules:\n  %s\nwant:\n  %s", strings.Join(rules, "\n  "), strings.Join(sorted(want), "\n  "))
	}

	// The PrometheusRule alerts on each condition by the metric's name.
	pr := find(t, objs, "PrometheusRule", "vaultca")
	exprs := ruleExprs(t, pr)
	for alert, metric := range map[string]string{
		"VaultcaNotReady":               "vaultca_ca_ready",
		"VaultcaNoReplicaReady":         "vaultca_ca_ready",
		"VaultcaCAMaterialStale":        "vaultca_ca_material_stale",
		"VaultcaRefreshFailing":         "vaultca_ca_refresh_failures_total",
		"VaultcaCACertExpiringSoon":     "citadel_server_cert_chain_expiry_timestamp",
		"VaultcaCACertExpiryCritical":   "citadel_server_cert_chain_expiry_timestamp",
		"VaultcaRootCertExpiringSoon":   "citadel_server_root_cert_expiry_timestamp",
		"VaultcaRootCertExpiryCritical": "citadel_server_root_cert_expiry_timestamp",
		"VaultcaServingCertExpiring":    "vaultca_serving_cert_expiry_timestamp",
		"VaultcaIstiodCertExpiring":     "vaultca_istiod_cert_expiry_timestamp",
		"VaultcaDown":                   "up",
	} {
		e, ok := exprs[alert]
		if !ok {
			t.Errorf("PrometheusRule has no alert %s", alert)
			continue
		}
		if !regexp.MustCompile(`\b` + metric + `\{job="vaultca", namespace="istio-system"\}`).MatchString(e) {
			t.Errorf("alert %s: %q does not select %s of job vaultca in istio-system", alert, e, metric)
		}
	}
	sm := find(t, objs, "ServiceMonitor", "vaultca")
	eps, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	if len(eps) != 1 || path(eps[0].(map[string]any), "port") != "http-monitoring" || path(eps[0].(map[string]any), "path") != "/metrics" {
		t.Errorf("ServiceMonitor endpoints %v, want http-monitoring /metrics", eps)
	}
}

func TestRenderOptions(t *testing.T) {
	objs := renderChart(t, testdata(t, "options-values.yaml"))
	_, cfg := serverConfig(t, objs)
	dep := find(t, objs, "Deployment", "vaultca")
	c := container(t, dep)
	pod, _, _ := unstructured.NestedMap(dep.Object, "spec", "template", "spec")
	if r, _, _ := unstructured.NestedFieldNoCopy(dep.Object, "spec", "replicas"); toInt(r) != 3 {
		t.Errorf("replicas = %d, want 3", r)
	}
	if img := c["image"]; img != "vaultca/vaultca-server@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" {
		t.Errorf("image = %v, want the digest", img)
	}
	env := envOf(c)
	for name, want := range map[string]string{
		"VAULT_ADDR": "https://vault.vault.svc:8200", "VAULT_ROLE": "vaultca", "VAULT_PATH": "k8s-prod",
		"VAULT_NAMESPACE": "team-a", "VAULT_JWT_FILE": "/var/run/secrets/vault/token",
		"VAULT_CACERT": "/etc/vault-ca/ca.crt", "VAULT_TLS_SERVER_NAME": "vault.vault.svc",
	} {
		if got := path(env[name], "value"); got != want {
			t.Errorf("env %s = %v, want %q", name, got, want)
		}
	}
	mounts, vols := mountsOf(c), volumesOf(pod)
	vt := vols[mounts["/var/run/secrets/vault"]]
	srcs, _ := path(vt, "projected.sources").([]any)
	if len(srcs) != 1 || path(srcs[0].(map[string]any), "serviceAccountToken.audience") != "vault" {
		t.Errorf("Vault token volume %v, want one token of audience vault", vt)
	}
	vc := vols[mounts["/etc/vault-ca"]]
	if path(vc, "secret.secretName") != "vault-tls" ||
		!reflect.DeepEqual(path(vc, "secret.items"), []any{map[string]any{"key": "ca.crt", "path": "ca.crt"}}) {
		t.Errorf("Vault CA volume %v, want only vault-tls's ca.crt", vc)
	}
	if tsc, _ := pod["topologySpreadConstraints"].([]any); len(tsc) != 1 || path(tsc[0].(map[string]any), "whenUnsatisfiable") != "DoNotSchedule" {
		t.Errorf("topologySpreadConstraints %v, want the values' one", tsc)
	}
	wantFields(t, "vaultca.yaml", cfg, map[string]any{
		"auth.identity_policy":                   "strict",
		"mesh.root_configmap.namespace_selector": "istio-injection=enabled",
		"ca.ttl_mode":                            "clamp",
		"limits.max_request_bytes":               float64(32768),
		"limits.max_concurrent_requests":         float64(4096),
	})
	if got := path(cfg, "auth.trusted_node_accounts"); !reflect.DeepEqual(got, []any{}) {
		t.Errorf("trusted_node_accounts = %v, want []", got)
	}
	if path(cfg, "mesh.istiod_certificate") != nil {
		t.Errorf("mesh.istiod_certificate rendered although disabled")
	}
	if got := path(cfg, "serving.dns_names"); !reflect.DeepEqual(got, []any{"vaultca.istio-system.svc", "vaultca.istio-system.svc.cluster.local", "ca.mesh.example"}) {
		t.Errorf("serving.dns_names = %v", got)
	}
	rules := grantedRules(t, objs)
	want := sorted([]string{
		"cluster: create authentication.k8s.io/tokenreviews (system:auth-delegator)",
		"cluster: list,watch /namespaces",
		"cluster: get,list,watch,patch /configmaps [istio-ca-root-cert]",
		"cluster: create /configmaps",
		"istio-system: get,update coordination.k8s.io/leases [vaultca-root-publisher]",
		"istio-system: create coordination.k8s.io/leases",
	})
	if !reflect.DeepEqual(rules, want) {
		t.Errorf("RBAC rules:\n  %s\nwant (no pods without trusted node accounts, no secrets without istiod's certificate):\n  %s",
			strings.Join(rules, "\n  "), strings.Join(want, "\n  "))
	}
	for _, kind := range []string{"PrometheusRule", "ServiceMonitor"} {
		if len(findAll(objs, kind)) != 0 {
			t.Errorf("%s rendered although disabled", kind)
		}
	}
}

func TestRenderIstiodOnly(t *testing.T) {
	objs := renderChart(t, testdata(t, "istiod-only-values.yaml"))
	_, cfg := serverConfig(t, objs)
	wantFields(t, "vaultca.yaml", cfg, map[string]any{
		"mesh.root_configmap.enabled":       false,
		"mesh.istiod_certificate.namespace": "istio-control",
		"mesh.istiod_certificate.ttl":       "12h",
	})
	if got := path(cfg, "mesh.istiod_certificate.revisions"); !reflect.DeepEqual(got, []any{"canary"}) {
		t.Errorf("revisions = %v", got)
	}
	if got := path(cfg, "mesh.istiod_certificate.dns_names"); !reflect.DeepEqual(got, []any{"istiod-remote.istio-control.svc"}) {
		t.Errorf("dns_names = %v", got)
	}
	rules := grantedRules(t, objs)
	want := sorted([]string{
		"cluster: create authentication.k8s.io/tokenreviews (system:auth-delegator)",
		"cluster: list,watch /pods",
		"istio-system: get,update coordination.k8s.io/leases [vaultca-istiod-cert]",
		"istio-system: create coordination.k8s.io/leases",
		"istio-control: get,list,watch,patch,delete /secrets [istiod-tls]",
		"istio-control: create /secrets",
	})
	if !reflect.DeepEqual(rules, want) {
		t.Errorf("RBAC rules:\n  %s\nwant:\n  %s", strings.Join(rules, "\n  "), strings.Join(want, "\n  "))
	}
	pr := find(t, objs, "PrometheusRule", "vaultca")
	if _, ok := ruleExprs(t, pr)["VaultcaIstiodCertExpiring"]; !ok {
		t.Error("no istiod certificate alert although the duty is on")
	}
}

// vaultca-server itself accepts every vaultca.yaml the chart renders (unknown
// keys and bad values are errors there), with the environment the pod gives it.
func TestRenderedConfigAcceptedByServer(t *testing.T) {
	bin := serverBin(t)
	for name, files := range valuesFiles(t) {
		t.Run(name, func(t *testing.T) {
			objs := renderChart(t, files...)
			text, _ := serverConfig(t, objs)
			// The files the pod's volumes provide, under a scratch root
			// (check-config reads the API server's CA).
			root := podFiles(t)
			mounted := func(s string) string {
				for _, m := range podMounts {
					s = strings.ReplaceAll(s, m, root+m)
				}
				return s
			}
			file := filepath.Join(t.TempDir(), "vaultca.yaml")
			if err := os.WriteFile(file, []byte(mounted(text)), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(bin, "--config="+file, "--check-config")
			// What the kubelet adds: the downward API and the in-cluster API
			// server's address (the kubernetes Service).
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "POD_NAME=vaultca-0", "POD_NAMESPACE=istio-system",
				"KUBERNETES_SERVICE_HOST=10.96.0.1", "KUBERNETES_SERVICE_PORT=443"}
			for _, e := range container(t, find(t, objs, "Deployment", "vaultca"))["env"].([]any) {
				em := e.(map[string]any)
				if v, ok := em["value"].(string); ok {
					cmd.Env = append(cmd.Env, em["name"].(string)+"="+mounted(v))
				}
			}
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("vaultca-server --check-config on the rendered vaultca.yaml: %v\n%s\n--- vaultca.yaml ---\n%s", err, out, text)
			}
		})
	}
}

// ------------------------------------------------------------ helpers

// podMounts are the chart's mount points that vaultca.yaml and the env name.
var podMounts = []string{
	"/var/run/secrets/kubernetes.io/serviceaccount", "/var/run/secrets/vault",
	"/etc/vault-ca", "/var/run/vaultca",
}

// podFiles lays out, under a scratch root, what those mounts hold: the
// API server's CA (a generated certificate) and tokens.
func podFiles(t testing.TB) string {
	t.Helper()
	root := t.TempDir()
	ca, err := pki.NewRoot("kubernetes", true)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"/var/run/secrets/kubernetes.io/serviceaccount/ca.crt":    ca.CertPEM,
		"/var/run/secrets/kubernetes.io/serviceaccount/token":     []byte("header.payload.signature"),
		"/var/run/secrets/kubernetes.io/serviceaccount/namespace": []byte("istio-system"),
		"/var/run/secrets/vault/token":                            []byte("header.payload.signature"),
		"/etc/vault-ca/ca.crt":                                    ca.CertPEM,
	}
	for name, data := range files {
		if err := os.MkdirAll(filepath.Dir(root+name), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(root+name, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(root+"/var/run/vaultca", 0o700); err != nil {
		t.Fatal(err)
	}
	return root
}

func chartAppVersion(t testing.TB) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(chartDir(t), "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		AppVersion string `json:"appVersion"`
	}
	if err := yaml.Unmarshal(data, &c); err != nil || c.AppVersion == "" {
		t.Fatalf("Chart.yaml appVersion: %v", err)
	}
	return c.AppVersion
}

func wantFields(t testing.TB, what string, m map[string]any, want map[string]any) {
	t.Helper()
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		got := path(m, k)
		if gi, ok := got.(int64); ok {
			got = gi
		} else if gf, ok := got.(float64); ok {
			if _, wantInt := want[k].(int64); wantInt {
				got = int64(gf)
			}
		}
		if !reflect.DeepEqual(got, want[k]) {
			t.Errorf("%s: %s = %#v, want %#v", what, k, got, want[k])
		}
	}
}

func toInt(v any) int64 {
	switch n := v.(type) {
	case int64:
		return n
	case int:
		return int64(n)
	case float64:
		return int64(n)
	}
	return -1
}

func mountsOf(c map[string]any) map[string]string {
	out := map[string]string{}
	list, _ := c["volumeMounts"].([]any)
	for _, m := range list {
		mm := m.(map[string]any)
		out[mm["mountPath"].(string)] = mm["name"].(string)
	}
	return out
}

func volumesOf(pod map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	list, _ := pod["volumes"].([]any)
	for _, v := range list {
		vm := v.(map[string]any)
		out[vm["name"].(string)] = vm
	}
	return out
}

func containsArg(c map[string]any, arg string) bool {
	list, _ := c["args"].([]any)
	for _, a := range list {
		if a == arg {
			return true
		}
	}
	return false
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// grantedRules flattens the chart's RBAC into "SCOPE: VERBS GROUP/RESOURCE
// [NAMES]" lines, with the system roles it binds by name.
func grantedRules(t testing.TB, objs []*unstructured.Unstructured) []string {
	t.Helper()
	var out []string
	for _, o := range objs {
		switch o.GetKind() {
		case "ClusterRole", "Role":
			scope := "cluster"
			if o.GetKind() == "Role" {
				scope = o.GetNamespace()
			}
			rules, _, _ := unstructured.NestedSlice(o.Object, "rules")
			for _, r := range rules {
				rm := r.(map[string]any)
				line := fmt.Sprintf("%s: %s %s/%s", scope, joinAny(rm["verbs"], ","),
					joinAny(rm["apiGroups"], ","), joinAny(rm["resources"], ","))
				if names := joinAny(rm["resourceNames"], " "); names != "" {
					line += " [" + names + "]"
				}
				out = append(out, line)
			}
		case "ClusterRoleBinding", "RoleBinding":
			if ref, _, _ := unstructured.NestedString(o.Object, "roleRef", "name"); strings.HasPrefix(ref, "system:") {
				if ref != "system:auth-delegator" {
					t.Errorf("%s %s binds unexpected system role %s", o.GetKind(), o.GetName(), ref)
				}
				out = append(out, "cluster: create authentication.k8s.io/tokenreviews (system:auth-delegator)")
			}
		}
	}
	sort.Strings(out)
	return out
}

func joinAny(v any, sep string) string {
	list, _ := v.([]any)
	s := make([]string, 0, len(list))
	for _, x := range list {
		s = append(s, fmt.Sprint(x))
	}
	return strings.Join(s, sep)
}

// ruleExprs maps each alert of a PrometheusRule to its expression.
func ruleExprs(t testing.TB, pr *unstructured.Unstructured) map[string]string {
	t.Helper()
	out := map[string]string{}
	groups, _, _ := unstructured.NestedSlice(pr.Object, "spec", "groups")
	for _, g := range groups {
		rules, _ := g.(map[string]any)["rules"].([]any)
		for _, r := range rules {
			rm := r.(map[string]any)
			out[fmt.Sprint(rm["alert"])] = fmt.Sprint(rm["expr"])
		}
	}
	return out
}
