//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"tentacle/protocol"
	"tentacle/tlsconfig"
)

// serverKind says what is measured.
type serverKind int

const (
	kindBinary    serverKind = iota // the Go server binary, as a child process
	kindInProcess                   // a protocol.Server inside the bench
	kindPerl                        // the Perl reference, as a child process
)

// serverOptions are the options every server under test gets.
type serverOptions struct {
	kind     serverKind
	path     string // binary or Perl script
	maxConns int    // -c; 0 for the server's default
	timeout  int    // -t, seconds
	maxSize  int64  // -m, bytes
	// defaults runs a child server as shipped: -s, -a and -p only (and
	// -U as root), ignoring maxConns, timeout and maxSize. An in-process
	// server still gets them.
	defaults bool
	// proxyFrom are the balancers whose PROXY headers the server reads
	// (-P); the Perl reference has no such option.
	proxyFrom protocol.ProxySources
	// tls, when set, makes the server speak TLS (-e, -k, -f) and the
	// bench's clients too.
	tls *serverTLS
}

// serverTLS is the TLS of a server under test: its files, given to every
// kind of server alike (ca empty for none: no -f), and the configuration
// of the bench's clients.
type serverTLS struct {
	cert, key, ca string
	client        *tls.Config
}

// server is a running server under test.
type server struct {
	label   string
	addr    string // 127.0.0.1:port
	dir     string // storage directory
	pid     int    // whose /proc entries describe the server
	cmdline []string

	cmd    *exec.Cmd
	done   chan struct{} // closed when the child has exited
	output *tailBuffer

	inproc  *protocol.Server
	storage *protocol.DirStorage

	clientTLS *tls.Config // nil for plain TCP
}

// dialer is how the bench's clients reach the server: over TLS if it
// speaks TLS.
func (s *server) dialer(timeout time.Duration) protocol.Dialer {
	return protocol.Dialer{Timeout: timeout, TLSConfig: s.clientTLS}
}

// startupTimeout bounds the wait for a server's port to accept connections.
const startupTimeout = 15 * time.Second

// startServer starts a server on dir and waits until it accepts
// connections. As root, a child server runs as the user nobody, who is given
// dir.
func startServer(opts serverOptions, dir string) (*server, error) {
	if opts.kind == kindInProcess {
		return startInProcess(opts, dir)
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &server{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: dir, done: make(chan struct{}), output: &tailBuffer{max: 8 << 10}}
	serverArgs := []string{"-s", dir, "-a", "127.0.0.1", "-p", strconv.Itoa(port)}
	if !opts.defaults {
		serverArgs = append(serverArgs, "-t", strconv.Itoa(opts.timeout), "-m", strconv.FormatInt(opts.maxSize, 10), "-q")
	}
	if opts.maxConns > 0 && !opts.defaults { // 0: the server's default
		serverArgs = append(serverArgs, "-c", strconv.Itoa(opts.maxConns))
	}
	if len(opts.proxyFrom) > 0 {
		serverArgs = append(serverArgs, "-P", opts.proxyFrom.String())
	}
	if opts.tls != nil {
		serverArgs = append(serverArgs, "-e", opts.tls.cert, "-k", opts.tls.key)
		if opts.tls.ca != "" {
			serverArgs = append(serverArgs, "-f", opts.tls.ca)
		}
		s.clientTLS = opts.tls.client
	}
	asRoot := os.Geteuid() == 0
	var nobody *user.User
	if asRoot {
		if nobody, err = user.Lookup("nobody"); err != nil {
			return nil, fmt.Errorf("running as root, the server must run as nobody: %w", err)
		}
		if err := chownDir(dir, nobody); err != nil {
			return nil, err
		}
	}
	switch opts.kind {
	case kindBinary:
		s.label = "tentacle_server"
		s.cmdline = append([]string{opts.path}, serverArgs...)
		if asRoot {
			s.cmdline = append(s.cmdline, "-U", "nobody")
		}
	case kindPerl:
		s.label = "Perl tentacle_server"
		s.cmdline = append([]string{"perl", opts.path}, serverArgs...)
		if asRoot {
			// The reference refuses to run as root and cannot drop
			// privileges itself.
			s.cmdline = append([]string{"setpriv", "--reuid=" + nobody.Uid, "--regid=" + nobody.Gid, "--clear-groups"}, s.cmdline...)
		}
	}
	s.cmd = exec.Command(s.cmdline[0], s.cmdline[1:]...)
	s.cmd.Stdout = s.output
	s.cmd.Stderr = s.output
	// Kill the child if the bench dies (kept until the child changes user).
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", s.label, err)
	}
	s.pid = s.cmd.Process.Pid
	go func() {
		s.cmd.Wait()
		close(s.done)
	}()
	if err := s.waitReady(); err != nil {
		s.stop()
		return nil, err
	}
	return s, nil
}

func startInProcess(opts serverOptions, dir string) (*server, error) {
	storage, err := protocol.OpenDirStorage(dir)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		storage.Close()
		return nil, err
	}
	srv := &protocol.Server{
		Storage:        storage,
		MaxConnections: opts.maxConns,
		Timeout:        time.Duration(opts.timeout) * time.Second,
		MaxSize:        opts.maxSize,
		ProxyFrom:      opts.proxyFrom,
	}
	var clientTLS *tls.Config
	if opts.tls != nil {
		cfg, err := tlsconfig.Server(tlsconfig.Options{CertFile: opts.tls.cert, KeyFile: opts.tls.key, CAFile: opts.tls.ca})
		if err != nil {
			storage.Close()
			ln.Close()
			return nil, err
		}
		srv.TLSConfig, clientTLS = cfg, opts.tls.client
	}
	go srv.Serve(ln)
	return &server{
		clientTLS: clientTLS,
		label:     "in-process protocol.Server",
		addr:      ln.Addr().String(),
		dir:       dir,
		pid:       os.Getpid(),
		cmdline:   []string{"(in-process)"},
		inproc:    srv,
		storage:   storage,
	}, nil
}

// waitReady waits until the server stores a file: an open port is not
// enough, since a server may listen before it serves (the Go server, for
// one, cleans its storage directory in between).
func (s *server) waitReady() error {
	deadline := time.Now().Add(startupTimeout)
	for attempt := 0; ; attempt++ {
		select {
		case <-s.done:
			return fmt.Errorf("%s exited at start (%v): %s", s.label, s.cmd.ProcessState, strings.TrimSpace(s.output.String()))
		default:
		}
		err := s.probe(fmt.Sprintf("ready-%d-%d.data", time.Now().UnixNano(), attempt))
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s does not take files on %s after %v: %v", s.label, s.addr, startupTimeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// probe sends a one-byte file.
func (s *server) probe(name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d := s.dialer(5 * time.Second)
	c, err := d.Dial(ctx, s.addr)
	if err != nil {
		return err
	}
	if err := c.Send(name, strings.NewReader("."), 1); err != nil {
		c.Close()
		return err
	}
	return c.Quit()
}

// stop ends the server: SIGTERM, then SIGKILL if it lingers.
func (s *server) stop() {
	if s.inproc != nil {
		s.inproc.Close()
		s.storage.Close()
		return
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
	}
}

// alive reports whether the child is still running.
func (s *server) alive() bool {
	if s.inproc != nil {
		return true
	}
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// exitNote describes how a child that died ended, for error messages.
func (s *server) exitNote() string {
	if s.alive() {
		return ""
	}
	return fmt.Sprintf(" (%s exited: %v; output: %s)", s.label, s.cmd.ProcessState, strings.TrimSpace(s.output.String()))
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// chownDir gives dir (not what it holds) to u.
func chownDir(dir string, u *user.User) error {
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err := errors.Join(err1, err2); err != nil {
		return fmt.Errorf("user %s: %w", u.Username, err)
	}
	return os.Chown(dir, uid, gid)
}

// procStatus holds the memory figures of /proc/PID/status, in bytes.
type procStatus struct {
	rss, hwm int64
	threads  int
}

func readProcStatus(pid int) (procStatus, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return procStatus{}, err
	}
	defer f.Close()
	var st procStatus
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		fields := strings.Fields(val)
		if len(fields) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(fields[0], 10, 64)
		switch key {
		case "VmRSS":
			st.rss = n << 10
		case "VmHWM":
			st.hwm = n << 10
		case "Threads":
			st.threads = int(n)
		}
	}
	return st, sc.Err()
}

// status reads the server's memory figures; zero when they cannot be read.
func (s *server) status() procStatus {
	st, _ := readProcStatus(s.pid)
	return st
}

// cpuSeconds is the user and system CPU time the server process has used,
// or -1 when unknown.
func (s *server) cpuSeconds() float64 { return processCPUSeconds(s.pid) }

// selfCPUSeconds is the bench's own CPU time.
func selfCPUSeconds() float64 { return processCPUSeconds(os.Getpid()) }

// userHZ is the unit of the times in /proc on Linux (USER_HZ).
const userHZ = 100

func processCPUSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// The command name, in parentheses, may hold blanks: count fields
	// after its closing parenthesis. utime and stime are fields 14 and 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return -1
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return -1
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return float64(utime+stime) / userHZ
}

// cpuUse is the machine's CPU time from /proc/stat, in USER_HZ ticks summed
// over all CPUs.
type cpuUse struct {
	total, idle, steal int64
}

func readSystemCPU() cpuUse {
	line := fileField("/proc/stat", "cpu", " ")
	f := strings.Fields(line)
	var v [8]int64
	for i := range min(len(f), len(v)) {
		v[i], _ = strconv.ParseInt(f[i], 10, 64)
	}
	// user nice system idle iowait irq softirq steal
	var u cpuUse
	for _, x := range v {
		u.total += x
	}
	u.idle = v[3] + v[4]
	u.steal = v[7]
	return u
}

func (u cpuUse) minus(o cpuUse) cpuUse {
	return cpuUse{u.total - o.total, u.idle - o.idle, u.steal - o.steal}
}

func (u cpuUse) plus(o cpuUse) cpuUse {
	return cpuUse{u.total + o.total, u.idle + o.idle, u.steal + o.steal}
}

// busy is the share of all CPUs that was in use (steal included).
func (u cpuUse) busy() float64 {
	if u.total <= 0 {
		return 0
	}
	return float64(u.total-u.idle) / float64(u.total)
}

// stolen is the share of all CPUs that the hypervisor gave to others.
func (u cpuUse) stolen() float64 {
	if u.total <= 0 {
		return 0
	}
	return float64(u.steal) / float64(u.total)
}

// fdCount is how many files the server holds open, -1 when unknown.
func (s *server) fdCount() int {
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", s.pid))
	if err != nil {
		return -1
	}
	return len(entries)
}

// tailBuffer keeps the last max bytes written to it, for error messages.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
