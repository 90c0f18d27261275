package interop

// A root rotation with istiod as the mesh CA, fed from Vault by `vaultca
// sync`, end to end under load: the real istiod (pilot-discovery, its CA
// on, ISTIO_MULTIROOT_MESH=true) reloads the plug-in files sync writes
// while `vaultca rotate root` goes through its four steps in Vault, and
// Istio's own client (its retries included) keeps asking istiod for
// workload certificates, each workload trusting what its namespace's
// istio-ca-root-cert (which istiod writes on the real API server) holds at
// that moment. Every request must succeed, every new leaf must verify
// against what every peer namespace trusts at that moment, istiod must stay
// the same process, and after drop-old-root its leaves chain to the new
// root only. Twice: sync writing istiod's directory (kubelet-style `..data`
// swap) and sync writing Secret cacerts that the kubelet mounts.

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"vaultca.dev/tests/interop/internal/agent"
	"vaultca.dev/tests/interop/internal/jwtutil"
	"vaultca.dev/tests/interop/internal/pki"
)

// The namespaces whose root ConfigMap istiod writes here (it leaves
// kube-public and kube-node-lease alone); the load's peers.
var rootRotationPeers = []string{"default", "apps", "istio-system", "kube-system"}

type rootRotationResult struct {
	at     time.Time
	who    string
	leaf   *x509.Certificate
	chain  []*x509.Certificate // after the leaf, without the trust bundle
	bundle []byte              // the trust bundle istiod answered with
	err    error
}

func TestSyncRootRotation(t *testing.T) {
	testStart := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	root1, err := pki.NewRoot("Sync Rotation Root 1", true)
	if err != nil {
		t.Fatal(err)
	}
	inter1, err := pki.NewIntermediate(root1, "Sync Rotation Intermediate 1", true, signingCALife)
	if err != nil {
		t.Fatal(err)
	}
	f := newSyncIstiodFixture(ctx, t, "sync-root", inter1)
	if err := f.kube.Namespace(ctx, "apps"); err != nil {
		t.Fatal(err)
	}
	if err := f.kube.ServiceAccount(ctx, "apps", "web"); err != nil {
		t.Fatal(err)
	}
	web, err := f.kube.Pod(ctx, "apps", "web-1", "web", "node-a", corev1.PodRunning)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := f.kube.PodToken(ctx, web, []string{"istio-ca"}, 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	webToken := filepath.Join(f.dir, "web-istio-token")
	if err := jwtutil.WriteFile(webToken, []byte(tok)); err != nil {
		t.Fatal(err)
	}
	workloads := []podWorkload{
		{ns: "default", sa: "sleep", tokenFile: f.sleepToken},
		{ns: "default", sa: "sleep", alg: "ECDSA", tokenFile: f.sleepToken},
		{ns: "apps", sa: "web", alg: "ECDSA", tokenFile: webToken},
	}

	if !t.Run("dir", func(t *testing.T) {
		cacertsDir := filepath.Join(f.dir, "istiod-dir", "cacerts")
		if err := os.MkdirAll(cacertsDir, 0o755); err != nil {
			t.Fatal(err)
		}
		f.rootRotationCase(ctx, t, "dir", []string{"--dir=" + cacertsDir}, cacertsDir,
			[]string{"ROOT_CA_DIR=" + cacertsDir}, nil, workloads, false)
	}) {
		return
	}
	t.Run("secret", func(t *testing.T) {
		cacertsDir := filepath.Join(f.dir, "istiod-secret", "etc/cacerts")
		// The dir case left its finished rotation in Vault: the next one
		// needs --force within --min-interval.
		f.rootRotationCase(ctx, t, "secret", f.secretTarget(), cacertsDir, nil,
			f.mountCacertsSecret(ctx, t, cacertsDir), workloads, true)
	})
	measured(t, "TestSyncRootRotation total %v", time.Since(testStart).Round(time.Millisecond))
}

// rootRotationCase: `vaultca sync --once` writes the CA in Vault to the
// target, istiod starts on it (CA on, ISTIO_MULTIROOT_MESH=true), sync runs
// in its loop with --multi-root, the load starts, and `vaultca rotate root`
// goes through publish-bundle, wait-bundle, switch-signing and
// drop-old-root. project, when set, is the kubelet mounting the Secret.
func (f *syncIstiodFixture) rootRotationCase(ctx context.Context, t *testing.T, name string, target []string,
	cacertsDir string, istiodEnv []string, project func() error, workloads []podWorkload, force bool) {
	syncArgs := append(append([]string{"sync"}, f.loginArgs()...), target...)
	oldRoot := []byte(f.vaultField(t, "rootCert"))
	if o, err := f.run(nil, append(syncArgs, "--once")...); err != nil {
		t.Fatalf("vaultca sync --once: %v\n%s", err, o)
	}
	if project != nil {
		if err := project(); err != nil {
			t.Fatalf("kubelet mounting Secret cacerts: %v", err)
		}
	}
	if !sameCerts(readFile(filepath.Join(cacertsDir, "root-cert.pem")), oldRoot) {
		t.Fatalf("%s/root-cert.pem is not the root in Vault after sync --once", cacertsDir)
	}

	istiodDir := filepath.Join(f.dir, "istiod-"+name)
	istiod := f.startCAIstiod(t, name, istiodDir,
		append([]string{"ENABLE_CA_SERVER=true", "ISTIO_MULTIROOT_MESH=true"}, istiodEnv...))
	defer istiod.stop()
	pid := istiod.cmd.Process.Pid
	if log := istiod.logTail(1 << 22); !strings.Contains(log, "Use local CA certificate") {
		t.Fatalf("istiod did not take the plug-in CA from %s (log: %s)", cacertsDir, istiod.logPath)
	}
	allConfigMaps := func(want []byte) func() bool {
		return func() bool {
			for _, ns := range rootRotationPeers {
				if b, err := rootBundle(ctx, f.kube, ns); err != nil || !sameCerts(b, want) {
					return false
				}
			}
			return true
		}
	}
	waitFor(t, 60*time.Second, "istiod's istio-ca-root-cert in "+strings.Join(rootRotationPeers, ", "), allConfigMaps(oldRoot))

	// The sidecar, as deployed for ISTIO_MULTIROOT_MESH: a root rotation's
	// bundle changes are written, anything istiod would not reload is not.
	loop, err := f.startSyncLoop(append(syncArgs, "--interval=1s", "--multi-root"),
		filepath.Join(f.out, "sync-root-"+name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	defer loop.stop()
	waitFor(t, 30*time.Second, "sync loop's first round", func() bool { return loop.saw("in step with Vault") })

	// The load: each request as a pod's istio-agent makes it; every peer
	// must accept the leaf with what it trusts now.
	load := startPodLoad(workloads, func(i int, w podWorkload) rootRotationResult {
		r := rootRotationResult{at: time.Now(), who: w.String()}
		certs, bundle, err := requestAsPod(ctx, f.kube, fmt.Sprintf("localhost:%d", istiod.xdsPort),
			filepath.Join(f.dir, fmt.Sprintf("load-%s-root-%d.pem", name, i)), w, rootRotationPeers)
		if err != nil {
			r.err = err
			return r
		}
		r.leaf, r.chain, r.bundle = certs[0], certs[1:], bundle
		return r
	})
	defer load.stop()

	// A probe of istiod's answers, trusting every root of the rotation.
	probeRoots := filepath.Join(f.dir, "probe-roots-"+name+".pem")
	probe := func() ([]byte, []byte, error) {
		c, o, err := agent.NewCitadelClient(agent.Config{CAAddr: fmt.Sprintf("localhost:%d", istiod.xdsPort),
			RootCertFile: probeRoots, TokenFile: f.sleepToken, Namespace: "default", ServiceAccount: "sleep",
			ECCSigAlg: "ECDSA"})
		if err != nil {
			return nil, nil, err
		}
		defer c.Close()
		chain, _, err := agent.SignRaw(c, o, 3600)
		if err != nil {
			return nil, nil, err
		}
		return []byte(joinChain(chain[:len(chain)-1])), []byte(chain[len(chain)-1]), nil
	}
	kubeArgs := []string{"root", "--kube-api=" + f.kube.APIServer, "--kube-token-file=" + f.kube.AdminTokenFile,
		"--kube-ca-file=" + f.kube.CAFile}
	server := []string{fmt.Sprintf("--server=localhost:%d", istiod.xdsPort), "--server-token-file=" + f.sleepToken}
	loadStart := time.Now()
	var marks []string
	// step runs `vaultca rotate` with args while polling conds from its
	// start; it returns the output once it exited with want and every
	// condition has held.
	step := func(label string, want int, args []string, conds map[string]func() bool) string {
		t.Helper()
		start := time.Now()
		type exit struct {
			out  string
			code int
		}
		exited := make(chan exit, 1)
		go func() {
			out, code := runCLI(f.cli, f.rootEnv(), append([]string{"rotate"}, args...)...)
			exited <- exit{out, code}
		}()
		if conds == nil {
			conds = map[string]func() bool{}
		}
		var done exit
		got := false
		conds["command exited"] = func() bool {
			if !got {
				select {
				case done = <-exited:
					got = true
				default:
				}
			}
			return got
		}
		figures := waitAll(t, start, 120*time.Second, conds)
		if done.code != want {
			t.Fatalf("vaultca rotate %s: exit %d, want %d:\n%s\nsync:\n%s\nistiod:\n%s", strings.Join(args, " "),
				done.code, want, done.out, loop.tail(2000), istiod.logTail(3000))
		}
		if want == 0 {
			marks = append(marks, fmt.Sprintf("%s@%v", label, time.Since(loadStart).Round(100*time.Millisecond)))
			measured(t, "%s: %s (from the start of vaultca rotate root): %s", name, label, figures)
		}
		return done.out
	}
	time.Sleep(2 * time.Second)

	// 1. publish-bundle: the bundle grows to old + new root; the old
	// intermediate keeps signing.
	publishArgs := append(append([]string{}, kubeArgs...), "--root-key-out="+filepath.Join(f.dir, "root-"+name+".key"))
	if force {
		publishArgs = append(publishArgs, "--force")
	}
	var both []byte
	published := func() bool {
		if both == nil {
			if b := []byte(f.vaultField(t, "rootCert")); len(splitPEM(b)) == 2 {
				both = b
				if err := os.WriteFile(probeRoots, both, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		return both != nil
	}
	step("publish-bundle", 0, publishArgs, map[string]func() bool{
		"bundle in Vault": published,
		"cacerts files hold both roots": func() bool {
			return published() && sameCerts(readFile(filepath.Join(cacertsDir, "root-cert.pem")), both)
		},
		"istiod answers with both roots, old intermediate signing": func() bool {
			if !published() {
				return false
			}
			chain, bundle, err := probe()
			return err == nil && sameCerts(bundle, both) && verifiesTo(chain, oldRoot)
		},
		"every ConfigMap holds both roots": func() bool { return published() && allConfigMaps(both)() },
	})
	newRoot := withoutCerts(both, oldRoot)

	// 2. wait-bundle. Without --publisher istiod it waits for namespaces
	// istiod never writes to.
	o := step("wait-bundle (vaultca publisher)", 1, append(append([]string{}, kubeArgs...), "--step=wait-bundle"), nil)
	if !strings.Contains(o, "kube-node-lease") || !strings.Contains(o, "kube-public") {
		t.Errorf("wait-bundle without --publisher istiod: want kube-node-lease and kube-public named as lagging:\n%s", o)
	}
	step("wait-bundle", 0, append(append(append([]string{}, kubeArgs...), "--step=wait-bundle", "--publisher=istiod",
		"--wait=60s"), server...), nil)

	// 3. switch-signing: the staged intermediate signs, under the new root.
	newCert := []byte(f.vaultField(t, "nextCertificate"))
	step("switch-signing", 0, append(append(append([]string{}, kubeArgs...), "--publisher=istiod", "--wait=60s"), server...),
		map[string]func() bool{
			"cacerts files hold the new intermediate": func() bool {
				return sameCerts(readFile(filepath.Join(cacertsDir, "ca-cert.pem")), newCert)
			},
			"istiod signs under the new intermediate": func() bool {
				chain, bundle, err := probe()
				return err == nil && sameCerts(bundle, both) && issuedByPEM(chain, newCert) && verifiesTo(chain, newRoot)
			},
			"istiod serves its new certificate on 15012": func() bool {
				c, err := servingChain(istiod.xdsPort, newRoot)
				return err == nil && len(c) > 0
			},
		})
	if !allConfigMaps(both)() {
		t.Errorf("switch-signing changed a ConfigMap: they must keep both roots")
	}

	// 4. drop-old-root: refused before the grace, then the old root goes.
	if o := step("drop-old-root (grace)", 1, append(append([]string{}, kubeArgs...), "--grace=1h", "--multi-root"), nil); !strings.Contains(o, "not yet: wait until") {
		t.Errorf("drop-old-root before the grace was not refused as expected:\n%s", o)
	}
	time.Sleep(3 * time.Second)
	var droppedAt time.Time
	step("drop-old-root", 0, append(append(append([]string{}, kubeArgs...), "--grace=3s", "--multi-root"), server...),
		map[string]func() bool{
			"cacerts files hold the new root only": func() bool {
				return sameCerts(readFile(filepath.Join(cacertsDir, "root-cert.pem")), newRoot)
			},
			"istiod answers with the new root only": func() bool {
				_, bundle, err := probe()
				return err == nil && sameCerts(bundle, newRoot)
			},
			"every ConfigMap holds the new root only": func() bool {
				if !allConfigMaps(newRoot)() {
					return false
				}
				if droppedAt.IsZero() {
					droppedAt = time.Now()
				}
				return true
			},
		})
	time.Sleep(2 * time.Second)
	if o := step("re-run", 0, kubeArgs, nil); !strings.Contains(o, "already done") {
		t.Errorf("a re-run after the rotation started another:\n%s", o)
	}
	results := load.stop()

	if !istiod.running() || istiod.cmd.Process.Pid != pid {
		t.Fatalf("istiod restarted or exited (pid %d)", pid)
	}
	log := istiod.logTail(1 << 22)
	if n := strings.Count(log, "Updating new ROOT-CA"); n < 2 {
		t.Errorf("istiod logged %q %d times, want 2 (bundle grown, old root dropped)", "Updating new ROOT-CA", n)
	}
	for _, refused := range []string{"ROOT-CA not supported", "Failed to update new Plug-in CA certs"} {
		if strings.Contains(log, refused) {
			t.Errorf("istiod refused files sync wrote: %q in %s", refused, istiod.logPath)
		}
	}
	// Load figures: no failure, leaves under both intermediates, and once
	// every ConfigMap dropped the old root every new leaf chains to the new
	// root only, with the new root alone as istiod's trust bundle.
	failures, afterDrop := 0, 0
	issuers := map[string]int{}
	for _, r := range results {
		if r.err != nil {
			failures++
			if failures <= 5 {
				t.Errorf("%s at %s: %v", r.who, r.at.Format("15:04:05.000"), r.err)
			}
			continue
		}
		issuers[fmt.Sprintf("%s %x", r.leaf.Issuer.CommonName, r.leaf.AuthorityKeyId)]++
		if r.at.After(droppedAt) {
			afterDrop++
			pem := leafChainPEM(r)
			if !verifiesTo(pem, newRoot) || verifiesTo(pem, oldRoot) || !sameCerts(r.bundle, newRoot) {
				t.Errorf("%s at %s: a leaf after drop-old-root does not chain to the new root only (issuer %q)",
					r.who, r.at.Format("15:04:05.000"), r.leaf.Issuer.CommonName)
			}
		}
	}
	measured(t, "%s: %d requests with Istio's client over %v, %d failed; leaves per issuer %v; %d after every ConfigMap "+
		"held the new root only; steps %s; istiod pid %d throughout", name, len(results),
		time.Since(loadStart).Round(100*time.Millisecond), failures, issuers, afterDrop, strings.Join(marks, ", "), pid)
	if len(issuers) < 2 {
		t.Errorf("want leaves from the old and the new intermediate, got %v", issuers)
	}
	if afterDrop == 0 {
		t.Errorf("no request after drop-old-root reached every ConfigMap")
	}
	if code := loop.stop(); code != 0 {
		t.Errorf("sync loop exited %d on SIGTERM, want 0\n%s", code, loop.tail(2000))
	}
	if n := strings.Count(loop.output(), "wrote "); n != 3 {
		t.Errorf("sync loop wrote %d times, want 3 (bundle, signing, drop)\n%s", n, loop.tail(3000))
	}
}

// vaultField reads one field of the CA's secret in Vault.
func (f *syncIstiodFixture) vaultField(t *testing.T, field string) string {
	t.Helper()
	o, err := f.vault.cli(nil, "kv", "get", "-field="+field, kvPath)
	if err != nil {
		t.Fatalf("vault kv get -field=%s: %v", field, err)
	}
	return o
}

func readFile(path string) []byte {
	b, _ := os.ReadFile(path)
	return b
}

// splitPEM: the DER of each certificate of a PEM bundle.
func splitPEM(b []byte) []string {
	certs, err := parsePEMCerts(b)
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(certs))
	for _, c := range certs {
		out = append(out, string(c.Raw))
	}
	return out
}

// sameCerts: the two bundles hold the same certificates, however spelled
// or ordered.
func sameCerts(a, b []byte) bool {
	x, y := splitPEM(a), splitPEM(b)
	if len(x) == 0 || len(x) != len(y) {
		return false
	}
	set := map[string]bool{}
	for _, c := range x {
		set[c] = true
	}
	for _, c := range y {
		if !set[c] {
			return false
		}
	}
	return true
}

// withoutCerts: bundle minus the certificates of drop, as PEM.
func withoutCerts(bundle, drop []byte) []byte {
	dropped := map[string]bool{}
	for _, c := range splitPEM(drop) {
		dropped[c] = true
	}
	certs, _ := parsePEMCerts(bundle)
	var out []byte
	for _, c := range certs {
		if !dropped[string(c.Raw)] {
			out = append(out, pemCert(c)...)
		}
	}
	return out
}

// verifiesTo: the leaf (first certificate of chainPEM) verifies through
// the rest of chainPEM to one of roots.
func verifiesTo(chainPEM, roots []byte) bool {
	certs, err := parsePEMCerts(chainPEM)
	if err != nil || len(certs) == 0 {
		return false
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(roots) {
		return false
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	_, err = certs[0].Verify(x509.VerifyOptions{Roots: pool, Intermediates: inter,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	return err == nil
}

// issuedByPEM: the leaf of chainPEM is signed by the certificate certPEM.
func issuedByPEM(chainPEM, certPEM []byte) bool {
	certs, err := parsePEMCerts(chainPEM)
	issuer, ierr := parsePEMCerts(certPEM)
	return err == nil && ierr == nil && len(certs) > 0 && len(issuer) > 0 &&
		certs[0].CheckSignatureFrom(issuer[0]) == nil
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func leafChainPEM(r rootRotationResult) []byte {
	out := pemCert(r.leaf)
	for _, c := range r.chain {
		out = append(out, pemCert(c)...)
	}
	return out
}
