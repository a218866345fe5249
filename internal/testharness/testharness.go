// Package testharness holds what the tests that run servers and daemons
// from the outside all need: a free loopback port, a buffer a child process
// writes while the test reads it, polling with a deadline instead of bare
// sleeps, a client that keeps dialling to prove no connection is refused,
// and skips for a missing root or tool that CI can count. Only tests
// import it.
package testharness

import (
	"bytes"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago,
// for a child process to bind. It picks below the kernel's ephemeral
// range: a port taken from that range (127.0.0.1:0) is the next source
// port of some outgoing connection, and with other packages' load tests
// running in parallel one of them took it before the child could bind it.
func FreePort(t testing.TB) string {
	t.Helper()
	low := ephemeralLow()
	for range 100 {
		port := freePortFloor + rand.IntN(low-freePortFloor)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err == nil {
			l.Close()
			return strconv.Itoa(port)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// freePortFloor is the lowest port FreePort picks: above the well-known
// and most registered services' ports.
const freePortFloor = 20000

// ephemeralLow is the first port of the kernel's ephemeral range, or the
// usual 32768 when it cannot be read or leaves no room below.
func ephemeralLow() int {
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				low = n
			}
		}
	}
	if low <= freePortFloor+1000 {
		low = 32768
	}
	return low
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
