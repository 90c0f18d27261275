// Package h2raw is a deliberately lax HTTP/2 client for hostile-input
// tests. Unlike grpc-go and net/http it sends whatever header fields it is
// given: no validation of names, values (any bytes), pseudo-headers (any
// order, missing, repeated) or header-list size. A header block is split
// into HEADERS + CONTINUATION frames of the peer's frame size, and can be
// left unfinished (HEADERS without END_HEADERS followed by nothing).
//
// Every answer of the server is recorded per stream: response header
// blocks (HTTP :status, gRPC trailers), DATA, RST_STREAM; and on the
// connection GOAWAY and close. Flow control is honoured for what it sends
// (connection window) and DATA received is acknowledged at once.
//
// Header fields are encoded as HPACK "never indexed" literals, so the
// dynamic table is never used: a block the server drops or an unfinished
// block cannot desynchronise later ones, and every request costs its full
// size on the wire.
package h2raw

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Field is one header field; any bytes are sent as they are.
type Field = hpack.HeaderField

// F builds a Field.
func F(name, value string) Field { return Field{Name: name, Value: value} }

// GoAway is a GOAWAY the server sent.
type GoAway struct {
	Code         http2.ErrCode
	LastStreamID uint32
	Debug        string
}

// Result is everything the server did about one stream.
type Result struct {
	Headers   [][]Field // header blocks received (response headers, trailers)
	Data      []byte    // DATA payload received
	EndStream bool      // the server ended the stream
	RST       bool      // RST_STREAM received
	RSTCode   http2.ErrCode
	GoAway    *GoAway // a GOAWAY that covered this stream (ID > LastStreamID), or the last one seen
	ConnErr   error   // the connection ended before the stream did
	TimedOut  bool    // none of the above within the wait
}

// Get is the last value of header name over all blocks ("" if absent).
func (r *Result) Get(name string) (string, bool) {
	v, ok := "", false
	for _, b := range r.Headers {
		for _, f := range b {
			if f.Name == name {
				v, ok = f.Value, true
			}
		}
	}
	return v, ok
}

// Stream is one client stream.
type Stream struct {
	ID   uint32
	c    *Conn
	done chan struct{}
	once sync.Once
	res  Result // guarded by c.mu until done
}

// Conn is one HTTP/2 connection over TLS.
type Conn struct {
	nc net.Conn
	fr *http2.Framer

	wmu sync.Mutex // framer writes
	enc *hpack.Encoder
	buf bytes.Buffer

	mu        sync.Mutex
	cond      *sync.Cond
	streams   map[uint32]*Stream
	nextID    uint32
	goAway    *GoAway
	connErr   error
	sendWin   int64 // connection-level send window
	maxFrame  uint32
	settings  map[http2.SettingID]uint32
	gotSettng chan struct{}
	done      chan struct{}

	// header block being received
	hdrStream uint32
	hdrBlock  []byte
	hdrEnd    bool
	dec       *hpack.Decoder
}

// Dial connects with TLS (ALPN "h2"), sends the client preface and
// SETTINGS, and waits for the server's SETTINGS.
func Dial(addr string, cfg *tls.Config, timeout time.Duration) (*Conn, error) {
	cfg = cfg.Clone()
	cfg.NextProtos = []string{"h2"}
	d := &net.Dialer{Timeout: timeout}
	tc, err := tls.DialWithDialer(d, "tcp", addr, cfg)
	if err != nil {
		return nil, err
	}
	if p := tc.ConnectionState().NegotiatedProtocol; p != "h2" {
		tc.Close()
		return nil, fmt.Errorf("ALPN negotiated %q, not h2", p)
	}
	c := &Conn{nc: tc, streams: map[uint32]*Stream{}, nextID: 1, sendWin: 65535, maxFrame: 16384,
		settings: map[http2.SettingID]uint32{}, gotSettng: make(chan struct{}), done: make(chan struct{})}
	c.cond = sync.NewCond(&c.mu)
	c.fr = http2.NewFramer(tc, tc)
	c.fr.AllowIllegalWrites = true
	c.fr.SetMaxReadFrameSize(1 << 20)
	c.enc = hpack.NewEncoder(&c.buf)
	c.dec = hpack.NewDecoder(65536, nil)
	c.dec.SetMaxStringLength(1 << 20)
	if _, err := tc.Write([]byte(http2.ClientPreface)); err != nil {
		tc.Close()
		return nil, err
	}
	if err := c.fr.WriteSettings(
		http2.Setting{ID: http2.SettingEnablePush, Val: 0},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 20},
		http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: 1 << 20},
	); err != nil {
		tc.Close()
		return nil, err
	}
	if err := c.fr.WriteWindowUpdate(0, 1<<24); err != nil {
		tc.Close()
		return nil, err
	}
	go c.readLoop()
	select {
	case <-c.gotSettng:
		return c, nil
	case <-c.done:
		return nil, fmt.Errorf("connection ended before the server's SETTINGS: %v", c.Err())
	case <-time.After(timeout):
		tc.Close()
		return nil, fmt.Errorf("no SETTINGS from the server within %v", timeout)
	}
}

// Close closes the connection.
func (c *Conn) Close() error { return c.nc.Close() }

// Done is closed once the connection has ended.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err is why the connection ended (nil while it is up).
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.connErr
}

// Alive reports whether the connection is up and new streams are allowed
// (no GOAWAY).
func (c *Conn) Alive() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.connErr == nil && c.goAway == nil
}

// GoAwayFrame is the last GOAWAY received (nil: none).
func (c *Conn) GoAwayFrame() *GoAway {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.goAway
}

// Setting is the server's value for id (ok false: not sent).
func (c *Conn) Setting(id http2.SettingID) (uint32, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.settings[id]
	return v, ok
}

// Open sends a header block on a new stream. With endHeaders false only the
// first frame's worth of the block is sent, in a HEADERS frame without
// END_HEADERS, and nothing follows (a CONTINUATION stall: the connection
// is unusable afterwards).
func (c *Conn) Open(fields []Field, endStream, endHeaders bool) (*Stream, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.mu.Lock()
	if c.connErr != nil {
		c.mu.Unlock()
		return nil, c.connErr
	}
	id := c.nextID
	c.nextID += 2
	s := &Stream{ID: id, c: c, done: make(chan struct{})}
	c.streams[id] = s
	max := int(c.maxFrame)
	c.mu.Unlock()

	// A server that neither reads nor closes must not block us forever.
	_ = c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	defer c.nc.SetWriteDeadline(time.Time{})
	c.buf.Reset()
	for _, f := range fields {
		f.Sensitive = true // never indexed: no dynamic table state
		if err := c.enc.WriteField(f); err != nil {
			return nil, err
		}
	}
	block := c.buf.Bytes()
	first := block
	if len(first) > max {
		first = block[:max]
	}
	if !endHeaders {
		return s, c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: first, EndStream: endStream})
	}
	rest := block[len(first):]
	if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: first,
		EndStream: endStream, EndHeaders: len(rest) == 0}); err != nil {
		return nil, err
	}
	for len(rest) > 0 {
		n := len(rest)
		if n > max {
			n = max
		}
		if err := c.fr.WriteContinuation(id, n == len(rest), rest[:n]); err != nil {
			return nil, err
		}
		rest = rest[n:]
	}
	return s, nil
}

// Data sends DATA on s, waiting for connection flow-control window.
func (s *Stream) Data(p []byte, endStream bool) error {
	c := s.c
	for len(p) > 0 || endStream {
		c.mu.Lock()
		deadline := time.Now().Add(10 * time.Second)
		for c.sendWin <= 0 && c.connErr == nil {
			if time.Now().After(deadline) {
				c.mu.Unlock()
				return errors.New("no connection flow-control window for 10s")
			}
			waitTimeout(c.cond, 100*time.Millisecond)
		}
		if c.connErr != nil {
			err := c.connErr
			c.mu.Unlock()
			return err
		}
		n := len(p)
		if int64(n) > c.sendWin {
			n = int(c.sendWin)
		}
		if n > int(c.maxFrame) {
			n = int(c.maxFrame)
		}
		c.sendWin -= int64(n)
		c.mu.Unlock()
		last := n == len(p)
		c.wmu.Lock()
		err := c.fr.WriteData(s.ID, endStream && last, p[:n])
		c.wmu.Unlock()
		if err != nil {
			return err
		}
		p = p[n:]
		if last {
			return nil
		}
	}
	return nil
}

// Reset sends RST_STREAM and forgets the stream.
func (s *Stream) Reset(code http2.ErrCode) error {
	c := s.c
	c.mu.Lock()
	delete(c.streams, s.ID)
	c.mu.Unlock()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.fr.WriteRSTStream(s.ID, code)
}

// Wait returns what the server did about the stream, waiting up to d for
// it to end (END_STREAM, RST_STREAM, a GOAWAY excluding it, or the
// connection's end).
func (s *Stream) Wait(d time.Duration) Result {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-s.done:
	case <-t.C:
	}
	c := s.c
	c.mu.Lock()
	defer c.mu.Unlock()
	r := s.res
	r.Headers = append([][]Field(nil), s.res.Headers...)
	r.Data = append([]byte(nil), s.res.Data...)
	select {
	case <-s.done:
	default:
		r.TimedOut = true
		if r.GoAway == nil {
			r.GoAway = c.goAway
		}
	}
	return r
}

// finish ends s; c.mu held.
func (c *Conn) finish(s *Stream) {
	delete(c.streams, s.ID)
	s.once.Do(func() { close(s.done) })
}

func (c *Conn) write(f func() error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = f()
}

func (c *Conn) readLoop() {
	var settingsOnce sync.Once
	for {
		fr, err := c.fr.ReadFrame()
		if err != nil {
			c.mu.Lock()
			c.connErr = err
			for _, s := range c.streams {
				s.res.ConnErr = err
				if s.res.GoAway == nil {
					s.res.GoAway = c.goAway
				}
				c.finish(s)
			}
			c.cond.Broadcast()
			c.mu.Unlock()
			_ = c.nc.Close()
			close(c.done)
			return
		}
		switch f := fr.(type) {
		case *http2.SettingsFrame:
			if f.IsAck() {
				continue
			}
			c.mu.Lock()
			_ = f.ForeachSetting(func(s http2.Setting) error {
				c.settings[s.ID] = s.Val
				if s.ID == http2.SettingMaxFrameSize {
					c.maxFrame = s.Val
				}
				return nil
			})
			c.mu.Unlock()
			c.write(c.fr.WriteSettingsAck)
			settingsOnce.Do(func() { close(c.gotSettng) })
		case *http2.PingFrame:
			if !f.IsAck() {
				data := f.Data
				c.write(func() error { return c.fr.WritePing(true, data) })
			}
		case *http2.WindowUpdateFrame:
			if f.StreamID == 0 {
				c.mu.Lock()
				c.sendWin += int64(f.Increment)
				c.cond.Broadcast()
				c.mu.Unlock()
			}
		case *http2.GoAwayFrame:
			g := &GoAway{Code: f.ErrCode, LastStreamID: f.LastStreamID, Debug: string(f.DebugData())}
			c.mu.Lock()
			c.goAway = g
			for id, s := range c.streams {
				if id > f.LastStreamID {
					s.res.GoAway = g
					c.finish(s)
				}
			}
			c.mu.Unlock()
		case *http2.RSTStreamFrame:
			c.mu.Lock()
			if s := c.streams[f.StreamID]; s != nil {
				s.res.RST, s.res.RSTCode = true, f.ErrCode
				c.finish(s)
			}
			c.mu.Unlock()
		case *http2.HeadersFrame:
			c.hdrStream, c.hdrEnd = f.StreamID, f.StreamEnded()
			c.hdrBlock = append(c.hdrBlock[:0], f.HeaderBlockFragment()...)
			if f.HeadersEnded() {
				c.endBlock()
			}
		case *http2.ContinuationFrame:
			c.hdrBlock = append(c.hdrBlock, f.HeaderBlockFragment()...)
			if f.HeadersEnded() {
				c.endBlock()
			}
		case *http2.DataFrame:
			n := uint32(len(f.Data()))
			if f.Length > 0 {
				c.write(func() error { return c.fr.WriteWindowUpdate(0, f.Length) })
			}
			c.mu.Lock()
			if s := c.streams[f.StreamID]; s != nil {
				s.res.Data = append(s.res.Data, f.Data()...)
				if f.StreamEnded() {
					s.res.EndStream = true
					c.finish(s)
				} else if n > 0 {
					id := f.StreamID
					c.mu.Unlock()
					c.write(func() error { return c.fr.WriteWindowUpdate(id, n) })
					continue
				}
			}
			c.mu.Unlock()
		}
	}
}

// endBlock decodes a complete header block (the decoder must see every
// block, even for forgotten streams).
func (c *Conn) endBlock() {
	fields, err := c.dec.DecodeFull(c.hdrBlock)
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.streams[c.hdrStream]
	if s == nil {
		return
	}
	if err != nil {
		fields = []Field{{Name: "h2raw-decode-error", Value: err.Error()}}
	}
	s.res.Headers = append(s.res.Headers, fields)
	if c.hdrEnd {
		s.res.EndStream = true
		c.finish(s)
	}
}

// waitTimeout waits on cond for at most d (cond's lock held).
func waitTimeout(cond *sync.Cond, d time.Duration) {
	t := time.AfterFunc(d, cond.Broadcast)
	cond.Wait()
	t.Stop()
}
