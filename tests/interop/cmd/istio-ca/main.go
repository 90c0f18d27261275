// istio-ca runs Istio's own CA server code (security/pkg/server/ca over
// security/pkg/pki/ca's IstioCA with plug-in certificates) standalone, as
// the Go reference peer for benchmarks and demos.
//
//	istio-ca -listen 127.0.0.1:15012 -cacerts DIR -jwks DIR/jwks.json
//	istio-ca -listen 127.0.0.1:15012 -cacerts DIR -client-cert   # mTLS only
//
// DIR holds ca-cert.pem, ca-key.pem, cert-chain.pem, root-cert.pem.
// Agents connect to localhost:PORT trusting DIR/root-cert.pem (the serving
// certificate is for istiod.istio-system.svc, as istiod's).
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"vaultca.dev/tests/interop/internal/agent"
	"vaultca.dev/tests/interop/internal/istioca"
	"vaultca.dev/tests/interop/internal/jwtutil"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:15012", "gRPC listen address")
	cacerts := flag.String("cacerts", "/etc/cacerts", "plug-in CA directory")
	jwks := flag.String("jwks", "", "JWKS file: enables Istio's JWT authenticator (served to it on a loopback URL)")
	jwksURI := flag.String("jwks-uri", "", "JWKS URL instead of -jwks")
	issuer := flag.String("jwt-issuer", jwtutil.Issuer, "required iss")
	audiences := flag.String("jwt-audiences", "istio-ca", "comma-separated accepted audiences")
	clientCert := flag.Bool("client-cert", true, "enable Istio's client-certificate authenticator")
	trustDomain := flag.String("trust-domain", "cluster.local", "trust domain")
	defTTL := flag.Duration("default-ttl", 24*time.Hour, "DEFAULT_WORKLOAD_CERT_TTL")
	maxTTL := flag.Duration("max-ttl", 90*24*time.Hour, "MAX_WORKLOAD_CERT_TTL")
	dns := flag.String("serving-dns", "istiod.istio-system.svc", "comma-separated serving certificate DNS names")
	logLevel := flag.String("log-level", "warn", "Istio log level (debug, info, warn, error, none)")
	flag.Parse()
	agent.QuietIstioLogs(*logLevel)

	uri := *jwksURI
	if *jwks != "" {
		data, err := os.ReadFile(*jwks)
		check(err)
		l, err := net.Listen("tcp", "127.0.0.1:0")
		check(err)
		go func() {
			_ = http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(data)
			}))
		}()
		uri = "http://" + l.Addr().String() + "/jwks.json"
	}
	if uri == "" && !*clientCert {
		check(fmt.Errorf("enable -jwks/-jwks-uri or -client-cert"))
	}
	srv, err := istioca.Start(istioca.Options{
		Listen: *listen, CacertsDir: *cacerts, TrustDomain: *trustDomain,
		JWTIssuer: *issuer, JWKSURI: uri, JWTAudience: strings.Split(*audiences, ","),
		ClientCert: *clientCert, DefaultTTL: *defTTL, MaxTTL: *maxTTL, ServingDNS: strings.Split(*dns, ","),
	})
	check(err)
	fmt.Printf("grpc_address=%s\n", srv.Addr)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	srv.Stop()
}

func check(err error) {
	if err != nil {
		fmt.Fprintf(os.Stderr, "istio-ca: %v\n", err)
		os.Exit(1)
	}
}
