package interop

// TestReplicasRollDuringVaultOutage: three vaultca-server replicas behind
// one address, 64 istio-agent CA clients requesting continuously, Vault
// killed for longer than max_staleness, and a rolling restart (maxSurge 1,
// maxUnavailable 0) attempted during the outage and completed after it.
//
// The address is a loopback TCP balancer (rollBalancer) that behaves like
// a Kubernetes Service through kube-proxy: each new connection goes to a
// replica whose /ready answered 200 at the last check (every 200 ms), and
// established connections are left alone. An L4 balancer rather than
// several addresses in Istio's client because that is how istio-agent
// reaches istiod (one CA_ADDR, a Service), and because it makes the roll's
// cost visible: a replica that is SIGTERMed drains its clients (GOAWAY,
// UNAVAILABLE) and they reconnect through the balancer, with only Istio's
// retry interceptor between them and a failed request. Every request must
// end in a certificate: a CANCELLED from a draining replica fails the test
// too, since that interceptor never retries CANCELLED.
//
// The roll is driven as the Deployment controller does it: start a new
// replica, wait until it is ready, SIGTERM an old one, wait for its exit,
// repeat. A replica started while Vault is down must not be ready, so the
// roll waits (and every old replica keeps signing) until Vault is back.
//
//   INTEROP_SKIP_ROLL=1        skip
//   INTEROP_ROLL_CLIENTS=64    clients
//   INTEROP_ROLL_PACE=250ms    pause between one client's requests

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	mrand "math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	pkiutil "istio.io/istio/security/pkg/pki/util"

	"vaultca.dev/tests/interop/internal/agent"
	"vaultca.dev/tests/interop/internal/jwtutil"
	"vaultca.dev/tests/interop/internal/pki"
)

const (
	rollMaxStaleness = 5 * time.Second
	rollProbeEvery   = 200 * time.Millisecond
)

// ------------------------------------------------------------ replicas

// rollReplica is one vaultca-server process of the Deployment.
type rollReplica struct {
	name               string
	dir                string
	cmd                *exec.Cmd
	grpcPort, httpPort int
	started            time.Time
	done               chan struct{} // closed when the process has exited
	exitErr            error
	exitAt             time.Time
	terminated         atomic.Bool // SIGTERM sent by the roll
}

func (r *rollReplica) url(path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", r.httpPort, path)
}

func (r *rollReplica) exited() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

var probeClient = &http.Client{Timeout: time.Second}

// probe is the status code of GET path (0: no answer).
func (r *rollReplica) probe(path string) int {
	resp, err := probeClient.Get(r.url(path))
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func (r *rollReplica) logTail(n int) string {
	b, _ := os.ReadFile(filepath.Join(r.dir, "server.log"))
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// startRollReplica starts vaultca-server with fixed ports (so /live can be
// probed before the server prints them) and returns once the process runs.
func startRollReplica(e *environment, name string) (*rollReplica, error) {
	dir := filepath.Join(e.dir, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	vaultJWT, err := e.signer.Mint(jwtutil.Claims{Namespace: "istio-system", ServiceAccount: "istiod",
		PodName: name, PodUID: name + "-uid", Audiences: []string{"vault"}, Expiry: time.Now().Add(2 * time.Hour)})
	if err != nil {
		return nil, err
	}
	if err := jwtutil.WriteFile(filepath.Join(dir, "vault-sa.jwt"), []byte(vaultJWT)); err != nil {
		return nil, err
	}
	g, err := freePort()
	if err != nil {
		return nil, err
	}
	h, err := freePort()
	if err != nil {
		return nil, err
	}
	extra := fmt.Sprintf("  max_staleness: %s\n  startup_policy: keep-trying\n  startup_deadline: 2s\n", rollMaxStaleness)
	cfg := vaultcaConfig(e, dir, fmt.Sprintf("127.0.0.1:%d", g), fmt.Sprintf("127.0.0.1:%d", h), extra)
	cfgPath := filepath.Join(dir, "vaultca.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		return nil, err
	}
	r := &rollReplica{name: name, dir: dir, grpcPort: g, httpPort: h, done: make(chan struct{})}
	r.cmd = exec.Command(os.Getenv("VAULTCA_SERVER_BIN"), "--config="+cfgPath)
	r.cmd.Stdout, r.cmd.Stderr = logf, logf
	r.cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"VAULT_ADDR=" + e.vault.addr, "VAULT_CACERT=" + e.vault.caCert,
		"VAULT_AUTH_METHOD=jwt", "VAULT_PATH=jwt", "VAULT_ROLE=istiod",
		"VAULT_JWT_FILE=" + filepath.Join(dir, "vault-sa.jwt"),
	}
	if extra := os.Getenv("INTEROP_VAULTCA_EXTRA_ENV"); extra != "" {
		r.cmd.Env = append(r.cmd.Env, strings.Split(extra, ",")...)
	}
	r.started = time.Now()
	if err := r.cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	go func() {
		r.exitErr = r.cmd.Wait()
		r.exitAt = time.Now()
		logf.Close()
		close(r.done)
	}()
	return r, nil
}

// drainSummary is the line vaultca-server logs when its drain sends the
// GOAWAY (how long it held calls and answers, and what it released).
func drainSummary(r *rollReplica) string {
	b, _ := os.ReadFile(filepath.Join(r.dir, "server.log"))
	for _, line := range strings.Split(string(b), "\n") {
		if i := strings.Index(line, "draining: sent GOAWAY"); i >= 0 {
			return line[i:]
		}
	}
	return "no drain logged"
}

// waitStatus waits until GET path answers want; the time from process start.
func (r *rollReplica) waitStatus(path string, want int, within time.Duration) (time.Duration, error) {
	deadline := time.Now().Add(within)
	for {
		if r.probe(path) == want {
			return time.Since(r.started), nil
		}
		if r.exited() {
			return 0, fmt.Errorf("%s exited (%v) before %s answered %d", r.name, r.exitErr, path, want)
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s: %s did not answer %d within %v", r.name, path, want, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rollDraining counts replicas between SIGTERM and exit.
var rollDraining atomic.Int32

// terminate is the kubelet's SIGTERM; it waits for the exit.
func (r *rollReplica) terminate(within time.Duration) (time.Duration, error) {
	r.terminated.Store(true)
	rollDraining.Add(1)
	defer rollDraining.Add(-1)
	at := time.Now()
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return 0, err
	}
	select {
	case <-r.done:
		if r.exitErr != nil {
			return r.exitAt.Sub(at), fmt.Errorf("%s exited after SIGTERM with %v", r.name, r.exitErr)
		}
		return r.exitAt.Sub(at), nil
	case <-time.After(within):
		_ = r.cmd.Process.Kill()
		<-r.done
		return within, fmt.Errorf("%s did not exit within %v of SIGTERM", r.name, within)
	}
}

func (r *rollReplica) kill() {
	if !r.exited() {
		_ = r.cmd.Process.Kill()
		<-r.done
	}
}

// ------------------------------------------------------------ balancer

type rollBackend struct {
	r     *rollReplica
	ready atomic.Bool
	conns atomic.Int64
}

// rollBalancer forwards each accepted TCP connection to a backend whose
// /ready said 200 at its last check (round robin), like kube-proxy in
// front of a Service's ready endpoints.
type rollBalancer struct {
	ln       net.Listener
	mu       sync.Mutex
	backends []*rollBackend
	every    []*rollBackend // ever added, for the report
	next     int
	noReady  atomic.Int64 // connections closed for want of a ready backend
	evMu     sync.Mutex
	events   []string // connection and readiness events, for a failure's diagnosis
	stop     chan struct{}
	wg       sync.WaitGroup
}

func startRollBalancer() (*rollBalancer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b := &rollBalancer{ln: ln, stop: make(chan struct{})}
	b.wg.Add(2)
	go b.acceptLoop()
	go b.checkLoop()
	return b, nil
}

func (b *rollBalancer) port() int { return b.ln.Addr().(*net.TCPAddr).Port }

func (b *rollBalancer) add(r *rollReplica) *rollBackend {
	be := &rollBackend{r: r}
	b.mu.Lock()
	b.backends = append(b.backends, be)
	b.every = append(b.every, be)
	b.mu.Unlock()
	return be
}

func (b *rollBalancer) remove(r *rollReplica) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, be := range b.backends {
		if be.r == r {
			b.backends = append(b.backends[:i], b.backends[i+1:]...)
			return
		}
	}
}

func (b *rollBalancer) event(format string, args ...any) {
	b.evMu.Lock()
	b.events = append(b.events, time.Now().UTC().Format("15:04:05.000")+" "+fmt.Sprintf(format, args...))
	b.evMu.Unlock()
}

func (b *rollBalancer) snapshot() []*rollBackend {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*rollBackend(nil), b.backends...)
}

func (b *rollBalancer) checkLoop() {
	defer b.wg.Done()
	tick := time.NewTicker(rollProbeEvery)
	defer tick.Stop()
	for {
		var wg sync.WaitGroup
		for _, be := range b.snapshot() {
			wg.Add(1)
			go func(be *rollBackend) {
				defer wg.Done()
				code := be.r.probe("/ready")
				if was := be.ready.Swap(code == 200); was != (code == 200) {
					b.event("%s ready=%v (/ready %d)", be.r.name, !was, code)
				}
			}(be)
		}
		wg.Wait()
		select {
		case <-b.stop:
			return
		case <-tick.C:
		}
	}
}

// pick returns the ready backends, starting at the round-robin position.
func (b *rollBalancer) pick() []*rollBackend {
	b.mu.Lock()
	defer b.mu.Unlock()
	var ready []*rollBackend
	for _, be := range b.backends {
		if be.ready.Load() {
			ready = append(ready, be)
		}
	}
	if len(ready) == 0 {
		return nil
	}
	b.next++
	k := b.next % len(ready)
	return append(ready[k:], ready[:k]...)
}

func (b *rollBalancer) acceptLoop() {
	defer b.wg.Done()
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		go b.handle(c)
	}
}

func (b *rollBalancer) handle(client net.Conn) {
	for _, be := range b.pick() {
		up, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", be.r.grpcPort), time.Second)
		if err != nil {
			b.event("dial %s failed: %v", be.r.name, err)
			continue
		}
		be.conns.Add(1)
		from := client.RemoteAddr().String()
		b.event("conn %s -> %s", from, be.r.name)
		var up2down, down2up atomic.Int64
		done := make(chan struct{}, 2)
		cp := func(dst, src net.Conn, n *atomic.Int64) {
			c, _ := io.Copy(dst, src)
			n.Store(c)
			if tc, ok := dst.(*net.TCPConn); ok {
				_ = tc.CloseWrite()
			}
			done <- struct{}{}
		}
		go cp(up, client, &down2up)
		go cp(client, up, &up2down)
		<-done
		<-done
		b.event("closed %s -> %s (%d bytes up, %d down)", from, be.r.name, down2up.Load(), up2down.Load())
		up.Close()
		client.Close()
		return
	}
	b.noReady.Add(1)
	b.event("conn %s refused: no ready replica", client.RemoteAddr())
	client.Close()
}

func (b *rollBalancer) close() {
	close(b.stop)
	b.ln.Close()
	b.wg.Wait()
}

// ------------------------------------------------------------ the test

type rollStats struct {
	mu                 sync.Mutex
	sent, ok, failed   int
	verifyFail         int
	firstErrs          []string
	lat                latencies
	okDuringOutage     int
	failedDuringOutage int
}

func (s *rollStats) record(lat time.Duration, err string, verr string, outage bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent++
	switch {
	case err != "":
		s.failed++
		if outage {
			s.failedDuringOutage++
		}
		if len(s.firstErrs) < 5 {
			s.firstErrs = append(s.firstErrs, err)
		}
	case verr != "":
		s.verifyFail++
		if len(s.firstErrs) < 5 {
			s.firstErrs = append(s.firstErrs, verr)
		}
	default:
		s.ok++
		s.lat = append(s.lat, lat)
		if outage {
			s.okDuringOutage++
		}
	}
}

func (s *rollStats) okCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ok
}

// checkRollChain: Istio's VerifyCertificate against the one root, the
// root as the last element, the leaf signed by the intermediate in Vault.
func checkRollChain(chain []string, key []byte, rootPEM []byte, issuer *x509.Certificate, identity string) string {
	if len(chain) < 3 {
		return fmt.Sprintf("cert_chain has %d elements", len(chain))
	}
	if strings.TrimSpace(chain[len(chain)-1]) != strings.TrimSpace(string(rootPEM)) {
		return "last cert_chain element is not the root"
	}
	if _, err := agent.Verify(key, []byte(joinChain(chain[:len(chain)-1])), rootPEM, identity); err != nil {
		return "VerifyCertificate: " + err.Error()
	}
	block, _ := pem.Decode([]byte(chain[1]))
	if block == nil || string(block.Bytes) != string(issuer.Raw) {
		return "cert_chain[1] is not the intermediate in Vault"
	}
	return ""
}

func TestReplicasRollDuringVaultOutage(t *testing.T) {
	if os.Getenv("INTEROP_SKIP_ROLL") != "" {
		t.Skip("INTEROP_SKIP_ROLL is set: roll-during-outage test skipped on request")
	}
	nClients := envInt("INTEROP_ROLL_CLIENTS", 64)
	pace := envDuration("INTEROP_ROLL_PACE", 250*time.Millisecond)
	testStart := time.Now()

	dir := filepath.Join(env.dir, "roll")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	// Its own Vault (file storage: a killed Vault restarts with its data,
	// sealed), so the shared environment is never disturbed.
	cv, err := startChaosVault(os.Getenv("VAULTCA_VAULT_BIN"), filepath.Join(dir, "vault"))
	if cv != nil {
		defer cv.stopNow()
	}
	if err != nil {
		t.Fatalf("vault: %v", err)
	}
	seed := &environment{dir: dir, signer: env.signer, vault: cv.vaultServer, kube: env.kube, kfix: env.kfix}
	if err := seed.seedVault(); err != nil {
		t.Fatalf("seeding: %v", err)
	}
	root, err := pki.NewRoot("Roll Root CA", false)
	if err != nil {
		t.Fatal(err)
	}
	mat, err := pki.NewIntermediate(root, "Roll Intermediate", false, signingCALife)
	if err != nil {
		t.Fatal(err)
	}
	if err := seed.putCA(mat); err != nil {
		t.Fatal(err)
	}
	if err := jwtutil.WriteFile(filepath.Join(dir, "jwks.json"), env.signer.JWKS()); err != nil {
		t.Fatal(err)
	}
	rootFile := filepath.Join(dir, "root-cert.pem")
	if err := os.WriteFile(rootFile, root.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}

	var all []*rollReplica
	var allMu sync.Mutex
	start := func(name string) (*rollReplica, error) {
		r, err := startRollReplica(seed, name)
		if err == nil {
			allMu.Lock()
			all = append(all, r)
			allMu.Unlock()
		}
		return r, err
	}
	defer func() {
		allMu.Lock()
		defer allMu.Unlock()
		for _, r := range all {
			r.kill()
			if t.Failed() {
				t.Logf("---- tail of %s's log ----\n%s", r.name, r.logTail(3000))
			}
		}
	}()

	bal, err := startRollBalancer()
	if err != nil {
		t.Fatal(err)
	}
	defer bal.close()

	// The Deployment at rest: 3 ready replicas.
	var old []*rollReplica
	for i := 0; i < 3; i++ {
		r, err := start(fmt.Sprintf("replica-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		old = append(old, r)
		bal.add(r)
	}
	for _, r := range old {
		if _, err := r.waitStatus("/ready", 200, 60*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	for _, be := range bal.snapshot() {
		for !be.ready.Load() {
			time.Sleep(20 * time.Millisecond)
		}
	}

	// Clients: istio-agent's citadel client (its retry interceptor
	// included), one address: the balancer.
	tokenPath := filepath.Join(dir, "istio-token")
	tok, _ := env.signer.Mint(jwtutil.Claims{Namespace: "default", ServiceAccount: "sleep", PodName: "sleep-1",
		PodUID: "sleep-uid-1", Audiences: []string{"istio-ca"}, Expiry: time.Now().Add(2 * time.Hour)})
	if err := jwtutil.WriteFile(tokenPath, []byte(tok)); err != nil {
		t.Fatal(err)
	}
	identity := spiffeID("default", "sleep")
	st := &rollStats{}
	var outage atomic.Bool
	stopClients := make(chan struct{})
	var stopOnce sync.Once
	stopAll := func() { stopOnce.Do(func() { close(stopClients) }) }
	defer stopAll()
	var clientsWG sync.WaitGroup
	addr := fmt.Sprintf("localhost:%d", bal.port())
	for i := 0; i < nClients; i++ {
		clientsWG.Add(1)
		go func(id int) {
			defer clientsWG.Done()
			client, opts, err := agent.NewCitadelClient(agent.Config{
				CAAddr: addr, RootCertFile: rootFile, TokenFile: tokenPath,
				Namespace: "default", ServiceAccount: "sleep", ECCSigAlg: "ECDSA",
			})
			if err != nil {
				st.record(0, fmt.Sprintf("client %d: %v", id, err), "", false)
				return
			}
			defer client.Close()
			for {
				select {
				case <-stopClients:
					return
				default:
				}
				csr, key, err := pkiutil.GenCSR(agent.CertOptions(opts))
				if err != nil {
					st.record(0, err.Error(), "", false)
					return
				}
				during := outage.Load()
				drainingBefore := rollDraining.Load()
				t0 := time.Now()
				chain, err := client.CSRSign(csr, 3600)
				lat := time.Since(t0)
				if err != nil {
					// Every failure counts, CANCELLED included: a replica
					// draining must not let a call reach gRPC's window
					// between shutdown and GOAWAY (README, "Running
					// vaultca-server"), since Istio's retry interceptor
					// never retries CANCELLED.
					st.record(lat, fmt.Sprintf("client %d, call at %s UTC, failed after %v (replicas draining: %d at the call, %d after): %v: %v",
						id, t0.UTC().Format("15:04:05.000"), lat.Round(time.Millisecond), drainingBefore,
						rollDraining.Load(), codeOf(err), err), "", during)
				} else {
					st.record(lat, "", checkRollChain(chain, key, root.CertPEM, mat.Signing.Cert, identity), during)
				}
				time.Sleep(pace/2 + time.Duration(mrand.Int63n(int64(pace))))
			}
		}(i)
		time.Sleep(10 * time.Millisecond)
	}
	// Warm: every client has had time for at least one certificate.
	for deadline := time.Now().Add(60 * time.Second); st.okCount() < 2*nClients; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("clients not warm within 60s: %d certificates", st.okCount())
		}
	}

	// Readiness of every replica, sampled every 100 ms by the test (apart
	// from the balancer's own checks): per replica, samples taken while
	// Vault was down and their non-200 count.
	type readySamples struct {
		n, not200, ok200 int
		whileStale       int // samples taken once the replica reported stale material
		codes            map[int]int
	}
	var outageSamples sync.Map // *rollReplica -> *readySamples
	var staleAt sync.Map       // *rollReplica -> time vaultca_ca_material_stale was seen 1
	stopSampler := make(chan struct{})
	samplerDone := make(chan struct{})
	go func() {
		defer close(samplerDone)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stopSampler:
				return
			case <-tick.C:
			}
			if !outage.Load() {
				continue
			}
			allMu.Lock()
			rs := append([]*rollReplica(nil), all...)
			allMu.Unlock()
			for _, r := range rs {
				if r.terminated.Load() || r.exited() {
					continue
				}
				_, stale := staleAt.Load(r)
				code := r.probe("/ready")
				if !outage.Load() { // Vault's unseal began during the probe
					break
				}
				v, _ := outageSamples.LoadOrStore(r, &readySamples{codes: map[int]int{}})
				s := v.(*readySamples)
				s.n++
				s.codes[code]++
				if stale {
					s.whileStale++
				}
				if code == 200 {
					s.ok200++
				} else {
					s.not200++
				}
			}
		}
	}()
	defer func() {
		select {
		case <-stopSampler:
		default:
			close(stopSampler)
		}
		<-samplerDone
	}()

	// Any replica that exits without being told to is a server bug.
	unexpectedExit := func() error {
		allMu.Lock()
		defer allMu.Unlock()
		for _, r := range all {
			if r.exited() && !r.terminated.Load() {
				return fmt.Errorf("%s exited on its own: %v", r.name, r.exitErr)
			}
		}
		return nil
	}

	// ---- Vault down.
	cv.stopNow()
	outage.Store(true)
	down := time.Now()
	t.Logf("vault killed at +%v", down.Sub(testStart).Round(time.Millisecond))

	// The roll, as the Deployment controller does it (maxSurge 1,
	// maxUnavailable 0), in the background: it is attempted now.
	type rollStep struct {
		newName, oldName          string
		started, ready, oldExited time.Time
		liveIn, readyIn, drainIn  time.Duration
		// TLS handshake on the gRPC port the moment the replica is ready,
		// and how long after readiness the first one succeeds.
		handshakeAtReady string
		handshakeLag     time.Duration
	}
	var steps []*rollStep
	var stepsMu sync.Mutex
	rollErr := make(chan error, 1)
	firstNew := make(chan *rollReplica, 1)
	go func() {
		for i, o := range old {
			s := &rollStep{newName: fmt.Sprintf("replica-%d", 3+i), oldName: o.name}
			stepsMu.Lock()
			steps = append(steps, s)
			stepsMu.Unlock()
			n, err := start(s.newName)
			if err != nil {
				rollErr <- err
				return
			}
			s.started = n.started
			be := bal.add(n)
			if i == 0 {
				firstNew <- n
			}
			if s.liveIn, err = n.waitStatus("/live", 200, 30*time.Second); err != nil {
				rollErr <- err
				return
			}
			// Ready as the Service sees it (the balancer's check).
			for deadline := time.Now().Add(90 * time.Second); !be.ready.Load(); time.Sleep(10 * time.Millisecond) {
				if n.exited() {
					rollErr <- fmt.Errorf("%s exited (%v) before it was ready", n.name, n.exitErr)
					return
				}
				if time.Now().After(deadline) {
					rollErr <- fmt.Errorf("%s not ready within 90s", n.name)
					return
				}
			}
			stepsMu.Lock()
			s.ready = time.Now()
			stepsMu.Unlock()
			s.readyIn = s.ready.Sub(n.started)
			if err := servingHandshake(n.grpcPort, root.CertPEM); err != nil {
				s.handshakeAtReady = err.Error()
				for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
					if servingHandshake(n.grpcPort, root.CertPEM) == nil {
						s.handshakeLag = time.Since(s.ready)
						break
					}
				}
			}
			if s.drainIn, err = o.terminate(40 * time.Second); err != nil {
				rollErr <- err
				return
			}
			s.oldExited = time.Now()
			bal.remove(o)
		}
		rollErr <- nil
	}()

	// The surge replica, started while Vault is down: alive at once, not
	// ready.
	var surge *rollReplica
	select {
	case surge = <-firstNew:
	case err := <-rollErr:
		t.Fatalf("roll: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("roll did not start a replica")
	}
	liveIn, err := surge.waitStatus("/live", 200, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// The outage lasts until every old replica has reported its material
	// stale (no successful refresh for longer than max_staleness) for 2 s,
	// Vault has been down for max_staleness + 2 s, and the surge replica
	// has been alive, and not ready, for 2 s.
	liveAt := time.Now()
	staleSeen := map[string]time.Duration{}
	var allStale time.Time
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if err := unexpectedExit(); err != nil {
			t.Fatal(err)
		}
		for _, r := range old {
			if _, ok := staleSeen[r.name]; ok {
				continue
			}
			if m, err := scrape(r.httpPort); err == nil && m["vaultca_ca_material_stale"] == 1 {
				staleSeen[r.name] = time.Since(down)
				staleAt.Store(r, time.Now())
			}
		}
		if len(staleSeen) == len(old) && allStale.IsZero() {
			allStale = time.Now()
		}
		if !allStale.IsZero() && time.Since(allStale) >= 2*time.Second &&
			time.Since(down) >= rollMaxStaleness+2*time.Second && time.Since(liveAt) >= 2*time.Second {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("old replicas never reported stale material 30s into the outage (seen: %v)", staleSeen)
		}
	}
	// Nothing of the roll may have happened beyond the surge.
	stepsMu.Lock()
	if len(steps) != 1 || !steps[0].ready.IsZero() {
		stepsMu.Unlock()
		t.Fatalf("the roll went past its first step while Vault was down")
	}
	stepsMu.Unlock()
	surgeReadyDuringOutage := surge.probe("/ready")
	surgeHealth := grpcHealth(surge.grpcPort)

	// ---- Vault back: restarted on its storage (sealed), then unsealed.
	if err := cv.start(); err != nil {
		t.Fatalf("vault restart: %v", err)
	}
	// Vault's return is the unseal (it serves nothing before): the
	// readiness samples of the outage end here.
	back := time.Now()
	outage.Store(false)
	if err := cv.unseal(); err != nil {
		t.Fatalf("unseal: %v", err)
	}
	outageLen := back.Sub(down)
	t.Logf("vault unsealed at +%v (unseal began after %v down, active %v later)", time.Since(testStart).Round(time.Millisecond),
		outageLen.Round(time.Millisecond), time.Since(back).Round(time.Millisecond))
	close(stopSampler)
	<-samplerDone

	// Fresh material on each old replica: its last successful refresh
	// after Vault's return (unless the roll stopped it first).
	freshIn := map[string]string{}
	var freshWG sync.WaitGroup
	var freshMu sync.Mutex
	for _, r := range old {
		freshWG.Add(1)
		go func(r *rollReplica) {
			defer freshWG.Done()
			res := ""
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
				if r.terminated.Load() {
					res = "terminated by the roll before its next refresh"
					break
				}
				m, err := scrape(r.httpPort)
				if err == nil {
					ts := m["vaultca_ca_last_successful_refresh_timestamp"]
					if ts > float64(back.UnixNano())/1e9 {
						at := time.Unix(0, int64(ts*1e9))
						res = fmt.Sprintf("%v (stale=%v)", at.Sub(back).Round(time.Millisecond), m["vaultca_ca_material_stale"])
						break
					}
				}
				if time.Now().After(deadline) {
					res = "NOT FRESH 30s after Vault's return"
					break
				}
			}
			freshMu.Lock()
			freshIn[r.name] = res
			freshMu.Unlock()
		}(r)
	}

	// The roll completes.
	select {
	case err := <-rollErr:
		if err != nil {
			t.Fatalf("roll: %v", err)
		}
	case <-time.After(120 * time.Second):
		t.Fatal("roll did not complete within 120s of Vault's return")
	}
	rollDone := time.Now()
	freshWG.Wait()
	// A little load on the new replicas alone.
	okAtRoll := st.okCount()
	for deadline := time.Now().Add(30 * time.Second); st.okCount() < okAtRoll+nClients; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no load served after the roll")
		}
	}
	stopAll()
	clientsWG.Wait()
	if err := unexpectedExit(); err != nil {
		t.Fatal(err)
	}

	// ---- Report.
	st.mu.Lock()
	defer st.mu.Unlock()
	measured(t, "requests sent %d, ok %d, failed %d (after Istio's retries), verify failures %d; during the outage: ok %d, failed %d",
		st.sent, st.ok, st.failed, st.verifyFail, st.okDuringOutage, st.failedDuringOutage)
	measured(t, "latency p50 %v, p99 %v, max %v (%d clients, pace %v)", st.lat.pct(0.5).Round(100*time.Microsecond),
		st.lat.pct(0.99).Round(100*time.Microsecond), st.lat.pct(1).Round(100*time.Microsecond), nClients, pace)
	measured(t, "vault down %v (max_staleness %v); stale reported after %v", outageLen.Round(time.Millisecond), rollMaxStaleness, staleSeen)
	measured(t, "start-up of %s while Vault was down: process start to /live 200 in %v", surge.name, liveIn.Round(time.Millisecond))
	for _, r := range old {
		measured(t, "Vault's return to fresh material on %s: %s", r.name, freshIn[r.name])
	}
	stepsMu.Lock()
	for _, s := range steps {
		measured(t, "roll step %s -> %s: /live in %v, ready %v after start (%v after Vault's return), old replica drained and exited in %v",
			s.oldName, s.newName, s.liveIn.Round(time.Millisecond), s.readyIn.Round(time.Millisecond),
			s.ready.Sub(back).Round(time.Millisecond), s.drainIn.Round(time.Millisecond))
		if s.handshakeAtReady != "" {
			measured(t, "roll step %s -> %s: TLS handshake on %s's gRPC port failed when it was first ready (%s); first success %v after readiness",
				s.oldName, s.newName, s.newName, s.handshakeAtReady, s.handshakeLag.Round(time.Millisecond))
		}
	}
	stepsMu.Unlock()
	measured(t, "roll completed %v after Vault's return; balancer connections per replica: %s; refused for want of a ready replica: %d",
		rollDone.Sub(back).Round(time.Millisecond), connCounts(bal), bal.noReady.Load())

	for _, r := range old {
		measured(t, "drain of %s: %s", r.name, drainSummary(r))
	}

	// ---- Assertions.
	var errs []string
	if st.failed != 0 {
		errs = append(errs, fmt.Sprintf("%d request(s) failed at Istio's client: %v", st.failed, st.firstErrs))
	}
	if st.verifyFail != 0 {
		errs = append(errs, fmt.Sprintf("%d certificate(s) did not verify under the root: %v", st.verifyFail, st.firstErrs))
	}
	if st.okDuringOutage == 0 {
		errs = append(errs, "no certificate issued while Vault was down")
	}
	for _, r := range old {
		v, ok := outageSamples.Load(r)
		if !ok {
			errs = append(errs, fmt.Sprintf("%s: no readiness sample during the outage", r.name))
			continue
		}
		s := v.(*readySamples)
		measured(t, "readiness of %s while Vault was down: %d/%d samples 200 (%d of them with stale material)", r.name, s.ok200, s.n, s.whileStale)
		if s.not200 != 0 {
			errs = append(errs, fmt.Sprintf("%s (valid material) not ready in %d of %d samples while Vault was down: %v", r.name, s.not200, s.n, s.codes))
		}
		if s.whileStale < 5 {
			errs = append(errs, fmt.Sprintf("%s: only %d readiness sample(s) once its material was stale", r.name, s.whileStale))
		}
	}
	if v, ok := outageSamples.Load(surge); !ok {
		errs = append(errs, fmt.Sprintf("%s: no readiness sample during the outage", surge.name))
	} else {
		s := v.(*readySamples)
		measured(t, "readiness of %s (started while Vault was down): %d/%d samples not ready (status codes %v; 0 = no answer yet)", surge.name, s.not200, s.n, s.codes)
		measured(t, "gRPC health of %s while Vault was down: %s", surge.name, surgeHealth)
		if surgeHealth == "SERVING" {
			errs = append(errs, fmt.Sprintf("%s, started without Vault, answered gRPC health SERVING", surge.name))
		}
		if s.ok200 != 0 || surgeReadyDuringOutage == 200 {
			errs = append(errs, fmt.Sprintf("%s, started without Vault, was ready in %d sample(s) before Vault came back", surge.name, s.ok200))
		}
	}
	stepsMu.Lock()
	if steps[0].ready.Before(back) {
		errs = append(errs, "the roll's first replica was ready before Vault came back")
	}
	for _, s := range steps {
		if s.handshakeAtReady != "" {
			errs = append(errs, fmt.Sprintf("%s said ready (/ready 200) but its gRPC port refused a TLS handshake (%s) for %v more: clients sent to it fail",
				s.newName, s.handshakeAtReady, s.handshakeLag.Round(time.Millisecond)))
		}
	}
	stepsMu.Unlock()
	for _, r := range old {
		if strings.HasPrefix(freshIn[r.name], "NOT FRESH") {
			errs = append(errs, r.name+": "+freshIn[r.name])
		}
	}
	for _, e := range errs {
		t.Error(e)
	}
	if t.Failed() {
		bal.evMu.Lock()
		f := filepath.Join(os.TempDir(), "roll-balancer-events.log")
		_ = os.WriteFile(f, []byte(strings.Join(bal.events, "\n")+"\n"), 0o644)
		t.Logf("balancer events (%d) in %s", len(bal.events), f)
		bal.evMu.Unlock()
	}
	t.Logf("TestReplicasRollDuringVaultOutage took %v", time.Since(testStart).Round(time.Millisecond))
}

// measured prints a figure at the start of a line of the test log.
func measured(t *testing.T, format string, args ...any) {
	t.Helper()
	fmt.Printf("MEASURED: "+format+"\n", args...)
}

// servingHandshake completes a TLS handshake with a replica's gRPC port
// as istio-agent would (root of the mesh, istiod.istio-system.svc, h2).
func servingHandshake(port int, rootPEM []byte) error {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(rootPEM)
	d := &net.Dialer{Timeout: time.Second}
	c, err := tls.DialWithDialer(d, "tcp", fmt.Sprintf("127.0.0.1:%d", port),
		&tls.Config{RootCAs: pool, ServerName: "istiod.istio-system.svc", NextProtos: []string{"h2"}})
	if err != nil {
		return err
	}
	return c.Close()
}

// grpcHealth is the gRPC health status of a replica, checked over TLS
// without verifying its serving certificate (it may have none yet).
func grpcHealth(port int) string {
	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", port),
		grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{InsecureSkipVerify: true})))
	if err != nil {
		return "dial: " + err.Error()
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		msg := err.Error()
		if len(msg) > 160 {
			msg = msg[:160] + "..."
		}
		return "no answer: " + msg
	}
	return resp.GetStatus().String()
}

func connCounts(b *rollBalancer) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var parts []string
	for _, be := range b.every {
		parts = append(parts, fmt.Sprintf("%s %d", be.r.name, be.conns.Load()))
	}
	return strings.Join(parts, ", ")
}
