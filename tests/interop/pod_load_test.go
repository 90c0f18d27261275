package interop

// Load as pods make it during a rotation: Istio's own client asking a CA
// for workload certificates, each pod trusting what its namespace's
// istio-ca-root-cert holds at that moment, each answer checked against what
// every peer namespace trusts right after. Shared by the rotation tests
// (vaultca-server as the CA, and istiod as the CA fed by vaultca sync).

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"vaultca.dev/tests/interop/internal/agent"
	"vaultca.dev/tests/interop/internal/kubetestbed"
)

// podWorkload is one pod's istio-agent: its identity, CSR algorithm and
// istio-ca token.
type podWorkload struct {
	ns, sa, alg string
	tokenFile   string
}

func (w podWorkload) String() string { return w.ns + "/" + w.sa + "/" + w.alg }

// rootBundle is namespace ns's istio-ca-root-cert as the API holds it now.
func rootBundle(ctx context.Context, kube *kubetestbed.Testbed, ns string) ([]byte, error) {
	cm, err := kube.Client.CoreV1().ConfigMaps(ns).Get(ctx, meshRootConfigMap, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return []byte(cm.Data["root-cert.pem"]), nil
}

// requestAsPod sends one CSR to caAddr as w's istio-agent does, trusting
// its own namespace's ConfigMap (copied to rootFile) for the CA's TLS
// certificate, and verifies the answer as a workload in every namespace of
// peers would right now. It returns the leaf and the certificates after it
// (the trust bundle left out), and the trust bundle the CA answered with.
func requestAsPod(ctx context.Context, kube *kubetestbed.Testbed, caAddr, rootFile string, w podWorkload,
	peers []string) ([]*x509.Certificate, []byte, error) {
	own, err := rootBundle(ctx, kube, w.ns)
	if err != nil {
		return nil, nil, fmt.Errorf("reading its own ConfigMap: %v", err)
	}
	if err := os.WriteFile(rootFile, own, 0o644); err != nil {
		return nil, nil, err
	}
	c, o, err := agent.NewCitadelClient(agent.Config{CAAddr: caAddr, RootCertFile: rootFile,
		TokenFile: w.tokenFile, Namespace: w.ns, ServiceAccount: w.sa, ECCSigAlg: w.alg})
	if err != nil {
		return nil, nil, err
	}
	defer c.Close()
	chain, key, err := agent.SignRaw(c, o, 3600)
	if err != nil {
		return nil, nil, err
	}
	leafAndChain := []byte(joinChain(chain[:len(chain)-1]))
	for _, peer := range peers {
		bundle, err := rootBundle(ctx, kube, peer)
		if err != nil {
			return nil, nil, fmt.Errorf("reading %s's ConfigMap: %v", peer, err)
		}
		if _, err := agent.Verify(key, leafAndChain, bundle, spiffeID(w.ns, w.sa)); err != nil {
			return nil, nil, fmt.Errorf("a workload in %s does not accept the leaf: %v", peer, err)
		}
	}
	certs, err := parsePEMCerts(leafAndChain)
	if err != nil {
		return nil, nil, err
	}
	return certs, []byte(chain[len(chain)-1]), nil
}

// podLoad runs one goroutine per workload calling request in a loop, 20 ms
// apart, until stop.
type podLoad[T any] struct {
	mu      sync.Mutex
	results []T
	done    chan struct{}
	wg      sync.WaitGroup
}

func startPodLoad[T any](workloads []podWorkload, request func(i int, w podWorkload) T) *podLoad[T] {
	l := &podLoad[T]{done: make(chan struct{})}
	for i, w := range workloads {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.done:
					return
				default:
				}
				r := request(i, w)
				l.mu.Lock()
				l.results = append(l.results, r)
				l.mu.Unlock()
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	return l
}

// stop ends the load (again: no-op) and returns every result.
func (l *podLoad[T]) stop() []T {
	select {
	case <-l.done:
	default:
		close(l.done)
		l.wg.Wait()
	}
	return l.results
}

// runCLI runs the vaultca command with only PATH, HOME and env in its
// environment and returns its combined output and exit code (-1: it did
// not run).
func runCLI(cli string, env []string, args ...string) (string, int) {
	cmd := exec.Command(cli, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}, env...)
	var b bytes.Buffer
	cmd.Stdout, cmd.Stderr = &b, &b
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return b.String(), ee.ExitCode()
		}
		return b.String() + err.Error(), -1
	}
	return b.String(), 0
}
