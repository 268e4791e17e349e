package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"
)

// dialTimeout bounds the proxy's connection to its target.
const dialTimeout = 5 * time.Second

// relistenFor bounds how long [Proxy.Up] retries listening on the proxy's
// address while the kernel still holds it.
const relistenFor = 5 * time.Second

// Stats counts what a [Proxy] did since it started.
type Stats struct {
	// Accepted is the number of client connections accepted.
	Accepted int64
	// Forwarded is the number of those connected to the target.
	Forwarded int64
	// Reset is the number of connections closed with a TCP reset by
	// [Proxy.ResetAll], [Proxy.Down] or [Proxy.Close].
	Reset int64
}

// Proxy forwards the TCP connections it accepts on 127.0.0.1 to a target
// and injects faults into them. Its methods are safe for concurrent use.
type Proxy struct {
	target string
	addr   string // the listening address, kept across Down and Up

	ctx    context.Context // ends when Close is called
	cancel context.CancelFunc
	wg     sync.WaitGroup // accept loops, connection handlers, forwarders

	mu      sync.Mutex
	ln      net.Listener // nil while down or closed
	gen     uint64       // incremented by Down: connections of an older generation are reset
	links   map[*link]struct{}
	latency time.Duration
	stall   chan struct{} // non-nil while stalled, closed by Resume
	closed  bool
	stats   Stats
}

// New starts a proxy listening on 127.0.0.1 at a free port, forwarding to
// target (host:port).
func New(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{
		target: target,
		addr:   ln.Addr().String(),
		ctx:    ctx,
		cancel: cancel,
		ln:     ln,
		links:  map[*link]struct{}{},
	}
	p.wg.Add(1)
	go p.accept(ln, 0)
	return p, nil
}

// Addr is the proxy's address (127.0.0.1:port), the same after Down and Up.
func (p *Proxy) Addr() string { return p.addr }

// Target is the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// Stats returns the proxy's counters.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// Conns is the number of connections open through the proxy.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.links)
}

// ResetAll closes every open connection with a TCP reset, on the client's
// side and on the target's, and returns how many it closed. New connections
// are accepted as before.
func (p *Proxy) ResetAll() int {
	p.mu.Lock()
	links := make([]*link, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	p.mu.Unlock()
	for _, l := range links {
		p.closeLink(l, true)
	}
	return len(links)
}

// SetLatency makes the proxy hold every chunk it forwards, in either
// direction, for d before writing it; 0 forwards at once again.
func (p *Proxy) SetLatency(d time.Duration) {
	p.mu.Lock()
	p.latency = max(d, 0)
	p.mu.Unlock()
}

// Stall stops forwarding: every connection, open or accepted later, stays
// open, and what it sends is held until [Proxy.Resume] (or dropped when the
// connection closes first).
func (p *Proxy) Stall() {
	p.mu.Lock()
	if p.stall == nil && !p.closed {
		p.stall = make(chan struct{})
	}
	p.mu.Unlock()
}

// Resume ends a stall, forwarding what was held, and sets the latency
// back to 0. It does not undo [Proxy.Down]: see [Proxy.Up].
func (p *Proxy) Resume() {
	p.mu.Lock()
	p.resumeLocked()
	p.latency = 0
	p.mu.Unlock()
}

func (p *Proxy) resumeLocked() {
	if p.stall != nil {
		close(p.stall)
		p.stall = nil
	}
}

// Down makes the proxy look like a server that went away: it stops
// listening, so that new connections are refused, and resets every open
// connection (those being set up included). It returns how many it reset.
func (p *Proxy) Down() int {
	p.mu.Lock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	p.gen++
	p.mu.Unlock()
	return p.ResetAll()
}

// Up listens again on the proxy's address after [Proxy.Down]. It does
// nothing if the proxy is listening. Another process could have taken the
// port meanwhile; Up retries for a few seconds, then fails.
func (p *Proxy) Up() error {
	deadline := time.Now().Add(relistenFor)
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return errors.New("faultproxy: closed")
		}
		if p.ln != nil {
			p.mu.Unlock()
			return nil
		}
		ln, err := net.Listen("tcp", p.addr)
		if err == nil {
			p.ln = ln
			p.wg.Add(1)
			go p.accept(ln, p.gen)
			p.mu.Unlock()
			return nil
		}
		p.mu.Unlock()
		if !errors.Is(err, syscall.EADDRINUSE) || time.Now().After(deadline) {
			return fmt.Errorf("faultproxy: listening again on %s: %w", p.addr, err)
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-p.ctx.Done():
			return errors.New("faultproxy: closed")
		}
	}
}

// Close stops the proxy: it stops listening, resets every connection and
// waits until all of its goroutines have returned.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	p.resumeLocked()
	p.mu.Unlock()
	p.cancel()
	p.ResetAll()
	p.wg.Wait()
	return nil
}

// accept accepts connections on ln until it is closed; gen is the
// generation of connections it accepts.
func (p *Proxy) accept(ln net.Listener, gen uint64) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return // closed by Down or Close
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			resetConn(c)
			return
		}
		p.stats.Accepted++
		p.wg.Add(1)
		p.mu.Unlock()
		go p.handle(c, gen)
	}
}

// link is one proxied connection: the client's and the target's sockets.
type link struct {
	client, server net.Conn
	done           chan struct{} // closed when the link is closed
	once           sync.Once
}

// handle connects the client c to the target and forwards between them.
func (p *Proxy) handle(c net.Conn, gen uint64) {
	defer p.wg.Done()
	d := net.Dialer{Timeout: dialTimeout}
	s, err := d.DialContext(p.ctx, "tcp", p.target)
	if err != nil {
		resetConn(c)
		return
	}
	l := &link{client: c, server: s, done: make(chan struct{})}
	p.mu.Lock()
	if p.closed || p.gen != gen {
		// Closed, or gone down while this connection was being set up.
		p.stats.Reset++
		p.mu.Unlock()
		resetConn(c)
		resetConn(s)
		return
	}
	p.stats.Forwarded++
	p.links[l] = struct{}{}
	p.wg.Add(2)
	p.mu.Unlock()
	go p.forward(l, c, s)
	go p.forward(l, s, c)
}

// forward copies src to dst, chunk by chunk, through [Proxy.gate], until
// either side fails or the link is closed; then it closes the link.
func (p *Proxy) forward(l *link, src, dst net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.gate(l) {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				p.closeLink(l, false)
				return
			}
		}
		if err != nil {
			p.closeLink(l, false)
			return
		}
	}
}

// gate waits for the latency, then while the proxy is stalled. It returns
// false if the link was closed meanwhile.
func (p *Proxy) gate(l *link) bool {
	p.mu.Lock()
	lat := p.latency
	p.mu.Unlock()
	if lat > 0 {
		t := time.NewTimer(lat)
		select {
		case <-t.C:
		case <-l.done:
			t.Stop()
			return false
		}
	}
	for {
		p.mu.Lock()
		stall := p.stall
		p.mu.Unlock()
		if stall == nil {
			return true
		}
		select {
		case <-stall:
		case <-l.done:
			return false
		}
	}
}

// closeLink closes both sockets of l, with a TCP reset if reset is set, and
// forgets l. Closing a closed link does nothing.
func (p *Proxy) closeLink(l *link, reset bool) {
	l.once.Do(func() {
		p.mu.Lock()
		delete(p.links, l)
		if reset {
			p.stats.Reset++
		}
		p.mu.Unlock()
		close(l.done)
		if reset {
			resetConn(l.client)
			resetConn(l.server)
			return
		}
		_ = l.client.Close()
		_ = l.server.Close()
	})
}

// resetConn closes c with a TCP reset (SO_LINGER 0) rather than a FIN.
func resetConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}
