//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"

	"tentacle/protocol"
)

// idleResult is the idle-connection test: many clients connected at once and
// silent, like agents stalled on a bad network, and a new client that must
// still get its file through.
type idleResult struct {
	n         int
	sendFirst bool // each idle connection sent one file before going silent
	opened    int  // connections the bench established
	dialErrs  int
	firstErr  string
	accepted  int // connections the server holds, from its open files
	base      procStatus
	baseFDs   int
	held      procStatus
	heldFDs   int
	hold      time.Duration
	probeErr  error
	probeTime time.Duration
	aliveEnd  int // idle connections still open after the probe
	serverCmd []string
}

// acceptWait bounds the wait for the server to accept all idle connections.
const acceptWait = 30 * time.Second

func runIdleTest(ctx context.Context, cfg *config, work *workDir) (*idleResult, error) {
	size := int64(cfg.fileSize)
	data := make([]byte, size)
	newPatternReader().Read(data)
	res := &idleResult{n: cfg.idle, sendFirst: cfg.idleSend, hold: cfg.idleHold}

	dir, err := work.fresh("idle-server")
	if err != nil {
		return nil, err
	}
	srv, err := startServer(cfg.serverOptions(size), dir)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	res.serverCmd = srv.cmdline
	time.Sleep(200 * time.Millisecond)
	res.base, res.baseFDs = srv.status(), srv.fdCount()

	mode := "connected, nothing sent"
	if cfg.idleSend {
		mode = "one file sent, then silent"
	}
	progress("idle connections: opening %d (%s)", cfg.idle, mode)
	conns := openIdle(ctx, srv, cfg.idle, cfg.idleSend, data, res)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	if !srv.alive() {
		return nil, fmt.Errorf("server died%s", srv.exitNote())
	}

	// Each accepted connection is one more open file in the server; in
	// process, the bench's client ends count too.
	perConn := 1
	if srv.inproc != nil {
		perConn = 2
	}
	deadline := time.Now().Add(acceptWait)
	for {
		res.accepted = (srv.fdCount() - res.baseFDs) / perConn
		if res.accepted >= res.opened || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	progress("idle connections: %d open, %d held by the server; holding %v", res.opened, res.accepted, cfg.idleHold)
	select {
	case <-time.After(cfg.idleHold):
	case <-ctx.Done():
		return res, nil
	}
	res.held, res.heldFDs = srv.status(), srv.fdCount()

	progress("idle connections: a new client sends a file")
	start := time.Now()
	res.probeErr = sendOne(ctx, srv.addr, "bench-probe.data", data)
	res.probeTime = time.Since(start)
	if res.probeErr == nil {
		if n, err := countFiles(dir, "bench-probe.data"); err != nil || n != 1 {
			res.probeErr = fmt.Errorf("the server said SEND OK but the file is not stored (%v)", err)
		}
	}
	for _, c := range conns {
		if !peerClosed(c) {
			res.aliveEnd++
		}
	}
	if cfg.verbose {
		progress("  RSS %s -> %s, probe %v in %v, %d/%d idle still open", mib(res.base.rss), mib(res.held.rss), res.probeErr, res.probeTime, res.aliveEnd, res.opened)
	}
	return res, nil
}

// openIdle opens n connections to srv from a few goroutines; with
// sendFirst, each sends a file first. Failures are counted in res.
func openIdle(ctx context.Context, srv *server, n int, sendFirst bool, data []byte, res *idleResult) []net.Conn {
	const dialers = 32
	conns := make([]net.Conn, n)
	var mu sync.Mutex
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if res.dialErrs == 0 {
			res.firstErr = err.Error()
		}
		res.dialErrs++
	}
	next := make(chan int)
	go func() {
		defer close(next)
		for i := range n {
			select {
			case next <- i:
			case <-ctx.Done():
				return
			}
		}
	}()
	var wg sync.WaitGroup
	for range dialers {
		wg.Go(func() {
			d := net.Dialer{Timeout: clientTimeout}
			for i := range next {
				c, err := d.DialContext(ctx, "tcp", srv.addr)
				if err != nil {
					fail(err)
					continue
				}
				if sendFirst {
					c.SetDeadline(time.Now().Add(clientTimeout))
					pc := protocol.NewClient(c)
					if err := pc.Send(fmt.Sprintf("idle-%d.data", i), bytes.NewReader(data), int64(len(data))); err != nil {
						c.Close()
						fail(err)
						continue
					}
					c.SetDeadline(time.Time{})
				}
				conns[i] = c
			}
		})
	}
	wg.Wait()
	open := conns[:0]
	for _, c := range conns {
		if c != nil {
			open = append(open, c)
		}
	}
	res.opened = len(open)
	return open
}

// sendOne sends one file on a connection of its own.
func sendOne(ctx context.Context, addr, name string, data []byte) error {
	return sendAgent(ctx, addr, name, data, func() {})
}

// peerClosed reports, without waiting, whether the other end has closed c:
// a peek that finds end of file or an error rather than "nothing yet".
func peerClosed(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	closed := false
	err = rc.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case errors.Is(err, syscall.EAGAIN):
		case err != nil, n == 0:
			closed = true
		}
		return true
	})
	return closed || err != nil
}
