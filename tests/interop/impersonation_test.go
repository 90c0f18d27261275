package interop

// Impersonation diffed against Istio: ztunnel-style requests (the
// ImpersonatedIdentity metadata) with real pod-bound tokens from the real
// API server's TokenRequest, each sent to vaultca and to Istio's CA wired as
// istiod on Kubernetes (kubeauth's TokenReview authenticator and the node
// authorizer of security/pkg/server/ca/node_auth.go, informers on the same
// API server). Codes, refusal stage and the certificate's SAN are compared;
// every difference is expected here with its reason (DIFF.md) and the test
// fails on any other. The table is written to impersonation-diff.txt beside
// INTEROP_DIFF_OUT.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"vaultca.dev/tests/interop/internal/agent"
	"vaultca.dev/tests/interop/internal/jwtutil"
)

// Outcomes: "OK", "Unauthenticated/authn" (the authenticator refused:
// both servers answer "request authenticate failure..."),
// "Unauthenticated/impersonation" ("request impersonation authentication
// failure..."), or a bare code when the stage may be either.
type impCase struct {
	name   string
	token  string // token file
	target string // impersonated identity; "" = an ordinary istio-agent request
	// ClusterID header; "" = the agent's default (Kubernetes).
	clusterID   string
	noClusterID bool // no ClusterID header at all
	// Expected outcome per server, and the SAN of the certificate when OK.
	vaultca, istio string
	san            string // "" = target (or the caller's own identity)
	why            string // why the servers differ (DIFF.md); required when they do
}

type impResult struct {
	outcome, san, msg string
}

func stageOf(err error) string {
	if err == nil {
		return "OK"
	}
	code := codeOf(err).String()
	switch msg := err.Error(); {
	case strings.Contains(msg, "request impersonation authentication failure"):
		return code + "/impersonation"
	case strings.Contains(msg, "request authenticate failure"):
		return code + "/authn"
	}
	return code
}

func matches(want, got string) bool {
	return want == got || (!strings.Contains(want, "/") && strings.HasPrefix(got, want+"/"))
}

// do sends one case to one server once: the outcome, how many requests
// reached the server, and on success the chain and key.
func (c impCase) do(t *testing.T, tg target) (impResult, int64, []string, []byte) {
	t.Helper()
	cfg := agentConfig(tg, c.token, "ECDSA")
	cfg.ClusterID = c.clusterID
	cfg.OmitClusterID = c.noClusterID
	before := requestCount(t, tg)
	var chain []string
	var key []byte
	var err error
	if c.target != "" {
		chain, key, err = agent.ZtunnelRequest(context.Background(), cfg, c.target, 86400)
	} else {
		client, o, cerr := agent.NewCitadelClient(cfg)
		if cerr != nil {
			t.Fatal(cerr)
		}
		chain, key, err = agent.SignRaw(client, o, 86400)
		client.Close()
	}
	n := requestCount(t, tg) - before
	r := impResult{outcome: stageOf(err)}
	if err != nil {
		r.msg = err.Error()
	}
	return r, n, chain, key
}

// send is do plus what a client checks on success: the chain layout, the
// SAN and Istio's VerifyCertificate for it; and exactly one request.
func (c impCase) send(t *testing.T, tg target) impResult {
	t.Helper()
	r, n, chain, key := c.do(t, tg)
	if n != 1 {
		t.Errorf("%s: server saw %d requests, want 1", tg.name, n)
	}
	if r.outcome != "OK" {
		return r
	}
	checkChainLayout(t, chain, env.root.CertPEM)
	leaf := parseChain(t, chain)[0]
	var uris []string
	for _, u := range leaf.URIs {
		uris = append(uris, u.String())
	}
	r.san = strings.Join(uris, ",")
	if _, verr := agent.Verify(key, []byte(joinChain(chain[:len(chain)-1])), []byte(chain[len(chain)-1]), r.san); verr != nil {
		t.Errorf("%s: Istio's verification of the certificate: %v", tg.name, verr)
	}
	return r
}

// untilOK repeats a request until both servers grant it (each server's
// view of the pods is its own: istiod's informer, vaultca's API reads or
// index), and returns how long that took.
func untilOK(t *testing.T, c impCase, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		var refused []string
		for _, tg := range kubeTargets() {
			if r, _, _, _ := c.do(t, tg); r.outcome != "OK" {
				refused = append(refused, fmt.Sprintf("%s: %s (%s)", tg.name, r.outcome, r.msg))
			}
		}
		if len(refused) == 0 {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("%s: not granted by both servers after %v: %s", c.name, timeout, strings.Join(refused, "; "))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

type impReport struct {
	b strings.Builder
}

func (rep *impReport) add(c impCase, res map[string]impResult, mark string) {
	fmt.Fprintf(&rep.b, "%-11s %-44s vaultca=%-30s istio=%s\n", mark, c.name, res["vaultca"].outcome+sanNote(res["vaultca"]), res["istio-kube"].outcome+sanNote(res["istio-kube"]))
	for _, n := range []string{"vaultca", "istio-kube"} {
		if res[n].msg != "" {
			fmt.Fprintf(&rep.b, "%-11s %-44s %s: %s\n", "", "", n, res[n].msg)
		}
	}
}

func sanNote(r impResult) string {
	if r.san == "" {
		return ""
	}
	return " " + r.san
}

// run sends each case to both servers as subtests and records the table.
func (rep *impReport) run(t *testing.T, cases []impCase) {
	t.Helper()
	for _, c := range cases {
		same := matches(c.vaultca, c.istio) || matches(c.istio, c.vaultca)
		if same == (c.why != "") {
			t.Fatalf("%s: a case whose expectations differ needs a why (and only then)", c.name)
		}
		res := map[string]impResult{}
		for _, tg := range kubeTargets() {
			want := c.vaultca
			if tg.name != "vaultca" {
				want = c.istio
			}
			t.Run(tg.name+"/"+c.name, func(t *testing.T) {
				r := c.send(t, tg)
				res[tg.name] = r
				if !matches(want, r.outcome) {
					t.Errorf("got %s (%s), want %s", r.outcome, r.msg, want)
				}
				if r.outcome == "OK" {
					wantSAN := c.san
					if wantSAN == "" {
						wantSAN = c.target
					}
					if r.san != wantSAN {
						t.Errorf("SAN %q, want %q", r.san, wantSAN)
					}
				}
			})
		}
		mark := "same"
		if c.why != "" {
			mark = "difference"
		}
		rep.add(c, res, mark)
	}
}

// waitFor polls cond (no fixed sleeps) and returns how long it took.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > timeout {
			t.Fatalf("%s: not after %v", what, timeout)
		}
		time.Sleep(25 * time.Millisecond)
	}
	return time.Since(start)
}

func TestImpersonation(t *testing.T) {
	ctx := context.Background()
	f := env.kfix
	sleepID := spiffeID("default", "sleep")
	zt := podToken(t, f.pod(t, "istio-system/ztunnel-a"))
	rep := &impReport{}
	fmt.Fprintf(&rep.b, "# generated by TestImpersonation at %s\n# vaultca vs Istio's CA as istiod on Kubernetes (kubeauth + node authorizer), same API server\n\n",
		time.Now().UTC().Format(time.RFC3339))
	// Both servers have loaded the pods (not asserted; the cases are).
	took := untilOK(t, impCase{name: "same-node (warm-up)", token: zt, target: sleepID}, 15*time.Second)
	fmt.Fprintf(&rep.b, "# both servers ready for impersonation after %v\n", took.Round(time.Millisecond))

	// Tokens whose pods go away below: two used before (so the servers
	// and the API server have reviewed them), two never used.
	stalePod, gonePod := f.pod(t, "istio-system/ztunnel-stale"), f.pod(t, "default/gone-1")
	stale, staleUnused := podToken(t, stalePod), podToken(t, stalePod)
	gone, goneUnused := podToken(t, gonePod), podToken(t, gonePod)
	rep.run(t, []impCase{
		{name: "stale-pod: before re-creation", token: stale, target: sleepID, vaultca: "OK", istio: "OK"},
		{name: "deleted-pod: plain request before deletion", token: gone, san: spiffeID("default", "gone"), vaultca: "OK", istio: "OK"},
	})
	primed := time.Now()

	// Delete gone-1; delete and re-create ztunnel-stale under the same
	// name (new uid), then wait until Istio's pod informer has both.
	if err := env.kube.DeletePodNow(ctx, "default", "gone-1"); err != nil {
		t.Fatal(err)
	}
	if err := env.kube.DeletePodNow(ctx, "istio-system", "ztunnel-stale"); err != nil {
		t.Fatal(err)
	}
	recreated, err := env.kube.Pod(ctx, "istio-system", "ztunnel-stale", "ztunnel", "node-a", corev1.PodRunning)
	if err != nil {
		t.Fatal(err)
	}
	f.pods["istio-system/ztunnel-stale"] = recreated
	delete(f.pods, "default/gone-1")
	took = waitFor(t, 30*time.Second, "Istio's informer sees the re-created pod and the deletion", func() bool {
		p := env.icaKube.Pod("istio-system", "ztunnel-stale")
		return p != nil && p.UID == recreated.UID && env.icaKube.Pod("default", "gone-1") == nil
	})
	fmt.Fprintf(&rep.b, "# pods changed; Istio's informer caught up in %v", took.Round(time.Millisecond))
	// The re-created pod's own token works on both: both see the new uid.
	took = untilOK(t, impCase{name: "re-created pod's new token", token: podToken(t, recreated), target: sleepID}, 30*time.Second)
	fmt.Fprintf(&rep.b, ", both grant its new token after %v\n", took.Round(time.Millisecond))

	// At once: the API server may still answer the old token's TokenReview
	// from its cache (~10 s), so Istio may refuse at either stage; vaultca
	// has the review cached (auth.token_review.cache_ttl) and its live pod
	// GET sees the new uid.
	rep.run(t, []impCase{
		{name: "stale-pod-uid (API server may still cache)", token: stale, target: sleepID,
			vaultca: "Unauthenticated/impersonation", istio: "Unauthenticated"},
	})

	rep.run(t, []impCase{
		{name: "same-node", token: zt, target: sleepID, vaultca: "OK", istio: "OK"},
		{name: "same-node (node-b proxy)", token: podToken(t, f.pod(t, "istio-system/ztunnel-b")), target: spiffeID("default", "httpbin"),
			vaultca: "OK", istio: "OK"},
		{name: "other-node", token: zt, target: spiffeID("default", "httpbin"),
			vaultca: "Unauthenticated/impersonation", istio: "Unauthenticated/impersonation"},
		{name: "unknown-service-account", token: zt, target: spiffeID("default", "ghost"),
			vaultca: "Unauthenticated/impersonation", istio: "Unauthenticated/impersonation"},
		{name: "untrusted-node-account", token: podToken(t, f.pod(t, "default/rogue-1")), target: sleepID,
			vaultca: "Unauthenticated/impersonation", istio: "Unauthenticated/impersonation"},
		{name: "token-without-pod", token: saToken(t, "istio-system", "ztunnel"), target: sleepID,
			vaultca: "Unauthenticated/impersonation", istio: "Unauthenticated/impersonation"},
		{name: "target-pod-pending", token: zt, target: spiffeID("default", "pending"),
			vaultca: "OK", istio: "OK"},
		{name: "target-pod-succeeded", token: zt, target: spiffeID("default", "done"),
			vaultca: "Unauthenticated/impersonation", istio: "OK",
			why: "vaultca counts pods that run or are about to (Pending, Running, Unknown); istiod's index holds every pod but Failed ones, so it also speaks for a pod that has completed and runs nothing"},
		{name: "target-pod-failed", token: zt, target: spiffeID("default", "failed"),
			vaultca: "Unauthenticated/impersonation", istio: "Unauthenticated/impersonation"},
		{name: "caller-pod-pending", token: podToken(t, f.pod(t, "istio-system/ztunnel-pending")), target: sleepID,
			vaultca: "OK", istio: "OK"},
		{name: "caller-pod-failed", token: podToken(t, f.pod(t, "istio-system/ztunnel-failed")), target: sleepID,
			vaultca: "Unauthenticated/impersonation", istio: "Unauthenticated/impersonation"},
		{name: "other-trust-domain", token: zt, target: "spiffe://other.example/ns/default/sa/sleep",
			vaultca: "Unauthenticated/impersonation", istio: "OK",
			why: "istiod parses the identity and looks up only namespace/service account: it signs a SAN of any trust domain; vaultca accepts only its own trust domain"},
		{name: "no ClusterID header", token: zt, target: sleepID, noClusterID: true,
			vaultca: "OK", istio: "Unauthenticated/impersonation",
			why: "istiod's kube authenticator takes a missing ClusterID for its own cluster, but its node authorizer is looked up by the header alone and there is none for cluster \"\"; vaultca takes a missing header for its own cluster in both"},
		{name: "plain: ztunnel's own identity", token: zt, san: spiffeID("istio-system", "ztunnel"), vaultca: "OK", istio: "OK"},
		{name: "plain: workload pod token", token: podToken(t, f.pod(t, "default/sleep-1")), san: sleepID, vaultca: "OK", istio: "OK"},
		{name: "plain: clusterid of another cluster", token: podToken(t, f.pod(t, "default/sleep-1")), clusterID: "remote-cluster",
			vaultca: "Unauthenticated/authn", istio: "Unauthenticated/authn"},
	})

	// Once the API server itself refuses the old tokens (its ~10 s
	// TokenReview cache has expired: poll, as admin, same audience).
	waitFor(t, 60*time.Second, "the API server refuses the tokens of the deleted pods", func() bool {
		for _, tokFile := range []string{stale, gone} {
			b, err := os.ReadFile(tokFile)
			if err != nil {
				t.Fatal(err)
			}
			st, err := env.kube.TokenReview(ctx, string(b), []string{"istio-ca"})
			if err != nil || st.Authenticated {
				return false
			}
		}
		return true
	})
	fmt.Fprintf(&rep.b, "# the API server refused the old tokens %v after their last use\n", time.Since(primed).Round(100*time.Millisecond))
	const cacheWhy = "vaultca caches a positive TokenReview for auth.token_review.cache_ttl (5m in this suite, 10s by default); istiod reviews every request (the API server caches ~10 s)"
	rep.run(t, []impCase{
		{name: "stale-pod-uid (API server refuses)", token: stale, target: sleepID,
			vaultca: "Unauthenticated/impersonation", istio: "Unauthenticated/authn", why: cacheWhy},
		{name: "stale-pod-uid, token never used", token: staleUnused, target: sleepID,
			vaultca: "Unauthenticated/authn", istio: "Unauthenticated/authn"},
		{name: "deleted-pod: plain request", token: gone, san: spiffeID("default", "gone"),
			vaultca: "OK", istio: "Unauthenticated/authn", why: cacheWhy},
		{name: "deleted-pod: plain, token never used", token: goneUnused,
			vaultca: "Unauthenticated/authn", istio: "Unauthenticated/authn"},
	})

	// vaultca alone: its JWT authenticator (jwks_file) also yields pod
	// claims for the node authorizer, which reads the real API server.
	ztPod := f.pod(t, "istio-system/ztunnel-a")
	for _, c := range []struct {
		name, uid string
		ok        bool
	}{{"jwt-authenticator-same-node", string(ztPod.UID), true}, {"jwt-authenticator-stale-pod-uid", "zt-uid-OLD", false}} {
		t.Run("vaultca/"+c.name, func(t *testing.T) {
			tok := tokenFile(t, jwtutil.Claims{Namespace: "istio-system", ServiceAccount: "ztunnel", PodName: ztPod.Name, PodUID: c.uid})
			want := "Unauthenticated/impersonation"
			if c.ok {
				want = "OK"
			}
			r := impCase{token: tok, target: sleepID}.send(t, kubeTargets()[0])
			if r.outcome != want {
				t.Errorf("got %s (%s), want %s", r.outcome, r.msg, want)
			}
			if c.ok && r.san != sleepID {
				t.Errorf("SAN %q, want %q", r.san, sleepID)
			}
		})
	}
	// Istio's CA without CA_TRUSTED_NODE_ACCOUNTS refuses impersonation the
	// same way vaultca refuses it for an untrusted caller.
	t.Run("istio/no-node-authorizer", func(t *testing.T) {
		tok := tokenFile(t, jwtutil.Claims{Namespace: "istio-system", ServiceAccount: "ztunnel", PodName: "ztunnel-a", PodUID: "zt-uid-a"})
		r := impCase{token: tok, target: sleepID}.send(t, targets()[1])
		if r.outcome != "Unauthenticated/impersonation" {
			t.Fatalf("got %s (%s), want Unauthenticated/impersonation", r.outcome, r.msg)
		}
	})

	t.Log("\n" + rep.b.String())
	if out := os.Getenv("INTEROP_DIFF_OUT"); out != "" {
		if err := os.WriteFile(filepath.Join(filepath.Dir(out), "impersonation-diff.txt"), []byte(rep.b.String()), 0o644); err != nil {
			t.Error(err)
		}
	}
}
