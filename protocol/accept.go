package protocol

import (
	"errors"
	"net"
	"time"
)

// Accept-error backoff bounds: short enough that a server recovers within a
// moment of file descriptors being freed, long enough that a server out of
// them does not spin on a failing accept.
const (
	acceptRetryMin = 5 * time.Millisecond
	acceptRetryMax = time.Second
)

// Acceptor accepts connections under the one accept-error policy that both
// Server.Serve and the system daemon's accept loops follow: only a closed
// listener ends serving. Every other failure (out of file descriptors,
// EMFILE and ENFILE in a connection flood; out of buffers or memory,
// ENOBUFS and ENOMEM; a connection aborted before it was taken,
// ECONNABORTED; a timeout) is waited out with a growing delay and retried,
// because a server that stops on a flood loses every agent that comes
// after it. A burst of failures is logged once when it starts and once
// when it ends, not once per failed call.
type Acceptor struct {
	// Listener is where connections come from.
	Listener net.Listener
	// Done, when closed, ends a wait between retries: Accept then returns
	// ErrServerClosed.
	Done <-chan struct{}
	// Logger receives the burst's first error and its end; nil discards.
	Logger Logger

	delay    time.Duration
	failures int
	first    error
}

// Accept returns the next connection. Its only errors are one wrapping
// net.ErrClosed, when the listener is closed, and ErrServerClosed, when
// Done is closed while it waits to retry.
func (a *Acceptor) Accept() (net.Conn, error) {
	for {
		c, err := a.Listener.Accept()
		if err == nil {
			if a.failures > 0 {
				a.log(LevelError, "accepting connections again after %d failed attempts (first: %v)", a.failures, a.first)
				a.failures, a.first, a.delay = 0, nil, 0
			}
			return c, nil
		}
		if errors.Is(err, net.ErrClosed) {
			return nil, err
		}
		if a.failures == 0 {
			a.first = err
			a.log(LevelError, "accept: %v; retrying, with waits of up to %v, until it succeeds", err, acceptRetryMax)
		}
		a.failures++
		a.delay = min(max(2*a.delay, acceptRetryMin), acceptRetryMax)
		t := time.NewTimer(a.delay)
		select {
		case <-t.C:
		case <-a.Done:
			t.Stop()
			return nil, ErrServerClosed
		}
	}
}

func (a *Acceptor) log(level Level, format string, args ...any) {
	logTo(a.Logger, level, format, args...)
}
