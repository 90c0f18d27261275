// Package istioca runs Istio's own CA server code in-process: the
// IstioCA from security/pkg/pki/ca built from plug-in ("cacerts") files
// with NewPluggedCertIstioCAOptions, served by security/pkg/server/ca's
// Server over gRPC with TLS, authenticating callers with Istio's own
// authenticators (client certificates, and the OIDC JWT authenticator
// pointed at a JWKS URL). It is the reference the interop suite diffs
// vaultca against.
package istioca

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"istio.io/api/security/v1beta1"
	"istio.io/istio/pkg/config/mesh"
	"istio.io/istio/pkg/config/mesh/meshwatcher"
	"istio.io/istio/pkg/security"
	"istio.io/istio/security/pkg/pki/ca"
	caserver "istio.io/istio/security/pkg/server/ca"
	"istio.io/istio/security/pkg/server/ca/authenticate"
)

// Options configure the server.
type Options struct {
	Listen      string // host:port, e.g. 127.0.0.1:0
	CacertsDir  string // ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem
	TrustDomain string // default cluster.local
	// JWT authentication (Istio's JwtAuthenticator). Empty JWKSURI: off.
	JWTIssuer   string
	JWKSURI     string
	JWTAudience []string // default istio-ca
	// ClientCert enables Istio's ClientCertAuthenticator (istiod always has it).
	ClientCert bool
	// istiod's DEFAULT_WORKLOAD_CERT_TTL (24h) and MAX_WORKLOAD_CERT_TTL (90d).
	DefaultTTL, MaxTTL time.Duration
	// DNS names of the serving certificate; default istiod.istio-system.svc.
	ServingDNS []string
}

// Server is a running Istio CA.
type Server struct {
	Addr         string
	RootCertFile string
	CA           *ca.IstioCA
	grpc         *grpc.Server
	requests     atomic.Int64
}

// Requests is how many CreateCertificate calls reached the server.
func (s *Server) Requests() int64 { return s.requests.Load() }

// Stop stops serving.
func (s *Server) Stop() { s.grpc.Stop() }

// Start builds the CA and serves it.
func Start(o Options) (*Server, error) {
	if o.TrustDomain == "" {
		o.TrustDomain = "cluster.local"
	}
	if o.DefaultTTL == 0 {
		o.DefaultTTL = 24 * time.Hour
	}
	if o.MaxTTL == 0 {
		o.MaxTTL = 90 * 24 * time.Hour
	}
	if len(o.JWTAudience) == 0 {
		o.JWTAudience = []string{"istio-ca"}
	}
	if len(o.ServingDNS) == 0 {
		o.ServingDNS = []string{"istiod.istio-system.svc"}
	}
	bundle := ca.SigningCAFileBundle{
		RootCertFile:    filepath.Join(o.CacertsDir, "root-cert.pem"),
		CertChainFiles:  []string{filepath.Join(o.CacertsDir, "cert-chain.pem")},
		SigningCertFile: filepath.Join(o.CacertsDir, "ca-cert.pem"),
		SigningKeyFile:  filepath.Join(o.CacertsDir, "ca-key.pem"),
	}
	caOpts, err := ca.NewPluggedCertIstioCAOptions(bundle, o.DefaultTTL, o.MaxTTL, 2048)
	if err != nil {
		return nil, fmt.Errorf("istio CA options: %v", err)
	}
	istioCA, err := ca.NewIstioCA(caOpts)
	if err != nil {
		return nil, fmt.Errorf("istio CA: %v", err)
	}

	var authenticators []security.Authenticator
	if o.ClientCert {
		authenticators = append(authenticators, &authenticate.ClientCertAuthenticator{})
	}
	if o.JWKSURI != "" {
		m := mesh.DefaultMeshConfig()
		m.TrustDomain = o.TrustDomain
		var watcher mesh.Watcher = meshwatcher.NewTestWatcher(m)
		jwt, err := authenticate.NewJwtAuthenticator(&v1beta1.JWTRule{
			Issuer: o.JWTIssuer, JwksUri: o.JWKSURI, Audiences: o.JWTAudience,
		}, watcher)
		if err != nil {
			return nil, err
		}
		authenticators = append(authenticators, jwt)
	}
	if len(authenticators) == 0 {
		return nil, fmt.Errorf("no authenticator configured")
	}

	srv, err := caserver.New(istioCA, o.MaxTTL, authenticators, nil)
	if err != nil {
		return nil, err
	}

	// istiod's own serving certificate, issued by the same CA (GenKeyCert,
	// as PILOT_CERT_PROVIDER=istiod does).
	certPEM, keyPEM, err := istioCA.GenKeyCert(o.ServingDNS, 24*time.Hour, false)
	if err != nil {
		return nil, fmt.Errorf("serving cert: %v", err)
	}
	servingCert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	rootPEM := istioCA.GetCAKeyCertBundle().GetRootCertPem()
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(rootPEM)
	tlsConfig := &tls.Config{
		Certificates: []tls.Certificate{servingCert},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    roots,
		MinVersion:   tls.VersionTLS12,
	}
	lis, err := net.Listen("tcp", o.Listen)
	if err != nil {
		return nil, err
	}
	out := &Server{Addr: lis.Addr().String(), RootCertFile: bundle.RootCertFile, CA: istioCA}
	count := func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		out.requests.Add(1)
		return h(ctx, req)
	}
	out.grpc = grpc.NewServer(grpc.Creds(credentials.NewTLS(tlsConfig)), grpc.UnaryInterceptor(count))
	srv.Register(out.grpc)
	go func() { _ = out.grpc.Serve(lis) }()
	return out, nil
}

// WriteRoot writes the root bundle the server trusts (for CA_ROOT_CA).
func (s *Server) WriteRoot(path string) error {
	return os.WriteFile(path, s.CA.GetCAKeyCertBundle().GetRootCertPem(), 0o644)
}
