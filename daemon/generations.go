package daemon

import (
	"context"
	"errors"
	"net"
	"sync"

	"tentacle/protocol"
)

// Generations serves a set of listening sockets with one protocol.Server at
// a time, and lets a reload put a new server in charge without closing the
// sockets: the kernel keeps queueing connections while the new server takes
// over, so no connection attempt is refused during a reload. A server that
// is replaced stops getting connections and finishes the transfers it has,
// under the settings they started with.
type Generations struct {
	listeners []net.Listener

	mu       sync.Mutex
	current  *generation
	retiring sync.WaitGroup
	closed   bool
	accepts  sync.WaitGroup
	errs     chan error
}

type generation struct {
	srv     *protocol.Server
	handoff *handoffListener
	served  chan error
}

// NewGenerations takes over listeners; Start begins serving them.
func NewGenerations(listeners []net.Listener) *Generations {
	return &Generations{listeners: listeners, errs: make(chan error, len(listeners))}
}

// Start puts srv in charge and starts accepting. Errors of the accept loops
// (a listener that fails for good) arrive on Errors.
func (g *Generations) Start(srv *protocol.Server) {
	g.mu.Lock()
	g.current = g.launch(srv)
	g.mu.Unlock()
	for _, l := range g.listeners {
		g.accepts.Add(1)
		go g.acceptLoop(l)
	}
}

// Errors reports accept failures that stop a listener.
func (g *Generations) Errors() <-chan error { return g.errs }

// Current is the server now in charge.
func (g *Generations) Current() *protocol.Server {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.current.srv
}

func (g *Generations) launch(srv *protocol.Server) *generation {
	gen := &generation{srv: srv, handoff: newHandoffListener(g.listeners[0].Addr()), served: make(chan error, 1)}
	go func() { gen.served <- srv.Serve(gen.handoff) }()
	return gen
}

// Replace puts srv in charge of new connections and shuts the previous
// server down in the background: its transfers in flight finish, bounded by
// ctx; then it is closed.
func (g *Generations) Replace(ctx context.Context, srv *protocol.Server) {
	g.mu.Lock()
	old := g.current
	g.current = g.launch(srv)
	g.retiring.Add(1)
	g.mu.Unlock()
	go func() {
		defer g.retiring.Done()
		retire(ctx, old)
	}()
}

func retire(ctx context.Context, gen *generation) error {
	err := gen.srv.Shutdown(ctx)
	gen.srv.Close()
	<-gen.served
	return err
}

// Shutdown closes the listening sockets, then lets every server finish its
// transfers, bounded by ctx; past it, they are cut.
func (g *Generations) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	g.closed = true
	cur := g.current
	g.mu.Unlock()
	for _, l := range g.listeners {
		l.Close()
	}
	g.accepts.Wait()
	var err error
	if cur != nil {
		err = retire(ctx, cur)
	}
	g.retiring.Wait()
	return err
}

// acceptLoop hands each accepted connection to the server in charge.
func (g *Generations) acceptLoop(l net.Listener) {
	defer g.accepts.Done()
	for {
		conn, err := l.Accept()
		if err != nil {
			g.mu.Lock()
			closed := g.closed
			g.mu.Unlock()
			if closed || errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			g.errs <- err
			return
		}
		for {
			g.mu.Lock()
			cur := g.current
			g.mu.Unlock()
			if cur.handoff.deliver(conn) {
				break
			}
			// That server was just replaced; the new one takes it. If
			// the daemon is stopping, nobody will.
			g.mu.Lock()
			stopping := g.closed && g.current == cur
			g.mu.Unlock()
			if stopping {
				conn.Close()
				break
			}
		}
	}
}

// handoffListener is the listener a protocol.Server of one generation
// serves: its connections come from the accept loops, not from a socket.
type handoffListener struct {
	addr   net.Addr
	conns  chan net.Conn
	done   chan struct{}
	closed sync.Once
}

func newHandoffListener(addr net.Addr) *handoffListener {
	return &handoffListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

// deliver hands conn to the server; false when the listener is closed.
func (h *handoffListener) deliver(conn net.Conn) bool {
	select {
	case h.conns <- conn:
		return true
	case <-h.done:
		return false
	}
}

func (h *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-h.conns:
		return c, nil
	case <-h.done:
		return nil, net.ErrClosed
	}
}

func (h *handoffListener) Close() error {
	h.closed.Do(func() { close(h.done) })
	return nil
}

func (h *handoffListener) Addr() net.Addr { return h.addr }
