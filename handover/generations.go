package handover

import (
	"context"
	"fmt"
	"net"
	"sync"

	"tentacle/protocol"
)

// Generations serves a set of listening sockets with one protocol.Server at
// a time. Replace puts a new one in charge of the next connections; the one
// replaced finishes the transfers it has.
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

// New takes over listeners; Start begins serving them.
func New(listeners []net.Listener) *Generations {
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

// inCharge is the server now in charge.
func (g *Generations) inCharge() *protocol.Server {
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
// server down in the background: every connection it accepted is served to
// its end, bounded by ctx; then it is closed. The channel returned is
// closed once the previous server has ended, when what it used (its
// transfer log, say) can be released.
func (g *Generations) Replace(ctx context.Context, srv *protocol.Server) <-chan struct{} {
	g.mu.Lock()
	old := g.current
	g.current = g.launch(srv)
	g.retiring.Add(1)
	g.mu.Unlock()
	retired := make(chan struct{})
	go func() {
		defer g.retiring.Done()
		defer close(retired)
		retire(ctx, old)
	}()
	return retired
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

// acceptLoop hands each accepted connection to the server in charge. It
// follows protocol.Acceptor's policy: accept errors other than a closed
// listener (a flood that exhausts file descriptors, say) are waited out.
func (g *Generations) acceptLoop(l net.Listener) {
	defer g.accepts.Done()
	acceptor := &protocol.Acceptor{Listener: l, Logger: currentLogger{g}}
	for {
		conn, err := acceptor.Accept()
		if err != nil {
			g.mu.Lock()
			closed := g.closed
			g.mu.Unlock()
			if !closed {
				// Somebody else closed the socket: it cannot serve again.
				g.errs <- fmt.Errorf("listening socket %s closed: %w", l.Addr(), err)
			}
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

// currentLogger sends accept failures to the logger of the server in
// charge at the time: they concern the socket, not one generation, and the
// logger changes with the configuration on reload.
type currentLogger struct{ g *Generations }

func (l currentLogger) Log(level protocol.Level, msg string) {
	if lg := l.g.inCharge().Logger; lg != nil {
		lg.Log(level, msg)
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
