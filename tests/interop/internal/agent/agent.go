// Package agent drives Istio's own CA client code the way istio-agent
// (pilot-agent) wires it: security.Options with pilot-agent's defaults, the
// JWT credential fetcher reading the projected token file, the citadel
// client with TLS to CA_ADDR trusting the mesh root file, and the
// SecretManagerClient that generates the CSR (pkiutil.GenCSR with the
// agent's CertOptions) and parses the answer.
package agent

import (
	"context"
	"crypto/x509"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/structpb"

	pb "istio.io/api/security/v1alpha1"
	istiogrpc "istio.io/istio/pilot/pkg/grpc"
	"istio.io/istio/pkg/log"
	"istio.io/istio/pkg/security"
	"istio.io/istio/pkg/spiffe"
	"istio.io/istio/security/pkg/credentialfetcher"
	"istio.io/istio/security/pkg/nodeagent/cache"
	"istio.io/istio/security/pkg/nodeagent/caclient"
	"istio.io/istio/security/pkg/nodeagent/caclient/providers/citadel"
	pkiutil "istio.io/istio/security/pkg/pki/util"
)

// Config is what a pod's istio-agent gets from its environment.
type Config struct {
	CAAddr         string // CA_ADDR, host:port
	RootCertFile   string // CA_ROOT_CA / ./var/run/secrets/istio/root-cert.pem
	TokenFile      string // ./var/run/secrets/tokens/istio-token
	ClusterID      string // ISTIO_META_CLUSTER_ID, default "Kubernetes"
	TrustDomain    string // default cluster.local
	Namespace      string // POD_NAMESPACE
	ServiceAccount string // SERVICE_ACCOUNT
	// ECC_SIGNATURE_ALGORITHM: "" (RSA, WORKLOAD_RSA_KEY_SIZE=2048) or "ECDSA".
	ECCSigAlg string
	ECCCurve  string        // ECC_CURVE, default P256
	SecretTTL time.Duration // SECRET_TTL, default 24h
	// Scratch dir for the (absent) file-mounted cert paths.
	WorkDir string
	// ZtunnelRequest only: send no ClusterID header (ztunnel always sends
	// its CLUSTER_ID, default Kubernetes).
	OmitClusterID bool
}

func (c *Config) defaults() {
	if c.ClusterID == "" {
		c.ClusterID = "Kubernetes"
	}
	if c.TrustDomain == "" {
		c.TrustDomain = "cluster.local"
	}
	if c.ECCCurve == "" {
		c.ECCCurve = "P256"
	}
	if c.SecretTTL == 0 {
		c.SecretTTL = 24 * time.Hour
	}
	if c.WorkDir == "" {
		c.WorkDir = "/nonexistent-istio-agent-dir"
	}
}

// SecurityOptions mirrors pilot-agent's options.NewSecurityOptions with
// its environment defaults (WORKLOAD_RSA_KEY_SIZE=2048, PKCS8_KEY=false,
// ECC_CURVE=P256, SECRET_TTL=24h, SECRET_GRACE_PERIOD_RATIO=0.5,
// CREDENTIAL_FETCHER_TYPE=JWT, CertSigner="").
func SecurityOptions(c Config) (*security.Options, error) {
	c.defaults()
	o := &security.Options{
		CAEndpoint:                           c.CAAddr,
		CAProviderName:                       "Citadel",
		ClusterID:                            c.ClusterID,
		WorkloadNamespace:                    c.Namespace,
		ServiceAccount:                       c.ServiceAccount,
		TrustDomain:                          c.TrustDomain,
		WorkloadRSAKeySize:                   2048,
		Pkcs8Keys:                            false,
		ECCSigAlg:                            c.ECCSigAlg,
		ECCCurve:                             c.ECCCurve,
		SecretTTL:                            c.SecretTTL,
		SecretRotationGracePeriodRatio:       0.5,
		SecretRotationGracePeriodRatioJitter: 0.01,
		CertSigner:                           "",
		CARootPath:                           c.RootCertFile,
		CertChainFilePath:                    c.WorkDir + "/etc/certs/cert-chain.pem",
		KeyFilePath:                          c.WorkDir + "/etc/certs/key.pem",
		RootCertFilePath:                     c.WorkDir + "/etc/certs/root-cert.pem",
		CAHeaders:                            map[string]string{},
		CredIdentityProvider:                 "GoogleComputeEngine",
	}
	fetcher, err := credentialfetcher.NewCredFetcher(security.JWT, o.TrustDomain, c.TokenFile, o.CredIdentityProvider)
	if err != nil {
		return nil, err
	}
	o.CredFetcher = fetcher
	return o, nil
}

// NewCitadelClient builds the client exactly as istio-agent's
// createCitadel does for a TLS CA_ADDR.
func NewCitadelClient(c Config) (*citadel.CitadelClient, *security.Options, error) {
	opts, err := SecurityOptions(c)
	if err != nil {
		return nil, nil, err
	}
	client, err := citadel.NewCitadelClient(opts, &citadel.TLSOptions{RootCert: c.RootCertFile})
	if err != nil {
		return nil, nil, err
	}
	return client, opts, nil
}

// CertOptions are the CSR options the agent's SecretManagerClient uses.
func CertOptions(o *security.Options) pkiutil.CertOptions {
	host := (&spiffe.Identity{TrustDomain: o.TrustDomain, Namespace: o.WorkloadNamespace, ServiceAccount: o.ServiceAccount}).String()
	return pkiutil.CertOptions{
		Host:       host,
		RSAKeySize: o.WorkloadRSAKeySize,
		PKCS8Key:   o.Pkcs8Keys,
		ECSigAlg:   pkiutil.SupportedECSignatureAlgorithms(o.ECCSigAlg),
		ECCCurve:   pkiutil.SupportedEllipticCurves(o.ECCCurve),
	}
}

// Workload is one istio-agent's secret manager.
type Workload struct {
	Options *security.Options
	Manager *cache.SecretManagerClient
}

// NewWorkload starts istio-agent's SecretManagerClient over a citadel client.
func NewWorkload(c Config) (*Workload, error) {
	client, opts, err := NewCitadelClient(c)
	if err != nil {
		return nil, err
	}
	m, err := cache.NewSecretManagerClient(client, opts)
	if err != nil {
		client.Close()
		return nil, err
	}
	return &Workload{Options: opts, Manager: m}, nil
}

// Close stops the manager and its client.
func (w *Workload) Close() { w.Manager.Close() }

// Generate asks for the "default" workload secret, as Envoy's SDS request does.
func (w *Workload) Generate() (*security.SecretItem, error) {
	return w.Manager.GenerateSecret(security.WorkloadKeyCertResourceName)
}

// SignRaw sends one request with Istio's citadel client and returns the
// raw cert_chain (CSRSign) plus the private key.
func SignRaw(client *citadel.CitadelClient, o *security.Options, ttl int64) ([]string, []byte, error) {
	csr, key, err := pkiutil.GenCSR(CertOptions(o))
	if err != nil {
		return nil, nil, err
	}
	chain, err := client.CSRSign(csr, ttl)
	return chain, key, err
}

// ZtunnelRequest sends a request shaped like ztunnel's: ECDSA P-256 CSR
// with empty subject (GenCSR with an empty Org, PKCS#8 key), the
// ImpersonatedIdentity metadata, the same TLS/credential dial options as
// the citadel client (Istio's ClientOptions), and the ClusterID header.
// ztunnel itself is Rust; this reproduces its wire request with Istio's Go
// types.
func ZtunnelRequest(ctx context.Context, c Config, impersonated string, ttl int64) ([]string, []byte, error) {
	c.defaults()
	o, err := SecurityOptions(c)
	if err != nil {
		return nil, nil, err
	}
	dial, err := istiogrpc.ClientOptions(nil, &istiogrpc.TLSOptions{RootCert: c.RootCertFile, ServerAddress: c.CAAddr})
	if err != nil {
		return nil, nil, err
	}
	dial = append(dial, grpc.WithPerRPCCredentials(caclient.NewDefaultTokenProvider(o)))
	conn, err := grpc.NewClient(c.CAAddr, dial...)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	id, err := spiffe.ParseIdentity(impersonated)
	if err != nil {
		return nil, nil, err
	}
	csr, key, err := pkiutil.GenCSR(pkiutil.CertOptions{
		Host: id.String(), ECSigAlg: pkiutil.EcdsaSigAlg, ECCCurve: pkiutil.P256Curve, PKCS8Key: true,
	})
	if err != nil {
		return nil, nil, err
	}
	req := &pb.IstioCertificateRequest{
		Csr:              string(csr),
		ValidityDuration: ttl,
		Metadata: &structpb.Struct{Fields: map[string]*structpb.Value{
			security.ImpersonatedIdentity: structpb.NewStringValue(impersonated),
		}},
	}
	if !c.OmitClusterID {
		ctx = metadata.AppendToOutgoingContext(ctx, "ClusterID", c.ClusterID)
	}
	resp, err := pb.NewIstioCertificateServiceClient(conn).CreateCertificate(ctx, req)
	if err != nil {
		return nil, key, err
	}
	return resp.CertChain, key, nil
}

// Verify checks a secret the way Istio's tests do (util.VerifyCertificate:
// chain to the root, key match, SPIFFE SAN) and returns the leaf.
func Verify(keyPEM, certChainPEM, rootPEM []byte, identity string) (*x509.Certificate, error) {
	if err := pkiutil.VerifyCertificate(keyPEM, certChainPEM, rootPEM, &pkiutil.VerifyFields{
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		IsCA:        false,
		Host:        identity,
	}); err != nil {
		return nil, err
	}
	leaf, err := pkiutil.ParsePemEncodedCertificate(certChainPEM)
	if err != nil {
		return nil, err
	}
	ids, err := pkiutil.ExtractIDs(leaf.Extensions)
	if err != nil {
		return nil, err
	}
	if len(ids) != 1 || ids[0] != identity {
		return nil, fmt.Errorf("leaf identities %v, want exactly [%s]", ids, identity)
	}
	if _, err := spiffe.ParseIdentity(ids[0]); err != nil {
		return nil, fmt.Errorf("leaf identity %q: %v", ids[0], err)
	}
	return leaf, nil
}

// SignCSR sends a caller-made CSR with Istio's citadel client.
func SignCSR(client *citadel.CitadelClient, csrPEM []byte, ttl int64) ([]string, error) {
	return client.CSRSign(csrPEM, ttl)
}

// QuietIstioLogs keeps Istio's scoped loggers at warnings and above
// (level: "debug", "info", "warn", "error", "none").
func QuietIstioLogs(level string) {
	o := log.DefaultOptions()
	if level == "" {
		level = "warn"
	}
	o.OutputPaths = []string{"stderr"}
	o.SetDefaultOutputLevel(log.OverrideScopeName, log.StringToLevel(level))
	_ = log.Configure(o)
}
