//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"time"
)

// delayChunk is the most a delay line reads from one side at a time: each
// chunk read is held for the one-way delay, then written whole.
const delayChunk = 16 << 10

// delayLineConfig describes the link a delayLine stands for.
type delayLineConfig struct {
	// delay is how long every chunk is held, in each direction: half the
	// round trip.
	delay time.Duration
	// handshake is how long the line waits after accepting a client before
	// it connects onward, as a TCP handshake costs a round trip before the
	// client's first byte can leave.
	handshake time.Duration
	// window bounds the bytes held per direction (plus one chunk being
	// read), so that a slow receiver slows the sender instead of the line
	// buffering without end.
	window int
	// dialTimeout bounds the connect onward, which waits out the kernel's
	// SYN retries when the server's accept queue is full.
	dialTimeout time.Duration
}

// delayLine is a relay on loopback that puts a wide-area link between the
// bench's agents and a server. This kernel has no netem (no qdiscs at all),
// so the bench delays the bytes itself: each connection accepted is held
// for the handshake, then connected onward, and the bytes of each
// direction reach the other side the one-way delay after the line read
// them, in order, with end of stream (half-close) passed on only once the
// data before it has been delivered. An error on either side closes both.
//
// It does not model loss, slow-start or a bandwidth limit: a chunk is
// never dropped, and a whole window may leave at once.
type delayLine struct {
	cfg    delayLineConfig
	target string
	ln     net.Listener
	ctx    context.Context // cancelled by close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	onward []time.Duration // how long each connect onward took
	errs   int             // connects onward that failed
	first  string          // the first such failure
	broken int             // connections the server's side ended with an error (a reset)
	brErr  string          // the first such error
}

// startDelayLine listens on a free loopback port and relays every
// connection to target through the delay described by cfg.
func startDelayLine(target string, cfg delayLineConfig) (*delayLine, error) {
	if cfg.window < 1 {
		cfg.window = delayChunk
	}
	if cfg.dialTimeout <= 0 {
		cfg.dialTimeout = clientTimeout
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("delay line: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d := &delayLine{cfg: cfg, target: target, ln: ln, ctx: ctx, cancel: cancel}
	d.wg.Go(d.acceptLoop)
	return d, nil
}

// addr is where clients connect to reach the target through the line.
func (d *delayLine) addr() string { return d.ln.Addr().String() }

// close stops accepting, cuts every connection still relayed and waits for
// the line's goroutines, so that nothing outlives the test.
func (d *delayLine) close() {
	d.cancel()
	d.ln.Close()
	d.wg.Wait()
}

// acceptLoop takes every client as soon as it comes, so that the line's
// own listen backlog never stands in for the server's.
func (d *delayLine) acceptLoop() {
	for {
		c, err := d.ln.Accept()
		if err != nil {
			if d.ctx.Err() != nil {
				return
			}
			// Out of file descriptors, say: let some close.
			if !sleepUntil(time.Now().Add(10*time.Millisecond), d.ctx.Done()) {
				return
			}
			continue
		}
		d.wg.Go(func() { d.relay(c.(*net.TCPConn)) })
	}
}

// relay serves one client: the handshake's wait, the connect onward, then
// both directions until each has ended or either has failed.
func (d *delayLine) relay(client *net.TCPConn) {
	if !sleepUntil(time.Now().Add(d.cfg.handshake), d.ctx.Done()) {
		client.Close()
		return
	}
	up, err := d.dialOnward()
	if err != nil {
		client.Close()
		return
	}
	var once sync.Once
	abort := make(chan struct{})
	kill := func() {
		once.Do(func() {
			close(abort)
			client.Close()
			up.Close()
		})
	}
	stop := context.AfterFunc(d.ctx, kill)
	defer stop()
	var both sync.WaitGroup
	var fromServer error
	both.Go(func() { d.pipe(client, up, abort, kill) })
	both.Go(func() { fromServer = d.pipe(up, client, abort, kill) })
	both.Wait()
	client.Close()
	up.Close()
	if fromServer != nil && !errors.Is(fromServer, net.ErrClosed) {
		d.mu.Lock()
		if d.broken == 0 {
			d.brErr = fromServer.Error()
		}
		d.broken++
		d.mu.Unlock()
	}
}

// dialOnward connects to the target and records how long it took: a
// connect that waits a second or more has met a full accept queue and the
// kernel's SYN retries, which is the server's behaviour, not the line's.
func (d *delayLine) dialOnward() (*net.TCPConn, error) {
	start := time.Now()
	nd := net.Dialer{Timeout: d.cfg.dialTimeout}
	c, err := nd.DialContext(d.ctx, "tcp", d.target)
	took := time.Since(start)
	d.mu.Lock()
	defer d.mu.Unlock()
	if err != nil {
		if d.errs == 0 {
			d.first = fmt.Sprintf("connect onward after %v: %v", took.Round(time.Millisecond), err)
		}
		d.errs++
		return nil, err
	}
	d.onward = append(d.onward, took)
	return c.(*net.TCPConn), nil
}

// delayChunkMsg is what travels from a direction's reader to its writer:
// bytes, or the end of the stream (end set), each with the time at which
// it may reach the other side.
type delayChunkMsg struct {
	data []byte
	end  error // io.EOF for a clean end, else the error that ended the read
	due  time.Time
}

// pipe carries one direction from src to dst: a reader stamps what it
// reads and queues it (the queue's length bounds the bytes in flight), and
// this goroutine writes each chunk when it is due. A clean end becomes a
// half-close of dst; an error anywhere kills both connections. It returns
// the error that ended src when it passed that on, for the statistics.
func (d *delayLine) pipe(src, dst *net.TCPConn, abort <-chan struct{}, kill func()) error {
	queue := make(chan delayChunkMsg, max(1, d.cfg.window/delayChunk))
	var reader sync.WaitGroup
	reader.Go(func() { readChunks(src, queue, abort, d.cfg.delay) })
	defer reader.Wait()
	for c := range queue {
		if !sleepUntil(c.due, abort) {
			return nil
		}
		switch {
		case c.end == nil:
			if _, err := dst.Write(c.data); err != nil {
				kill()
				return nil
			}
		case errors.Is(c.end, io.EOF):
			if err := dst.CloseWrite(); err != nil {
				kill()
			}
			return nil
		default:
			kill()
			return c.end
		}
	}
	return nil
}

// readChunks reads src until it ends, queueing each chunk with the time it
// is due on the other side, then the end itself. It gives up when abort is
// closed, so that a full queue never keeps it waiting after a kill.
func readChunks(src net.Conn, queue chan<- delayChunkMsg, abort <-chan struct{}, delay time.Duration) {
	defer close(queue)
	buf := make([]byte, delayChunk)
	for {
		n, err := src.Read(buf)
		due := time.Now().Add(delay)
		if n > 0 {
			select {
			case queue <- delayChunkMsg{data: bytes.Clone(buf[:n]), due: due}:
			case <-abort:
				return
			}
		}
		if err != nil {
			select {
			case queue <- delayChunkMsg{end: err, due: due}:
			case <-abort:
			}
			return
		}
	}
}

// sleepUntil waits until t and reports true, or false if stop is closed
// first.
func sleepUntil(t time.Time, stop <-chan struct{}) bool {
	wait := time.Until(t)
	if wait <= 0 {
		select {
		case <-stop:
			return false
		default:
			return true
		}
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-stop:
		return false
	}
}

// onwardStats sums up the connects onward: how many, how many failed, the
// median and slowest, how many took at least slowConnect, and how many
// the server's side broke off.
type onwardStats struct {
	n, errs, slow  int
	median, maxDur time.Duration
	firstErr       string
	broken         int    // connections the server's side ended with an error
	brokenErr      string // the first such error
}

// slowConnect is the wait from which a connect onward counts as slow: the
// kernel retries a SYN that a full accept queue dropped after one second.
const slowConnect = time.Second

// stats reads the connects onward so far.
func (d *delayLine) stats() onwardStats {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := onwardStats{n: len(d.onward), errs: d.errs, firstErr: d.first, broken: d.broken, brokenErr: d.brErr}
	if s.n == 0 {
		return s
	}
	sorted := slices.Sorted(slices.Values(d.onward))
	s.median, s.maxDur = sorted[len(sorted)/2], sorted[len(sorted)-1]
	for _, t := range sorted {
		if t >= slowConnect {
			s.slow++
		}
	}
	return s
}
