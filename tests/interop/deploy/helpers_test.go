// Package deploy checks vaultca's deployment artefacts with the real tools
// and the real API server: the Helm chart (deploy/helm/vaultca) linted and
// rendered by the real Helm, its committed render (deploy/manifests), the
// Istio overlay (deploy/istio) rendered into Istio's own charts, and the
// rendered objects applied to a real kube-apiserver, whose RBAC is then
// checked against every call a real vaultca-server makes.
//
// Environment: VAULTCA_HELM_BIN (else tools/helm/build.sh builds it),
// VAULTCA_SERVER_BIN, VAULTCA_KUBE_BIN_DIR, VAULTCA_MONITORING_CRD_DIR (else
// tools/helm/monitoring-crds.sh generates the CRDs).
package deploy

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// repoRoot is the checkout's top directory.
func repoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test's source file")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", "..", ".."))
}

func chartDir(t testing.TB) string { return filepath.Join(repoRoot(t), "deploy", "helm", "vaultca") }

var (
	helmOnce sync.Once
	helmPath string
	helmErr  error
)

// helmBin is the real Helm: VAULTCA_HELM_BIN, else built once (cached by
// tools/gobuild.sh).
func helmBin(t testing.TB) string {
	t.Helper()
	helmOnce.Do(func() {
		if p := os.Getenv("VAULTCA_HELM_BIN"); p != "" {
			helmPath = p
			return
		}
		out, err := exec.Command("bash", filepath.Join(repoRoot(t), "tools", "helm", "build.sh")).Output()
		if err != nil {
			helmErr = fmt.Errorf("tools/helm/build.sh: %v", err)
			return
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		helmPath = lines[len(lines)-1]
	})
	if helmErr != nil {
		t.Fatal(helmErr)
	}
	if st, err := os.Stat(helmPath); err != nil || st.Mode()&0o111 == 0 {
		t.Fatalf("no helm binary at %q (VAULTCA_HELM_BIN; build it with `bash tools/helm/build.sh`)", helmPath)
	}
	return helmPath
}

// helm runs the real Helm in the repository root and returns its stdout;
// a non-zero exit fails the test with stderr.
func helm(t testing.TB, args ...string) string {
	t.Helper()
	out, err := helmRun(t, args...)
	if err != nil {
		t.Fatalf("helm %s: %v", strings.Join(args, " "), err)
	}
	return out
}

// helmRun is helm without failing: the error carries stderr.
func helmRun(t testing.TB, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(helmBin(t), args...)
	cmd.Dir = repoRoot(t)
	// Helm's own state (repositories, cache) stays out of $HOME.
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home+"/cache",
		"HELM_CONFIG_HOME="+home+"/config", "HELM_DATA_HOME="+home+"/data")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%v\n%s%s", err, stderr.String(), stdout.String())
	}
	return stdout.String(), nil
}

// renderChart is `helm template vaultca deploy/helm/vaultca -n istio-system`
// with the given values files, as objects.
func renderChart(t testing.TB, valuesFiles ...string) []*unstructured.Unstructured {
	t.Helper()
	args := []string{"template", "vaultca", chartDir(t), "--namespace", "istio-system"}
	for _, f := range valuesFiles {
		args = append(args, "-f", f)
	}
	return parseObjects(t, helm(t, args...))
}

// parseObjects splits a multi-document YAML stream into objects, skipping
// empty documents.
func parseObjects(t testing.TB, stream string) []*unstructured.Unstructured {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(stream), 4096)
	var objs []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if err == io.EOF {
				break
			}
			t.Fatalf("parse rendered YAML: %v", err)
		}
		if len(m) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: m})
	}
	return objs
}

// find returns the one object of kind and name (namespace ignored), or fails.
func find(t testing.TB, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	t.Fatalf("no %s %q in the render", kind, name)
	return nil
}

// findAll returns every object of kind.
func findAll(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// serverConfig is the vaultca.yaml the chart's ConfigMap carries, parsed.
func serverConfig(t testing.TB, objs []*unstructured.Unstructured) (string, map[string]any) {
	t.Helper()
	cm := find(t, objs, "ConfigMap", "vaultca")
	text, _, _ := unstructured.NestedString(cm.Object, "data", "vaultca.yaml")
	if text == "" {
		t.Fatal("ConfigMap vaultca has no data.vaultca.yaml")
	}
	var m map[string]any
	if err := yaml.Unmarshal([]byte(text), &m); err != nil {
		t.Fatalf("vaultca.yaml: %v", err)
	}
	return text, m
}

// path reads a nested field of a decoded YAML map ("a.b.c"), nil if absent.
func path(m map[string]any, dotted string) any {
	var cur any = m
	for _, k := range strings.Split(dotted, ".") {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = mm[k]
	}
	return cur
}

// container is the Deployment's one container, as a map.
func container(t testing.TB, dep *unstructured.Unstructured) map[string]any {
	t.Helper()
	cs, _, _ := unstructured.NestedSlice(dep.Object, "spec", "template", "spec", "containers")
	if len(cs) != 1 {
		t.Fatalf("Deployment has %d containers, want 1", len(cs))
	}
	return cs[0].(map[string]any)
}

// envOf returns the container's env as name -> the entry.
func envOf(c map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	list, _ := c["env"].([]any)
	for _, e := range list {
		em := e.(map[string]any)
		out[em["name"].(string)] = em
	}
	return out
}

func serverBin(t testing.TB) string {
	t.Helper()
	p := os.Getenv("VAULTCA_SERVER_BIN")
	if p == "" {
		t.Fatal("VAULTCA_SERVER_BIN is not set: build it with `bazel build //server:vaultca-server` (tests/interop/run.sh does)")
	}
	return p
}
