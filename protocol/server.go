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
	// reference, instead of being turned away.
	MaxConnections int
	// Timeout is how long a peer may stay silent, or refuse to take data,
	// before it is dropped; 0 means DefaultTimeout.
	Timeout time.Duration
	// RelayAddress, when set, turns the server into a relay: after TLS and
	// the password check, each connection is joined to a new plain TCP
	// connection to this host:port and bytes flow both ways unchanged.
	RelayAddress string
	// Allow, when set, is asked about each accepted connection before any
	// byte is read; a false answer closes it (hosts.allow, -T).
	Allow func(remote net.Addr) bool
	// Logger receives what the server has to say; nil discards it.
	Logger Logger
	// OnTransfer, when set, is called once for every transfer command at
	// its end, success or failure, from the connection's goroutine.
	OnTransfer func(Transfer)
	// TempDir holds the archives built for ZRECV; "" means os.TempDir().
	TempDir string

	mu         sync.Mutex
	listeners  map[*net.Listener]struct{}
	conns      map[*conn]struct{}
	inShutdown atomic.Bool
	done       chan struct{}
	slots      chan struct{}
	initOnce   sync.Once
}

// Transfer describes one transfer command as it ended. Records of these are
// how an administrator answers "did agent X's file arrive, and if not, why".
type Transfer struct {
	Remote     net.Addr      // the client
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
	if s.Logger == nil {
		return
	}
	if f, ok := s.Logger.(levelFilter); ok && !f.Enabled(level) {
		return
	}
	s.Logger.Log(level, fmt.Sprintf(format, args...))
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
// l fails or Shutdown or Close is called; then it returns ErrServerClosed.
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
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, &l)
		s.mu.Unlock()
		l.Close()
	}()

	var backoff time.Duration
	for {
		if s.slots != nil {
			select {
			case s.slots <- struct{}{}:
			case <-s.done:
				return ErrServerClosed
			}
		}
		rw, err := l.Accept()
		if err != nil {
			s.releaseSlot()
			if s.inShutdown.Load() {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, errTooManyFiles) {
				// Out of file descriptors or a transient failure:
				// wait and retry rather than give up serving.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.logf(LevelError, "accept: %v; retrying in %v", err, backoff)
				select {
				case <-time.After(backoff):
				case <-s.done:
					return ErrServerClosed
				}
				continue
			}
			return fmt.Errorf("accept: %w", err)
		}
		backoff = 0
		if s.Allow != nil && !s.Allow(rw.RemoteAddr()) {
			s.logf(LevelLog, "Connection from %s is closed by hosts access rules", rw.RemoteAddr())
			rw.Close()
			s.releaseSlot()
			continue
		}
		c := s.newConn(rw)
		if c == nil {
			rw.Close()
			s.releaseSlot()
			return ErrServerClosed
		}
		go c.serve()
	}
}

func (s *Server) releaseSlot() {
	if s.slots != nil {
		<-s.slots
	}
}

func (s *Server) newConn(rw net.Conn) *conn {
	c := &conn{srv: s, raw: rw, remote: rw.RemoteAddr()}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inShutdown.Load() {
		return nil
	}
	s.conns[c] = struct{}{}
	return c
}

func (s *Server) forgetConn(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.releaseSlot()
}

// shutdownPollInterval is how often Shutdown looks for connections that have
// gone idle.
const shutdownPollInterval = 20 * time.Millisecond

// Shutdown stops the server gracefully: it closes the listeners, closes the
// connections that are between commands, and waits for the transfers in
// flight to end before it closes their connections too. If ctx ends first,
// Shutdown returns its error and the remaining connections stay open: call
// Close to cut them.
func (s *Server) Shutdown(ctx context.Context) error {
	s.init()
	s.beginShutdown()
	ticker := time.NewTicker(shutdownPollInterval)
	defer ticker.Stop()
	for {
		if s.closeIdleConns() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ticker.C:
		}
	}
}

// Close stops the server at once: listeners and every connection are
// closed, transfers in flight included (their files are discarded).
func (s *Server) Close() error {
	s.init()
	err := s.beginShutdown()
	s.mu.Lock()
	defer s.mu.Unlock()
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

// closeIdleConns closes the connections waiting for a command and reports
// whether none is left.
func (s *Server) closeIdleConns() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.state.CompareAndSwap(stateIdle, stateClosing) {
			c.raw.Close()
		}
	}
	return len(s.conns) == 0
}
