// Package jwtutil mints RS256 service-account JWTs shaped like Kubernetes
// projected tokens and writes the matching JWKS, so both CA servers can
// verify the same tokens without a cluster.
package jwtutil

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"time"
)

// Issuer is the "iss" of the minted tokens (a Kubernetes API server's).
const Issuer = "https://kubernetes.default.svc.cluster.local"

// Signer holds one RSA key and its key id.
type Signer struct {
	Key *rsa.PrivateKey
	Kid string
}

// NewSigner generates a fresh RSA 2048 key.
func NewSigner(kid string) (*Signer, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	return &Signer{Key: key, Kid: kid}, nil
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// JWKS returns the JSON Web Key Set with the public key.
func (s *Signer) JWKS() []byte {
	e := big.NewInt(int64(s.Key.PublicKey.E)).Bytes()
	out, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "alg": "RS256", "use": "sig", "kid": s.Kid,
		"n": b64(s.Key.PublicKey.N.Bytes()), "e": b64(e),
	}}})
	return out
}

// PublicKeyPEM returns the PKIX public key (for Vault's jwt auth method).
func (s *Signer) PublicKeyPEM() []byte {
	der, _ := x509.MarshalPKIXPublicKey(&s.Key.PublicKey)
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// Claims of a Kubernetes projected service-account token.
type Claims struct {
	Namespace, ServiceAccount string
	PodName, PodUID           string
	Audiences                 []string
	Issuer                    string // default Issuer
	IssuedAt, Expiry          time.Time
}

// Mint signs the claims with RS256.
func (s *Signer) Mint(c Claims) (string, error) {
	if c.Issuer == "" {
		c.Issuer = Issuer
	}
	if c.IssuedAt.IsZero() {
		c.IssuedAt = time.Now()
	}
	if c.Expiry.IsZero() {
		c.Expiry = c.IssuedAt.Add(time.Hour)
	}
	kube := map[string]any{
		"namespace":      c.Namespace,
		"serviceaccount": map[string]string{"name": c.ServiceAccount, "uid": "sa-uid-" + c.ServiceAccount},
	}
	if c.PodName != "" {
		kube["pod"] = map[string]string{"name": c.PodName, "uid": c.PodUID}
	}
	payload := map[string]any{
		"iss":           c.Issuer,
		"sub":           fmt.Sprintf("system:serviceaccount:%s:%s", c.Namespace, c.ServiceAccount),
		"aud":           c.Audiences,
		"iat":           c.IssuedAt.Unix(),
		"nbf":           c.IssuedAt.Unix(),
		"exp":           c.Expiry.Unix(),
		"kubernetes.io": kube,
	}
	header, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": s.Kid})
	body, err := json.Marshal(payload)
	if err != nil {
		return "", err
	}
	signingInput := b64(header) + "." + b64(body)
	digest := sha256.Sum256([]byte(signingInput))
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.Key, crypto.SHA256, digest[:])
	if err != nil {
		return "", err
	}
	return signingInput + "." + b64(sig), nil
}

// WriteFile writes data with mode 0600.
func WriteFile(path string, data []byte) error { return os.WriteFile(path, data, 0o600) }

// KeyPEM returns the private key (PKCS#1 PEM).
func (s *Signer) KeyPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(s.Key)})
}

// LoadSigner reads a PKCS#1 or PKCS#8 RSA key written by KeyPEM.
func LoadSigner(path, kid string) (*Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return &Signer{Key: k, Kid: kid}, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s: not an RSA key", path)
	}
	return &Signer{Key: rk, Kid: kid}, nil
}
