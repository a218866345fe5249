package protocol

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the reference server, used where a Server field is zero.
const (
	// DefaultPort is Tentacle's IANA port.
	DefaultPort = 41121
	// DefaultMaxSize is the largest file accepted, in bytes.
	DefaultMaxSize = 2000000
	// DefaultTimeout is how long a peer may stay silent: the reference
	// waits 1 s, 3 more times, before it drops a peer.
	DefaultTimeout = 4 * time.Second
)

// Server accepts Tentacle connections and serves their commands. Its
// exported fields are its configuration: set them before Serve and do not
// change them after, as with net/http.Server.
type Server struct {
	// Storage receives uploaded files and supplies downloaded ones. It must
	// be set unless RelayAddress is.
	Storage Storage
	// Filters route file names to subdirectories, first match wins.
	Filters []Filter
	// InvalidChars are the characters refused in names; "" means
	// DefaultInvalidChars.
	InvalidChars string
	// MaxSize is the largest file accepted, in bytes; 0 means
	// DefaultMaxSize. It also caps what a compressed upload inflates to.
	MaxSize int64
	// Overwrite lets an upload replace a stored file of the same name.
	Overwrite bool
	// Insecure enables LS and MV, which let a client see and take files
	// that other clients sent.
	Insecure bool
	// Password, when not empty, must be proven with PASS before anything
	// else; a wrong proof closes the connection.
	Password string
	// TLSConfig, when set, wraps every connection in TLS from its first
	// byte. Set ClientAuth in it to require client certificates.
	TLSConfig *tls.Config
	// MaxConnections bounds the connections served at once; 0 means no
	// bound. Clients past it wait in the listen backlog, as with the
	// reference, instead of being turned away. Each connection holds a
	// goroutine and a few file descriptors, so thousands are cheap; a
	// small bound mostly lets silent peers keep healthy agents waiting.
	MaxConnections int
	// Timeout is how long a peer may stay silent, or refuse to take data,
	// before it is dropped; 0 means DefaultTimeout.
	Timeout time.Duration
	// RelayAddress, when set, turns the server into a relay: after TLS and
	// the password check, each connection is joined to a new plain TCP
	// connection to this host:port and bytes flow both ways unchanged.
	RelayAddress string
	// ProxyFrom are the load balancers in front of the server (-P). A
	// connection from one of them must begin with a PROXY protocol header,
	// v1 or v2, within Timeout; the client it names then stands for the
	// peer everywhere: Allow, the log, Transfer.Remote. TLS and the
	// password come after the header. A header that names no client (v2
	// LOCAL, v1 UNKNOWN, or one naming the balancer's own connection, as
	// HAProxy's send-proxy checks do) is a health check: the connection
	// closes without a log line.
	// Other peers are served as direct clients, and a PROXY header from
	// one of them is an unknown command, so that nobody can claim
	// another's address.
	ProxyFrom ProxySources
	// Allow, when set, is asked about each accepted connection before any
	// command is read (after the PROXY header of a balancer); a false
	// answer closes it (hosts.allow, -T). It runs on the connection's own
	// goroutine, so a slow lookup delays nobody else.
	Allow func(remote net.Addr) bool
	// Logger receives what the server has to say; nil discards it.
	Logger Logger
	// OnTransfer, when set, is called once for every transfer command at
	// its end, success or failure, from the connection's goroutine.
	OnTransfer func(Transfer)
	// OnConnection, when set, is called with true when a connection is
	// accepted and with false when it ends, so that a daemon can count the
	// connections served at once and in all without the server keeping a
	// counter it would not use. It runs on the accepting or the
	// connection's goroutine, on every connection: keep it as cheap as an
	// atomic add, and never block.
	OnConnection func(open bool)
	// TempDir holds the archives built for ZRECV; "" means os.TempDir().
	TempDir string

	mu         sync.Mutex
	listeners  map[*net.Listener]struct{}
	conns      map[*conn]struct{}
	closed     bool           // Close was called: new connections are cut
	serving    sync.WaitGroup // Serve loops running
	connsLeft  sync.WaitGroup // connections not yet ended
	inShutdown atomic.Bool
	done       chan struct{}
	slots      chan struct{}
	initOnce   sync.Once
}

// Transfer describes one transfer command as it ended. Records of these are
// how an administrator answers "did agent X's file arrive, and if not, why".
type Transfer struct {
	Remote     net.Addr      // the client (behind a balancer, the one its PROXY header names)
	TLSSubject string        // subject of the client's certificate, if it sent one
	Command    string        // SEND, ZSEND, RECV, ZRECV, LS or MV
	Name       string        // the name the client gave
	Path       string        // where the filters put it, relative to the storage
	Bytes      int64         // file bytes moved (inflated size for ZSEND)
	Start      time.Time     // when the command arrived
	Duration   time.Duration // how long it took
	Err        error         // nil on success; a refusal wraps an Err* value
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		s.listeners = make(map[*net.Listener]struct{})
		s.conns = make(map[*conn]struct{})
		s.done = make(chan struct{})
		if s.MaxConnections > 0 {
			s.slots = make(chan struct{}, s.MaxConnections)
		}
	})
}

func (s *Server) maxSize() int64 {
	if s.MaxSize > 0 {
		return s.MaxSize
	}
	return DefaultMaxSize
}

func (s *Server) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return DefaultTimeout
}

func (s *Server) tempDir() string {
	if s.TempDir != "" {
		return s.TempDir
	}
	return os.TempDir()
}

func (s *Server) logf(level Level, format string, args ...any) {
	logTo(s.Logger, level, format, args...)
}

// logTo formats a message for l unless l is nil or does not want it.
func logTo(l Logger, level Level, format string, args ...any) {
	if l == nil {
		return
	}
	if f, ok := l.(levelFilter); ok && !f.Enabled(level) {
		return
	}
	l.Log(level, fmt.Sprintf(format, args...))
}

// ListenAndServe listens on the TCP address addr and serves it.
func (s *Server) ListenAndServe(addr string) error {
	if s.inShutdown.Load() {
		return ErrServerClosed
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(l)
}

// Serve accepts connections on l and serves each in its own goroutine, until
// l is closed or Shutdown or Close is called; then it returns
// ErrServerClosed (or the error of a listener closed by someone else).
// Other accept errors, such as running out of file descriptors, are
// waited out (see Acceptor): a flood of connections never stops the server.
// Serve may be called for several listeners at once. It closes l.
func (s *Server) Serve(l net.Listener) error {
	s.init()
	if s.Storage == nil && s.RelayAddress == "" {
		l.Close()
		return errors.New("tentacle: server has neither Storage nor RelayAddress")
	}
	s.mu.Lock()
	if s.inShutdown.Load() {
		s.mu.Unlock()
		l.Close()
		return ErrServerClosed
	}
	s.listeners[&l] = struct{}{}
	s.serving.Add(1)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, &l)
		s.mu.Unlock()
		l.Close()
		s.serving.Done()
	}()

	acceptor := &Acceptor{Listener: l, Done: s.done, Logger: s.Logger}
	for {
		if s.slots != nil {
			select {
			case s.slots <- struct{}{}:
			case <-s.done:
				return ErrServerClosed
			}
		}
		rw, err := acceptor.Accept()
		if err != nil {
			s.releaseSlot()
			if s.inShutdown.Load() {
				return ErrServerClosed
			}
			return fmt.Errorf("accept: %w", err)
		}
		// A connection accepted is served to its end, even if a
		// shutdown began meanwhile: its agent is about to send.
		go s.newConn(rw).serve()
	}
}

func (s *Server) releaseSlot() {
	if s.slots != nil {
		<-s.slots
	}
}

// newConn registers an accepted connection, which Shutdown then waits for.
func (s *Server) newConn(rw net.Conn) *conn {
	c := &conn{srv: s, raw: rw, remote: rw.RemoteAddr()}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conns[c] = struct{}{}
	s.connsLeft.Add(1)
	if s.closed {
		rw.Close()
	}
	if s.OnConnection != nil {
		s.OnConnection(true)
	}
	return c
}

// connCount is how many connections are being served, for tests.
func (s *Server) connCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func (s *Server) forgetConn(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.releaseSlot()
	if s.OnConnection != nil {
		s.OnConnection(false)
	}
	s.connsLeft.Done()
}

// Shutdown stops the server gracefully: it closes the listeners, then waits
// until every connection it accepted has ended. Unlike net/http, it closes
// no connection itself, not even one that has sent nothing yet: a Tentacle
// connection just accepted is an agent about to send, not an idle
// keep-alive, so each is served to its end under the usual timeouts (a
// silent peer is dropped after Timeout, as always). If ctx ends first,
// Shutdown returns its error and the remaining connections stay open: call
// Close to cut them.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	s.beginShutdown()
	ended := make(chan struct{})
	go func() {
		// Once the Serve loops have returned, no connection is added.
		s.serving.Wait()
		s.connsLeft.Wait()
		close(ended)
	}()
	select {
	case <-ended:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the server at once: listeners and every connection are
// closed, transfers in flight included (their files are discarded).
func (s *Server) Close() error {
	s.init()
	err := s.beginShutdown()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	for c := range s.conns {
		c.raw.Close()
	}
	return err
}

func (s *Server) beginShutdown() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	if s.inShutdown.CompareAndSwap(false, true) {
		close(s.done)
	}
	for l := range s.listeners {
		if cerr := (*l).Close(); cerr != nil && err == nil {
			err = cerr
		}
	}
	return err
}
