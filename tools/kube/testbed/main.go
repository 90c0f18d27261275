// Command kube-testbed runs a real Kubernetes control plane for tests: the
// stock etcd and kube-apiserver (built by ../build.sh) on loopback, with PKI
// generated at start, RBAC on, a service-account issuer and signing key, and
// an admin credential. There is no kubelet and no controller manager: Pods
// are API objects whose status tests set through the status subresource.
//
//	kube-testbed --dir DIR
//
// When the API server answers /readyz, DIR/env (shell-sourceable
// KEY=value lines, also printed on stdout) and DIR/kubeconfig are written;
// DIR/env appears in one rename, so waiting for it is waiting for "ready".
// SIGTERM or SIGINT (or the parent's death, with --die-with-parent) stops
// both servers and removes etcd's data.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// The issuer and API audience of service-account tokens, as in a default
// cluster, so tokens look like the ones istiod and Vault see in production.
const issuer = "https://kubernetes.default.svc.cluster.local"

func main() {
	dir := flag.String("dir", "", "state directory (created; required)")
	bin := flag.String("bin-dir", "", "where etcd and kube-apiserver are (default: beside this binary)")
	dieWithParent := flag.Bool("die-with-parent", true, "stop when the parent process dies")
	timeout := flag.Duration("timeout", 60*time.Second, "how long to wait for readiness")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "kube-testbed: --dir is required")
		os.Exit(2)
	}
	if *dieWithParent {
		// PR_SET_PDEATHSIG: a test runner killed with SIGKILL must not leave
		// the control plane running.
		syscall.RawSyscall(syscall.SYS_PRCTL, syscall.PR_SET_PDEATHSIG, uintptr(syscall.SIGTERM), 0)
	}
	if *bin == "" {
		self, err := os.Executable()
		if err != nil {
			fatal(err)
		}
		*bin = filepath.Dir(self)
	}
	tb := &testbed{dir: *dir, bin: *bin}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	err := tb.start(*timeout)
	if err != nil {
		tb.stop()
		fatal(err)
	}
	select {
	case <-stop:
	case err := <-tb.exited:
		fmt.Fprintf(os.Stderr, "kube-testbed: %v\n", err)
		tb.stop()
		os.Exit(1)
	}
	tb.stop()
}

func fatal(err error) {
	fmt.Fprintf(os.Stderr, "kube-testbed: %v\n", err)
	os.Exit(1)
}

type testbed struct {
	dir, bin string
	procs    []*exec.Cmd
	exited   chan error
}

func (tb *testbed) start(timeout time.Duration) error {
	begin := time.Now()
	tb.exited = make(chan error, 2)
	pki := filepath.Join(tb.dir, "pki")
	if err := os.MkdirAll(pki, 0o700); err != nil {
		return err
	}
	os.Remove(filepath.Join(tb.dir, "env"))
	ca, err := writePKI(pki)
	if err != nil {
		return fmt.Errorf("PKI: %w", err)
	}
	adminToken, err := randomHex(24)
	if err != nil {
		return err
	}
	tokenFile := filepath.Join(tb.dir, "admin-token")
	if err := os.WriteFile(tokenFile, []byte(adminToken), 0o600); err != nil {
		return err
	}
	// Static tokens: the admin (system:masters) only.
	if err := os.WriteFile(filepath.Join(pki, "tokens.csv"),
		[]byte(fmt.Sprintf("%s,kube-testbed-admin,kube-testbed-admin,\"system:masters\"\n", adminToken)), 0o600); err != nil {
		return err
	}

	ports, err := freePorts(3)
	if err != nil {
		return err
	}
	etcdClient := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	etcdPeer := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	etcdData := filepath.Join(tb.dir, "etcd-data")
	os.RemoveAll(etcdData)
	if err := tb.run("etcd", filepath.Join(tb.bin, "etcd"),
		"--name=testbed", "--data-dir="+etcdData,
		"--listen-client-urls="+etcdClient, "--advertise-client-urls="+etcdClient,
		"--listen-peer-urls="+etcdPeer, "--initial-advertise-peer-urls="+etcdPeer,
		"--initial-cluster=testbed="+etcdPeer,
		// Tests throw the data away: no fsync keeps writes fast on shared disks.
		"--unsafe-no-fsync", "--log-level=warn"); err != nil {
		return err
	}
	if err := waitHTTP(etcdClient+"/health", nil, "", timeout); err != nil {
		return fmt.Errorf("etcd: %w (log: %s)", err, tb.logPath("etcd"))
	}
	etcdReady := time.Since(begin)

	apiPort := ports[2]
	api := fmt.Sprintf("https://127.0.0.1:%d", apiPort)
	if err := tb.run("kube-apiserver", filepath.Join(tb.bin, "kube-apiserver"),
		"--etcd-servers="+etcdClient,
		"--bind-address=127.0.0.1", fmt.Sprintf("--secure-port=%d", apiPort),
		// A loopback advertise address is refused unless nothing reconciles
		// the kubernetes Service endpoints.
		"--advertise-address=127.0.0.1", "--endpoint-reconciler-type=none",
		"--tls-cert-file="+filepath.Join(pki, "apiserver.crt"),
		"--tls-private-key-file="+filepath.Join(pki, "apiserver.key"),
		"--client-ca-file="+filepath.Join(pki, "ca.crt"),
		"--token-auth-file="+filepath.Join(pki, "tokens.csv"),
		"--authorization-mode=RBAC",
		"--service-account-issuer="+issuer,
		"--service-account-key-file="+filepath.Join(pki, "sa.pub"),
		"--service-account-signing-key-file="+filepath.Join(pki, "sa.key"),
		// Tokens expire when they say: no silent one-year extension.
		"--service-account-extend-token-expiration=false",
		"--service-cluster-ip-range=10.96.0.0/16",
		"--profiling=false", "--v=1"); err != nil {
		return err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	if err := waitHTTP(api+"/readyz", pool, adminToken, timeout); err != nil {
		return fmt.Errorf("kube-apiserver: %w (log: %s)", err, tb.logPath("kube-apiserver"))
	}
	ready := time.Since(begin)

	caFile := filepath.Join(pki, "ca.crt")
	kubeconfig := filepath.Join(tb.dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: testbed
  cluster:
    server: %s
    certificate-authority: %s
users:
- name: admin
  user:
    tokenFile: %s
contexts:
- name: testbed
  context: {cluster: testbed, user: admin}
current-context: testbed
`, api, caFile, tokenFile)), 0o600); err != nil {
		return err
	}
	env := strings.Join([]string{
		"KUBE_API_SERVER=" + api,
		"KUBE_CA_FILE=" + caFile,
		"KUBE_ADMIN_TOKEN_FILE=" + tokenFile,
		"KUBECONFIG=" + kubeconfig,
		"KUBE_SA_ISSUER=" + issuer,
		"KUBE_SA_SIGNING_KEY=" + filepath.Join(pki, "sa.key"),
		fmt.Sprintf("KUBE_TESTBED_PID=%d", os.Getpid()),
		fmt.Sprintf("KUBE_APISERVER_PID=%d", tb.procs[1].Process.Pid),
		fmt.Sprintf("KUBE_ETCD_PID=%d", tb.procs[0].Process.Pid),
		fmt.Sprintf("KUBE_READY_MS=%d", ready.Milliseconds()),
	}, "\n") + "\n"
	tmp := filepath.Join(tb.dir, ".env.tmp")
	if err := os.WriteFile(tmp, []byte(env), 0o600); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(tb.dir, "env")); err != nil {
		return err
	}
	fmt.Printf("kube-testbed: etcd healthy in %v, kube-apiserver ready in %v\n%s",
		etcdReady.Round(time.Millisecond), ready.Round(time.Millisecond), env)
	return nil
}

func (tb *testbed) logPath(name string) string { return filepath.Join(tb.dir, name+".log") }

func (tb *testbed) run(name, path string, args ...string) error {
	log, err := os.Create(tb.logPath(name))
	if err != nil {
		return err
	}
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("%s: %w (build it with tools/kube/build.sh)", name, err)
	}
	tb.procs = append(tb.procs, cmd)
	go func() {
		err := cmd.Wait()
		log.Close()
		tb.exited <- fmt.Errorf("%s exited: %v (log: %s)", name, err, tb.logPath(name))
	}()
	return nil
}

// stop ends the API server first (it holds etcd's connections), then etcd.
func (tb *testbed) stop() {
	for i := len(tb.procs) - 1; i >= 0; i-- {
		p := tb.procs[i].Process
		p.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() {
			for {
				if err := p.Signal(syscall.Signal(0)); err != nil {
					close(done)
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			p.Kill()
		}
	}
	os.RemoveAll(filepath.Join(tb.dir, "etcd-data"))
	os.Remove(filepath.Join(tb.dir, "env"))
}

func waitHTTP(url string, pool *x509.CertPool, token string, timeout time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool},
	}}
	deadline := time.Now().Add(timeout)
	last := errors.New("no answer")
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest("GET", url, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
			last = fmt.Errorf("%s answered %d", url, resp.StatusCode)
		} else {
			last = err
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("not ready after %v: %v", timeout, last)
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// writePKI makes a fresh cluster CA, the API server's serving certificate
// (the names in-cluster clients use, and loopback) and the service-account
// signing key pair (RSA-2048, as kubeadm makes it).
func writePKI(dir string) (*x509.Certificate, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kube-testbed-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	if err := writePEM(filepath.Join(dir, "ca.crt"), "CERTIFICATE", caDER, 0o644); err != nil {
		return nil, err
	}
	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost", "kubernetes", "kubernetes.default",
			"kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.96.0.1")},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	if err := writePEM(filepath.Join(dir, "apiserver.crt"), "CERTIFICATE", srvDER, 0o644); err != nil {
		return nil, err
	}
	srvKeyDER, _ := x509.MarshalECPrivateKey(srvKey)
	if err := writePEM(filepath.Join(dir, "apiserver.key"), "EC PRIVATE KEY", srvKeyDER, 0o600); err != nil {
		return nil, err
	}
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	if err := writePEM(filepath.Join(dir, "sa.key"), "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(saKey), 0o600); err != nil {
		return nil, err
	}
	saPub, _ := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err := writePEM(filepath.Join(dir, "sa.pub"), "PUBLIC KEY", saPub, 0o644); err != nil {
		return nil, err
	}
	return ca, nil
}

func writePEM(path, kind string, der []byte, mode os.FileMode) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), mode)
}
