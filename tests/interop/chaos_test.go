package interop

// Chaos under load. 64 istio-agent CA clients (Istio's own
// citadel client) request certificates continuously from a dedicated
// vaultca-server while, on a schedule, its Vault is rotated, sealed,
// restarted, has the server's token revoked, is slowed down and reset
// through a TCP fault proxy, blackholed (connections held, nothing
// answered), and serves corrupted CA material; a "bad input" client sends
// malformed and hostile requests alongside, through grpc-go and, for what
// grpc-go will not send, as raw HTTP/2 frames (chaos_h2_test.go).
//
// The design (ca/caching/caching_ca.h) promises that Vault faults never
// fail a request: the CA keeps signing with the last good material, and
// rejected material is never put in service. So every phase asserts ZERO
// failed good requests, every certificate verifies with Istio's
// VerifyCertificate against the trust bundle and names a valid
// intermediate as issuer, and each fault is proven to have happened
// (vaultca's own refresh-failure counters move).
//
//   INTEROP_SKIP_CHAOS=1          skip (the only way; never skipped silently)
//   INTEROP_CHAOS_DURATION=10m    run the fault cycle repeatedly (default 90s)
//   INTEROP_CHAOS_CLIENTS=64      good clients
//   INTEROP_CHAOS_PACE=250ms      pause between one client's requests
//   INTEROP_CHAOS_STRICT=1        known issues fail instead of being logged
//   INTEROP_CHAOS_VAULT_TIMEOUT=15s  vaultca's VAULT_CLIENT_TIMEOUT (the
//                                 blackhole phase lasts 4 s longer)

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	mrand "math/rand"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	pb "istio.io/api/security/v1alpha1"
	pkiutil "istio.io/istio/security/pkg/pki/util"

	"vaultca.dev/tests/interop/internal/agent"
	"vaultca.dev/tests/interop/internal/faultproxy"
	"vaultca.dev/tests/interop/internal/jwtutil"
	"vaultca.dev/tests/interop/internal/pki"
)

func envDuration(name string, def time.Duration) time.Duration {
	if v := os.Getenv(name); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			return d
		}
	}
	return def
}

func envInt(name string, def int) int {
	if v := os.Getenv(name); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			return n
		}
	}
	return def
}

// ------------------------------------------------------------ Vault

// chaosVault is a real, non-dev Vault server: file storage (so a restart
// keeps its data and comes back sealed, as in production), TLS with a
// certificate for 127.0.0.1/localhost made here (stable across restarts,
// unlike -dev-tls's), one unseal key.
type chaosVault struct {
	*vaultServer
	cfg, unsealKey string
	port           int
	tlsCfg         *tls.Config
}

func writePEM(path, typ string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}

// vaultTLS writes a CA and a serving certificate for 127.0.0.1/localhost.
func vaultTLS(dir string) (caFile, certFile, keyFile string, err error) {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caT := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "chaos vault TLS CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caT, caT, caKey.Public(), caKey)
	if err != nil {
		return
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafT := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), DNSNames: []string{"localhost"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafT, caCert, key.Public(), caKey)
	if err != nil {
		return
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	caFile, certFile, keyFile = filepath.Join(dir, "vault-ca.pem"), filepath.Join(dir, "vault-cert.pem"), filepath.Join(dir, "vault-key.pem")
	if err = writePEM(caFile, "CERTIFICATE", caDER); err != nil {
		return
	}
	if err = writePEM(certFile, "CERTIFICATE", leafDER); err != nil {
		return
	}
	err = writePEM(keyFile, "EC PRIVATE KEY", keyDER)
	return
}

func startChaosVault(bin, dir string) (*chaosVault, error) {
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o700); err != nil {
		return nil, err
	}
	caFile, certFile, keyFile, err := vaultTLS(dir)
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cv := &chaosVault{port: port, cfg: filepath.Join(dir, "vault.hcl"),
		vaultServer: &vaultServer{bin: bin, dir: dir, caCert: caFile, addr: fmt.Sprintf("https://127.0.0.1:%d", port)}}
	hcl := fmt.Sprintf(`storage "file" { path = %q }
listener "tcp" {
  address       = "127.0.0.1:%d"
  tls_cert_file = %q
  tls_key_file  = %q
}
disable_mlock = true
api_addr      = "https://127.0.0.1:%d"
ui            = false
`, filepath.Join(dir, "data"), port, certFile, keyFile, port)
	if err := os.WriteFile(cv.cfg, []byte(hcl), 0o600); err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	caPEM, _ := os.ReadFile(caFile)
	pool.AppendCertsFromPEM(caPEM)
	cv.tlsCfg = &tls.Config{RootCAs: pool}
	if err := cv.start(); err != nil {
		return cv, err
	}
	out, err := cv.cli(nil, "operator", "init", "-key-shares=1", "-key-threshold=1", "-format=json")
	if err != nil {
		return cv, err
	}
	var init struct {
		Keys      []string `json:"unseal_keys_b64"`
		RootToken string   `json:"root_token"`
	}
	if err := json.Unmarshal([]byte(out), &init); err != nil || len(init.Keys) != 1 {
		return cv, fmt.Errorf("vault operator init: %v: %s", err, out)
	}
	cv.unsealKey, cv.rootToken = init.Keys[0], init.RootToken
	if err := cv.unseal(); err != nil {
		return cv, err
	}
	if _, err := cv.cli(nil, "secrets", "enable", "-path=secret", "kv-v2"); err != nil {
		return cv, err
	}
	return cv, nil
}

// health is GET /v1/sys/health's status code (0: unreachable).
func (cv *chaosVault) health() int {
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: cv.tlsCfg}}
	resp, err := c.Get(cv.addr + "/v1/sys/health")
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// start runs the server and waits until it answers (sealed or not).
func (cv *chaosVault) start() error {
	logf, err := os.OpenFile(filepath.Join(cv.dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cv.cmd = exec.Command(cv.bin, "server", "-config="+cv.cfg)
	cv.cmd.Stdout, cv.cmd.Stderr = logf, logf
	cv.cmd.Env = append(os.Environ(), "VAULT_LOG_LEVEL=warn")
	if err := cv.cmd.Start(); err != nil {
		return err
	}
	go func() { _, _ = cv.cmd.Process.Wait(); logf.Close() }()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if cv.health() != 0 {
			return nil
		}
	}
	return fmt.Errorf("vault did not answer within 60s")
}

func (cv *chaosVault) stopNow() {
	if cv.cmd != nil && cv.cmd.Process != nil {
		_ = cv.cmd.Process.Kill()
		for i := 0; i < 100 && cv.health() != 0; i++ {
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func (cv *chaosVault) unseal() error {
	if _, err := cv.cli(nil, "operator", "unseal", cv.unsealKey); err != nil {
		return err
	}
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if cv.health() == 200 {
			return nil
		}
	}
	return fmt.Errorf("vault not active 30s after unseal")
}

// nonRootAccessors lists the accessors of every token but the root's.
func (cv *chaosVault) nonRootAccessors() ([]string, error) {
	out, err := cv.cli(nil, "token", "lookup", "-format=json")
	if err != nil {
		return nil, err
	}
	var self struct {
		Data struct {
			Accessor string `json:"accessor"`
		} `json:"data"`
	}
	if err := json.Unmarshal([]byte(out), &self); err != nil {
		return nil, err
	}
	out, err = cv.cli(nil, "list", "-format=json", "auth/token/accessors")
	if err != nil {
		return nil, err
	}
	var all []string
	if err := json.Unmarshal([]byte(out), &all); err != nil {
		return nil, err
	}
	var rest []string
	for _, a := range all {
		if a != self.Data.Accessor {
			rest = append(rest, a)
		}
	}
	return rest, nil
}

// ------------------------------------------------------------ metrics, /proc

func scrape(port int) (map[string]float64, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	m := map[string]float64{}
	for _, line := range strings.Split(buf.String(), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			m[line[:i]] = v
		}
	}
	return m, nil
}

func procRSSKiB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			f := strings.Fields(line)
			if len(f) >= 2 {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				return n
			}
		}
	}
	return -1
}

func procFDs(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(ents)
}

// ------------------------------------------------------------ per-phase stats

type latencies []time.Duration

func (l latencies) pct(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := append(latencies(nil), l...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(p * float64(len(s)-1))
	return s[i]
}

type phaseStats struct {
	name       string
	start, end time.Time
	bad        bool // bad-input client running

	requests, ok                       int
	failByCode                         map[codes.Code]int
	verifyFail, unknownIssuer, regress int
	firstErrs                          []string
	lat                                latencies
	issuers                            map[int]int
	notReady                           int // /ready samples != 200
	// At least one refresh-failure counter of these causes must move.
	causes                      []string
	metricsBefore, metricsAfter map[string]float64
	notes                       []string
}

func (p *phaseStats) delta(key string) float64 { return p.metricsAfter[key] - p.metricsBefore[key] }

type sample struct {
	at     time.Time
	phase  int
	rssKiB int64
	fds    int
}

// chaosConfig is what the INTEROP_CHAOS_* variables set.
type chaosConfig struct {
	total   time.Duration // the whole run; the fault cycle repeats to fill it
	clients int
	pace    time.Duration
	strict  bool
	// vaultca's whole-operation Vault deadline (retries included). Its
	// default, 60 s (with 10 s per connect and 30 s per attempt), would
	// make the blackhole phase a minute long; 15 s still leaves room for
	// the latency phase, whose reads take 4-6 s.
	vaultTimeout time.Duration
}

func chaosConfigFromEnv() chaosConfig {
	return chaosConfig{
		total:        envDuration("INTEROP_CHAOS_DURATION", 90*time.Second),
		clients:      envInt("INTEROP_CHAOS_CLIENTS", 64),
		pace:         envDuration("INTEROP_CHAOS_PACE", 250*time.Millisecond),
		strict:       os.Getenv("INTEROP_CHAOS_STRICT") != "",
		vaultTimeout: envDuration("INTEROP_CHAOS_VAULT_TIMEOUT", 15*time.Second),
	}
}

// chaosRun is the shared state of one TestChaos run.
type chaosRun struct {
	t       *testing.T
	cfg     chaosConfig
	vault   *chaosVault
	proxy   *faultproxy.Proxy
	vca     *vaultcaServer
	pid     int          // vaultca-server's
	seed    *environment // the chaos Vault, as the harness's seeding helpers see it
	root    *pki.CA
	rootPEM []byte
	rootRef string // vaultca's published root file (the clients' CA_ROOT_CA)
	mat     *pki.Material
	nextN   int
	// The good clients' token file.
	tokenPath string

	// Problems found, reported with t.Error at the end so that a fault
	// phase never cuts the run short. Used by the test goroutine only.
	errs []string

	// The load. stop* are closed once, by stopLoad or when the test ends
	// (on t.Fatal too), so no load goroutine outlives the test.
	stopGood, stopBad, stopSampler chan struct{}
	stopGoodOnce, stopBadOnce      sync.Once
	stopSamplerOnce                sync.Once
	goodWG, badWG, samplerWG       sync.WaitGroup
	paused                         atomic.Bool // bad input paused
	badConn                        *grpc.ClientConn
	badSt                          *badStats
	h2St                           *h2Stats
	loadStart                      time.Time // after warm-up
	fdIdle                         int       // vaultca's fds before the load

	mu        sync.Mutex
	phases    []*phaseStats
	issuers   map[string]int // DER of a valid intermediate -> index
	issuerCN  map[int]string
	firstSeen map[int]time.Time
	samples   []sample
	phaseIdx  atomic.Int32
}

func (r *chaosRun) cur() int { return int(r.phaseIdx.Load()) }

func (r *chaosRun) record(phase int, lat time.Duration, code codes.Code, verr string, issuer int, regress bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.phases[phase]
	p.requests++
	switch {
	case code != codes.OK:
		p.failByCode[code]++
		if len(p.firstErrs) < 3 {
			p.firstErrs = append(p.firstErrs, verr)
		}
	case verr != "":
		if issuer == -1 {
			p.unknownIssuer++
		} else {
			p.verifyFail++
		}
		if len(p.firstErrs) < 3 {
			p.firstErrs = append(p.firstErrs, verr)
		}
	default:
		p.ok++
		p.lat = append(p.lat, lat)
		p.issuers[issuer]++
		if _, seen := r.firstSeen[issuer]; !seen {
			r.firstSeen[issuer] = time.Now()
		}
	}
	if regress {
		p.regress++
	}
}

// addIssuer registers a valid intermediate before it is put in Vault.
func (r *chaosRun) addIssuer(m *pki.Material) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(r.issuerCN)
	r.issuers[string(m.Signing.Cert.Raw)] = n
	r.issuerCN[n] = m.Signing.Cert.Subject.CommonName
	return n
}

func (r *chaosRun) issuerOf(der []byte) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if n, ok := r.issuers[string(der)]; ok {
		return n
	}
	return -1
}

// rotate puts a new valid intermediate under the same root in Vault and
// waits until good clients receive certificates from it.
func (r *chaosRun) rotate(within time.Duration) error {
	r.nextN++
	m, err := pki.NewIntermediate(r.root, fmt.Sprintf("Chaos Intermediate %d", r.nextN), r.nextN%2 == 0, signingCALife)
	if err != nil {
		return err
	}
	n := r.addIssuer(m)
	put := time.Now()
	if err := r.seed.putCA(m); err != nil {
		return fmt.Errorf("vault kv put: %v", err)
	}
	r.mat = m
	for time.Since(put) < within {
		r.mu.Lock()
		at, ok := r.firstSeen[n]
		r.mu.Unlock()
		if ok {
			r.note("rotation to %q served %v after vault kv put", m.Signing.Cert.Subject.CommonName, at.Sub(put).Round(10*time.Millisecond))
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("rotation to %q not served within %v of vault kv put", m.Signing.Cert.Subject.CommonName, within)
}

func (r *chaosRun) note(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.phases[r.cur()]
	p.notes = append(p.notes, fmt.Sprintf(format, args...))
}

// kvPut writes arbitrary key=value pairs at the CA path (corruption).
func (r *chaosRun) kvPut(kv map[string][]byte) error {
	d, err := os.MkdirTemp(r.seed.dir, "corrupt-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(d)
	args := []string{"kv", "put", kvPath}
	for k, v := range kv {
		f := filepath.Join(d, k)
		if err := os.WriteFile(f, v, 0o600); err != nil {
			return err
		}
		args = append(args, k+"=@"+f)
	}
	_, err = r.vault.cli(nil, args...)
	return err
}

// ------------------------------------------------------------ good clients

func (r *chaosRun) goodClient(id int, tokenPath string, pace time.Duration, stop <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	identity := spiffeID("default", "sleep")
	client, opts, err := agent.NewCitadelClient(agent.Config{
		CAAddr: r.vca.addr(), RootCertFile: r.rootRef, TokenFile: tokenPath,
		Namespace: "default", ServiceAccount: "sleep", ECCSigAlg: "ECDSA",
	})
	if err != nil {
		r.record(r.cur(), 0, codes.Unknown, fmt.Sprintf("client %d: %v", id, err), 0, false)
		return
	}
	defer client.Close()
	last := -1
	for {
		select {
		case <-stop:
			return
		default:
		}
		csr, key, err := pkiutil.GenCSR(agent.CertOptions(opts))
		if err != nil {
			r.record(r.cur(), 0, codes.Unknown, err.Error(), 0, false)
			return
		}
		phase := r.cur()
		start := time.Now()
		chain, err := client.CSRSign(csr, 3600)
		lat := time.Since(start)
		if err != nil {
			r.record(phase, lat, codeOf(err), err.Error(), 0, false)
		} else {
			issuer, verr := r.check(chain, key, identity)
			regress := issuer >= 0 && issuer < last
			if issuer > last {
				last = issuer
			}
			r.record(phase, lat, codes.OK, verr, issuer, regress)
		}
		time.Sleep(pace/2 + time.Duration(mrand.Int63n(int64(pace))))
	}
}

// check verifies a chain with Istio's VerifyCertificate against the trust
// bundle (the one root all valid material shares) and finds its issuer
// among the valid intermediates (-1: none).
func (r *chaosRun) check(chain []string, key []byte, identity string) (int, string) {
	if len(chain) < 2 {
		return 0, fmt.Sprintf("cert_chain has %d elements", len(chain))
	}
	if strings.TrimSpace(chain[len(chain)-1]) != strings.TrimSpace(string(r.rootPEM)) {
		return 0, "last cert_chain element is not the trust bundle"
	}
	if _, err := agent.Verify(key, []byte(joinChain(chain[:len(chain)-1])), r.rootPEM, identity); err != nil {
		return 0, "VerifyCertificate: " + err.Error()
	}
	if len(chain) < 3 {
		return -1, "no intermediate in cert_chain"
	}
	block, _ := pem.Decode([]byte(chain[1]))
	if block == nil {
		return -1, "cert_chain[1] is not PEM"
	}
	n := r.issuerOf(block.Bytes)
	if n < 0 {
		c, _ := x509.ParseCertificate(block.Bytes)
		cn := "?"
		if c != nil {
			cn = c.Subject.CommonName
		}
		return -1, fmt.Sprintf("issuer %q is not a valid intermediate", cn)
	}
	leaf, _ := pkiutil.ParsePemEncodedCertificate([]byte(chain[0]))
	iss, _ := x509.ParseCertificate(block.Bytes)
	if leaf == nil || iss == nil || leaf.CheckSignatureFrom(iss) != nil {
		return -1, "leaf not signed by cert_chain[1]"
	}
	return n, ""
}

// ------------------------------------------------------------ bad input

// rawCodec sends hand-made request bytes (protobuf-go refuses to marshal
// invalid UTF-8) and decodes answers as usual.
type rawCodec struct{}

type rawMsg []byte

func (rawCodec) Marshal(v any) ([]byte, error) {
	if m, ok := v.(*rawMsg); ok {
		return *m, nil
	}
	return proto.Marshal(v.(proto.Message))
}
func (rawCodec) Unmarshal(data []byte, v any) error { return proto.Unmarshal(data, v.(proto.Message)) }
func (rawCodec) Name() string                       { return "proto" }

type kv struct{ k, v string }

// requestBytes encodes an IstioCertificateRequest (csr=1,
// validity_duration=3, metadata=4 as google.protobuf.Struct) byte by byte.
func requestBytes(csr []byte, ttl int64, meta []kv) []byte {
	var b []byte
	b = protowire.AppendTag(b, 1, protowire.BytesType)
	b = protowire.AppendBytes(b, csr)
	b = protowire.AppendTag(b, 3, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(ttl))
	if len(meta) > 0 {
		var s []byte
		for _, f := range meta {
			var val []byte // google.protobuf.Value{string_value = 3}
			val = protowire.AppendTag(val, 3, protowire.BytesType)
			val = protowire.AppendBytes(val, []byte(f.v))
			var entry []byte
			entry = protowire.AppendTag(entry, 1, protowire.BytesType)
			entry = protowire.AppendBytes(entry, []byte(f.k))
			entry = protowire.AppendTag(entry, 2, protowire.BytesType)
			entry = protowire.AppendBytes(entry, val)
			s = protowire.AppendTag(s, 1, protowire.BytesType)
			s = protowire.AppendBytes(s, entry)
		}
		b = protowire.AppendTag(b, 4, protowire.BytesType)
		b = protowire.AppendBytes(b, s)
	}
	return b
}

func manyKeys(n int) []kv {
	out := make([]kv, n)
	for i := range out {
		out[i] = kv{fmt.Sprintf("k%05d", i), "v"}
	}
	return out
}

type badCase struct {
	name string
	want codes.Code
	// knownIssue: the code the server gives today where it differs from
	// want; logged (failed with INTEROP_CHAOS_STRICT=1).
	knownIssue codes.Code
	build      func() (body []byte, md metadata.MD)
}

type badStats struct {
	mu    sync.Mutex
	sent  map[string]int
	codes map[string]map[codes.Code]int
	msgs  map[string]string
	stall struct {
		opened, serverClosed int
	}
}

func (r *chaosRun) badCases() []badCase {
	valid, _ := env.signer.Mint(jwtutil.Claims{Namespace: "default", ServiceAccount: "sleep", PodName: "sleep-1",
		PodUID: "sleep-uid-1", Audiences: []string{"istio-ca"}, Expiry: time.Now().Add(2 * time.Hour)})
	expired, _ := env.signer.Mint(jwtutil.Claims{Namespace: "default", ServiceAccount: "sleep", Audiences: []string{"istio-ca"},
		IssuedAt: time.Now().Add(-3 * time.Hour), Expiry: time.Now().Add(-time.Hour)})
	other, _ := jwtutil.NewSigner("interop-key-1") // same kid, other key
	forged, _ := other.Mint(jwtutil.Claims{Namespace: "default", ServiceAccount: "sleep", Audiences: []string{"istio-ca"},
		Expiry: time.Now().Add(2 * time.Hour)})
	csr, _, _ := pkiutil.GenCSR(pkiutil.CertOptions{Host: spiffeID("default", "sleep"), ECSigAlg: pkiutil.EcdsaSigAlg, ECCCurve: pkiutil.P256Curve})
	bearer := func(tok ...string) metadata.MD {
		md := metadata.Pairs("clusterid", clusterID)
		for _, t := range tok {
			md.Append("authorization", "Bearer "+t)
		}
		return md
	}
	junk := make([]byte, 2048)
	_, _ = rand.Read(junk)
	garbageCSR := []byte("-----BEGIN CERTIFICATE REQUEST-----\n" + b64lines(junk) + "-----END CERTIFICATE REQUEST-----\n")
	bigCSR := append(append([]byte{}, csr...), bytes.Repeat([]byte("A"), 70*1024)...)
	return []badCase{
		{"garbage-csr", codes.InvalidArgument, 0, func() ([]byte, metadata.MD) { return requestBytes(garbageCSR, 3600, nil), bearer(valid) }},
		{"random-bytes-csr", codes.InvalidArgument, 0, func() ([]byte, metadata.MD) {
			return requestBytes([]byte(strings.ToValidUTF8(string(junk[:512]), "?")), 3600, nil), bearer(valid)
		}},
		{"ttl-above-max", codes.InvalidArgument, 0, func() ([]byte, metadata.MD) { return requestBytes(csr, 400*86400, nil), bearer(valid) }},
		{"body-70KiB", codes.ResourceExhausted, 0, func() ([]byte, metadata.MD) { return requestBytes(bigCSR, 3600, nil), bearer(valid) }},
		{"metadata-6000-keys-over-limit", codes.ResourceExhausted, 0, func() ([]byte, metadata.MD) {
			return requestBytes(csr, 3600, manyKeys(6000)), bearer(valid)
		}},
		// Unknown metadata keys are ignored, as istiod does: a valid request.
		{"metadata-3000-keys", codes.OK, 0, func() ([]byte, metadata.MD) { return requestBytes(csr, 3600, manyKeys(3000)), bearer(valid) }},
		{"invalid-utf8-metadata", codes.InvalidArgument, codes.OK, func() ([]byte, metadata.MD) {
			return requestBytes(csr, 3600, []kv{{"CertSigner", "\xff\xfe\xc3\x28"}}), bearer(valid)
		}},
		{"invalid-utf8-csr", codes.InvalidArgument, codes.OK, func() ([]byte, metadata.MD) {
			return requestBytes(append([]byte("\xc3\x28\xff"), csr...), 3600, nil), bearer(valid)
		}},
		{"expired-jwt", codes.Unauthenticated, 0, func() ([]byte, metadata.MD) { return requestBytes(csr, 3600, nil), bearer(expired) }},
		{"forged-jwt", codes.Unauthenticated, 0, func() ([]byte, metadata.MD) { return requestBytes(csr, 3600, nil), bearer(forged) }},
		{"garbage-jwt-4KiB", codes.Unauthenticated, 0, func() ([]byte, metadata.MD) {
			return requestBytes(csr, 3600, nil), bearer(strings.Repeat("x.", 2*1024))
		}},
		{"no-authorization", codes.Unauthenticated, 0, func() ([]byte, metadata.MD) { return requestBytes(csr, 3600, nil), bearer() }},
		// istiod uses the first bearer value; so does vaultca.
		{"dup-authorization-forged-first", codes.Unauthenticated, 0, func() ([]byte, metadata.MD) {
			return requestBytes(csr, 3600, nil), bearer(forged, valid)
		}},
		{"dup-authorization-valid-first", codes.OK, 0, func() ([]byte, metadata.MD) {
			return requestBytes(csr, 3600, nil), bearer(valid, forged)
		}},
		{"wrong-clusterid", codes.Unauthenticated, 0, func() ([]byte, metadata.MD) {
			return requestBytes(csr, 3600, nil), metadata.Pairs("clusterid", "other-cluster", "authorization", "Bearer "+valid)
		}},
		{"dup-clusterid", codes.OK, 0, func() ([]byte, metadata.MD) {
			return requestBytes(csr, 3600, nil), metadata.Pairs("clusterid", clusterID, "clusterid", "other-cluster", "authorization", "Bearer "+valid)
		}},
	}
}

// badClient starts the bad-input workers and the stalled connections;
// close the returned connection after wg is done.
func (r *chaosRun) badClient(workers int, paused *atomic.Bool, stop <-chan struct{}, wg *sync.WaitGroup, st *badStats) *grpc.ClientConn {
	cases := r.badCases()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(r.rootPEM)
	creds := credentials.NewTLS(&tls.Config{RootCAs: pool, ServerName: "istiod.istio-system.svc"})
	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", r.vca.grpcPort), grpc.WithTransportCredentials(creds))
	if err != nil {
		r.t.Fatalf("bad client: %v", err)
	}
	const method = "/istio.v1.auth.IstioCertificateService/CreateCertificate"
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if paused.Load() {
					time.Sleep(50 * time.Millisecond)
					continue
				}
				c := cases[i%len(cases)]
				body, md := c.build()
				m := rawMsg(body)
				ctx, cancel := context.WithTimeout(metadata.NewOutgoingContext(context.Background(), md), 20*time.Second)
				var resp pb.IstioCertificateResponse
				err := conn.Invoke(ctx, method, &m, &resp, grpc.ForceCodec(rawCodec{}))
				cancel()
				code := status.Code(err)
				if err == nil && len(resp.CertChain) < 3 {
					code = codes.DataLoss // a success without a usable chain
				}
				st.mu.Lock()
				st.sent[c.name]++
				if st.codes[c.name] == nil {
					st.codes[c.name] = map[codes.Code]int{}
				}
				st.codes[c.name][code]++
				if code != c.want && st.msgs[c.name] == "" && err != nil {
					st.msgs[c.name] = err.Error()
				}
				st.mu.Unlock()
				time.Sleep(30 * time.Millisecond)
			}
		}(w)
	}
	// TLS handshakes that stall: connections that send nothing, half a
	// ClientHello, or non-TLS bytes, each held up to 10 s then replaced.
	wg.Add(1)
	go func() {
		defer wg.Done()
		const n = 48
		type held struct {
			c     net.Conn
			until time.Time
		}
		var conns []held
		defer func() {
			for _, h := range conns {
				h.c.Close()
			}
		}()
		addr := fmt.Sprintf("127.0.0.1:%d", r.vca.grpcPort)
		partial := append([]byte{0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03}, make([]byte, 20)...)
		for k := 0; ; k++ {
			select {
			case <-stop:
				return
			default:
			}
			// Retire expired ones (all while paused); note the ones the
			// server already closed.
			keep := conns[:0]
			for _, h := range conns {
				if time.Now().After(h.until) || paused.Load() {
					_ = h.c.SetReadDeadline(time.Now().Add(time.Millisecond))
					if _, err := h.c.Read(make([]byte, 1)); err != nil && !isTimeout(err) {
						st.mu.Lock()
						st.stall.serverClosed++
						st.mu.Unlock()
					}
					h.c.Close()
					continue
				}
				keep = append(keep, h)
			}
			conns = keep
			for len(conns) < n && !paused.Load() {
				c, err := net.DialTimeout("tcp", addr, 2*time.Second)
				if err != nil {
					break
				}
				switch k % 3 {
				case 1:
					_, _ = c.Write(partial)
				case 2:
					_, _ = c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n" + strings.Repeat("z", 1000)))
				}
				k++
				conns = append(conns, held{c, time.Now().Add(time.Duration(2000+mrand.Intn(8000)) * time.Millisecond)})
				st.mu.Lock()
				st.stall.opened++
				st.mu.Unlock()
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()
	return conn
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// ------------------------------------------------------------ the phases

// chaosPhase is one step of the fault cycle. runPhase runs its steps in
// this order: fault, rotate, hold, lift, settle. Besides what the phase
// asks for, checkPhases holds every phase to what the design promises
// under any Vault fault: no good request fails, every certificate
// verifies and names a valid intermediate, no older issuer comes after a
// newer one, and /ready stays 200.
type chaosPhase struct {
	name string
	// fault injects the fault (nil: none). lift ends it (nil: nothing to
	// end) and checks what the fault must have done. Both report problems
	// with r.fail.
	fault, lift func(r *chaosRun, p *phaseStats)
	// rotate > 0: with the fault on, a new valid intermediate is put in
	// Vault and good clients must receive certificates from it within
	// rotate.
	rotate time.Duration
	// hold: how long the fault stays on after the rotation, under load.
	hold time.Duration
	// settle: load without the fault before the next phase.
	settle time.Duration
	// causes: at least one of vaultca's refresh-failure counters with
	// these causes must move during the phase, the proof that the fault
	// reached vaultca.
	causes []string
}

// resets makes the fault proxy reset this share of Vault connections,
// the open ones at once.
func resets(rate float64) func(r *chaosRun, p *phaseStats) {
	return func(r *chaosRun, p *phaseStats) {
		r.proxy.SetResetRate(rate)
		if rate > 0 {
			r.proxy.ResetAll()
		}
	}
}

// putCorrupt writes material at the CA path that vaultca must refuse.
func putCorrupt(material func(r *chaosRun) map[string][]byte) func(r *chaosRun, p *phaseStats) {
	return func(r *chaosRun, p *phaseStats) {
		if err := r.kvPut(material(r)); err != nil {
			r.fail(p, "kv put: %v", err)
		}
	}
}

// chaosPhases is the fault cycle, repeated until the run's duration is
// used up. Every phase lifts its own fault, so no phase depends on the
// fault of the one before.
func chaosPhases(vaultTimeout time.Duration) []chaosPhase {
	var proxyBefore faultproxy.Stats // blackhole: the proxy's counters when it began
	var revoked map[string]bool      // token-revoked: the accessors of the revoked tokens
	return []chaosPhase{
		{name: "rotate", rotate: 20 * time.Second, hold: 2 * time.Second},
		{name: "latency-800ms+rotate", rotate: 30 * time.Second, hold: 3 * time.Second,
			fault: func(r *chaosRun, p *phaseStats) {
				r.proxy.SetLatency(800 * time.Millisecond)
				r.proxy.ResetAll() // new connections, so the handshake is slow too
			},
			lift: func(r *chaosRun, p *phaseStats) { r.proxy.SetLatency(0) }},
		{name: "resets-100%", hold: 6 * time.Second, causes: []string{"fetch"}, fault: resets(1), lift: resets(0)},
		{name: "resets-50%+rotate", rotate: 30 * time.Second, hold: 2 * time.Second, fault: resets(0.5), lift: resets(0)},
		// Vault unreachable without any error: connections accepted and
		// held, nothing answered. Longer than vaultca's Vault timeout, so
		// at least one refresh times out ("fetch").
		{name: "blackhole", hold: vaultTimeout + 4*time.Second, settle: time.Second, causes: []string{"fetch"},
			fault: func(r *chaosRun, p *phaseStats) {
				proxyBefore = r.proxy.Stats()
				r.proxy.SetBlackhole(true)
			},
			lift: func(r *chaosRun, p *phaseStats) {
				r.proxy.SetBlackhole(false)
				after := r.proxy.Stats()
				p.notes = append(p.notes, fmt.Sprintf("blackhole %v (VAULT_CLIENT_TIMEOUT %v): %d new connection(s) held silent, %d chunk(s) of open ones held",
					vaultTimeout+4*time.Second, vaultTimeout, after.Blackholed-proxyBefore.Blackholed, after.HeldChunks-proxyBefore.HeldChunks))
				if after.Blackholed == proxyBefore.Blackholed && after.HeldChunks == proxyBefore.HeldChunks {
					r.fail(p, "the blackhole held nothing: vaultca did not talk to Vault during the phase")
				}
			}},
		{name: "sealed", hold: 6 * time.Second, causes: []string{"fetch"},
			fault: func(r *chaosRun, p *phaseStats) {
				if _, err := r.vault.cli(nil, "operator", "seal"); err != nil {
					r.fail(p, "seal: %v", err)
				}
			},
			lift: func(r *chaosRun, p *phaseStats) {
				if err := r.vault.unseal(); err != nil {
					r.fail(p, "unseal: %v", err)
				}
			}},
		// Every token but root's revoked: the ones vaultca's jwt logins
		// got. Only a fresh login can read the rotation's material.
		{name: "token-revoked+rotate", rotate: 20 * time.Second, hold: 2 * time.Second,
			fault: func(r *chaosRun, p *phaseStats) {
				before, err := r.vault.nonRootAccessors()
				if err != nil {
					r.fail(p, "%v", err)
				}
				for _, a := range before {
					if _, err := r.vault.cli(nil, "token", "revoke", "-accessor", a); err != nil {
						r.fail(p, "revoke: %v", err)
					}
				}
				revoked = map[string]bool{}
				for _, a := range before {
					revoked[a] = true
				}
				// vaultca may already have logged in again: only the old
				// tokens must be gone.
				after, _ := r.vault.nonRootAccessors()
				for _, a := range after {
					if revoked[a] {
						r.fail(p, "token %s survived the revoke", a)
					}
				}
				if len(before) == 0 {
					r.fail(p, "vaultca holds no token to revoke")
				}
			},
			lift: func(r *chaosRun, p *phaseStats) {
				now, _ := r.vault.nonRootAccessors()
				fresh := 0
				for _, a := range now {
					if !revoked[a] {
						fresh++
					}
				}
				p.notes = append(p.notes, fmt.Sprintf("revoked %d token(s); vaultca logged in again (%d new token(s))", len(revoked), fresh))
				if fresh == 0 {
					r.fail(p, "no new token: vaultca did not log in again")
				}
			}},
		{name: "corrupt-garbage", causes: []string{"fetch", "parse", "validation"},
			fault: func(r *chaosRun, p *phaseStats) {
				junk := make([]byte, 600)
				_, _ = rand.Read(junk)
				trunc := r.mat.Signing.CertPEM[:len(r.mat.Signing.CertPEM)/2]
				variants := []map[string][]byte{
					{"certificate": []byte("not a pem"), "privateKey": []byte("not a pem"), "certChain": []byte("x"), "rootCert": []byte("y")},
					{"certificate": trunc, "privateKey": r.mat.Signing.KeyPEM, "certChain": r.mat.CertChainPEM, "rootCert": r.rootPEM},
					{"certificate": []byte(strings.ToValidUTF8(string(junk), "\uFFFD")), "privateKey": junk[:64], "certChain": r.mat.CertChainPEM, "rootCert": r.rootPEM},
					{"certificate": r.mat.Signing.CertPEM, "certChain": r.mat.CertChainPEM, "rootCert": r.rootPEM}, // privateKey missing
				}
				for _, v := range variants {
					if err := r.kvPut(v); err != nil {
						r.fail(p, "kv put: %v", err)
					}
					time.Sleep(1500 * time.Millisecond)
				}
			}},
		// A plausible intermediate under the right root, with the key of
		// the one in service: must never sign.
		{name: "corrupt-key-mismatch", hold: 5 * time.Second, causes: []string{"parse", "validation"},
			fault: putCorrupt(func(r *chaosRun) map[string][]byte {
				x, err := pki.NewIntermediate(r.root, "Chaos Never-Valid Intermediate", false, signingCALife)
				if err != nil {
					r.t.Fatal(err)
				}
				return map[string][]byte{"certificate": x.Signing.CertPEM, "privateKey": r.mat.Signing.KeyPEM,
					"certChain": x.CertChainPEM, "rootCert": r.rootPEM}
			})},
		// Well-formed material under another root: the root policy
		// (multi_root off) must refuse to drop the root in use.
		{name: "corrupt-foreign-root", hold: 5 * time.Second, causes: []string{"root_policy"},
			fault: putCorrupt(func(r *chaosRun) map[string][]byte {
				fr, _ := pki.NewRoot("Chaos Foreign Root", true)
				x, err := pki.NewIntermediate(fr, "Chaos Foreign Intermediate", true, signingCALife)
				if err != nil {
					r.t.Fatal(err)
				}
				return map[string][]byte{"certificate": x.Signing.CertPEM, "privateKey": x.Signing.KeyPEM,
					"certChain": x.CertChainPEM, "rootCert": fr.CertPEM}
			})},
		{name: "restore-valid", rotate: 20 * time.Second, hold: time.Second},
		// A real restart: the process is killed, comes back sealed with
		// its file storage, and the operator unseals it; the rotation
		// after it proves vaultca reads Vault again.
		{name: "vault-restart", rotate: 20 * time.Second, hold: time.Second, causes: []string{"fetch"},
			fault: func(r *chaosRun, p *phaseStats) {
				r.vault.stopNow()
				time.Sleep(3 * time.Second)
				if err := r.vault.start(); err != nil {
					r.t.Fatalf("vault restart: %v", err)
				}
				time.Sleep(2 * time.Second) // sealed for a while
				if err := r.vault.unseal(); err != nil {
					r.fail(p, "unseal after restart: %v", err)
				}
			}},
	}
}

// ------------------------------------------------------------ the driver

// fail records a problem of phase p.
func (r *chaosRun) fail(p *phaseStats, format string, args ...any) {
	r.errs = append(r.errs, p.name+": "+fmt.Sprintf(format, args...))
}

// failf records a problem of the whole run.
func (r *chaosRun) failf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// begin starts a phase: requests from now on count in it.
func (r *chaosRun) begin(name string, bad bool) *phaseStats {
	m, _ := scrape(r.vca.httpPort)
	p := &phaseStats{name: name, start: time.Now(), bad: bad, failByCode: map[codes.Code]int{}, issuers: map[int]int{}, metricsBefore: m}
	r.mu.Lock()
	r.phases = append(r.phases, p)
	r.phaseIdx.Store(int32(len(r.phases) - 1))
	r.mu.Unlock()
	return p
}

func (r *chaosRun) end(p *phaseStats) {
	p.end = time.Now()
	p.metricsAfter, _ = scrape(r.vca.httpPort)
}

// quietPhase is a phase of load only, with or without bad input.
func (r *chaosRun) quietPhase(name string, bad bool, d time.Duration) {
	p := r.begin(name, bad)
	time.Sleep(d)
	r.end(p)
}

// runPhase runs one phase of the fault cycle, bad input running.
func (r *chaosRun) runPhase(ph chaosPhase, name string) {
	p := r.begin(name, true)
	p.causes = ph.causes
	if ph.fault != nil {
		ph.fault(r, p)
	}
	if ph.rotate > 0 {
		if err := r.rotate(ph.rotate); err != nil {
			r.fail(p, "%v", err)
		}
	}
	time.Sleep(ph.hold)
	if ph.lift != nil {
		ph.lift(r, p)
	}
	time.Sleep(ph.settle)
	r.end(p)
}

// faultCycles runs the fault cycle until the run's duration is used up
// (at least once); phases of later cycles are named with #N.
func (r *chaosRun) faultCycles(phases []chaosPhase) {
	var cycleLen time.Duration
	for cycle := 1; ; cycle++ {
		cs := time.Now()
		sfx := ""
		if cycle > 1 {
			sfx = fmt.Sprintf("#%d", cycle)
		}
		for _, ph := range phases {
			r.runPhase(ph, ph.name+sfx)
		}
		if cycleLen == 0 {
			cycleLen = time.Since(cs)
		}
		if time.Since(r.loadStart)+cycleLen+10*time.Second > r.cfg.total-15*time.Second {
			return
		}
	}
}

// ------------------------------------------------------------ the test

func TestChaosUnderLoad(t *testing.T) {
	if os.Getenv("INTEROP_SKIP_CHAOS") != "" {
		t.Skip("INTEROP_SKIP_CHAOS is set: chaos soak test skipped on request")
	}
	r := startChaosRun(t, chaosConfigFromEnv())
	r.startGoodLoad()
	r.badInputPhases()
	steadyFrom := len(r.phases)
	r.faultCycles(chaosPhases(r.cfg.vaultTimeout))
	steadyTo := len(r.phases) - 1
	r.quietPhase("cooldown", true, 5*time.Second)
	fdAfter := r.stopLoad()

	lat := r.checkPhases()
	r.checkServerCounters()
	r.checkBadInput()
	r.checkLatency(lat)
	r.checkResources(steadyFrom, steadyTo, fdAfter)
	for _, e := range r.errs {
		t.Error(e)
	}
}

// startChaosRun starts the run's own Vault, fault proxy and
// vaultca-server, so the shared environment of the other tests is never
// disturbed. All stop when the test ends.
func startChaosRun(t *testing.T, cfg chaosConfig) *chaosRun {
	dir := filepath.Join(env.dir, "chaos")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	cv, err := startChaosVault(os.Getenv("VAULTCA_VAULT_BIN"), filepath.Join(dir, "vault"))
	if cv != nil {
		t.Cleanup(cv.stopNow)
	}
	if err != nil {
		t.Fatalf("chaos vault: %v", err)
	}
	r := &chaosRun{t: t, cfg: cfg, vault: cv, issuers: map[string]int{}, issuerCN: map[int]string{}, firstSeen: map[int]time.Time{}}
	r.seed = &environment{dir: dir, signer: env.signer, vault: cv.vaultServer}
	if err := r.seed.seedVault(); err != nil {
		t.Fatalf("seeding: %v", err)
	}
	if r.root, err = pki.NewRoot("Chaos Root CA", false); err != nil {
		t.Fatal(err)
	}
	r.rootPEM = r.root.CertPEM
	r.nextN = 1
	if r.mat, err = pki.NewIntermediate(r.root, "Chaos Intermediate 1", false, signingCALife); err != nil {
		t.Fatal(err)
	}
	r.addIssuer(r.mat)
	if err := r.seed.putCA(r.mat); err != nil {
		t.Fatal(err)
	}
	if r.proxy, err = faultproxy.Start(fmt.Sprintf("127.0.0.1:%d", cv.port)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.proxy.Close)
	// vaultca-server through the proxy: the harness's start-up with
	// VAULT_ADDR pointing at the proxy (TLS still checked against Vault's
	// own certificate, which covers 127.0.0.1).
	vcaEnv := &environment{dir: dir, signer: env.signer, kube: env.kube, kfix: env.kfix,
		vault:       &vaultServer{addr: "https://" + r.proxy.Addr(), caCert: cv.caCert},
		vcaExtraEnv: []string{fmt.Sprintf("VAULT_CLIENT_TIMEOUT=%ds", int(cfg.vaultTimeout.Seconds()))}}
	r.vca = startTestVaultca(t, vcaEnv, "chaos")
	r.rootRef = filepath.Join(dir, "vaultca", "root-cert.pem")
	r.pid = r.vca.cmd.Process.Pid
	r.fdIdle = procFDs(r.pid)
	r.tokenPath = filepath.Join(dir, "istio-token")
	tok, _ := env.signer.Mint(jwtutil.Claims{Namespace: "default", ServiceAccount: "sleep", PodName: "sleep-1",
		PodUID: "sleep-uid-1", Audiences: []string{"istio-ca"}, Expiry: time.Now().Add(2*time.Hour + cfg.total)})
	if err := jwtutil.WriteFile(r.tokenPath, []byte(tok)); err != nil {
		t.Fatal(err)
	}
	r.stopGood, r.stopBad, r.stopSampler = make(chan struct{}), make(chan struct{}), make(chan struct{})
	t.Cleanup(func() {
		r.stopBadOnce.Do(func() { close(r.stopBad) })
		r.stopGoodOnce.Do(func() { close(r.stopGood) })
		r.stopSamplerOnce.Do(func() { close(r.stopSampler) })
	})
	return r
}

// startGoodLoad is the warm-up phase: the sampler of vaultca's RSS, fds
// and /ready, and the good clients.
func (r *chaosRun) startGoodLoad() {
	warmup := r.begin("warmup", false)
	r.samplerWG.Add(1)
	go func() {
		defer r.samplerWG.Done()
		hc := &http.Client{Timeout: 5 * time.Second}
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-r.stopSampler:
				return
			case <-tick.C:
			}
			s := sample{at: time.Now(), phase: r.cur(), rssKiB: procRSSKiB(r.pid), fds: procFDs(r.pid)}
			ready := 0
			if resp, err := hc.Get(fmt.Sprintf("http://127.0.0.1:%d/ready", r.vca.httpPort)); err == nil {
				ready = resp.StatusCode
				resp.Body.Close()
			}
			r.mu.Lock()
			r.samples = append(r.samples, s)
			if ready != 200 {
				r.phases[s.phase].notReady++
			}
			r.mu.Unlock()
		}
	}()
	for i := 0; i < r.cfg.clients; i++ {
		r.goodWG.Add(1)
		go r.goodClient(i, r.tokenPath, r.cfg.pace, r.stopGood, &r.goodWG)
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(5 * time.Second)
	r.end(warmup)
	r.loadStart = time.Now()
}

// badInputPhases starts the bad-input clients and measures good-client
// latency without and with them, interleaved so that the other load on a
// shared machine weighs on both alike; bad input keeps running after.
func (r *chaosRun) badInputPhases() {
	r.badSt = &badStats{sent: map[string]int{}, codes: map[string]map[codes.Code]int{}, msgs: map[string]string{}}
	r.paused.Store(true)
	r.badConn = r.badClient(4, &r.paused, r.stopBad, &r.badWG, r.badSt)
	r.h2St = newH2Stats()
	r.h2BadClient(2, &r.paused, r.stopBad, &r.badWG, r.h2St)
	for i := 1; i <= 3; i++ {
		r.quietPhase(fmt.Sprintf("baseline-%d", i), false, 4*time.Second)
		r.paused.Store(false)
		r.quietPhase(fmt.Sprintf("bad-input-%d", i), true, 4*time.Second)
		r.paused.Store(true)
	}
	r.paused.Store(false)
}

// stopLoad stops the bad, then the good clients, then the sampler, and
// returns vaultca's fd count once the load is gone.
func (r *chaosRun) stopLoad() (fdAfter int) {
	r.stopBadOnce.Do(func() { close(r.stopBad) })
	r.badWG.Wait()
	r.badConn.Close()
	r.stopGoodOnce.Do(func() { close(r.stopGood) })
	done := make(chan struct{})
	go func() { r.goodWG.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		r.t.Errorf("good clients still blocked 60s after stop (a request hung)")
	}
	time.Sleep(3 * time.Second)
	fdAfter = procFDs(r.pid)
	r.stopSamplerOnce.Do(func() { close(r.stopSampler) })
	r.samplerWG.Wait()
	return fdAfter
}

// ------------------------------------------------------------ the checks

// goodLatency is good-client latency without faults (baseline: without
// bad input too) and the worst p99 of a fault phase.
type goodLatency struct {
	base, badQuiet latencies
	worstP99       time.Duration
	worstPhase     string
}

// checkPhases logs one line per phase and holds every phase to what the
// design promises whatever the fault: no failed good request, every
// certificate verified and from a valid issuer, issuers never going back,
// /ready 200 after warm-up; and each phase's fault to having reached
// vaultca (its refresh-failure causes).
func (r *chaosRun) checkPhases() goodLatency {
	t := r.t
	t.Logf("chaos: %d good clients (Istio citadel client, ECDSA P-256 CSRs, pace %v), %v total, %d phases",
		r.cfg.clients, r.cfg.pace, time.Since(r.phases[0].start).Round(time.Second), len(r.phases))
	t.Logf("%-26s %5s %6s %6s %5s %8s %8s %6s  %s", "phase", "secs", "reqs", "ok", "fail", "p50", "p99", "unready", "issuers / vaultca refresh failures fetch,parse,validation,root_policy")
	var total, totalOK, totalFail int
	var lat goodLatency
	for _, p := range r.phases {
		failN := 0
		for _, n := range p.failByCode {
			failN += n
		}
		total += p.requests
		totalOK += p.ok
		totalFail += failN
		var iss []string
		for n, c := range p.issuers {
			iss = append(iss, fmt.Sprintf("%d:%d", n, c))
		}
		sort.Strings(iss)
		rf := []string{}
		for _, c := range []string{"fetch", "parse", "validation", "root_policy"} {
			rf = append(rf, fmt.Sprint(p.delta(`vaultca_ca_refresh_failures_total{cause="`+c+`"}`)))
		}
		p99 := p.lat.pct(0.99)
		t.Logf("%-26s %5.1f %6d %6d %5d %8v %8v %6d  [%s] rf=%s", p.name, p.end.Sub(p.start).Seconds(), p.requests, p.ok, failN,
			p.lat.pct(0.5).Round(time.Millisecond), p99.Round(time.Millisecond), p.notReady, strings.Join(iss, " "), strings.Join(rf, ","))
		for _, n := range p.notes {
			t.Logf("    %s", n)
		}
		switch {
		case strings.HasPrefix(p.name, "baseline-"):
			lat.base = append(lat.base, p.lat...)
		case strings.HasPrefix(p.name, "bad-input-"):
			lat.badQuiet = append(lat.badQuiet, p.lat...)
		case p.bad && p99 > lat.worstP99:
			lat.worstP99, lat.worstPhase = p99, p.name
		}
		if failN > 0 || p.verifyFail > 0 || p.unknownIssuer > 0 || p.regress > 0 {
			r.fail(p, "%d failed (%v), %d failed verification, %d from an invalid issuer, %d older issuer after newer; first: %v",
				failN, p.failByCode, p.verifyFail, p.unknownIssuer, p.regress, p.firstErrs)
		}
		if len(p.causes) > 0 {
			sum := 0.0
			for _, c := range p.causes {
				sum += p.delta(`vaultca_ca_refresh_failures_total{cause="` + c + `"}`)
			}
			if sum <= 0 {
				r.fail(p, "no refresh failure with cause %v: the fault did not reach vaultca", p.causes)
			}
		}
		if p.notReady > 0 && p.name != "warmup" {
			r.fail(p, "/ready answered non-200 in %d samples", p.notReady)
		}
	}
	t.Logf("good requests: %d, ok %d, failed %d", total, totalOK, totalFail)
	var issNames []string
	for n := 0; n < len(r.issuerCN); n++ {
		issNames = append(issNames, fmt.Sprintf("%d=%s", n, r.issuerCN[n]))
	}
	t.Logf("issuers: %s", strings.Join(issNames, ", "))
	t.Logf("fault proxy: %+v", r.proxy.Stats())
	return lat
}

// checkServerCounters: the design never answers CANotReady / CertGenError
// here, and nothing was turned away for overload.
func (r *chaosRun) checkServerCounters() {
	first, last := r.phases[0].metricsBefore, r.phases[len(r.phases)-1].metricsAfter
	for _, k := range []string{`citadel_server_csr_sign_err_count{error="CANotReady"}`, `citadel_server_csr_sign_err_count{error="CertGenError"}`,
		`vaultca_rejected_requests_total{reason="overload"}`} {
		if d := last[k] - first[k]; d != 0 {
			r.failf("server counter %s grew by %v", k, d)
		}
	}
	r.t.Logf("server: csr_count %+v, issued %+v, sign errors CSRError %v, auth failures %v, rotations %v",
		last["citadel_server_csr_count"]-first["citadel_server_csr_count"],
		last["citadel_server_success_cert_issuance_count"]-first["citadel_server_success_cert_issuance_count"],
		last[`citadel_server_csr_sign_err_count{error="CSRError"}`]-first[`citadel_server_csr_sign_err_count{error="CSRError"}`],
		last["citadel_server_authentication_failure_count"]-first["citadel_server_authentication_failure_count"],
		last["vaultca_ca_rotations_total"]-first["vaultca_ca_rotations_total"])
}

// checkBadInput: every bad case was sent and answered as it must be
// (known issues logged unless INTEROP_CHAOS_STRICT), the header-level
// ones too.
func (r *chaosRun) checkBadInput() {
	t, st := r.t, r.badSt
	t.Logf("bad input: %d stalled/garbage TCP connections opened, %d closed by the server before we did", st.stall.opened, st.stall.serverClosed)
	for _, c := range r.badCases() {
		got := st.codes[c.name]
		t.Logf("  %-32s sent %5d want %-17v got %v", c.name, st.sent[c.name], c.want, got)
		if st.sent[c.name] == 0 {
			r.failf("bad input %s: never sent", c.name)
		}
		for code, n := range got {
			if code == c.want {
				continue
			}
			msg := fmt.Sprintf("bad input %s: %d answered %v, want %v (%s)", c.name, n, code, c.want, st.msgs[c.name])
			if code == c.knownIssue && c.knownIssue != codes.OK && !r.cfg.strict {
				t.Logf("KNOWN ISSUE (not failed; INTEROP_CHAOS_STRICT=1 fails it): %s", msg)
				continue
			}
			r.failf("%s", msg)
		}
	}
	h2Cs := h2Cases()
	r.h2St.summary(t, h2Cs)
	r.errs = append(r.errs, r.h2St.check(t, h2Cs, r.cfg.strict)...)
}

// checkLatency: bad input alone (bad-input-N phases) against the
// baseline-N phases; during Vault faults a looser sanity bound (the vault
// CLI and Vault restarts compete for the same 2 cores): signing must
// never wait on Vault, whose reads take 4-6 s in the latency phase.
func (r *chaosRun) checkLatency(lat goodLatency) {
	baseP99, badP99 := lat.base.pct(0.99), lat.badQuiet.pct(0.99)
	bound := 5*baseP99 + 200*time.Millisecond
	chaosBound := 5*baseP99 + 2*time.Second
	r.t.Logf("good p99: baseline (no faults, no bad input) %v; with bad input (no faults) %v, bound %v; worst fault phase %q %v, bound %v",
		baseP99.Round(time.Millisecond), badP99.Round(time.Millisecond), bound.Round(time.Millisecond),
		lat.worstPhase, lat.worstP99.Round(time.Millisecond), chaosBound.Round(time.Millisecond))
	if badP99 > bound {
		r.failf("good p99 %v with bad input exceeds 5x baseline p99 + 200ms = %v", badP99, bound)
	}
	if lat.worstP99 > chaosBound {
		r.failf("good p99 %v in %s exceeds 5x baseline p99 + 2s = %v", lat.worstP99, lat.worstPhase, chaosBound)
	}
}

// checkResources: vaultca's RSS and fds over the steady window (bad input
// running, all fault phases) do not grow, and no fd outlives the load.
func (r *chaosRun) checkResources(steadyFrom, steadyTo, fdAfter int) {
	var win []sample
	for _, s := range r.samples {
		if s.phase >= steadyFrom && s.phase <= steadyTo {
			win = append(win, s)
		}
	}
	if len(win) >= 9 {
		third := len(win) / 3
		avg := func(ss []sample) (rss float64, fds float64, maxFD int) {
			for _, s := range ss {
				rss += float64(s.rssKiB)
				fds += float64(s.fds)
				if s.fds > maxFD {
					maxFD = s.fds
				}
			}
			return rss / float64(len(ss)), fds / float64(len(ss)), maxFD
		}
		r1, f1, m1 := avg(win[:third])
		r3, f3, m3 := avg(win[len(win)-third:])
		var peak int64
		for _, s := range r.samples {
			if s.rssKiB > peak {
				peak = s.rssKiB
			}
		}
		r.t.Logf("vaultca RSS (KiB): first third avg %.0f, last third avg %.0f (%+.1f%%), peak %d; fds: idle %d, first third avg %.1f (max %d), last third avg %.1f (max %d), after load %d",
			r1, r3, 100*(r3-r1)/r1, peak, r.fdIdle, f1, m1, f3, m3, fdAfter)
		if r3 > r1*1.25+8*1024 {
			r.failf("RSS grew: last-third avg %.0f KiB > 1.25 x first-third avg %.0f KiB + 8 MiB", r3, r1)
		}
		if f3 > f1+16 {
			r.failf("fd count grew: last-third avg %.1f > first-third avg %.1f + 16", f3, f1)
		}
	} else {
		r.failf("only %d RSS samples in the steady window", len(win))
	}
	if fdAfter > r.fdIdle+4 {
		r.failf("fds after the load %d > idle %d + 4: connections or files leaked", fdAfter, r.fdIdle)
	}
}
