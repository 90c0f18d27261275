package interop

// The real istiod (pilot-discovery, VAULTCA_PILOT_DISCOVERY_BIN) for the
// mesh test, run outside a cluster the way the istiod chart runs it with an
// external CA: ENABLE_CA_SERVER=false, and its serving certificate and the
// mesh root read from the chart's mount paths, which istiod checks itself
// (./var/run/secrets/istiod/tls/{tls.crt,tls.key,ca.crt} from Secret
// istiod-tls, ./var/run/secrets/istiod/ca/root-cert.pem from ConfigMap
// istio-ca-root-cert), relative to its working directory.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

type istiodProcess struct {
	bin     string
	args    []string
	cmd     *exec.Cmd
	dir     string // working directory: the chart's mount paths live under it
	logPath string
	// Ports of --httpAddr (/ready), --secureGRPCAddr (XDS over TLS, the
	// 15012 of a cluster), --httpsAddr (webhooks, 15017), --grpcAddr and
	// --monitoringAddr.
	httpPort, xdsPort, webhookPort, grpcPort, monitoringPort int
	started                                                  time.Time
	// Appended to istiod's environment; a later NAME=value wins.
	extraEnv []string
	done     chan struct{}
	exitErr  error
}

// Chart mount paths, relative to istiod's working directory.
const (
	istiodTLSDir = "var/run/secrets/istiod/tls"
	istiodCADir  = "var/run/secrets/istiod/ca"
)

// startIstiod runs pilot-discovery in dir against the API server of
// kubeconfig. Only what running outside a pod needs is set: the pod's
// identity (POD_NAME/POD_NAMESPACE, as the downward API gives them),
// loopback listeners on free ports, no webhook configurations to patch (the
// chart installs none here), and Gateway API off (its CRDs are not
// installed).
func startIstiod(bin, dir, kubeconfig, logPath string) (*istiodProcess, error) {
	return startIstiodEnv(bin, dir, kubeconfig, logPath, nil)
}

// startIstiodEnv is startIstiod with extraEnv appended to istiod's
// environment (e.g. ENABLE_CA_SERVER=true to keep istiod the CA).
func startIstiodEnv(bin, dir, kubeconfig, logPath string, extraEnv []string) (*istiodProcess, error) {
	p := &istiodProcess{dir: dir, logPath: logPath, extraEnv: extraEnv}
	ports := []*int{&p.httpPort, &p.xdsPort, &p.webhookPort, &p.grpcPort, &p.monitoringPort}
	for _, port := range ports {
		n, err := freePort()
		if err != nil {
			return nil, err
		}
		*port = n
	}
	meshFile := filepath.Join(dir, "etc/istio/config/mesh")
	if err := os.MkdirAll(filepath.Dir(meshFile), 0o755); err != nil {
		return nil, err
	}
	// The defaults of the istiod chart's mesh config for this mesh.
	mesh := "trustDomain: " + trustDomain + "\nrootNamespace: istio-system\n" +
		"defaultConfig:\n  discoveryAddress: istiod.istio-system.svc:15012\n"
	if err := os.WriteFile(meshFile, []byte(mesh), 0o644); err != nil {
		return nil, err
	}
	addr := func(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }
	p.args = []string{"discovery",
		"--registries=Kubernetes",
		"--kubeconfig=" + kubeconfig,
		"--clusterID=" + clusterID,
		"--domain=cluster.local",
		"--namespace=istio-system",
		"--meshConfig=./etc/istio/config/mesh",
		"--networksConfig=./etc/istio/config/meshNetworks",
		"--httpAddr=" + addr(p.httpPort),
		"--httpsAddr=" + addr(p.webhookPort),
		"--grpcAddr=" + addr(p.grpcPort),
		"--secureGRPCAddr=" + addr(p.xdsPort),
		"--monitoringAddr=" + addr(p.monitoringPort),
		"--shutdownDuration=1s",
		"--log_output_level=default:info",
	}
	p.bin = bin
	if err := p.launch(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *istiodProcess) launch() error {
	logf, err := os.Create(p.logPath)
	if err != nil {
		return err
	}
	p.cmd = exec.Command(p.bin, p.args...)
	p.cmd.Dir = p.dir
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"POD_NAME=istiod-0", "POD_NAMESPACE=istio-system", "REVISION=default",
		"ENABLE_CA_SERVER=false",
		"INJECTION_WEBHOOK_CONFIG_NAME=", "VALIDATION_WEBHOOK_CONFIG_NAME=",
		"PILOT_ENABLE_GATEWAY_API=false", "PILOT_ENABLE_ALPHA_GATEWAY_API=false",
		"PILOT_ENABLE_GATEWAY_API_DEPLOYMENT_CONTROLLER=false",
		"PILOT_ENABLE_GATEWAY_API_STATUS=false",
		"CLUSTER_ID=" + clusterID,
	}
	p.cmd.Env = append(p.cmd.Env, p.extraEnv...)
	// Dies with the test binary, as a pod dies with its node.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p.started = time.Now()
	p.done = make(chan struct{})
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	cmd, done := p.cmd, p.done
	go func() {
		p.exitErr = cmd.Wait()
		logf.Close()
		close(done)
	}()
	return nil
}

// waitReady waits for istiod's readiness endpoint (the chart's readiness
// probe, :8080/ready) and returns the time from process start.
func (p *istiodProcess) waitReady(within time.Duration) (time.Duration, error) {
	deadline := time.Now().Add(within)
	url := fmt.Sprintf("http://127.0.0.1:%d/ready", p.httpPort)
	for {
		select {
		case <-p.done:
			return 0, fmt.Errorf("istiod exited: %v\n%s", p.exitErr, p.logTail(4000))
		default:
		}
		resp, err := http.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return time.Since(p.started), nil
			}
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("istiod not ready within %v (last: %v)\n%s", within, err, p.logTail(4000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *istiodProcess) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

func (p *istiodProcess) stop() {
	if p == nil || p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *istiodProcess) logTail(n int) string {
	b, _ := os.ReadFile(p.logPath)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// servingChain completes a TLS handshake with port as istio-agent does
// with istiod (mesh root, server name istiod.istio-system.svc; istio-agent
// maps a "localhost" discovery address to that name) and returns the
// chain the server sent.
func servingChain(port int, rootPEM []byte) ([]*x509.Certificate, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(rootPEM) {
		return nil, errors.New("no certificate in the root bundle")
	}
	conn, err := tls.DialWithDialer(&netDialer, "tcp", fmt.Sprintf("127.0.0.1:%d", port), &tls.Config{
		RootCAs: pool, ServerName: "istiod.istio-system.svc", NextProtos: []string{"h2"}, MinVersion: tls.VersionTLS12,
	})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates, nil
}

// ------------------------------------------------------------ Istio CRDs

// istioCRDFile is manifests/charts/base/files/crd-all.gen.yaml of the
// istio.io/istio module this suite pins (VAULTCA_ISTIO_CRDS overrides).
func istioCRDFile() (string, error) {
	if p := os.Getenv("VAULTCA_ISTIO_CRDS"); p != "" {
		return p, nil
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "istio.io/istio").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("go list -m istio.io/istio: %v: %s", err, ee.Stderr)
		}
		return "", fmt.Errorf("go list -m istio.io/istio: %v", err)
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", errors.New("go list -m istio.io/istio: module not downloaded (run `go mod download`)")
	}
	return filepath.Join(dir, "manifests/charts/base/files/crd-all.gen.yaml"), nil
}

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// applyCRDs creates every CustomResourceDefinition in file (as `kubectl
// create -f` would) and waits until each is Established. It returns their
// names.
func applyCRDs(ctx context.Context, cfg *rest.Config, file string) ([]string, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return nil, err
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(f, 64*1024)
	var names []string
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("%s: %v", file, err)
		}
		if obj == nil {
			continue
		}
		u := &unstructured.Unstructured{Object: obj}
		if u.GetKind() != "CustomResourceDefinition" {
			continue
		}
		if _, err := dc.Resource(crdGVR).Create(ctx, u, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("creating CRD %s: %v", u.GetName(), err)
		}
		names = append(names, u.GetName())
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: no CustomResourceDefinition", file)
	}
	for _, n := range names {
		for {
			u, err := dc.Resource(crdGVR).Get(ctx, n, metav1.GetOptions{})
			if err == nil && crdEstablished(u) {
				break
			}
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("CRD %s not Established: %v (last error %v)", n, ctx.Err(), err)
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return names, nil
}

func crdEstablished(u *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}
