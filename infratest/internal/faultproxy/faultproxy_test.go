package faultproxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ioTimeout bounds every read and write a test expects to succeed.
const ioTimeout = 5 * time.Second

// echoServer is a TCP server on 127.0.0.1 that writes back what it reads.
type echoServer struct {
	ln net.Listener
	wg sync.WaitGroup
}

func newEchoServer(t *testing.T) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echoServer{ln: ln}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.wg.Add(1)
			go func() {
				defer e.wg.Done()
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		e.wg.Wait()
	})
	return e
}

func (e *echoServer) addr() string { return e.ln.Addr().String() }

func newProxy(t *testing.T, target string) *Proxy {
	t.Helper()
	p, err := New(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, ioTimeout)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// roundTrip writes msg on c and reads it back (through an echo server).
func roundTrip(c net.Conn, msg []byte) error {
	if err := c.SetDeadline(time.Now().Add(ioTimeout)); err != nil {
		return err
	}
	if _, err := c.Write(msg); err != nil {
		return err
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		return err
	}
	if !bytes.Equal(got, msg) {
		return errors.New("echo differs")
	}
	return nil
}

func TestForwardsBothWays(t *testing.T) {
	e := newEchoServer(t)
	p := newProxy(t, e.addr())
	c := dial(t, p.Addr())
	big := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB, many chunks
	for _, msg := range [][]byte{[]byte("hello"), big} {
		if err := roundTrip(c, msg); err != nil {
			t.Fatalf("round trip of %d bytes: %v", len(msg), err)
		}
	}
	if s := p.Stats(); s.Accepted != 1 || s.Forwarded != 1 || s.Reset != 0 {
		t.Errorf("stats = %+v, want 1 accepted and forwarded, 0 reset", s)
	}
	if n := p.Conns(); n != 1 {
		t.Errorf("Conns() = %d, want 1", n)
	}
}

func TestResetAll(t *testing.T) {
	e := newEchoServer(t)
	p := newProxy(t, e.addr())
	c1, c2 := dial(t, p.Addr()), dial(t, p.Addr())
	for _, c := range []net.Conn{c1, c2} {
		if err := roundTrip(c, []byte("before")); err != nil {
			t.Fatal(err)
		}
	}
	if n := p.ResetAll(); n != 2 {
		t.Fatalf("ResetAll() = %d, want 2", n)
	}
	for i, c := range []net.Conn{c1, c2} {
		_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
		_, err := c.Read(make([]byte, 1))
		if !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("conn %d: read after ResetAll = %v, want ECONNRESET", i, err)
		}
	}
	// New connections go through as before.
	if err := roundTrip(dial(t, p.Addr()), []byte("after")); err != nil {
		t.Fatalf("new connection after ResetAll: %v", err)
	}
	if s := p.Stats(); s.Reset != 2 {
		t.Errorf("stats.Reset = %d, want 2", s.Reset)
	}
}

func TestLatency(t *testing.T) {
	e := newEchoServer(t)
	p := newProxy(t, e.addr())
	c := dial(t, p.Addr())
	const lat = 100 * time.Millisecond
	p.SetLatency(lat)
	start := time.Now()
	if err := roundTrip(c, []byte("slow")); err != nil {
		t.Fatal(err)
	}
	// One chunk each way, each held for lat: a lower bound only, so that a
	// slow machine cannot fail it.
	if d := time.Since(start); d < 2*lat {
		t.Errorf("round trip with %v latency took %v, want at least %v", lat, d, 2*lat)
	}
	p.Resume()
	// Resume sets the latency back to 0: the next round trip is not held
	// (it would take 200 ms at least otherwise; 150 ms leaves room for a
	// busy machine without accepting the latency).
	start = time.Now()
	if err := roundTrip(c, []byte("fast")); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d >= 2*lat {
		t.Logf("round trip after Resume took %v (busy machine?)", d)
	}
	p.mu.Lock()
	got := p.latency
	p.mu.Unlock()
	if got != 0 {
		t.Errorf("latency after Resume = %v, want 0", got)
	}
}

func TestStallHoldsDataUntilResume(t *testing.T) {
	e := newEchoServer(t)
	p := newProxy(t, e.addr())
	c := dial(t, p.Addr())
	if err := roundTrip(c, []byte("before")); err != nil {
		t.Fatal(err)
	}
	p.Stall()
	// A connection accepted during the stall is stalled too.
	c2 := dial(t, p.Addr())
	for _, conn := range []net.Conn{c, c2} {
		if _, err := conn.Write([]byte("held")); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		n, err := conn.Read(make([]byte, 4))
		var ne net.Error
		if n != 0 || !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("read during a stall = %d bytes, %v; want a timeout", n, err)
		}
	}
	if n := p.Conns(); n != 2 {
		t.Errorf("Conns() during the stall = %d, want 2 (sockets kept open)", n)
	}
	p.Resume()
	for i, conn := range []net.Conn{c, c2} {
		_ = conn.SetReadDeadline(time.Now().Add(ioTimeout))
		got := make([]byte, 4)
		if _, err := io.ReadFull(conn, got); err != nil || string(got) != "held" {
			t.Fatalf("conn %d after Resume: read %q, %v; want the held data", i, got, err)
		}
	}
}

func TestDownRefusesAndUpListensAgain(t *testing.T) {
	e := newEchoServer(t)
	p := newProxy(t, e.addr())
	addr := p.Addr()
	c := dial(t, addr)
	if err := roundTrip(c, []byte("before")); err != nil {
		t.Fatal(err)
	}
	if n := p.Down(); n != 1 {
		t.Errorf("Down() reset %d connections, want 1", n)
	}
	_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("read after Down = %v, want ECONNRESET", err)
	}
	if c2, err := net.DialTimeout("tcp", addr, ioTimeout); !errors.Is(err, syscall.ECONNREFUSED) {
		if c2 != nil {
			_ = c2.Close()
		}
		t.Fatalf("dial while down = %v, want ECONNREFUSED", err)
	}
	if err := p.Up(); err != nil {
		t.Fatal(err)
	}
	if p.Addr() != addr {
		t.Errorf("Addr() after Up = %s, want %s", p.Addr(), addr)
	}
	if err := roundTrip(dial(t, addr), []byte("after")); err != nil {
		t.Fatalf("round trip after Up: %v", err)
	}
	if err := p.Up(); err != nil {
		t.Errorf("Up while up = %v, want nil", err)
	}
}

func TestTargetDownResetsClient(t *testing.T) {
	// A target that refuses: take a free port and close it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	target := ln.Addr().String()
	_ = ln.Close()
	p := newProxy(t, target)
	// The reset may come before the client's connect returns, or after.
	c, err := net.DialTimeout("tcp", p.Addr(), ioTimeout)
	if err == nil {
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
		_, err = c.Read(make([]byte, 1))
	}
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, io.EOF) {
		t.Errorf("connection through a proxy whose target refuses: %v, want a reset", err)
	}
	if s := p.Stats(); s.Accepted != 1 || s.Forwarded != 0 {
		t.Errorf("stats = %+v, want 1 accepted, 0 forwarded", s)
	}
}

// proxyGoroutines returns the stacks of the goroutines running the
// proxy's code. Close waits for every goroutine it started (a
// sync.WaitGroup), so once it returns those goroutines have nothing left to
// do but return from their function; one that has not been scheduled since
// may still show its last frame. The check yields the processor until they
// are gone (a goroutine blocked in the proxy's code never goes), with no
// clock involved.
func proxyGoroutines() []string {
	buf := make([]byte, 1<<20)
	for range 100_000 {
		if !strings.Contains(string(buf[:runtime.Stack(buf, true)]), "faultproxy.(*Proxy).") {
			return nil
		}
		runtime.Gosched()
	}
	var out []string
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, "faultproxy.(*Proxy).") {
			out = append(out, g)
		}
	}
	return out
}

func TestCloseLeavesNoGoroutine(t *testing.T) {
	e := newEchoServer(t)
	p, err := New(e.addr())
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	for range 4 {
		c, err := net.DialTimeout("tcp", p.Addr(), ioTimeout)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		if err := roundTrip(c, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	p.SetLatency(time.Hour)
	if _, err := conns[0].Write([]byte("held by the latency")); err != nil {
		t.Fatal(err)
	}
	p.Stall()
	if _, err := conns[1].Write([]byte("held by the stall")); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		_ = p.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(ioTimeout):
		t.Fatal("Close did not return: a goroutine is stuck in the latency or the stall")
	}
	for _, c := range conns {
		_ = c.Close()
	}
	if left := proxyGoroutines(); len(left) > 0 {
		t.Errorf("%d of the proxy's goroutines left after Close:\n%s", len(left), strings.Join(left, "\n\n"))
	}
	if _, err := net.DialTimeout("tcp", p.Addr(), ioTimeout); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("dial after Close = %v, want ECONNREFUSED", err)
	}
	if err := p.Up(); err == nil {
		t.Error("Up after Close succeeded")
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}
