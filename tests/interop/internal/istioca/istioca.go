// Package istioca runs Istio's own CA server code in-process: the
// IstioCA from security/pkg/pki/ca built from plug-in ("cacerts") files
// with NewPluggedCertIstioCAOptions, served by security/pkg/server/ca's
// Server over gRPC with TLS, authenticating callers with Istio's own
// authenticators (client certificates, the OIDC JWT authenticator pointed
// at a JWKS URL, or, with Options.Kube, istiod's Kubernetes wiring: the
// kubeauth TokenReview authenticator and the node authorizer over a real
// API server). It is the reference the interop suite diffs vaultca against.
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
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"

	"istio.io/api/security/v1beta1"
	"istio.io/istio/pilot/pkg/features"
	"istio.io/istio/pkg/cluster"
	"istio.io/istio/pkg/config/mesh"
	"istio.io/istio/pkg/config/mesh/meshwatcher"
	"istio.io/istio/pkg/kube"
	"istio.io/istio/pkg/kube/kclient"
	"istio.io/istio/pkg/kube/multicluster"
	"istio.io/istio/pkg/security"
	"istio.io/istio/pkg/util/sets"
	"istio.io/istio/security/pkg/pki/ca"
	caserver "istio.io/istio/security/pkg/server/ca"
	"istio.io/istio/security/pkg/server/ca/authenticate"
	"istio.io/istio/security/pkg/server/ca/authenticate/kubeauth"
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
	// Kube, when set, wires the server as istiod does on Kubernetes
	// (pilot/pkg/bootstrap): a kube.Client on this rest config (with the
	// CRD watcher), the multicluster controller over it, the kubeauth
	// KubeJWTAuthenticator (TokenReview, audience istio-ca) and, with
	// TrustedNodeAccounts, the node authorizer (CA_TRUSTED_NODE_ACCOUNTS).
	Kube                *rest.Config
	ClusterID           string // istiod's CLUSTER_ID, default Kubernetes
	SystemNamespace     string // default istio-system
	TrustedNodeAccounts []types.NamespacedName
	SyncTimeout         time.Duration // informer sync, default 60s
}

// Server is a running Istio CA.
type Server struct {
	Addr         string
	RootCertFile string
	CA           *ca.IstioCA
	grpc         *grpc.Server
	requests     atomic.Int64
	// With Options.Kube.
	kube kube.Client
	pods kclient.Client[*corev1.Pod]
	stop chan struct{}
}

// Requests is how many CreateCertificate calls reached the server.
func (s *Server) Requests() int64 { return s.requests.Load() }

// Stop stops serving (and the informers).
func (s *Server) Stop() {
	s.grpc.Stop()
	s.stopKube()
}

func (s *Server) stopKube() {
	if s.stop != nil {
		close(s.stop)
		s.kube.Shutdown()
		s.stop = nil
	}
}

// Pod is the pod as the node authorizer's informer has it now (its
// filter: status.phase!=Failed), nil if absent. Tests wait on it after
// changing pods, instead of sleeping.
func (s *Server) Pod(ns, name string) *corev1.Pod {
	if s.pods == nil {
		return nil
	}
	return s.pods.Get(name, ns)
}

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
	out := &Server{RootCertFile: bundle.RootCertFile, CA: istioCA}
	var mc *multicluster.Controller
	if o.Kube != nil {
		if mc, err = out.startKube(&o, &authenticators); err != nil {
			return nil, err
		}
	}
	if len(authenticators) == 0 {
		return nil, fmt.Errorf("no authenticator configured")
	}

	// caserver.New reads CA_TRUSTED_NODE_ACCOUNTS from pilot's features
	// (parsed at start-up from the environment); set it for this server
	// only: the other Istio CA in the suite runs without a node authorizer.
	saved := features.CATrustedNodeAccounts
	features.CATrustedNodeAccounts = sets.New(o.TrustedNodeAccounts...)
	var builder multicluster.ComponentBuilder
	if mc != nil {
		builder = mc
	}
	srv, err := caserver.New(istioCA, o.MaxTTL, authenticators, builder)
	features.CATrustedNodeAccounts = saved
	if err != nil {
		return nil, err
	}
	if mc != nil {
		ok := false
		defer func() {
			if !ok { // a failed start leaves no informers behind
				out.stopKube()
			}
		}()
		if err := out.runKube(mc, o.SyncTimeout); err != nil {
			return nil, err
		}
		defer func() { ok = out.grpc != nil }()
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
	out.Addr = lis.Addr().String()
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

// startKube is istiod's initKubeClient + initMulticluster + the kube
// authenticator of initServers.
func (s *Server) startKube(o *Options, authenticators *[]security.Authenticator) (*multicluster.Controller, error) {
	if o.ClusterID == "" {
		o.ClusterID = "Kubernetes"
	}
	if o.SystemNamespace == "" {
		o.SystemNamespace = "istio-system"
	}
	client, err := kube.NewClient(kube.NewClientConfigForRestConfig(o.Kube), cluster.ID(o.ClusterID))
	if err != nil {
		return nil, fmt.Errorf("kube client: %v", err)
	}
	client = kube.EnableCrdWatcher(client)
	m := mesh.DefaultMeshConfig()
	m.TrustDomain = o.TrustDomain
	watcher := meshwatcher.NewTestWatcher(m)
	mc := multicluster.NewController(multicluster.ControllerOptions{
		Client:          client,
		ClusterID:       cluster.ID(o.ClusterID),
		SystemNamespace: o.SystemNamespace,
		MeshConfig:      watcher,
	})
	*authenticators = append(*authenticators,
		kubeauth.NewKubeJWTAuthenticator(watcher, client.Kube(), cluster.ID(o.ClusterID), nil, mc))
	s.kube = client
	// The node authorizer's own pod informer (same filter: shared).
	s.pods = kclient.NewFiltered[*corev1.Pod](client, kclient.Filter{
		ObjectFilter:    client.ObjectFilter(),
		ObjectTransform: kube.StripPodUnusedFields,
		FieldSelector:   "status.phase!=Failed",
	})
	if o.SyncTimeout == 0 {
		o.SyncTimeout = 60 * time.Second
	}
	return mc, nil
}

// runKube starts the multicluster controller and the informers, as
// istiod's start functions do, and waits for the controller (hence the
// node authorizer's pod index) to sync.
func (s *Server) runKube(mc *multicluster.Controller, timeout time.Duration) error {
	s.stop = make(chan struct{})
	if err := mc.Run(s.stop); err != nil {
		return err
	}
	synced := make(chan bool, 1)
	go func() { synced <- s.kube.RunAndWait(s.stop) }()
	deadline := time.After(timeout)
	for {
		select {
		case ok := <-synced:
			if !ok {
				return fmt.Errorf("istio kube client: informers did not sync")
			}
			synced = nil
		case <-deadline:
			return fmt.Errorf("istio kube client: not synced after %v", timeout)
		case <-time.After(20 * time.Millisecond):
		}
		if synced == nil && mc.HasSynced() && s.pods.HasSynced() {
			return nil
		}
	}
}
