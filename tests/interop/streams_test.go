package interop

// The server's bound on concurrent calls per connection, seen from the wire
// (a raw HTTP/2 client, see chaos_h2_test.go) and from Istio's own client.

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"vaultca.dev/tests/interop/internal/agent"
	"vaultca.dev/tests/interop/internal/h2raw"
)

// TestStreamsPerConnectionBounded: vaultca advertises
// SETTINGS_MAX_CONCURRENT_STREAMS = limits.max_streams_per_connection
// (default 4), so a burst over few connections waits in the clients rather
// than as open calls holding memory in the server. Istio's own client
// (grpc-go) honours it: 64 concurrent CSRs over one connection all get a
// certificate. A client that ignores it is cut off by gRPC core (1.51
// treats the extra stream as a connection error); that is logged, and the
// server must go on answering new connections.
func TestStreamsPerConnectionBounded(t *testing.T) {
	rootPEM, err := os.ReadFile(env.vcaRoot)
	if err != nil {
		t.Fatal(err)
	}
	in, err := newH2Input(newH2Target(env.vca.grpcPort, rootPEM))
	if err != nil {
		t.Fatal(err)
	}
	c, err := in.target.dial()
	if err != nil {
		t.Fatal(err)
	}
	limit, ok := c.Setting(http2.SettingMaxConcurrentStreams)
	if !ok || limit != 4 {
		c.Close()
		t.Fatalf("SETTINGS_MAX_CONCURRENT_STREAMS = %d (sent: %v), want the default 4", limit, ok)
	}
	// Fill the connection with calls that have sent their headers but not
	// their body, then open one more.
	var open []*h2raw.Stream
	for i := 0; i < int(limit); i++ {
		s, err := c.Open(in.base(), false, true)
		if err != nil {
			t.Fatalf("stream %d of %d: %v", i+1, limit, err)
		}
		open = append(open, s)
	}
	if s, err := c.Open(in.base(), false, true); err == nil {
		_ = s.Data(in.body, true)
		o, d := h2Outcome(s.Wait(5 * time.Second))
		if o == "cert" || o == "hang" {
			t.Errorf("stream %d over the advertised limit: %s (%s)", limit+1, o, d)
		}
		t.Logf("stream %d over the advertised limit: %s (%.200s)", limit+1, o, d)
	}
	for _, s := range open {
		_ = s.Data(in.body, true)
	}
	c.Close()

	client, opts, err := agent.NewCitadelClient(agentConfig(targets()[0], sleepToken(t), "ECDSA"))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	const calls = 64
	var wg sync.WaitGroup
	var failed atomic.Int32
	for i := 0; i < calls; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			chain, key, err := agent.SignRaw(client, opts, 3600)
			if err == nil && len(chain) < 2 {
				err = fmt.Errorf("cert_chain has %d elements", len(chain))
			}
			if err == nil {
				_, err = agent.Verify(key, []byte(joinChain(chain[:len(chain)-1])), rootPEM, spiffeID("default", "sleep"))
			}
			if err != nil && failed.Add(1) <= 3 {
				t.Errorf("one of %d concurrent calls on one connection: %v", calls, err)
			}
		}()
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Errorf("%d of %d concurrent calls on one connection failed", n, calls)
	}
}
