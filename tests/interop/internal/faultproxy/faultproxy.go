// Package faultproxy is a small TCP proxy on loopback that injects network
// faults between a client and a server: added latency on every forwarded
// chunk, connection resets (RST, SO_LINGER 0) of new connections, either
// at once or after the first client chunk (mid TLS handshake), and of
// every open connection on demand, and a blackhole (connections accepted
// and held open, nothing forwarded either way, no error: a partition that
// only timeouts notice). TLS passes through untouched, so the
// client still verifies the server's own certificate (which must cover the
// proxy's host, e.g. 127.0.0.1).
package faultproxy

import (
	"io"
	"math/rand"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Stats counts what the proxy did since start.
type Stats struct {
	Accepted   int64 // connections accepted
	DialFailed int64 // upstream unreachable (closed the client side)
	ResetNew   int64 // new connections reset at once
	ResetMid   int64 // reset after the first client chunk
	ResetOpen  int64 // open connections reset by ResetAll
	Delayed    int64 // chunks forwarded with added latency
	Blackholed int64 // new connections held silent by the blackhole
	HeldChunks int64 // chunks of open connections held by the blackhole
	Bytes      int64 // bytes forwarded, both directions
}

// Proxy forwards 127.0.0.1:<port> to one upstream address.
type Proxy struct {
	ln     net.Listener
	target string

	latency   atomic.Int64  // nanoseconds added before each forwarded chunk
	resetRate atomic.Uint64 // math.Float64bits of the reset probability
	blackhole atomic.Bool
	isClosed  atomic.Bool

	mu     sync.Mutex
	conns  map[*pair]struct{}
	closed bool
	wg     sync.WaitGroup

	accepted, dialFailed, resetNew, resetMid, resetOpen, delayed, bytes atomic.Int64
	blackholed, heldChunks                                              atomic.Int64
}

type pair struct {
	client, upstream *net.TCPConn
	once             sync.Once
	dead             atomic.Bool
}

// Start listens on 127.0.0.1:0 and forwards to target (host:port).
func Start(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, conns: map[*pair]struct{}{}}
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetLatency adds d before every forwarded chunk, both directions (0: none).
func (p *Proxy) SetLatency(d time.Duration) { p.latency.Store(int64(d)) }

// SetResetRate makes a fraction r (0..1) of new connections be reset: half
// of them at once, half after the first client chunk is forwarded.
func (p *Proxy) SetResetRate(r float64) { p.resetRate.Store(uint64(r * 1e6)) }

// SetBlackhole turns the blackhole on or off. While on, new connections
// are accepted but not connected upstream, and open connections stop
// forwarding: every byte read is held, nothing is written either way and
// no connection is closed, so only the peers' timeouts notice. Turned off,
// held bytes go through (held new connections are connected upstream
// first), as when a partition heals under TCP retransmission.
func (p *Proxy) SetBlackhole(on bool) { p.blackhole.Store(on) }

// ResetAll resets every open connection; returns how many.
func (p *Proxy) ResetAll() int {
	p.mu.Lock()
	var all []*pair
	for c := range p.conns {
		all = append(all, c)
	}
	p.mu.Unlock()
	for _, c := range all {
		c.reset()
	}
	p.resetOpen.Add(int64(len(all)))
	return len(all)
}

// Stats returns the counters.
func (p *Proxy) Stats() Stats {
	return Stats{
		Accepted: p.accepted.Load(), DialFailed: p.dialFailed.Load(),
		ResetNew: p.resetNew.Load(), ResetMid: p.resetMid.Load(), ResetOpen: p.resetOpen.Load(),
		Delayed: p.delayed.Load(), Bytes: p.bytes.Load(),
		Blackholed: p.blackholed.Load(), HeldChunks: p.heldChunks.Load(),
	}
}

// Close stops listening, resets open connections and waits for the
// forwarding goroutines.
func (p *Proxy) Close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.isClosed.Store(true)
	_ = p.ln.Close()
	p.ResetAll()
	p.wg.Wait()
}

func rst(c *net.TCPConn) {
	if c != nil {
		_ = c.SetLinger(0)
		_ = c.Close()
	}
}

func (c *pair) reset() {
	c.dead.Store(true)
	c.once.Do(func() {
		rst(c.client)
		rst(c.upstream)
	})
}

func (p *Proxy) shouldReset() bool {
	r := float64(p.resetRate.Load()) / 1e6
	return r > 0 && rand.Float64() < r
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.accepted.Add(1)
		p.wg.Add(1)
		go p.handle(c.(*net.TCPConn))
	}
}

func (p *Proxy) handle(client *net.TCPConn) {
	defer p.wg.Done()
	midReset := false
	if p.shouldReset() {
		if rand.Intn(2) == 0 {
			p.resetNew.Add(1)
			rst(client)
			return
		}
		midReset = true
	}
	var pending []byte
	if p.blackhole.Load() {
		var ok bool
		if pending, ok = p.hold(client); !ok {
			return
		}
	}
	up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		p.dialFailed.Add(1)
		_ = client.Close()
		return
	}
	c := &pair{client: client, upstream: up.(*net.TCPConn)}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.reset()
		return
	}
	p.conns[c] = struct{}{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
	}()
	if len(pending) > 0 {
		if _, err := c.upstream.Write(pending); err != nil {
			c.reset()
			return
		}
		p.bytes.Add(int64(len(pending)))
	}

	done := make(chan struct{}, 2)
	go func() { p.pipe(c, c.upstream, c.client, midReset); done <- struct{}{} }()
	go func() { p.pipe(c, c.client, c.upstream, false); done <- struct{}{} }()
	<-done
	<-done
	c.dead.Store(true)
	c.once.Do(func() { _ = c.client.Close(); _ = c.upstream.Close() })
}

// hold keeps a new connection open, silent and unconnected while the
// blackhole is on, keeping what the client sends; ok is false when the
// client went away (or was reset) meanwhile.
func (p *Proxy) hold(client *net.TCPConn) (pending []byte, ok bool) {
	p.blackholed.Add(1)
	c := &pair{client: client} // so ResetAll and Close reach it
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		c.reset()
		return nil, false
	}
	p.conns[c] = struct{}{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.conns, c)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32*1024)
	for p.blackhole.Load() {
		if c.dead.Load() || p.isClosed.Load() {
			c.reset()
			return nil, false
		}
		_ = client.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		n, err := client.Read(buf)
		pending = append(pending, buf[:n]...)
		if err != nil {
			if ne, isNet := err.(net.Error); isNet && ne.Timeout() {
				continue
			}
			c.reset()
			return nil, false
		}
	}
	_ = client.SetReadDeadline(time.Time{})
	return pending, !c.dead.Load()
}

// pipe copies src to dst chunk by chunk, sleeping the configured latency
// before each write; with resetAfterFirst, resets the pair once the first
// chunk went through.
func (p *Proxy) pipe(c *pair, dst, src *net.TCPConn, resetAfterFirst bool) {
	buf := make([]byte, 32*1024)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if p.blackhole.Load() {
				p.heldChunks.Add(1)
				for p.blackhole.Load() && !c.dead.Load() && !p.isClosed.Load() {
					time.Sleep(20 * time.Millisecond)
				}
			}
			if d := time.Duration(p.latency.Load()); d > 0 {
				p.delayed.Add(1)
				time.Sleep(d)
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				c.reset()
				return
			}
			p.bytes.Add(int64(n))
			if resetAfterFirst {
				p.resetMid.Add(1)
				c.reset()
				return
			}
		}
		if err != nil {
			if err == io.EOF {
				_ = dst.CloseWrite() // half-close, as the peer did
				return
			}
			c.reset()
			return
		}
	}
}
