package interop

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"istio.io/istio/pkg/security"
	pkiutil "istio.io/istio/security/pkg/pki/util"

	"vaultca.dev/tests/interop/internal/agent"
	"vaultca.dev/tests/interop/internal/jwtutil"
)

// target is one CA server the same requests go to.
type target struct {
	name, addr, rootFile string
}

func targets() []target {
	return []target{
		{"vaultca", env.vca.addr(), env.vcaRoot},
		{"istio", "localhost:" + portOf(env.ica.Addr), env.icaRoot},
	}
}

// kubeTargets: vaultca and Istio's CA wired as istiod on Kubernetes
// (kubeauth TokenReview authenticator + node authorizer), both on the
// same real API server.
func kubeTargets() []target {
	return []target{
		{"vaultca", env.vca.addr(), env.vcaRoot},
		{"istio-kube", "localhost:" + portOf(env.icaKube.Addr), env.icaRoot},
	}
}

func portOf(hostport string) string { return hostport[strings.LastIndex(hostport, ":")+1:] }

func spiffeID(ns, sa string) string {
	return fmt.Sprintf("spiffe://%s/ns/%s/sa/%s", trustDomain, ns, sa)
}

// tokenFile mints a projected-token-shaped JWT and writes it where
// istio-agent reads it.
func tokenFile(t *testing.T, c jwtutil.Claims) string {
	t.Helper()
	if c.Audiences == nil {
		c.Audiences = []string{"istio-ca"}
	}
	tok, err := env.signer.Mint(c)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "istio-token")
	if err := jwtutil.WriteFile(p, []byte(tok)); err != nil {
		t.Fatal(err)
	}
	return p
}

func sleepToken(t *testing.T) string {
	return tokenFile(t, jwtutil.Claims{Namespace: "default", ServiceAccount: "sleep", PodName: "sleep-1", PodUID: "sleep-uid-1"})
}

func agentConfig(tg target, token, alg string) agent.Config {
	return agent.Config{
		CAAddr: tg.addr, RootCertFile: tg.rootFile, TokenFile: token,
		Namespace: "default", ServiceAccount: "sleep", ECCSigAlg: alg,
	}
}

func parseChain(t *testing.T, chain []string) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	for i, s := range chain {
		certs, _, err := pkiutil.ParsePemEncodedCertificateChain([]byte(s))
		if err != nil {
			t.Fatalf("cert_chain[%d]: %v", i, err)
		}
		out = append(out, certs...)
	}
	return out
}

// checkChainLayout asserts what istio-agent and ztunnel parse: >= 2
// elements, [0] the leaf, one certificate per element with a trailing
// newline except the last, which is the root bundle.
func checkChainLayout(t *testing.T, chain []string, rootPEM []byte) {
	t.Helper()
	if len(chain) < 2 {
		t.Fatalf("cert_chain has %d elements, istio-agent needs >= 2", len(chain))
	}
	for i, s := range chain[:len(chain)-1] {
		n := strings.Count(s, "-----BEGIN CERTIFICATE-----")
		if n != 1 {
			t.Errorf("cert_chain[%d] holds %d certificates, ztunnel expects one per element", i, n)
		}
		if !strings.HasSuffix(s, "\n") {
			t.Errorf("cert_chain[%d] lacks the trailing newline istiod adds", i)
		}
	}
	leaf, err := pkiutil.ParsePemEncodedCertificate([]byte(chain[0]))
	if err != nil || leaf.IsCA {
		t.Fatalf("cert_chain[0] is not a leaf: %v", err)
	}
	last := chain[len(chain)-1]
	if strings.TrimSpace(last) != strings.TrimSpace(string(rootPEM)) {
		t.Errorf("last cert_chain element is not the root bundle:\n%s", last)
	}
}

func TestHappyPath(t *testing.T) {
	rootPEM := env.root.CertPEM
	for _, tg := range targets() {
		for _, alg := range []string{"", "ECDSA"} {
			name := tg.name + "/RSA2048"
			if alg != "" {
				name = tg.name + "/ECDSA-P256"
			}
			t.Run(name, func(t *testing.T) {
				// The full istio-agent path: SecretManagerClient -> GenCSR ->
				// citadel client -> parse the answer.
				w, err := agent.NewWorkload(agentConfig(tg, sleepToken(t), alg))
				if err != nil {
					t.Fatal(err)
				}
				defer w.Close()
				item, err := w.Generate()
				if err != nil {
					t.Fatalf("istio-agent GenerateSecret: %v", err)
				}
				leaf, err := agent.Verify(item.PrivateKey, item.CertificateChain, item.RootCert, spiffeID("default", "sleep"))
				if err != nil {
					t.Fatalf("Istio's VerifyCertificate: %v", err)
				}
				if string(item.RootCert) != string(rootPEM) {
					t.Errorf("istio-agent's root (last element) is not the mesh root")
				}
				wantKey := "*rsa.PublicKey"
				if alg != "" {
					wantKey = "*ecdsa.PublicKey"
				}
				if got := fmt.Sprintf("%T", leaf.PublicKey); got != wantKey {
					t.Errorf("leaf key %s, want %s", got, wantKey)
				}
				if d := time.Until(item.ExpireTime); d < 23*time.Hour || d > 25*time.Hour {
					t.Errorf("istio-agent sees expiry in %v, want ~24h (SECRET_TTL)", d)
				}
				// Raw answer layout, through the citadel client alone.
				c, o, err := agent.NewCitadelClient(agentConfig(tg, sleepToken(t), alg))
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				chain, _, err := agent.SignRaw(c, o, int64(o.SecretTTL.Seconds()))
				if err != nil {
					t.Fatal(err)
				}
				checkChainLayout(t, chain, rootPEM)
				certs := parseChain(t, chain)
				if len(certs) < 3 || !certs[1].Equal(env.mat.Signing.Cert) {
					t.Errorf("cert_chain[1] is not the signing intermediate")
				}
			})
		}
	}
}

var _ = security.WorkloadKeyCertResourceName
var _ = pem.Decode
var _ = os.Getenv
