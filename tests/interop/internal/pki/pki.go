// Package pki generates the Istio plug-in CA material ("cacerts") a
// mesh operator would put in Vault: a root and an intermediate signing CA.
package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// CA is one CA certificate with its key.
type CA struct {
	Cert    *x509.Certificate
	CertPEM []byte
	Key     crypto.Signer
	KeyPEM  []byte
}

// Material is istiod's plug-in layout.
type Material struct {
	Root, Signing *CA
	// CertChainPEM is cert-chain.pem: signing cert then root.
	CertChainPEM []byte
}

func newKey(ec bool) (crypto.Signer, []byte, error) {
	if ec {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, nil, err
		}
		der, _ := x509.MarshalECPrivateKey(k)
		return k, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
	}
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	return k, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}), nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n
}

func issue(tmpl *x509.Certificate, parent *CA, ec bool) (*CA, error) {
	key, keyPEM, err := newKey(ec)
	if err != nil {
		return nil, err
	}
	signerCert, signerKey := tmpl, key
	if parent != nil {
		signerCert, signerKey = parent.Cert, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signerCert, key.Public(), signerKey)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), Key: key, KeyPEM: keyPEM}, nil
}

func caTemplate(cn string, ttl time.Duration, pathLen int) *x509.Certificate {
	now := time.Now()
	return &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{Organization: []string{"Istio"}, CommonName: cn},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(ttl),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            pathLen,
		MaxPathLenZero:        pathLen == 0,
	}
}

// NewRoot creates a self-signed root (RSA 2048, or P-256 when ec).
func NewRoot(cn string, ec bool) (*CA, error) {
	return issue(caTemplate(cn, 10*365*24*time.Hour, -1), nil, ec)
}

// NewIntermediate creates a signing CA under root, as istioctl/Istio's
// tools/certs Makefile does for a cluster ("cluster.local" intermediate).
func NewIntermediate(root *CA, cn string, ec bool, ttl time.Duration) (*Material, error) {
	ca, err := issue(caTemplate(cn, ttl, 0), root, ec)
	if err != nil {
		return nil, err
	}
	chain := append(append([]byte{}, ca.CertPEM...), root.CertPEM...)
	return &Material{Root: root, Signing: ca, CertChainPEM: chain}, nil
}

// WriteCacerts writes the istiod plug-in directory (ca-cert.pem,
// ca-key.pem, cert-chain.pem, root-cert.pem).
func (m *Material) WriteCacerts(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	files := map[string][]byte{
		"ca-cert.pem":    m.Signing.CertPEM,
		"ca-key.pem":     m.Signing.KeyPEM,
		"cert-chain.pem": m.CertChainPEM,
		"root-cert.pem":  m.Root.CertPEM,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return err
		}
	}
	return nil
}
