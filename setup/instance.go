package setup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"tentacle/hostsaccess"
	"tentacle/options"
	"tentacle/protocol"
	"tentacle/tlsconfig"
)

// DaemonName is the name tentacle_server's rules carry in hosts.allow and
// hosts.deny (-T).
const DaemonName = "tentacle_server"

// hostsAllowPath and hostsDenyPath are the -T rule files; "" means the
// system's. Tests point them elsewhere.
var hostsAllowPath, hostsDenyPath string

// Instance is one configured server and its sockets.
type Instance struct {
	Options   *options.Server
	Server    *protocol.Server
	Logger    *protocol.TextLogger
	Listeners []net.Listener
	Storage   *protocol.DirStorage

	log *logSink
}

// New checks and prepares everything that does not need the network or the
// storage directory: the log destination, the TLS certificate and key (read
// now, while the process may still be root), the filters and the access
// rules. keyPassword decrypts an encrypted key (-w; the caller prompts).
// stdout and stderr are where log lines go when there is no -l file.
func New(o *options.Server, keyPassword string, stdout, stderr io.Writer) (*Instance, error) {
	in := &Instance{Options: o, log: &logSink{stdout: stdout, stderr: stderr}}
	if err := in.log.set(o.LogFile); err != nil {
		return nil, err
	}
	in.Logger = &protocol.TextLogger{
		Out: sinkWriter{in.log, false}, Err: sinkWriter{in.log, true},
		Verbosity: o.Verbosity, Quiet: o.Quiet,
	}
	srv, err := NewServer(o, keyPassword, in.Logger)
	if err != nil {
		in.Close()
		return nil, err
	}
	in.Server = srv
	return in, nil
}

// NewServer builds the protocol.Server that the options describe, without
// storage or sockets: a daemon's reload builds a new one from new options
// and puts it behind the sockets it already has.
func NewServer(o *options.Server, keyPassword string, logger protocol.Logger) (*protocol.Server, error) {
	srv := &protocol.Server{
		InvalidChars:   o.InvalidChars,
		MaxSize:        o.MaxSize,
		Overwrite:      o.Overwrite,
		Insecure:       o.Insecure,
		Password:       o.Password,
		MaxConnections: MaxConnections(o.MaxConnections),
		// The reference waits Timeout seconds, then Retries more times.
		Timeout:   time.Duration(o.Timeout) * time.Duration(o.Retries+1) * time.Second,
		ProxyFrom: protocol.ProxySources(o.ProxyFrom),
		Logger:    logger,
	}
	if o.Filters != "" {
		filters, err := protocol.ParseFilters(o.Filters)
		if err != nil {
			return nil, fmt.Errorf("-i: %w", err)
		}
		srv.Filters = filters
	}
	if o.SSLCert != "" {
		cfg, err := tlsconfig.Server(tlsconfig.Options{
			CertFile: o.SSLCert, KeyFile: o.SSLKey, CAFile: o.SSLCA,
			KeyPassword: keyPassword, Version: o.SSLVersion, Ciphers: o.SSLCipher,
		})
		if err != nil {
			return nil, fmt.Errorf("TLS (-e/-k/-f/-z/-u): %w", err)
		}
		srv.TLSConfig = cfg
	}
	if o.ProxyAddress != "" {
		srv.RelayAddress = net.JoinHostPort(o.ProxyAddress, strconv.Itoa(o.ProxyPort))
	}
	if o.UseLibwrap {
		checker := &hostsaccess.Checker{Daemon: DaemonName, AllowPath: hostsAllowPath, DenyPath: hostsDenyPath}
		srv.Allow = func(remote net.Addr) bool {
			ap, err := netip.ParseAddrPort(remote.String())
			if err != nil {
				logger.Log(protocol.LevelError, fmt.Sprintf("hosts access: address %s: %v", remote, err))
				return false
			}
			ok, err := checker.Allowed(ap.Addr())
			if err != nil {
				// A broken rule file denies everyone rather than
				// letting everyone in.
				logger.Log(protocol.LevelError, fmt.Sprintf("hosts access: %v", err))
				return false
			}
			return ok
		}
		// Check the files now, so that a syntax error stops the start.
		if _, err := checker.Allowed(netip.MustParseAddr("127.0.0.1")); err != nil {
			return nil, fmt.Errorf("-T: %w", err)
		}
	}
	return srv, nil
}

// ListenAddresses returns the host:port pairs the options ask for: every
// address when none (or "0") is given.
func ListenAddresses(o *options.Server) []string {
	port := strconv.Itoa(o.Port)
	if len(o.Addresses) == 0 {
		return []string{net.JoinHostPort("", port)}
	}
	var addrs []string
	for _, a := range o.Addresses {
		if a == "0" || a == "0.0.0.0" && len(o.Addresses) == 1 {
			return []string{net.JoinHostPort("", port)}
		}
		addrs = append(addrs, net.JoinHostPort(a, port))
	}
	return addrs
}

// Listen binds every address of the options. As with the reference, an
// address that cannot be bound is logged and skipped; only when none can be
// is it an error.
func (in *Instance) Listen() error {
	var errs []error
	for _, addr := range ListenAddresses(in.Options) {
		// No TCP keep-alive: the -t/-r timeouts already drop silent peers,
		// and the option costs system calls on every accepted connection.
		l, err := (&net.ListenConfig{KeepAlive: -1}).Listen(context.Background(), "tcp", addr)
		if err != nil {
			in.Logger.Log(protocol.LevelError, fmt.Sprintf("Cannot open socket for address %s: %v", addr, err))
			errs = append(errs, err)
			continue
		}
		in.Listeners = append(in.Listeners, l)
	}
	if len(in.Listeners) == 0 {
		return fmt.Errorf("cannot listen on port %d: %w", in.Options.Port, errors.Join(errs...))
	}
	return nil
}

// UseListeners adopts sockets bound elsewhere (systemd socket activation).
func (in *Instance) UseListeners(ls []net.Listener) { in.Listeners = append(in.Listeners, ls...) }

// StorageDirError is a storage directory that cannot be used, marked so
// that a caller can say which of its own settings names it.
type StorageDirError struct{ Err error }

func (e *StorageDirError) Error() string { return e.Err.Error() }

// Unwrap gives the failure.
func (e *StorageDirError) Unwrap() error { return e.Err }

// OpenStorage opens the storage directory, checks that this process (after
// any drop of privileges) can write there, and removes the temporary files
// that a crash left. A relay needs no storage.
func (in *Instance) OpenStorage() error {
	o := in.Options
	if o.Directory == "" {
		return nil
	}
	st, err := protocol.OpenDirStorage(o.Directory)
	if err != nil {
		return &StorageDirError{fmt.Errorf("-s %s: cannot open the storage directory as %s: %w", o.Directory, currentUser(), err)}
	}
	if err := st.CheckWritable(); err != nil {
		st.Close()
		return &StorageDirError{fmt.Errorf("-s %s: cannot write to the storage directory as %s: %w", o.Directory, currentUser(), err)}
	}
	removed, err := st.RemoveTemporaryFiles()
	if err != nil {
		in.Logger.Log(protocol.LevelError, fmt.Sprintf("cleaning leftovers in %s: %v", o.Directory, err))
	}
	if len(removed) > 0 {
		in.Logger.Log(protocol.LevelNotice, fmt.Sprintf("Removed %d unfinished upload(s) left by an earlier run: %s", len(removed), strings.Join(removed, ", ")))
	}
	// An operator who clears a backlog replaces the directory under the
	// running server; say that the storage noticed and follows.
	st.OnReopen = func(dir string) {
		in.Logger.Log(protocol.LevelNotice, fmt.Sprintf("Storage directory %s was replaced; reopened it", dir))
	}
	in.Storage = st
	in.Server.Storage = st
	return nil
}

// Serve serves every listener until Shutdown or Close; it returns the first
// error that is not the normal end.
func (in *Instance) Serve() error {
	o := in.Options
	var wg sync.WaitGroup
	errs := make(chan error, len(in.Listeners))
	for _, l := range in.Listeners {
		in.Logger.Log(protocol.LevelLog, ListeningMessage(l.Addr()))
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := in.Server.Serve(l); !errors.Is(err, protocol.ErrServerClosed) {
				errs <- err
			}
		}()
	}
	if o.ProxyAddress != "" {
		in.Logger.Log(protocol.LevelLog, fmt.Sprintf("Proxy Mode enable, data will be sent to %s port %d", o.ProxyAddress, o.ProxyPort))
	}
	if len(o.ProxyFrom) > 0 {
		in.Logger.Log(protocol.LevelLog, fmt.Sprintf("Connections from %s must start with a PROXY protocol header (-P)", in.Server.ProxyFrom))
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// ListeningMessage words the start-up line as the reference does, which
// scripts wait for: "Server listening on 127.0.0.1 port 41121".
func ListeningMessage(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "Server listening on " + addr.String()
	}
	return "Server listening on " + host + " port " + port
}

// Shutdown stops accepting and waits for transfers in flight, up to ctx.
func (in *Instance) Shutdown(ctx context.Context) error {
	in.Logger.Log(protocol.LevelLog, "Server going down")
	return in.Server.Shutdown(ctx)
}

// Close releases everything at once.
func (in *Instance) Close() error {
	if in.Server != nil {
		in.Server.Close()
	}
	for _, l := range in.Listeners {
		l.Close()
	}
	if in.Storage != nil {
		in.Storage.Close()
	}
	in.log.close()
	return nil
}

func currentUser() string {
	return "uid " + strconv.Itoa(os.Getuid())
}
