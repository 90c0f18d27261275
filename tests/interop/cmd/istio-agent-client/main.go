// istio-agent-client requests one workload certificate from an Istio CA
// (istiod, vaultca-server, ...) with Istio's own istio-agent code: the
// citadel CA client, the JWT credential fetcher, GenCSR with pilot-agent's
// default CSR options, and Istio's certificate verification. It prints a
// readable summary: identity, issuer, validity, chain.
//
//	istio-agent-client -ca-addr localhost:15012 -root root-cert.pem -token istio-token
//	istio-agent-client -new-jwt-key DIR          # writes DIR/jwt-key.pem and DIR/jwks.json
//	istio-agent-client ... -jwt-key DIR/jwt-key.pem   # mint the token for -namespace/-sa
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	pkiutil "istio.io/istio/security/pkg/pki/util"

	"vaultca.dev/tests/interop/internal/agent"
	"vaultca.dev/tests/interop/internal/jwtutil"
)

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func main() {
	caAddr := flag.String("ca-addr", env("CA_ADDR", "localhost:15012"), "CA address (CA_ADDR); a host containing localhost is checked as istiod.istio-system.svc")
	root := flag.String("root", env("CA_ROOT_CA", "./var/run/secrets/istio/root-cert.pem"), "root certificate file trusted for the CA's TLS (CA_ROOT_CA)")
	token := flag.String("token", "./var/run/secrets/tokens/istio-token", "projected service-account token file")
	jwtKey := flag.String("jwt-key", "", "mint the token with this RSA key (from -new-jwt-key) instead of reading -token")
	issuer := flag.String("jwt-issuer", jwtutil.Issuer, "iss of a minted token")
	audience := flag.String("jwt-audience", "istio-ca", "aud of a minted token")
	newKey := flag.String("new-jwt-key", "", "write DIR/jwt-key.pem and DIR/jwks.json (kid interop-key-1) and exit")
	ns := flag.String("namespace", env("POD_NAMESPACE", "default"), "workload namespace (POD_NAMESPACE)")
	sa := flag.String("sa", env("SERVICE_ACCOUNT", "sleep"), "workload service account (SERVICE_ACCOUNT)")
	td := flag.String("trust-domain", env("TRUST_DOMAIN", "cluster.local"), "trust domain")
	cluster := flag.String("cluster-id", env("ISTIO_META_CLUSTER_ID", "Kubernetes"), "ClusterID header")
	ecc := flag.String("ecc", env("ECC_SIGNATURE_ALGORITHM", ""), `"" for RSA 2048 (istio-agent default) or ECDSA`)
	ttl := flag.Duration("ttl", 24*time.Hour, "requested validity (SECRET_TTL)")
	impersonate := flag.String("impersonate", "", "ztunnel mode: request a certificate for this SPIFFE identity (ImpersonatedIdentity)")
	outDir := flag.String("out", "", "also write key.pem, cert-chain.pem, root-cert.pem here")
	logLevel := flag.String("log-level", "warn", "Istio log level (debug, info, warn, error, none)")
	flag.Parse()
	agent.QuietIstioLogs(*logLevel)

	if *newKey != "" {
		s, err := jwtutil.NewSigner("interop-key-1")
		check(err)
		check(os.MkdirAll(*newKey, 0o700))
		check(jwtutil.WriteFile(filepath.Join(*newKey, "jwt-key.pem"), s.KeyPEM()))
		check(os.WriteFile(filepath.Join(*newKey, "jwks.json"), s.JWKS(), 0o644))
		fmt.Printf("wrote %s and %s\n", filepath.Join(*newKey, "jwt-key.pem"), filepath.Join(*newKey, "jwks.json"))
		return
	}
	tokenPath := *token
	if *jwtKey != "" {
		s, err := jwtutil.LoadSigner(*jwtKey, "interop-key-1")
		check(err)
		tokNS, tokSA := *ns, *sa
		if *impersonate != "" {
			tokNS, tokSA = "istio-system", "ztunnel"
		}
		tok, err := s.Mint(jwtutil.Claims{Namespace: tokNS, ServiceAccount: tokSA, Issuer: *issuer, Audiences: []string{*audience}})
		check(err)
		dir, err := os.MkdirTemp("", "istio-agent-client-")
		check(err)
		defer os.RemoveAll(dir)
		tokenPath = filepath.Join(dir, "istio-token")
		check(jwtutil.WriteFile(tokenPath, []byte(tok)))
	}
	cfg := agent.Config{CAAddr: *caAddr, RootCertFile: *root, TokenFile: tokenPath, ClusterID: *cluster,
		TrustDomain: *td, Namespace: *ns, ServiceAccount: *sa, ECCSigAlg: *ecc, SecretTTL: *ttl}

	start := time.Now()
	var keyPEM, chainPEM, rootPEM []byte
	want := fmt.Sprintf("spiffe://%s/ns/%s/sa/%s", *td, *ns, *sa)
	if *impersonate != "" {
		want = *impersonate
		chain, key, err := agent.ZtunnelRequest(context.Background(), cfg, *impersonate, int64(ttl.Seconds()))
		check(err)
		keyPEM = key
		chainPEM = []byte(strings.Join(chain[:len(chain)-1], ""))
		rootPEM = []byte(chain[len(chain)-1])
	} else {
		w, err := agent.NewWorkload(cfg)
		check(err)
		item, err := w.Generate()
		w.Close()
		check(err)
		keyPEM, chainPEM, rootPEM = item.PrivateKey, item.CertificateChain, item.RootCert
	}
	elapsed := time.Since(start)

	leaf, verr := agent.Verify(keyPEM, chainPEM, rootPEM, want)
	certs, _, err := pkiutil.ParsePemEncodedCertificateChain(chainPEM)
	check(err)
	roots, _, _ := pkiutil.ParsePemEncodedCertificateChain(rootPEM)
	if leaf == nil {
		leaf = certs[0]
	}
	ids, _ := pkiutil.ExtractIDs(leaf.Extensions)
	fmt.Printf("CA:          %s (%v round trip)\n", *caAddr, elapsed.Round(time.Millisecond))
	fmt.Printf("identity:    %s\n", strings.Join(ids, ", "))
	fmt.Printf("key:         %s\n", keyDesc(leaf))
	fmt.Printf("issuer:      %s\n", leaf.Issuer)
	fmt.Printf("serial:      %x\n", leaf.SerialNumber)
	fmt.Printf("valid:       %s .. %s (%v; NotBefore backdated %v)\n", leaf.NotBefore.UTC().Format(time.RFC3339),
		leaf.NotAfter.UTC().Format(time.RFC3339), leaf.NotAfter.Sub(leaf.NotBefore).Round(time.Second),
		start.Sub(leaf.NotBefore).Round(time.Second))
	fmt.Printf("usage:       %s\n", usage(leaf))
	fmt.Printf("chain:       %d certificate(s) as istio-agent hands them to Envoy; root bundle of %d\n", len(certs), len(roots))
	for i, c := range certs {
		role := "leaf"
		if c.IsCA {
			role = "CA"
		}
		fmt.Printf("  [%d] %-4s subject=%q issuer=%q\n", i, role, c.Subject.String(), c.Issuer.String())
	}
	for i, c := range roots {
		fmt.Printf("  root[%d]   subject=%q expires %s\n", i, c.Subject.String(), c.NotAfter.UTC().Format("2006-01-02"))
	}
	if *outDir != "" {
		check(os.MkdirAll(*outDir, 0o700))
		check(os.WriteFile(filepath.Join(*outDir, "key.pem"), keyPEM, 0o600))
		check(os.WriteFile(filepath.Join(*outDir, "cert-chain.pem"), chainPEM, 0o644))
		check(os.WriteFile(filepath.Join(*outDir, "root-cert.pem"), rootPEM, 0o644))
		fmt.Printf("written to:  %s\n", *outDir)
	}
	if verr != nil {
		fmt.Printf("verify:      FAILED: %v\n", verr)
		os.Exit(1)
	}
	fmt.Printf("verify:      OK (Istio's util.VerifyCertificate: chains to the root, key matches, SPIFFE SAN %s)\n", want)
}

func keyDesc(c *x509.Certificate) string {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d, signed %s", k.N.BitLen(), c.SignatureAlgorithm)
	case *ecdsa.PublicKey:
		return fmt.Sprintf("ECDSA %s, signed %s", k.Curve.Params().Name, c.SignatureAlgorithm)
	}
	return fmt.Sprintf("%T", c.PublicKey)
}

func usage(c *x509.Certificate) string {
	var u []string
	if c.KeyUsage&x509.KeyUsageDigitalSignature != 0 {
		u = append(u, "digitalSignature")
	}
	if c.KeyUsage&x509.KeyUsageKeyEncipherment != 0 {
		u = append(u, "keyEncipherment")
	}
	for _, e := range c.ExtKeyUsage {
		switch e {
		case x509.ExtKeyUsageServerAuth:
			u = append(u, "serverAuth")
		case x509.ExtKeyUsageClientAuth:
			u = append(u, "clientAuth")
		default:
			u = append(u, fmt.Sprint(e))
		}
	}
	return strings.Join(u, ", ") + fmt.Sprintf("; CA:%v", c.IsCA)
}

func check(err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "istio-agent-client: %v\n", err)
		os.Exit(1)
	}
}
