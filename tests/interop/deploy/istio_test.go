package deploy

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// istioCharts is manifests/charts of the istio.io/istio module this suite
// pins (go.mod), so the overlay is checked against the Istio it runs.
func istioCharts(t testing.TB) string {
	t.Helper()
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "istio.io/istio")
	cmd.Env = append(os.Environ(), "GOTOOLCHAIN=local", "GOFLAGS=-mod=readonly")
	out, err := cmd.Output()
	dir := strings.TrimSpace(string(out))
	if err != nil || dir == "" {
		t.Fatalf("go list -m istio.io/istio: %v (run `go mod download` in tests/interop)", err)
	}
	return filepath.Join(dir, "manifests", "charts")
}

// vaultcaAddress is host:port of the chart's gRPC Service, from its render.
func vaultcaAddress(t testing.TB) string {
	objs := renderChart(t)
	svc := find(t, objs, "Service", "vaultca")
	sp, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
	for _, p := range sp {
		pm := p.(map[string]any)
		if pm["targetPort"] == "grpc-ca" {
			return fmt.Sprintf("%s.%s.svc:%d", svc.GetName(), svc.GetNamespace(), toInt(pm["port"]))
		}
	}
	t.Fatal("the chart's Service has no grpc-ca port")
	return ""
}

// checkIstiod checks a render of Istio's istiod chart: CA off, every
// injected proxy's CA_ADDR at vaultca, and istiod reading its serving
// certificate from the Secret and the root from the ConfigMap vaultca writes.
func checkIstiod(t *testing.T, objs []*unstructured.Unstructured, caAddr string) {
	t.Helper()
	dep := find(t, objs, "Deployment", "istiod")
	c := container(t, dep)
	env := envOf(c)
	if v := path(env["ENABLE_CA_SERVER"], "value"); v != "false" {
		t.Errorf("istiod env ENABLE_CA_SERVER = %v, want \"false\"", v)
	}
	pod, _, _ := unstructured.NestedMap(dep.Object, "spec", "template", "spec")
	mounts, vols := mountsOf(c), volumesOf(pod)
	chart := renderChart(t)
	_, cfg := serverConfig(t, chart)
	// istiod's well-known paths (pkg/config/constants: DefaultPilotTLSCert,
	// DefaultPilotTLSKey, DefaultPilotTLSCaCert).
	if got := path(vols[mounts["/var/run/secrets/istiod/tls"]], "secret.secretName"); got != path(cfg, "mesh.istiod_certificate.secret_name") {
		t.Errorf("istiod mounts Secret %v at /var/run/secrets/istiod/tls; vaultca writes %v", got, path(cfg, "mesh.istiod_certificate.secret_name"))
	}
	if got := path(vols[mounts["/var/run/secrets/istiod/ca"]], "configMap.name"); got != "istio-ca-root-cert" {
		t.Errorf("istiod mounts ConfigMap %v at /var/run/secrets/istiod/ca, want istio-ca-root-cert (vaultca's mesh.root_configmap)", got)
	}
	if path(cfg, "mesh.root_configmap.enabled") != true {
		t.Error("the chart does not publish istio-ca-root-cert by default")
	}
	// The injector's values: its templates set CA_ADDR from global.caAddress.
	inj := find(t, objs, "ConfigMap", "istio-sidecar-injector")
	raw, _, _ := unstructured.NestedString(inj.Object, "data", "values")
	var values map[string]any
	if err := json.Unmarshal([]byte(raw), &values); err != nil {
		t.Fatalf("istio-sidecar-injector values: %v", err)
	}
	if got := path(values, "global.caAddress"); got != caAddr {
		t.Errorf("injected proxies' CA_ADDR (global.caAddress) = %v, want %s", got, caAddr)
	}
	tmpl, _, _ := unstructured.NestedString(inj.Object, "data", "config")
	if !strings.Contains(tmpl, "- name: CA_ADDR") || !strings.Contains(tmpl, ".Values.global.caAddress") {
		t.Error("the injection template no longer sets CA_ADDR from .Values.global.caAddress")
	}
}

// checkZtunnel checks a render of Istio's ztunnel chart: CA_ADDRESS at
// vaultca, and its identity among the chart's trusted node accounts.
func checkZtunnel(t *testing.T, objs []*unstructured.Unstructured, caAddr string) {
	t.Helper()
	ds := find(t, objs, "DaemonSet", "ztunnel")
	env := envOf(container(t, ds))
	if v := path(env["CA_ADDRESS"], "value"); v != caAddr {
		t.Errorf("ztunnel CA_ADDRESS = %v, want %s", v, caAddr)
	}
	sa, _, _ := unstructured.NestedString(ds.Object, "spec", "template", "spec", "serviceAccountName")
	account := ds.GetNamespace() + "/" + sa
	_, cfg := serverConfig(t, renderChart(t))
	trusted, _ := path(cfg, "auth.trusted_node_accounts").([]any)
	found := false
	for _, a := range trusted {
		found = found || a == account
	}
	if !found {
		t.Errorf("ztunnel runs as %s; the chart's CA_TRUSTED_NODE_ACCOUNTS are %v", account, trusted)
	}
}

func TestIstioHelmOverlay(t *testing.T) {
	charts := istioCharts(t)
	overlay := filepath.Join(repoRoot(t), "deploy", "istio")
	caAddr := vaultcaAddress(t)
	t.Run("istiod", func(t *testing.T) {
		out := helm(t, "template", "istiod", filepath.Join(charts, "istio-control", "istio-discovery"),
			"--namespace", "istio-system", "-f", filepath.Join(overlay, "istiod-values.yaml"))
		checkIstiod(t, parseObjects(t, out), caAddr)
	})
	t.Run("ztunnel", func(t *testing.T) {
		out := helm(t, "template", "ztunnel", filepath.Join(charts, "ztunnel"),
			"--namespace", "istio-system", "-f", filepath.Join(overlay, "ztunnel-values.yaml"))
		checkZtunnel(t, parseObjects(t, out), caAddr)
	})
	// Without the overlay the same checks fail, so they test the overlay.
	t.Run("without-overlay", func(t *testing.T) {
		out := helm(t, "template", "istiod", filepath.Join(charts, "istio-control", "istio-discovery"), "--namespace", "istio-system")
		env := envOf(container(t, find(t, parseObjects(t, out), "Deployment", "istiod")))
		if _, ok := env["ENABLE_CA_SERVER"]; ok {
			t.Error("istiod's chart sets ENABLE_CA_SERVER by itself: the check above proves nothing")
		}
	})
}

// The IstioOperator form, handed to the charts as istioctl does
// (operator/pkg/render: spec.values as the istiod chart's values; for
// ztunnel, FlattenValues: global plus spec.values.ztunnel at the top).
func TestIstioOperatorOverlay(t *testing.T) {
	charts := istioCharts(t)
	caAddr := vaultcaAddress(t)
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "istio", "istio-operator.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var iop map[string]any
	if err := yaml.Unmarshal(data, &iop); err != nil {
		t.Fatal(err)
	}
	if iop["kind"] != "IstioOperator" || iop["apiVersion"] != "install.istio.io/v1alpha1" {
		t.Fatalf("istio-operator.yaml is a %v %v", iop["apiVersion"], iop["kind"])
	}
	vals, _ := path(iop, "spec.values").(map[string]any)
	write := func(v map[string]any) string {
		b, err := yaml.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		f := filepath.Join(t.TempDir(), "values.yaml")
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	t.Run("istiod", func(t *testing.T) {
		out := helm(t, "template", "istiod", filepath.Join(charts, "istio-control", "istio-discovery"),
			"--namespace", "istio-system", "-f", write(vals))
		checkIstiod(t, parseObjects(t, out), caAddr)
	})
	t.Run("ztunnel", func(t *testing.T) {
		flat := map[string]any{"global": vals["global"]}
		zt, _ := vals["ztunnel"].(map[string]any)
		for k, v := range zt {
			flat[k] = v
		}
		out := helm(t, "template", "ztunnel", filepath.Join(charts, "ztunnel"), "--namespace", "istio-system", "-f", write(flat))
		checkZtunnel(t, parseObjects(t, out), caAddr)
	})
}
