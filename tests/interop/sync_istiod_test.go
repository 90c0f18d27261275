package interop

// istiod stays the CA, fed from Vault by `vaultca sync` instead of the
// seed's vault-env: the real istiod (pilot-discovery, its CA on, plug-in
// certificates) on the real API server, the real Vault configured by
// `vaultca bootstrap` (kubernetes auth against that API server, role istiod),
// `vaultca sync` logging in with a pod-bound token of istiod's service
// account, and Istio's own CA client asking istiod for workload
// certificates with a pod-bound istio-ca token (istiod's TokenReview).
// Then an intermediate rotation with `vault kv put` while sync runs in its
// loop: istiod must pick the new files up by itself (its fsnotify watch of
// the cacerts directory, pilot/pkg/bootstrap/istio_ca.go), with no restart.
// Three ways: sync writing the directory itself (an init container plus a
// sidecar on an emptyDir); sync writing the `cacerts` Secret that the
// kubelet mounts at istiod's ./etc/cacerts (the chart's volume); and that
// Secret read by istiod through the API (USE_REMOTE_CERTS), which it does
// once, at start, so there a rotation needs a new pod.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"vaultca.dev/tests/interop/internal/agent"
	"vaultca.dev/tests/interop/internal/jwtutil"
	"vaultca.dev/tests/interop/internal/kubetestbed"
	"vaultca.dev/tests/interop/internal/pki"
)

const (
	// The seed's name for istiod's service account (vaultca bootstrap's
	// default binding).
	seedIstiodSA = "istiod-service-account-cp-v115x"
	// What istiod logs once handleEvent has swapped in new plug-in files.
	istiodReloadedLog = "Istiod has detected the newly added intermediate CA"
)

type syncIstiodFixture struct {
	kube   *kubetestbed.Testbed
	vault  *vaultServer
	cli    string
	istiod string // pilot-discovery
	root   *pki.CA
	dir    string
	out    string
	// Pod-bound tokens: istiod's (API server audience: Vault's kubernetes
	// login, and the API for --secret) and the workload's (istio-ca).
	istiodToken, sleepToken string
	rootFile                string // the mesh root, as istio-agent's root-cert.pem
	sleepIdentity           string
}

func TestSyncIstiod(t *testing.T) {
	testStart := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	root, err := pki.NewRoot("Sync Root CA", false)
	if err != nil {
		t.Fatal(err)
	}
	inter1, err := pki.NewIntermediate(root, "Sync Intermediate 1", false, signingCALife)
	if err != nil {
		t.Fatal(err)
	}
	f := newSyncIstiodFixture(ctx, t, "sync-istiod", inter1)
	dir, kube := f.dir, f.kube

	inter2, err := pki.NewIntermediate(root, "Sync Intermediate 2", false, signingCALife)
	if err != nil {
		t.Fatal(err)
	}
	inter3, err := pki.NewIntermediate(root, "Sync Intermediate 3", false, signingCALife)
	if err != nil {
		t.Fatal(err)
	}
	if !t.Run("dir", func(t *testing.T) {
		// The emptyDir the init container and the sidecar share with istiod.
		cacertsDir := filepath.Join(dir, "istiod-dir", "cacerts")
		if err := os.MkdirAll(cacertsDir, 0o755); err != nil {
			t.Fatal(err)
		}
		f.rotationCase(ctx, t, "dir", []string{"--dir=" + cacertsDir}, cacertsDir,
			[]string{"ENABLE_CA_SERVER=true", "ROOT_CA_DIR=" + cacertsDir}, inter1, inter2, nil)
	}) {
		return
	}

	if !t.Run("secret", func(t *testing.T) {
		// Where the chart mounts Secret cacerts: ./etc/cacerts, istiod's
		// default ROOT_CA_DIR.
		istiodDir := filepath.Join(dir, "istiod-secret")
		cacertsDir := filepath.Join(istiodDir, "etc/cacerts")
		project := f.mountCacertsSecret(ctx, t, cacertsDir)
		// The dir case left intermediate 2 in Vault; the Secret starts there.
		f.rotationCase(ctx, t, "secret", f.secretTarget(), cacertsDir, []string{"ENABLE_CA_SERVER=true"}, inter2, inter3, project)
		if s, err := kube.Client.CoreV1().Secrets("istio-system").Get(ctx, "cacerts", metav1.GetOptions{}); err != nil ||
			!bytes.Equal(s.Data["ca-cert.pem"], inter3.Signing.CertPEM) {
			t.Errorf("Secret istio-system/cacerts does not hold intermediate 3 (%v)", err)
		}
	}) {
		return
	}

	t.Run("secret-api", func(t *testing.T) {
		inter4, err := pki.NewIntermediate(root, "Sync Intermediate 4", false, signingCALife)
		if err != nil {
			t.Fatal(err)
		}
		f.remoteCertsCase(ctx, t, inter3, inter4)
	})
	measured(t, "TestSyncIstiod total %v", time.Since(testStart).Round(time.Millisecond))
}

func (f *syncIstiodFixture) loginArgs() []string {
	return []string{"--vault-addr=" + f.vault.addr, "--vault-cacert=" + f.vault.caCert,
		"--role=istiod", "--jwt-file=" + f.istiodToken}
}

// secretTarget: sync writes Secret istio-system/cacerts as istiod's
// service account.
func (f *syncIstiodFixture) secretTarget() []string {
	return []string{"--secret", "--kube-api=" + f.kube.APIServer,
		"--kube-token-file=" + f.istiodToken, "--kube-ca-file=" + f.kube.CAFile}
}

// startCAIstiod runs istiod with its CA on in istiodDir (logging to
// istiod-<name>.log) and waits until it is ready.
func (f *syncIstiodFixture) startCAIstiod(t *testing.T, name, istiodDir string, istiodEnv []string) *istiodProcess {
	t.Helper()
	istiod, err := startIstiodEnv(f.istiod, istiodDir, f.kube.Env["KUBECONFIG"],
		filepath.Join(f.out, "istiod-"+name+".log"), istiodEnv)
	if err != nil {
		t.Fatal(err)
	}
	readyIn, err := istiod.waitReady(90 * time.Second)
	if err != nil {
		istiod.stop()
		t.Fatal(err)
	}
	measured(t, "%s: istiod (pilot-discovery, CA on, plug-in certificates) ready in %v", name, readyIn.Round(time.Millisecond))
	return istiod
}

// agentConfig is istio-agent's configuration for the sleep pod with
// CA_ADDR = istiod's 15012 (as localhost: checked as istiod.istio-system.svc).
func (f *syncIstiodFixture) agentConfig(t *testing.T, istiod *istiodProcess) agent.Config {
	return agent.Config{CAAddr: fmt.Sprintf("localhost:%d", istiod.xdsPort),
		RootCertFile: f.rootFile, TokenFile: f.sleepToken,
		Namespace: "default", ServiceAccount: "sleep", WorkDir: t.TempDir()}
}

// workloadCert is istio-agent's secret manager asking istiod for the
// "default" secret (the CSR, istiod's TokenReview of the pod's istio-ca
// token), checked as Istio's tests check it and issued by m.
func (f *syncIstiodFixture) workloadCert(t *testing.T, istiod *istiodProcess, m *pki.Material) time.Duration {
	t.Helper()
	w, err := agent.NewWorkload(f.agentConfig(t, istiod))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	start := time.Now()
	item, err := w.Generate()
	took := time.Since(start)
	if err != nil {
		t.Fatalf("workload certificate from istiod: %v\n%s", err, istiod.logTail(3000))
	}
	if err := f.checkWorkload(item.PrivateKey, item.CertificateChain, m); err != nil {
		t.Fatalf("workload certificate from istiod: %v", err)
	}
	return took
}

// rotationCase: `vaultca sync --once` (the init container) writes `from`
// to the target, istiod starts with its CA on, Istio's client gets a
// workload certificate under `from`; then sync runs in its loop, `to` is
// put into Vault, and the first workload certificate under `to` is
// measured, istiod staying the same process. project, when set, is the
// kubelet mounting the Secret (run after the first sync).
func (f *syncIstiodFixture) rotationCase(ctx context.Context, t *testing.T, name string, target []string,
	cacertsDir string, istiodEnv []string, from, to *pki.Material, project func() error) {
	syncArgs := append(append([]string{"sync"}, f.loginArgs()...), target...)

	onceStart := time.Now()
	if o, err := f.run(nil, append(syncArgs, "--once")...); err != nil {
		t.Fatalf("vaultca sync --once: %v\n%s", err, o)
	}
	onceTook := time.Since(onceStart)
	if project != nil {
		if err := project(); err != nil {
			t.Fatalf("kubelet mounting Secret cacerts: %v", err)
		}
	}
	if !fileIs(filepath.Join(cacertsDir, "ca-cert.pem"), from.Signing.CertPEM) {
		t.Fatalf("%s/ca-cert.pem is not %q after sync --once", cacertsDir, from.Signing.Cert.Subject.CommonName)
	}
	measured(t, "%s: vaultca sync --once (kubernetes login as istiod, read, check, write) %v", name, onceTook.Round(time.Millisecond))

	istiodDir := filepath.Join(f.dir, "istiod-"+name)
	istiod := f.startCAIstiod(t, name, istiodDir, istiodEnv)
	defer istiod.stop()
	log := istiod.logTail(1 << 22)
	for _, want := range []string{"Use local CA certificate", "Added cacerts files watcher at " + relTo(istiodDir, cacertsDir)} {
		if !strings.Contains(log, want) {
			t.Fatalf("istiod's log has no %q: it did not take the plug-in CA from %s (log: %s)", want, cacertsDir, istiod.logPath)
		}
	}
	rootPEM := f.root.CertPEM
	if err := waitRootConfigMap(ctx, f.kube, "default", rootPEM); err != nil {
		t.Fatalf("istiod's root ConfigMap: %v", err)
	}
	if chain, err := servingChain(istiod.xdsPort, rootPEM); err != nil || !chainIssuedBy(chain, from) {
		t.Fatalf("istiod's 15012 does not serve a certificate of %q: %v", from.Signing.Cert.Subject.CommonName, err)
	}
	took := f.workloadCert(t, istiod, from)
	measured(t, "%s: workload certificate %s from istiod, issued by %q, in %v", name, f.sleepIdentity,
		from.Signing.Cert.Subject.CommonName, took.Round(time.Millisecond))

	// The sidecar: sync in its loop.
	loop, err := f.startSyncLoop(append(syncArgs, "--interval=1s"), filepath.Join(f.out, "sync-"+name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	defer loop.stop()
	waitFor(t, 30*time.Second, "sync loop's first round", func() bool { return loop.saw("in step with Vault") })

	// Polled as a stream of istio-agent requests: ECDSA CSRs keep each
	// request short, so the first certificate under `to` is seen within a
	// round trip of istiod switching.
	pollCfg := f.agentConfig(t, istiod)
	pollCfg.ECCSigAlg = "ECDSA"
	client, opts, err := agent.NewCitadelClient(pollCfg)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	pid := istiod.cmd.Process.Pid
	reloadsBefore := strings.Count(istiod.logTail(1<<22), istiodReloadedLog)

	putAt := time.Now()
	if err := (&environment{dir: f.dir, vault: f.vault}).putCA(to); err != nil {
		t.Fatal(err)
	}
	var writtenAt, reloadAt, servingAt, certAt time.Time
	var requests, failures int
	for writtenAt.IsZero() || reloadAt.IsZero() || servingAt.IsZero() || certAt.IsZero() {
		if time.Since(putAt) > 60*time.Second {
			t.Fatalf("60 s after vault kv put: files written %v, istiod reloaded %v, 15012 serving %v, workload certificate %v "+
				"(%d requests, %d failed)\nsync:\n%s\nistiod:\n%s", !writtenAt.IsZero(), !reloadAt.IsZero(), !servingAt.IsZero(),
				!certAt.IsZero(), requests, failures, loop.tail(2000), istiod.logTail(3000))
		}
		if writtenAt.IsZero() && fileIs(filepath.Join(cacertsDir, "ca-cert.pem"), to.Signing.CertPEM) {
			writtenAt = time.Now()
		}
		if reloadAt.IsZero() && strings.Count(istiod.logTail(1<<22), istiodReloadedLog) > reloadsBefore {
			reloadAt = time.Now()
		}
		if servingAt.IsZero() {
			if chain, err := servingChain(istiod.xdsPort, rootPEM); err == nil && chainIssuedBy(chain, to) {
				servingAt = time.Now()
			}
		}
		if certAt.IsZero() {
			requests++
			chain, _, err := agent.SignRaw(client, opts, 3600)
			pem := []byte(strings.Join(chain, ""))
			switch {
			case err != nil:
				failures++
				t.Errorf("workload request during the rotation: %v", err)
			case issuedBy(pem, to):
				certAt = time.Now()
			case !issuedBy(pem, from):
				t.Fatalf("workload certificate issued by %q during the rotation", mustLeaf(t, pem).Issuer.CommonName)
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	measured(t, "%s: vault kv put -> cacerts files hold the new intermediate %v, -> istiod reloaded (log) %v, "+
		"-> first workload certificate under %q %v (%v after the files; %d requests, %d failed), "+
		"-> istiod serving its new certificate on 15012 %v; no restart",
		name, writtenAt.Sub(putAt).Round(time.Millisecond), reloadAt.Sub(putAt).Round(time.Millisecond),
		to.Signing.Cert.Subject.CommonName, certAt.Sub(putAt).Round(time.Millisecond),
		certAt.Sub(writtenAt).Round(time.Millisecond), requests, failures, servingAt.Sub(putAt).Round(time.Millisecond))
	if !istiod.running() || istiod.cmd.Process.Pid != pid {
		t.Fatalf("istiod restarted or exited")
	}
	// The full agent path again, under the new intermediate.
	f.workloadCert(t, istiod, to)

	// The operator's proof: vaultca check against istiod's 15012, with the
	// workload's token, verifying istiod's answer against the root in Vault.
	check := append(append([]string{"check"}, f.loginArgs()...),
		"--server="+fmt.Sprintf("localhost:%d", istiod.xdsPort), "--server-token-file="+f.sleepToken)
	o, err := f.run(nil, check...)
	if err != nil || !reportHas(o, "PASS", "server chain") {
		t.Fatalf("vaultca check --server istiod: %v\n%s", err, o)
	}

	if code := loop.stop(); code != 0 {
		t.Errorf("sync loop exited %d on SIGTERM, want 0\n%s", code, loop.tail(2000))
	}
	if n := strings.Count(loop.output(), "wrote "); n != 1 {
		t.Errorf("sync loop wrote %d times, want once (the rotation)\n%s", n, loop.tail(2000))
	}
}

// remoteCertsCase: istiod's other way to the Secret, USE_REMOTE_CERTS
// (external istiod): at start, when ROOT_CA_DIR holds no complete bundle,
// istiod GETs Secret cacerts once and writes its keys there; the Secret is
// not watched. So a rotation that sync writes to the Secret reaches istiod
// only when it starts again with ROOT_CA_DIR empty (a new pod); a container
// restart keeps the files it wrote and the old CA. The Secret holds `from`
// (the secret case's last write).
func (f *syncIstiodFixture) remoteCertsCase(ctx context.Context, t *testing.T, from, to *pki.Material) {
	istiodDir := filepath.Join(f.dir, "istiod-remote")
	cacertsDir := filepath.Join(istiodDir, "etc/cacerts")
	istiodEnv := []string{"ENABLE_CA_SERVER=true", "USE_REMOTE_CERTS=true"}
	istiod := f.startCAIstiod(t, "secret-api", istiodDir, istiodEnv)
	defer func() { istiod.stop() }()
	if !strings.Contains(istiod.logTail(1<<22), "cacerts Secret found in config cluster") {
		t.Fatalf("istiod did not read Secret cacerts (log: %s)", istiod.logPath)
	}
	f.workloadCert(t, istiod, from)

	loop, err := f.startSyncLoop(append(append(append([]string{"sync"}, f.loginArgs()...), f.secretTarget()...), "--interval=1s"),
		filepath.Join(f.out, "sync-secret-api.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer loop.stop()
	waitFor(t, 30*time.Second, "sync loop's first round", func() bool { return loop.saw("in step with Vault") })
	putAt := time.Now()
	if err := (&environment{dir: f.dir, vault: f.vault}).putCA(to); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "Secret cacerts holding the new intermediate", func() bool {
		s, err := f.kube.Client.CoreV1().Secrets("istio-system").Get(ctx, "cacerts", metav1.GetOptions{})
		return err == nil && bytes.Equal(s.Data["ca-cert.pem"], to.Signing.CertPEM)
	})
	secretAt := time.Now()
	// Far longer than istiod takes to act on watched files (a 100 ms
	// debounce): had it watched the Secret, it would have switched by now.
	time.Sleep(3 * time.Second)
	f.workloadCert(t, istiod, from)
	if !fileIs(filepath.Join(cacertsDir, "ca-cert.pem"), from.Signing.CertPEM) {
		t.Errorf("%s changed under istiod", cacertsDir)
	}
	measured(t, "secret-api: Secret cacerts rotated %v after vault kv put; %v later istiod still signs with %q (the Secret is read once, at start)",
		secretAt.Sub(putAt).Round(time.Millisecond), time.Since(secretAt).Round(time.Millisecond), from.Signing.Cert.Subject.CommonName)
	istiod.stop()

	// A container restart: the directory keeps the files istiod wrote.
	istiod = f.startCAIstiod(t, "secret-api-restart", istiodDir, istiodEnv)
	f.workloadCert(t, istiod, from)
	istiod.stop()
	measured(t, "secret-api: istiod restarted on the same directory still signs with %q", from.Signing.Cert.Subject.CommonName)

	// A new pod: an empty directory, so the Secret is read again.
	if err := os.RemoveAll(cacertsDir); err != nil {
		t.Fatal(err)
	}
	istiod = f.startCAIstiod(t, "secret-api-new-pod", istiodDir, istiodEnv)
	f.workloadCert(t, istiod, to)
	measured(t, "secret-api: istiod started on an empty directory signs with %q", to.Signing.Cert.Subject.CommonName)
}

func (f *syncIstiodFixture) checkWorkload(keyPEM, chainPEM []byte, m *pki.Material) error {
	leaf, err := agent.Verify(keyPEM, chainPEM, f.root.CertPEM, f.sleepIdentity)
	if err != nil {
		return err
	}
	if leaf.CheckSignatureFrom(m.Signing.Cert) != nil {
		return fmt.Errorf("issued by %q, want %q", leaf.Issuer.CommonName, m.Signing.Cert.Subject.CommonName)
	}
	return nil
}

// setupKube creates what the seed's cluster has for this: istiod's service
// account and pod, Vault's token reviewer default/vault
// (system:auth-delegator), the sleep workload; istiod's service account may
// write Secret cacerts (sync --secret runs as it). It writes the pod-bound
// tokens and returns the reviewer's token file.
func (f *syncIstiodFixture) setupKube(ctx context.Context, t *testing.T) string {
	t.Helper()
	kube := f.kube
	for _, ns := range []string{"istio-system", "default"} {
		if err := kube.Namespace(ctx, ns); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range [][2]string{{"istio-system", seedIstiodSA}, {"default", "vault"}, {"default", "sleep"}} {
		if err := kube.ServiceAccount(ctx, a[0], a[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := kube.Node(ctx, "node-a"); err != nil {
		t.Fatal(err)
	}
	if err := kube.BindClusterRole(ctx, "system:auth-delegator", "default", "vault"); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.Client.RbacV1().Roles("istio-system").Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "vaultca-sync"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"secrets"},
			Verbs: []string{"get", "create", "update"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := kube.Client.RbacV1().RoleBindings("istio-system").Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "vaultca-sync"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "vaultca-sync"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: "istio-system", Name: seedIstiodSA}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	token := func(pod *corev1.Pod, audiences []string, name string) string {
		tok, err := kube.PodToken(ctx, pod, audiences, 2*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(f.dir, name)
		if err := jwtutil.WriteFile(p, []byte(tok)); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pods := map[string]*corev1.Pod{}
	for _, p := range [][3]string{{"istio-system", "istiod-0", seedIstiodSA}, {"default", "vault-0", "vault"}, {"default", "sleep-1", "sleep"}} {
		pod, err := kube.Pod(ctx, p[0], p[1], p[2], "node-a", corev1.PodRunning)
		if err != nil {
			t.Fatal(err)
		}
		pods[p[1]] = pod
	}
	// No audience: the API server's own, which Vault's kubernetes auth
	// reviews against (its role names no audience).
	f.istiodToken = token(pods["istiod-0"], nil, "istiod-token")
	f.sleepToken = token(pods["sleep-1"], []string{"istio-ca"}, "sleep-istio-token")
	return token(pods["vault-0"], nil, "vault-reviewer-token")
}
