package interop

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"vaultca.dev/tests/interop/internal/agent"
	"vaultca.dev/tests/interop/internal/jwtutil"
)

var codeRE = regexp.MustCompile(`code = (\w+)`)

// codeOf returns the gRPC code of an error from Istio's citadel client,
// which wraps the status with %v (so status.Code cannot see it).
func codeOf(err error) codes.Code {
	if err == nil {
		return codes.OK
	}
	if s, ok := status.FromError(err); ok && s.Code() != codes.Unknown {
		return s.Code()
	}
	m := codeRE.FindStringSubmatch(err.Error())
	if m == nil {
		return codes.Unknown
	}
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		if c.String() == m[1] {
			return c
		}
	}
	return codes.Unknown
}

// requestCount is how many requests the server saw.
func requestCount(t *testing.T, tg target) int64 {
	t.Helper()
	switch tg.name {
	case "istio":
		return env.ica.Requests()
	case "istio-kube":
		return env.icaKube.Requests()
	}
	v, err := env.vca.metric("citadel_server_csr_count")
	if err != nil {
		t.Fatal(err)
	}
	return int64(v)
}

// signOnce sends one istio-agent request with the given token and TTL and
// returns the chain, the error code and how many requests reached the server.
func signOnce(t *testing.T, tg target, token string, ttl int64) ([]string, codes.Code, int64) {
	t.Helper()
	c, o, err := agent.NewCitadelClient(agentConfig(tg, token, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	before := requestCount(t, tg)
	chain, _, err := agent.SignRaw(c, o, ttl)
	return chain, codeOf(err), requestCount(t, tg) - before
}

func TestAuthFailuresAreUnauthenticatedAndNotRetried(t *testing.T) {
	other, err := jwtutil.NewSigner("interop-key-1") // same kid, other key
	if err != nil {
		t.Fatal(err)
	}
	forged, _ := other.Mint(jwtutil.Claims{Namespace: "default", ServiceAccount: "sleep", Audiences: []string{"istio-ca"}})
	cases := map[string]func(t *testing.T) string{
		"wrong-signature": func(t *testing.T) string {
			p := t.TempDir() + "/istio-token"
			_ = jwtutil.WriteFile(p, []byte(forged))
			return p
		},
		"expired": func(t *testing.T) string {
			return tokenFile(t, jwtutil.Claims{Namespace: "default", ServiceAccount: "sleep",
				IssuedAt: time.Now().Add(-2 * time.Hour), Expiry: time.Now().Add(-10 * time.Minute)})
		},
		"wrong-audience": func(t *testing.T) string {
			return tokenFile(t, jwtutil.Claims{Namespace: "default", ServiceAccount: "sleep", Audiences: []string{"vault"}})
		},
		"wrong-issuer": func(t *testing.T) string {
			return tokenFile(t, jwtutil.Claims{Namespace: "default", ServiceAccount: "sleep", Issuer: "https://evil.example"})
		},
		"garbage": func(t *testing.T) string {
			p := t.TempDir() + "/istio-token"
			_ = jwtutil.WriteFile(p, []byte("not-a-jwt"))
			return p
		},
	}
	for _, tg := range targets() {
		for name, tok := range cases {
			t.Run(tg.name+"/"+name, func(t *testing.T) {
				_, code, n := signOnce(t, tg, tok(t), 86400)
				if code != codes.Unauthenticated {
					t.Errorf("code %v, want Unauthenticated", code)
				}
				if n != 1 {
					t.Errorf("server saw %d requests, want 1 (istio-agent must not retry Unauthenticated)", n)
				}
			})
		}
	}
}

func TestRequestedTTL(t *testing.T) {
	const day = int64(86400)
	const maxTTL = 90 * day // MAX_WORKLOAD_CERT_TTL default 2160h
	cases := []struct {
		name string
		ttl  int64
		want codes.Code
		life time.Duration // expected NotAfter - request time
	}{
		{"zero-means-default-24h", 0, codes.OK, 24 * time.Hour},
		{"negative-means-default", -5, codes.OK, 24 * time.Hour},
		{"24h", day, codes.OK, 24 * time.Hour},
		{"1h", 3600, codes.OK, time.Hour},
		// The signing CA expires in ~60d: both clamp NotAfter to it.
		{"exactly-max-clamped-to-signing-ca", maxTTL, codes.OK, -1},
		{"80d-clamped-to-signing-ca", 80 * day, codes.OK, -1},
		{"30d-within-signing-ca", 30 * day, codes.OK, 30 * 24 * time.Hour},
		{"above-max", maxTTL + 1, codes.InvalidArgument, 0},
		{"far-above-max", 365 * day, codes.InvalidArgument, 0},
	}
	for _, tg := range targets() {
		for _, tc := range cases {
			t.Run(tg.name+"/"+tc.name, func(t *testing.T) {
				start := time.Now().Truncate(time.Second)
				chain, code, n := signOnce(t, tg, sleepToken(t), tc.ttl)
				end := time.Now()
				if code != tc.want {
					t.Fatalf("code %v, want %v", code, tc.want)
				}
				if n != 1 {
					t.Errorf("server saw %d requests, want 1", n)
				}
				if code != codes.OK {
					return
				}
				leaf := parseChain(t, chain)[0]
				if tc.life < 0 {
					if want := env.mat.Signing.Cert.NotAfter; !leaf.NotAfter.Equal(want) {
						t.Errorf("NotAfter %v, want the signing CA's NotAfter %v", leaf.NotAfter, want)
					}
					return
				}
				if leaf.NotAfter.Before(start.Add(tc.life)) || leaf.NotAfter.After(end.Add(tc.life)) {
					t.Errorf("NotAfter %v not in [%v, %v] (requested %ds)", leaf.NotAfter, start.Add(tc.life), end.Add(tc.life), tc.ttl)
				}
				// istiod backdates NotBefore by 2 minutes (clock skew).
				nb := start.Add(-2 * time.Minute)
				if leaf.NotBefore.Before(nb.Add(-time.Second)) || leaf.NotBefore.After(end.Add(-2*time.Minute)) {
					t.Errorf("NotBefore %v, want now-2m (~%v)", leaf.NotBefore, nb)
				}
			})
		}
	}
}

func joinChain(parts []string) string {
	s := ""
	for _, p := range parts {
		s += p
	}
	return s
}

var _ = fmt.Sprintf
