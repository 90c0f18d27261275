// Package kubetestbed starts the real Kubernetes control plane of
// tools/kube (kube-testbed: stock etcd + kube-apiserver on loopback with
// fresh PKI, RBAC and a service-account issuer) and gives tests a client-go
// clientset on it, plus the few object helpers the interop suite needs:
// namespaces, service accounts, nodes, RBAC, pods (API objects only: no
// kubelet runs, so phases are set through the status subresource),
// TokenRequest and TokenReview.
package kubetestbed

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// BinDir is where kube-testbed, kube-apiserver and etcd are:
// VAULTCA_KUBE_BIN_DIR, else tools/kube/build.sh's default cache.
func BinDir() string {
	if d := os.Getenv("VAULTCA_KUBE_BIN_DIR"); d != "" {
		return d
	}
	cache := os.Getenv("VAULTCA_CACHE")
	if cache == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			home, _ := os.UserHomeDir()
			base = filepath.Join(home, ".cache")
		}
		cache = filepath.Join(base, "vaultca")
	}
	return filepath.Join(cache, "bin")
}

// Testbed is a running control plane.
type Testbed struct {
	Dir            string
	Env            map[string]string // DIR/env
	APIServer      string            // https://127.0.0.1:PORT
	CAFile         string            // the API server's CA
	AdminTokenFile string            // group system:masters
	Issuer         string            // service-account token issuer
	ReadyIn        time.Duration     // kube-testbed's own start-up time
	// Admin is the admin rest config (from KUBECONFIG); Client its clientset.
	Admin  *rest.Config
	Client kubernetes.Interface

	cmd    *exec.Cmd
	exited chan struct{}
	err    error
}

// Launch starts kube-testbed in dir and returns at once; Wait blocks
// until it is ready. Starting early lets callers overlap the control
// plane's start-up with their own.
func Launch(dir string) (*Testbed, error) {
	bin := filepath.Join(BinDir(), "kube-testbed")
	if st, err := os.Stat(bin); err != nil || st.Mode()&0o111 == 0 {
		return nil, fmt.Errorf("no kube-testbed at %s (build it with `bash tools/kube/build.sh`, or set VAULTCA_KUBE_BIN_DIR)", bin)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "kube-testbed.log"))
	if err != nil {
		return nil, err
	}
	tb := &Testbed{Dir: dir, exited: make(chan struct{})}
	tb.cmd = exec.Command(bin, "--dir", dir, "--timeout", "120s")
	tb.cmd.Stdout, tb.cmd.Stderr = logf, logf
	// kube-testbed stops etcd and the API server when we die (it sets
	// PR_SET_PDEATHSIG itself, --die-with-parent).
	if err := tb.cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	go func() {
		tb.err = tb.cmd.Wait()
		logf.Close()
		close(tb.exited)
	}()
	return tb, nil
}

// Start launches the testbed and waits for it.
func Start(dir string, timeout time.Duration) (*Testbed, error) {
	tb, err := Launch(dir)
	if err != nil {
		return nil, err
	}
	if err := tb.Wait(timeout); err != nil {
		tb.Stop()
		return nil, err
	}
	return tb, nil
}

// Wait blocks until DIR/env exists (written in one rename when the API
// server answers /readyz), then builds the admin client.
func (tb *Testbed) Wait(timeout time.Duration) error {
	envPath := filepath.Join(tb.Dir, "env")
	deadline := time.Now().Add(timeout)
	for {
		if _, err := os.Stat(envPath); err == nil {
			break
		}
		select {
		case <-tb.exited:
			return fmt.Errorf("kube-testbed exited before ready: %v\n%s", tb.err, tb.LogTail(3000))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kube-testbed not ready after %v\n%s", timeout, tb.LogTail(3000))
		}
	}
	env, err := readEnv(envPath)
	if err != nil {
		return err
	}
	tb.Env = env
	tb.APIServer, tb.CAFile = env["KUBE_API_SERVER"], env["KUBE_CA_FILE"]
	tb.AdminTokenFile, tb.Issuer = env["KUBE_ADMIN_TOKEN_FILE"], env["KUBE_SA_ISSUER"]
	if ms, err := strconv.Atoi(env["KUBE_READY_MS"]); err == nil {
		tb.ReadyIn = time.Duration(ms) * time.Millisecond
	}
	if tb.Admin, err = clientcmd.BuildConfigFromFlags("", env["KUBECONFIG"]); err != nil {
		return fmt.Errorf("kubeconfig: %v", err)
	}
	tb.Admin.QPS, tb.Admin.Burst = 200, 400
	if tb.Client, err = kubernetes.NewForConfig(tb.Admin); err != nil {
		return err
	}
	return nil
}

func readEnv(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok {
			out[k] = v
		}
	}
	for _, k := range []string{"KUBE_API_SERVER", "KUBE_CA_FILE", "KUBECONFIG", "KUBE_SA_ISSUER"} {
		if out[k] == "" {
			return nil, fmt.Errorf("%s: no %s", path, k)
		}
	}
	return out, sc.Err()
}

// LogTail is the end of kube-testbed's own log (and the API server's).
func (tb *Testbed) LogTail(n int) string {
	var b strings.Builder
	for _, name := range []string{"kube-testbed.log", "kube-apiserver.log"} {
		data, err := os.ReadFile(filepath.Join(tb.Dir, name))
		if err != nil {
			continue
		}
		if len(data) > n {
			data = data[len(data)-n:]
		}
		fmt.Fprintf(&b, "---- tail of %s ----\n%s\n", name, data)
	}
	return b.String()
}

// Stop sends SIGTERM (kube-testbed stops the API server, then etcd) and
// waits up to 20 s before killing it.
func (tb *Testbed) Stop() {
	if tb == nil || tb.cmd == nil || tb.cmd.Process == nil {
		return
	}
	_ = tb.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-tb.exited:
	case <-time.After(20 * time.Second):
		_ = tb.cmd.Process.Kill()
		<-tb.exited
	}
}

// ConfigForToken is a rest config that authenticates with the token in
// tokenFile (a service account's), trusting the API server's CA.
func (tb *Testbed) ConfigForToken(tokenFile string) *rest.Config {
	return &rest.Config{
		Host:            tb.APIServer,
		BearerTokenFile: tokenFile,
		TLSClientConfig: rest.TLSClientConfig{CAFile: tb.CAFile},
		QPS:             100, Burst: 200,
	}
}

// ------------------------------------------------------------- objects

func ignoreExists(err error) error {
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// Namespace creates a namespace (no error if it exists).
func (tb *Testbed) Namespace(ctx context.Context, name string) error {
	_, err := tb.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	return ignoreExists(err)
}

// ServiceAccount creates a service account (no error if it exists).
func (tb *Testbed) ServiceAccount(ctx context.Context, ns, name string) error {
	_, err := tb.Client.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	return ignoreExists(err)
}

// Node creates a Node object (no kubelet behind it).
func (tb *Testbed) Node(ctx context.Context, name string) error {
	_, err := tb.Client.CoreV1().Nodes().Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	return ignoreExists(err)
}

// ClusterRole creates a cluster role with these rules.
func (tb *Testbed) ClusterRole(ctx context.Context, name string, rules []rbacv1.PolicyRule) error {
	_, err := tb.Client.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}, metav1.CreateOptions{})
	return ignoreExists(err)
}

// BindClusterRole grants a cluster role to a service account, cluster-wide.
func (tb *Testbed) BindClusterRole(ctx context.Context, role, ns, sa string) error {
	_, err := tb.Client.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role + ":" + ns + ":" + sa},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: ns, Name: sa}},
	}, metav1.CreateOptions{})
	return ignoreExists(err)
}

// Pod creates a pod of service account sa bound to node (spec.nodeName, as
// the scheduler would set it) and sets its phase through the status
// subresource, as a kubelet would. phase "" leaves it Pending.
func (tb *Testbed) Pod(ctx context.Context, ns, name, sa, node string, phase corev1.PodPhase) (*corev1.Pod, error) {
	no := false
	pod, err := tb.Client.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": sa}},
		Spec: corev1.PodSpec{
			ServiceAccountName:           sa,
			NodeName:                     node,
			AutomountServiceAccountToken: &no,
			Containers:                   []corev1.Container{{Name: "app", Image: "registry.invalid/interop/app:none"}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	if phase == "" || phase == corev1.PodPending {
		return pod, nil
	}
	return tb.SetPodPhase(ctx, pod, phase)
}

// SetPodPhase writes status.phase (and a Ready condition for Running).
func (tb *Testbed) SetPodPhase(ctx context.Context, pod *corev1.Pod, phase corev1.PodPhase) (*corev1.Pod, error) {
	p := pod.DeepCopy()
	p.Status.Phase = phase
	now := metav1.Now()
	ready := corev1.ConditionFalse
	if phase == corev1.PodRunning {
		ready = corev1.ConditionTrue
		p.Status.StartTime = &now
	}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: ready, LastTransitionTime: now}}
	return tb.Client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, p, metav1.UpdateOptions{})
}

// DeletePodNow deletes a pod with grace period 0 (no kubelet would ever
// confirm a graceful deletion) and waits until the API server no longer
// has it.
func (tb *Testbed) DeletePodNow(ctx context.Context, ns, name string) error {
	zero := int64(0)
	err := tb.Client.CoreV1().Pods(ns).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	for {
		_, err := tb.Client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pod %s/%s still there: %v", ns, name, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// PodToken is a TokenRequest for sa bound to pod (what the kubelet
// projects into the pod): user.extra then carries the pod's name and uid.
func (tb *Testbed) PodToken(ctx context.Context, pod *corev1.Pod, audiences []string, ttl time.Duration) (string, error) {
	return tb.token(ctx, pod.Namespace, pod.Spec.ServiceAccountName, &authnv1.BoundObjectReference{
		Kind: "Pod", APIVersion: "v1", Name: pod.Name, UID: pod.UID,
	}, audiences, ttl)
}

// ServiceAccountToken is a TokenRequest bound to no object.
func (tb *Testbed) ServiceAccountToken(ctx context.Context, ns, sa string, audiences []string, ttl time.Duration) (string, error) {
	return tb.token(ctx, ns, sa, nil, audiences, ttl)
}

func (tb *Testbed) token(ctx context.Context, ns, sa string, ref *authnv1.BoundObjectReference, audiences []string, ttl time.Duration) (string, error) {
	secs := int64(ttl.Seconds())
	tr, err := tb.Client.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authnv1.TokenRequest{
		Spec: authnv1.TokenRequestSpec{Audiences: audiences, ExpirationSeconds: &secs, BoundObjectRef: ref},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("TokenRequest for %s/%s: %w", ns, sa, err)
	}
	if tr.Status.Token == "" {
		return "", errors.New("TokenRequest returned no token")
	}
	return tr.Status.Token, nil
}

// TokenReview asks the API server (as admin) about a token.
func (tb *Testbed) TokenReview(ctx context.Context, token string, audiences []string) (authnv1.TokenReviewStatus, error) {
	r, err := tb.Client.AuthenticationV1().TokenReviews().Create(ctx, &authnv1.TokenReview{
		Spec: authnv1.TokenReviewSpec{Token: token, Audiences: audiences},
	}, metav1.CreateOptions{})
	if err != nil {
		return authnv1.TokenReviewStatus{}, err
	}
	return r.Status, nil
}
