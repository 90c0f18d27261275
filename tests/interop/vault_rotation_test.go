package interop

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"vaultca.dev/tests/interop/internal/agent"
	"vaultca.dev/tests/interop/internal/pki"
)

// An operator's `vault kv put` of a new intermediate under the same root,
// while two agents request certificates back to back: every request
// succeeds, and once a certificate names the new issuer none names the
// old one again. On a Vault and vaultca-server of its own, as the rotation
// would change the CA the other tests check certificates against.
func TestVaultRotationDuringContinuousRequests(t *testing.T) {
	own := startOwnCA(t, "rotation")
	tg := own.vaultcaTarget()
	oldCA := own.mat.Signing.Cert
	next, err := pki.NewIntermediate(own.root, "Rotation Intermediate 2", true /* P-256 */, 2*365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	type result struct {
		issuerIsNew bool
		err         error
	}
	var (
		mu      sync.Mutex
		results []result
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	// Two agents issuing back to back, as pods renewing would.
	for i, alg := range []string{"", "ECDSA"} {
		wg.Add(1)
		go func(i int, alg string) {
			defer wg.Done()
			c, o, err := agent.NewCitadelClient(agentConfig(tg, sleepToken(t), alg))
			if err != nil {
				mu.Lock()
				results = append(results, result{err: err})
				mu.Unlock()
				return
			}
			defer c.Close()
			deadline := time.Now().Add(40 * time.Second)
			for time.Now().Before(deadline) {
				select {
				case <-stop:
					return
				default:
				}
				chain, key, err := agent.SignRaw(c, o, 3600)
				r := result{err: err}
				if err == nil {
					leafAndChain := []byte(joinChain(chain[:len(chain)-1]))
					if _, verr := agent.Verify(key, leafAndChain, []byte(chain[len(chain)-1]), spiffeID("default", "sleep")); verr != nil {
						r.err = verr
					} else {
						certs := parseChain(t, chain)
						r.issuerIsNew = bytes.Equal(certs[0].AuthorityKeyId, next.Signing.Cert.SubjectKeyId) && certs[1].Equal(next.Signing.Cert)
						if !r.issuerIsNew && !(bytes.Equal(certs[0].AuthorityKeyId, oldCA.SubjectKeyId) && certs[1].Equal(oldCA)) {
							r.err = errf("leaf issued by neither the old nor the new intermediate")
						}
					}
				}
				mu.Lock()
				results = append(results, r)
				mu.Unlock()
				time.Sleep(20 * time.Millisecond)
			}
		}(i, alg)
	}

	time.Sleep(2 * time.Second)
	if err := own.putCA(next); err != nil { // vault kv put, new intermediate, same root
		close(stop)
		wg.Wait()
		t.Fatal(err)
	}
	switched := time.Now()
	// Keep requesting until both agents saw the new issuer for a while.
	for time.Since(switched) < 30*time.Second {
		mu.Lock()
		n := 0
		for _, r := range results[max(0, len(results)-10):] {
			if r.issuerIsNew {
				n++
			}
		}
		mu.Unlock()
		if n == 10 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Second)
	close(stop)
	wg.Wait()

	var before, after, errs int
	sawNew := false
	for _, r := range results {
		switch {
		case r.err != nil:
			errs++
			if errs <= 3 {
				t.Errorf("request failed during rotation: %v", r.err)
			}
		case r.issuerIsNew:
			after++
			sawNew = true
		default:
			before++
			if sawNew {
				t.Errorf("an old-issuer certificate came after a new-issuer one")
			}
		}
	}
	t.Logf("%d requests: %d old issuer, %d new issuer, %d errors; vault kv put -> all new in <%v",
		len(results), before, after, errs, time.Since(switched).Round(time.Second))
	if before == 0 || after == 0 {
		t.Errorf("want certificates from both issuers, got old=%d new=%d", before, after)
	}
}

type errString string

func (e errString) Error() string { return string(e) }
func errf(s string) error         { return errString(s) }
