// Package testharness holds what the tests that run servers and daemons
// from the outside all need: a free loopback port, a buffer a child process
// writes while the test reads it, polling with a deadline instead of bare
// sleeps, a client that keeps dialling to prove no connection is refused,
// and skips for a missing root or tool that CI can count. Only tests
// import it.
package testharness

import (
	"bytes"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// Accepts reports whether something accepts TCP connections on addr now:
// one dial, bounded by a second, closed at once.
func Accepts(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// SyncBuffer collects a child's output while the test reads it.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// WaitTimeout is how long WaitFor polls: generous, for loaded CI machines.
const WaitTimeout = 15 * time.Second

// WaitFor polls cond until it holds, failing the test after WaitTimeout.
func WaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(WaitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Dialler connects to an address over and over, counting the attempts and
// the refusals, until Stop: a server that hands its sockets over (a reload)
// must refuse none.
type Dialler struct {
	dials, refused atomic.Int64
	stop           chan struct{}
	done           sync.WaitGroup
}

// StartDialling starts a Dialler on addr, each attempt bounded by timeout.
func StartDialling(addr string, timeout time.Duration) *Dialler {
	d := &Dialler{stop: make(chan struct{})}
	d.done.Go(func() {
		for {
			select {
			case <-d.stop:
				return
			default:
			}
			conn, err := net.DialTimeout("tcp", addr, timeout)
			d.dials.Add(1)
			if err != nil {
				d.refused.Add(1)
				continue
			}
			conn.Close()
		}
	})
	return d
}

// Stop ends the dialling and reports the attempts made and refused.
func (d *Dialler) Stop() (dials, refused int64) {
	close(d.stop)
	d.done.Wait()
	return d.dials.Load(), d.refused.Load()
}
