package protocol

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// relay joins the client to a new plain connection to the upstream server
// and moves bytes both ways unchanged until one side is done. The relay
// knows nothing of the commands, so it drops the pair only when neither side
// has sent a byte for the whole timeout: a long upload silences the upstream
// side, a long download the client side, and neither may cut the other.
func (c *conn) relay() {
	s := c.srv
	timeout := s.timeout()
	upstream, err := net.DialTimeout("tcp", s.RelayAddress, timeout)
	if err != nil {
		s.logf(LevelError, "Cannot connect to %s for %s: %v", s.RelayAddress, c.remote, err)
		return
	}
	defer upstream.Close()
	s.logf(LevelInfo, "Relaying %s to %s", c.remote, upstream.RemoteAddr())

	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	// Lift the per-read deadlines of the client side: the watchdog below
	// judges silence for both directions at once.
	c.deadlines.timeout = 0
	c.raw.SetDeadline(time.Time{})

	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(2)
	go func() { // client → upstream; the bufio reader may hold early bytes
		defer wg.Done()
		pipe(upstream, c.br, &last)
		if tc, ok := upstream.(*net.TCPConn); ok {
			tc.CloseWrite() // pass the client's end of stream on
		}
	}()
	go func() { // upstream → client; when upstream ends, all ends
		defer wg.Done()
		defer close(done)
		pipe(c.rw, upstream, &last)
	}()

	ticker := time.NewTicker(timeout / 4)
	defer ticker.Stop()
	for stop := false; !stop; {
		select {
		case <-done:
			stop = true
		case <-ticker.C:
			if time.Since(time.Unix(0, last.Load())) > timeout {
				s.logf(LevelError, "Relayed connection from %s timed out", c.remote)
				stop = true
			}
		}
	}
	upstream.Close()
	c.raw.Close()
	wg.Wait()
}

// pipe copies src to dst, noting the time of every move in last.
func pipe(dst io.Writer, src io.Reader, last *atomic.Int64) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			last.Store(time.Now().UnixNano())
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}
