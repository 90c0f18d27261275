package interop

// The environment every test shares: a real Vault dev server seeded as
// the seed guide does, vaultca-server reading its CA from it, Istio's own
// CA server over the same plug-in material (twice: with the OIDC JWT
// authenticator, and wired as istiod on Kubernetes), a JWKS both verify
// minted tokens against, and a real Kubernetes API server (kube-testbed)
// answering both servers' TokenReviews and pod lookups.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"vaultca.dev/tests/interop/internal/agent"
	"vaultca.dev/tests/interop/internal/istioca"
	"vaultca.dev/tests/interop/internal/jwtutil"
	"vaultca.dev/tests/interop/internal/kubetestbed"
	"vaultca.dev/tests/interop/internal/pki"
)

const (
	trustDomain = "cluster.local"
	clusterID   = "Kubernetes"
	kvPath      = "secret/pki/istiod"
	// The first intermediate expires before MAX_WORKLOAD_CERT_TTL (90d), so
	// long requests exercise the clamp to the signing certificate.
	signingCALife = 60 * 24 * time.Hour
)

// env is built once by TestMain. No test changes what its Vault holds:
// a test that rotates or replaces the CA starts its own Vault and
// vaultca-server (startOwnCA), so the tests sharing env.vca see one CA
// whatever order they run in (go test -shuffle=on).
var env *environment

type environment struct {
	dir    string
	signer *jwtutil.Signer
	root   *pki.CA
	mat    *pki.Material // current intermediate in Vault
	vault  *vaultServer
	kube   *kubetestbed.Testbed
	kfix   *kubeFixture
	jwks   *httptest.Server
	vca    *vaultcaServer
	ica    *istioca.Server
	// Istio's CA wired as istiod on Kubernetes: kubeauth TokenReview
	// authenticator + node authorizer, informers on the real API server.
	icaKube *istioca.Server
	// Root file for agents of each server.
	vcaRoot, icaRoot string
	// Extra environment for vaultca-server (NAME=value).
	vcaExtraEnv []string
}

func TestMain(m *testing.M) {
	code := 1
	agent.QuietIstioLogs(os.Getenv("INTEROP_ISTIO_LOG_LEVEL"))
	func() {
		e, err := setup()
		if err != nil {
			fmt.Fprintf(os.Stderr, "interop setup failed: %v\n", err)
			if e != nil {
				e.dumpLogs()
				e.teardown()
			}
			return
		}
		env = e
		defer e.teardown()
		code = m.Run()
		if code != 0 {
			e.dumpLogs()
		}
	}()
	os.Exit(code)
}

func mustEnvBin(name, hint string) (string, error) {
	p := os.Getenv(name)
	if p == "" {
		return "", fmt.Errorf("%s is not set: %s", name, hint)
	}
	if st, err := os.Stat(p); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return "", fmt.Errorf("%s=%q is not an executable file: %s", name, p, hint)
	}
	return p, nil
}

func setup() (*environment, error) {
	vaultBin, err := mustEnvBin("VAULTCA_VAULT_BIN", "build it with `source tools/lib.sh; vaultca_vault_bin` (tests/interop/run.sh does)")
	if err != nil {
		return nil, err
	}
	serverBin, err := mustEnvBin("VAULTCA_SERVER_BIN", "build it with `bazel build //server:vaultca-server` (tests/interop/run.sh does)")
	if err != nil {
		return nil, err
	}
	begin := time.Now()
	dir, err := os.MkdirTemp("", "vaultca-interop-")
	if err != nil {
		return nil, err
	}
	e := &environment{dir: dir}
	if e.signer, err = jwtutil.NewSigner("interop-key-1"); err != nil {
		return e, err
	}
	if err := jwtutil.WriteFile(filepath.Join(dir, "jwks.json"), e.signer.JWKS()); err != nil {
		return e, err
	}
	// The same JWKS over HTTP(S) for Istio's OIDC authenticator.
	jwks := e.signer.JWKS()
	e.jwks = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	}))

	// The operator's CA: a root and a cluster intermediate, made now.
	if e.root, err = pki.NewRoot("Interop Root CA", false); err != nil {
		return e, err
	}
	if e.mat, err = pki.NewIntermediate(e.root, "Interop Intermediate 1", false, signingCALife); err != nil {
		return e, err
	}

	// The Kubernetes control plane starts while Vault does.
	if e.kube, err = kubetestbed.Launch(filepath.Join(dir, "kube")); err != nil {
		return e, fmt.Errorf("kube-testbed: %v", err)
	}

	if e.vault, err = startVault(vaultBin, filepath.Join(dir, "vault")); err != nil {
		return e, fmt.Errorf("vault: %v", err)
	}
	if err := e.seedVault(); err != nil {
		return e, fmt.Errorf("seeding vault: %v", err)
	}
	if err := e.putCA(e.mat); err != nil {
		return e, err
	}

	kubeWait := time.Now()
	if err := e.kube.Wait(120 * time.Second); err != nil {
		return e, fmt.Errorf("kube-testbed: %v", err)
	}
	kubeStart := time.Now()
	// RBAC for both CAs, and the workloads and node proxies of the cluster.
	if e.kfix, err = setupKube(e.kube, dir); err != nil {
		return e, fmt.Errorf("kubernetes fixture: %v", err)
	}
	kubeFixture := time.Since(kubeStart)

	if e.vca, err = startVaultca(serverBin, e); err != nil {
		return e, fmt.Errorf("vaultca-server: %v", err)
	}
	e.vcaRoot = filepath.Join(dir, "vaultca", "root-cert.pem")

	cacerts := filepath.Join(dir, "cacerts")
	if err := e.mat.WriteCacerts(cacerts); err != nil {
		return e, err
	}
	if e.ica, err = istioca.Start(istioca.Options{
		Listen: "127.0.0.1:0", CacertsDir: cacerts, TrustDomain: trustDomain,
		JWTIssuer: jwtutil.Issuer, JWKSURI: e.jwks.URL, ClientCert: true,
	}); err != nil {
		return e, fmt.Errorf("istio CA: %v", err)
	}
	e.icaRoot = filepath.Join(cacerts, "root-cert.pem")
	// istiod's wiring on Kubernetes, as its own service account (RBAC of
	// setupKube); the pod index syncs before Start returns.
	icaKubeStart := time.Now()
	if e.icaKube, err = istioca.Start(istioca.Options{
		Listen: "127.0.0.1:0", CacertsDir: cacerts, TrustDomain: trustDomain, ClientCert: true,
		Kube: e.kube.ConfigForToken(e.kfix.istiodTokenFile), ClusterID: clusterID,
		TrustedNodeAccounts: []types.NamespacedName{{Namespace: "istio-system", Name: "ztunnel"}},
	}); err != nil {
		return e, fmt.Errorf("istio CA (kubernetes): %v", err)
	}
	fmt.Fprintf(os.Stderr, "interop setup: %v; kube-apiserver ready in %v (waited %v for it after Vault), fixture %v, Istio CA (kubernetes) synced in %v\n",
		time.Since(begin).Round(time.Millisecond), e.kube.ReadyIn, kubeStart.Sub(kubeWait).Round(time.Millisecond),
		kubeFixture.Round(time.Millisecond), time.Since(icaKubeStart).Round(time.Millisecond))
	return e, nil
}

func (e *environment) teardown() {
	if e.vca != nil {
		e.vca.stop()
	}
	if e.ica != nil {
		e.ica.Stop()
	}
	if e.icaKube != nil {
		e.icaKube.Stop()
	}
	if e.vault != nil {
		e.vault.stop()
	}
	if e.kube != nil {
		e.kube.Stop()
	}
	if e.jwks != nil {
		e.jwks.Close()
	}
	if os.Getenv("INTEROP_KEEP_DIR") == "" {
		_ = os.RemoveAll(e.dir)
	}
}

func (e *environment) dumpLogs() {
	for _, f := range []string{"vaultca/server.log", "vault/server.log"} {
		b, err := os.ReadFile(filepath.Join(e.dir, f))
		if err != nil {
			continue
		}
		if len(b) > 6000 {
			b = b[len(b)-6000:]
		}
		fmt.Fprintf(os.Stderr, "---- tail of %s ----\n%s\n", f, b)
	}
	if e.kube != nil {
		fmt.Fprint(os.Stderr, e.kube.LogTail(4000))
	}
}

// startOwnCA starts a Vault and a vaultca-server for one test, set up as
// the shared ones are (a new root and first intermediate; the suite's JWT
// issuer and Kubernetes API server): what the test puts in its Vault no
// other test sees. Both stop when the test ends.
func startOwnCA(t *testing.T, name string) *environment {
	t.Helper()
	dir := filepath.Join(env.dir, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	e := &environment{dir: dir, signer: env.signer, kube: env.kube, kfix: env.kfix, vcaExtraEnv: env.vcaExtraEnv}
	var err error
	if e.vault, err = startVault(os.Getenv("VAULTCA_VAULT_BIN"), filepath.Join(dir, "vault")); err != nil {
		t.Fatalf("vault: %v", err)
	}
	t.Cleanup(e.vault.stop)
	if err := e.seedVault(); err != nil {
		t.Fatalf("seeding vault: %v", err)
	}
	if e.root, err = pki.NewRoot(name+" Root CA", false); err != nil {
		t.Fatal(err)
	}
	if e.mat, err = pki.NewIntermediate(e.root, name+" Intermediate 1", false, signingCALife); err != nil {
		t.Fatal(err)
	}
	if err := e.putCA(e.mat); err != nil {
		t.Fatal(err)
	}
	e.vca = startTestVaultca(t, e, name)
	e.vcaRoot = filepath.Join(dir, "vaultca", "root-cert.pem")
	return e
}

// startTestVaultca starts a vaultca-server of test t on environment e (its
// files in e.dir/vaultca), stopped when the test ends; on failure the
// test logs the tail of the server's log.
func startTestVaultca(t *testing.T, e *environment, name string) *vaultcaServer {
	t.Helper()
	// vaultcaConfig names the JWKS file in the environment's dir.
	if err := jwtutil.WriteFile(filepath.Join(e.dir, "jwks.json"), env.signer.JWKS()); err != nil {
		t.Fatal(err)
	}
	s, err := startVaultca(os.Getenv("VAULTCA_SERVER_BIN"), e)
	if err != nil {
		t.Fatalf("%s vaultca-server: %v", name, err)
	}
	t.Cleanup(s.stop)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("tail of the %s vaultca-server log:\n%s", name, readTail(filepath.Join(e.dir, "vaultca", "server.log"), 4000))
		}
	})
	return s
}

// vaultcaTarget is the environment's vaultca-server as a request target.
func (e *environment) vaultcaTarget() target { return target{"vaultca", e.vca.addr(), e.vcaRoot} }

// ---------------------------------------------------------------- Vault

type vaultServer struct {
	bin, addr, caCert, dir string
	rootToken              string
	cmd                    *exec.Cmd
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// startVault runs `vault server -dev -dev-tls` on loopback.
func startVault(bin, dir string) (*vaultServer, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	v := &vaultServer{bin: bin, dir: dir, rootToken: randomHex(16),
		addr: fmt.Sprintf("https://127.0.0.1:%d", port), caCert: filepath.Join(dir, "vault-ca.pem")}
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		return nil, err
	}
	v.cmd = exec.Command(bin, "server", "-dev", "-dev-tls", "-dev-tls-cert-dir="+dir,
		fmt.Sprintf("-dev-listen-address=127.0.0.1:%d", port), "-dev-root-token-id="+v.rootToken, "-dev-no-store-token")
	v.cmd.Stdout, v.cmd.Stderr = logf, logf
	v.cmd.Env = append(os.Environ(), "VAULT_LOG_LEVEL=info")
	if err := v.cmd.Start(); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(v.caCert); err == nil {
			if _, err := v.cli(nil, "status"); err == nil {
				return v, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	v.stop()
	return nil, fmt.Errorf("vault did not become ready in 60s")
}

func (v *vaultServer) stop() {
	if v.cmd != nil && v.cmd.Process != nil {
		_ = v.cmd.Process.Kill()
		_, _ = v.cmd.Process.Wait()
	}
}

// cli runs the real vault CLI as the operator (root token).
func (v *vaultServer) cli(stdin []byte, args ...string) (string, error) {
	cmd := exec.Command(v.bin, args...)
	cmd.Env = append(os.Environ(), "VAULT_ADDR="+v.addr, "VAULT_CACERT="+v.caCert, "VAULT_TOKEN="+v.rootToken)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("vault %s: %v: %s", args[0], err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// seedVault does the seed guide's Vault steps: the allow_istiod_secrets
// policy and an auth role "istiod" bound to istiod's service account. The
// guide uses the kubernetes auth method; here the jwt method with the
// public key of the test issuer validates the same service-account JWT
// locally (Vault's kubernetes method on a real API server is covered by
// server/server_real_kube_test.cc; this suite diffs the CA, not the login).
func (e *environment) seedVault() error {
	v := e.vault
	policy := `path "secret/data/pki/istiod" { capabilities = ["read", "list"] }` + "\n"
	if _, err := v.cli([]byte(policy), "policy", "write", "allow_istiod_secrets", "-"); err != nil {
		return err
	}
	pub := filepath.Join(e.dir, "jwt-pub.pem")
	if err := os.WriteFile(pub, e.signer.PublicKeyPEM(), 0o644); err != nil {
		return err
	}
	if _, err := v.cli(nil, "auth", "enable", "jwt"); err != nil {
		return err
	}
	if _, err := v.cli(nil, "write", "auth/jwt/config", "jwt_validation_pubkeys=@"+pub); err != nil {
		return err
	}
	if _, err := v.cli(nil, "write", "auth/jwt/role/istiod", "role_type=jwt", "bound_audiences=vault",
		"user_claim=sub", "bound_subject=system:serviceaccount:istio-system:istiod",
		"token_policies=allow_istiod_secrets", "token_ttl=1h"); err != nil {
		return err
	}
	return nil
}

// putCA is the operator's `vault kv put secret/pki/istiod privateKey=@...
// certificate=@...`, with the cacerts chain and root beside them because
// the signing certificate is an intermediate.
func (e *environment) putCA(m *pki.Material) error {
	d, err := os.MkdirTemp(e.dir, "kvput-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(d)
	if err := m.WriteCacerts(d); err != nil {
		return err
	}
	_, err = e.vault.cli(nil, "kv", "put", kvPath,
		"privateKey=@"+filepath.Join(d, "ca-key.pem"),
		"certificate=@"+filepath.Join(d, "ca-cert.pem"),
		"certChain=@"+filepath.Join(d, "cert-chain.pem"),
		"rootCert=@"+filepath.Join(d, "root-cert.pem"))
	return err
}

// ---------------------------------------------------------- vaultca-server

type vaultcaServer struct {
	cmd                *exec.Cmd
	grpcPort, httpPort int
	dir                string
}

func startVaultca(bin string, e *environment) (*vaultcaServer, error) {
	dir := filepath.Join(e.dir, "vaultca")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	// istiod's service-account token for the Vault login (audience "vault").
	vaultJWT, err := e.signer.Mint(jwtutil.Claims{Namespace: "istio-system", ServiceAccount: "istiod",
		PodName: "istiod-1", PodUID: "istiod-uid", Audiences: []string{"vault"}, Expiry: time.Now().Add(2 * time.Hour)})
	if err != nil {
		return nil, err
	}
	if err := jwtutil.WriteFile(filepath.Join(dir, "vault-sa.jwt"), []byte(vaultJWT)); err != nil {
		return nil, err
	}
	config := vaultcaConfig(e, dir, "127.0.0.1:0", "127.0.0.1:0", "")
	cfgPath := filepath.Join(dir, "vaultca.yaml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o600); err != nil {
		return nil, err
	}
	return startVaultcaConfig(bin, e, dir, cfgPath, filepath.Join(dir, "server.log"))
}

// startVaultcaConfig runs vaultca-server with the configuration at cfgPath
// (its Vault login token in dir/vault-sa.jwt), logging to logPath, and
// waits until it prints its ports and says ready.
func startVaultcaConfig(bin string, e *environment, dir, cfgPath, logPath string) (*vaultcaServer, error) {
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	s := &vaultcaServer{dir: dir}
	s.cmd = exec.Command(bin, "--config="+cfgPath)
	s.cmd.Stderr = logf
	// Only what the server needs: no inherited VAULT_* or CA settings.
	s.cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"VAULT_ADDR=" + e.vault.addr, "VAULT_CACERT=" + e.vault.caCert,
		"VAULT_AUTH_METHOD=jwt", "VAULT_PATH=jwt", "VAULT_ROLE=istiod",
		"VAULT_JWT_FILE=" + filepath.Join(dir, "vault-sa.jwt"),
	}
	// Mutation checks of the suite itself, e.g.
	// INTEROP_VAULTCA_EXTRA_ENV=VAULTCA_TTL_MODE=clamp must make tests fail.
	s.cmd.Env = append(s.cmd.Env, e.vcaExtraEnv...)
	if extra := os.Getenv("INTEROP_VAULTCA_EXTRA_ENV"); extra != "" {
		s.cmd.Env = append(s.cmd.Env, strings.Split(extra, ",")...)
	}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	ports := make(chan string, 1)
	// Closed when stdout ends: the server exited (a refused configuration
	// exits at once), so there is no point waiting out the timeout.
	eof := make(chan struct{})
	go func() {
		defer close(eof)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "grpc_port=") {
				ports <- line
			}
			fmt.Fprintln(logf, line)
		}
	}()
	select {
	case <-eof:
		s.stop()
		return nil, fmt.Errorf("vaultca-server exited before printing its ports (see %s)", logPath)
	case line := <-ports:
		var g, h int
		if _, err := fmt.Sscanf(line, "grpc_port=%d http_port=%d", &g, &h); err != nil {
			s.stop()
			return nil, fmt.Errorf("bad port line %q", line)
		}
		s.grpcPort, s.httpPort = g, h
	case <-time.After(60 * time.Second):
		s.stop()
		return nil, fmt.Errorf("vaultca-server did not start within 60s")
	}
	// Ready once /ready says so (first material loaded).
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/ready", s.httpPort))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s, nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.stop()
	return nil, fmt.Errorf("vaultca-server not ready within 30s")
}

// vaultcaConfig is the suite's vaultca.yaml for a server whose files live
// in dir, listening on grpcAddr/httpAddr; extraCA is appended to the ca:
// section as is (lines indented by two spaces).
func vaultcaConfig(e *environment, dir, grpcAddr, httpAddr, extraCA string) string {
	return fmt.Sprintf(`trust_domain: %s
cluster_id: %s
listen:
  grpc: %s
  http: %s
ca:
  source: vault
  vault:
    cert_ref: vault:secret/data/pki/istiod#certificate
    key_ref: vault:secret/data/pki/istiod#privateKey
    chain_ref: vault:secret/data/pki/istiod#certChain
    root_ref: vault:secret/data/pki/istiod#rootCert
  default_workload_cert_ttl: 24h
  max_workload_cert_ttl: 2160h
  ttl_mode: istiod
  refresh_interval: 1s
  root_cert_file: %s
%sauth:
  client_certificate: true
  jwt:
    - issuer: %s
      jwks_file: %s
      audiences: [istio-ca]
  token_review:
    enabled: true
    api_server: %s
    token_file: %s
    ca_file: %s
    audiences: [istio-ca]
    # Longer than the API server's own ~10 s review cache, so that the
    # deleted-pod cases see vaultca's cache deterministically (default 10s).
    cache_ttl: 5m
  trusted_node_accounts: [istio-system/ztunnel]
  identity_policy: istiod
serving:
  cert_dir: %s
`, trustDomain, clusterID, grpcAddr, httpAddr, filepath.Join(dir, "root-cert.pem"), extraCA, jwtutil.Issuer,
		filepath.Join(e.dir, "jwks.json"), e.kube.APIServer, e.kfix.vaultcaTokenFile, e.kube.CAFile,
		filepath.Join(dir, "serving"))
}

func (s *vaultcaServer) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _, _ = s.cmd.Process.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
		}
	}
}

// addr is the CA_ADDR an agent uses: "localhost" makes istio-agent check
// the serving certificate for istiod.istio-system.svc.
func (s *vaultcaServer) addr() string { return fmt.Sprintf("localhost:%d", s.grpcPort) }

// metric reads one un-labelled counter from /metrics.
func (s *vaultcaServer) metric(name string) (float64, error) {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", s.httpPort))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(body), "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[0] == name {
			return strconv.ParseFloat(f[1], 64)
		}
	}
	return 0, fmt.Errorf("metric %s not found", name)
}

var _ = context.Background
