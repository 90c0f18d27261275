package interop

import (
	"bytes"
	"os"
	"testing"
	"time"

	"vaultca.dev/tests/interop/internal/agent"
	"vaultca.dev/tests/interop/internal/pki"
)

// A `vault kv put` of a CA under a different root would split the mesh
// (workloads trusting the old root cannot verify the new certificates), so
// without ISTIO_MULTIROOT_MESH vaultca refuses it and keeps signing with
// the material in service: Istio's client sees no error, certificates keep
// their issuer and verify against the published root, which does not
// change. On a Vault and vaultca-server of its own: the other tests never
// see the other root in Vault.
func TestVaultRootChangeIsRefusedAndSigningGoesOn(t *testing.T) {
	own := startOwnCA(t, "root-policy")
	tg := own.vaultcaTarget()
	inService := own.mat
	publishedBefore, err := os.ReadFile(tg.rootFile)
	if err != nil {
		t.Fatal(err)
	}
	const refused = `vaultca_ca_refresh_failures_total{cause="root_policy"}`
	refusedBefore, err := own.vca.metric(refused)
	if err != nil {
		t.Fatal(err)
	}

	otherRoot, err := pki.NewRoot("Interop Other Root", true)
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.NewIntermediate(otherRoot, "Other Root's Intermediate", true, 365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := own.putCA(other); err != nil {
		t.Fatal(err)
	}

	// The harness refreshes every second: wait until a refresh saw the
	// other root and refused it.
	deadline := time.Now().Add(20 * time.Second)
	for {
		n, err := own.vca.metric(refused)
		if err == nil && n > refusedBefore {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no root-policy refusal counted within 20 s (%s stays %v)", refused, refusedBefore)
		}
		time.Sleep(200 * time.Millisecond)
	}

	c, o, err := agent.NewCitadelClient(agentConfig(tg, sleepToken(t), ""))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < 3; i++ {
		chain, key, err := agent.SignRaw(c, o, 3600)
		if err != nil {
			t.Fatalf("request %d after the refused root change: %v", i, err)
		}
		if _, err := agent.Verify(key, []byte(joinChain(chain[:len(chain)-1])), publishedBefore, spiffeID("default", "sleep")); err != nil {
			t.Fatalf("request %d: certificate does not verify against the unchanged root: %v", i, err)
		}
		certs := parseChain(t, chain)
		if !certs[1].Equal(inService.Signing.Cert) {
			t.Fatalf("request %d: issued by %q, want the intermediate in service %q", i, certs[1].Subject, inService.Signing.Cert.Subject)
		}
	}
	publishedAfter, err := os.ReadFile(tg.rootFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(publishedBefore, publishedAfter) {
		t.Errorf("the published root bundle changed after a refused root change")
	}
}
