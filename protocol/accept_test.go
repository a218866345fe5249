package protocol

import (
	"bufio"
	"errors"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// flakyListener fails its first accepts with the errors given, then hands
// out connections from the channel until it is closed.
type flakyListener struct {
	mu     sync.Mutex
	errs   []error
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newFlakyListener(errs ...error) *flakyListener {
	return &flakyListener{errs: errs, conns: make(chan net.Conn, 1), closed: make(chan struct{})}
}

func (l *flakyListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if len(l.errs) > 0 {
		err := l.errs[0]
		l.errs = l.errs[1:]
		l.mu.Unlock()
		return nil, err
	}
	l.mu.Unlock()
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *flakyListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *flakyListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// timeoutError is a net.Error that says it timed out.
type timeoutError struct{}

func (timeoutError) Error() string   { return "i/o timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }

// TestAcceptorWaitsOutFailures feeds the accept-error policy a burst of
// every failure a flood or a busy kernel gives, and checks that it retries
// through them, logs the burst once at its start and once at its end, and
// ends only when the listener is closed.
func TestAcceptorWaitsOutFailures(t *testing.T) {
	burst := []error{
		&net.OpError{Op: "accept", Err: syscall.EMFILE},
		&net.OpError{Op: "accept", Err: syscall.ENFILE},
		&net.OpError{Op: "accept", Err: syscall.ENOBUFS},
		&net.OpError{Op: "accept", Err: syscall.ENOMEM},
		&net.OpError{Op: "accept", Err: syscall.ECONNABORTED},
		timeoutError{},
		errors.New("something unforeseen"),
	}
	l := newFlakyListener(burst...)
	log := &memLog{}
	a := &Acceptor{Listener: l, Logger: log}
	server, client := net.Pipe()
	defer client.Close()
	l.conns <- server
	c, err := a.Accept()
	if err != nil || c != server {
		t.Fatalf("Accept = %v, %v; want the connection after the failures", c, err)
	}
	log.mu.Lock()
	lines := append([]string(nil), log.lines...)
	log.mu.Unlock()
	if len(lines) != 2 || !strings.Contains(lines[0], "too many open files") || !strings.Contains(lines[1], "again after 7 failed") {
		t.Errorf("log of the burst: %q, want its first error and its end", lines)
	}

	l.Close()
	if _, err := a.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept on a closed listener: %v, want net.ErrClosed", err)
	}
}

// TestAcceptorStopsWaitingOnDone checks that a server shutting down does
// not sit out a backoff.
func TestAcceptorStopsWaitingOnDone(t *testing.T) {
	errs := make([]error, 100)
	for i := range errs {
		errs[i] = &net.OpError{Op: "accept", Err: syscall.EMFILE}
	}
	done := make(chan struct{})
	a := &Acceptor{Listener: newFlakyListener(errs...), Done: done}
	result := make(chan error, 1)
	go func() { _, err := a.Accept(); result <- err }()
	close(done)
	select {
	case err := <-result:
		if !errors.Is(err, ErrServerClosed) {
			t.Errorf("Accept after done: %v, want ErrServerClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Accept kept retrying after done was closed")
	}
}

// TestServeSurvivesAcceptFailures checks that Server.Serve follows the
// policy: a burst of EMFILE does not end it, and the connection after the
// burst is served.
func TestServeSurvivesAcceptFailures(t *testing.T) {
	ts := startServer(t, nil)
	l := newFlakyListener(&net.OpError{Op: "accept", Err: syscall.EMFILE}, &net.OpError{Op: "accept", Err: syscall.EMFILE})
	served := make(chan error, 1)
	go func() { served <- ts.Serve(l) }()
	server, client := net.Pipe()
	l.conns <- server
	w := &wire{t: t, c: client}
	w.br = bufio.NewReader(client)
	w.send("SEND <after.data> SIZE 2\n")
	w.expect("SEND OK\n")
	w.send("ok")
	w.expect("SEND OK\n")
	w.send("QUIT\n")
	client.Close()
	if got := readFile(t, ts.Dir+"/after.data"); got != "ok" {
		t.Fatalf("stored %q", got)
	}
	ts.Close()
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve returned %v, want ErrServerClosed", err)
	}
}
