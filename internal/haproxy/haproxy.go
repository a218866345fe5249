// Package haproxy runs a real HAProxy in front of Tentacle servers, on
// loopback, for the tests and the bench that prove -P behind the balancer
// administrators actually use: its configuration mirrors the shipped
// example (etc/haproxy/tentacle.cfg), with PROXY protocol headers, health
// checks and redispatch, and it runs in the foreground (-db) as the
// caller's child, so that it ends with the caller.
package haproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"tentacle/internal/testharness"
)

// Server is one Tentacle server behind the balancer.
type Server struct {
	// Name names it in HAProxy's configuration and messages.
	Name string
	// Addr is its host:port.
	Addr string
	// ProxyVersion is the PROXY protocol header HAProxy sends it: 1
	// (send-proxy), 2 (send-proxy-v2), or 0 for none.
	ProxyVersion int
}

// Config is the balancer to run.
type Config struct {
	// Binary is the haproxy program; "" means "haproxy" in PATH.
	Binary string
	// Dir receives the configuration file.
	Dir string
	// Listen is the host:port agents connect to.
	Listen string
	// Source, when set, is the local address HAProxy connects to the
	// servers from: the one their -P trusts, which the agents do not use.
	Source string
	// Servers share the connections round robin.
	Servers []Server
	// CheckInterval is the health checks' period; 0 means no checks.
	// A failed check takes a server out at once, a passed one puts it
	// back: a test kills a server and wants the traffic moved quickly.
	CheckInterval time.Duration
	// MaxConn bounds the connections HAProxy serves at once; 0 means 256.
	MaxConn int
}

// Text is the configuration file for c.
func (c Config) Text() string {
	maxConn := c.MaxConn
	if maxConn == 0 {
		maxConn = 256
	}
	var b strings.Builder
	fmt.Fprintf(&b, `# Written by tentacle's internal/haproxy: a test or bench balancer.
global
    maxconn %d

defaults
    mode tcp
    timeout connect 2s
    # An agent or a server silent this long is cut; Tentacle's own
    # timeouts are shorter.
    timeout client 30s
    timeout server 30s
    # A connection refused by a server that just died goes to another.
    retries 3
    option redispatch 1

frontend tentacle
    bind %s
    default_backend tentacle_servers

backend tentacle_servers
    balance roundrobin
`, maxConn, c.Listen)
	if c.Source != "" {
		fmt.Fprintf(&b, "    source %s\n", c.Source)
	}
	for _, s := range c.Servers {
		fmt.Fprintf(&b, "    server %s %s", s.Name, s.Addr)
		switch s.ProxyVersion {
		case 1:
			b.WriteString(" send-proxy")
		case 2:
			b.WriteString(" send-proxy-v2")
		}
		if c.CheckInterval > 0 {
			fmt.Fprintf(&b, " check inter %dms fall 1 rise 1", c.CheckInterval.Milliseconds())
		}
		b.WriteString("\n")
	}
	return b.String()
}

// Process is a running HAProxy.
type Process struct {
	cmd    *exec.Cmd
	out    *testharness.SyncBuffer
	exited chan struct{}
	err    error
}

// Start writes the configuration, checks it with haproxy -c, starts
// haproxy -db and returns once it listens on Listen, or ctx ends. It
// does not connect to find out: HAProxy would pass the connection on to
// a server, whose log would show a client that is not one.
func Start(ctx context.Context, c Config) (*Process, error) {
	bin := c.Binary
	if bin == "" {
		bin = "haproxy"
	}
	cfg := filepath.Join(c.Dir, "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(c.Text()), 0o644); err != nil {
		return nil, err
	}
	if out, err := exec.CommandContext(ctx, bin, "-c", "-q", "-f", cfg).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("haproxy -c %s: %v\n%s", cfg, err, out)
	}
	p := &Process{out: &testharness.SyncBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, "-db", "-f", cfg)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	_, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		p.Stop()
		return nil, fmt.Errorf("listen address %s: %w", c.Listen, err)
	}
	for {
		if listening(port) {
			return p, nil
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("haproxy exited at start (%v):\n%s", p.err, p.out)
		case <-ctx.Done():
			p.Stop()
			return nil, fmt.Errorf("haproxy does not listen on %s: %w", c.Listen, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Pid is the process id, to read its CPU time in /proc.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Output is what HAProxy printed so far: warnings, alerts.
func (p *Process) Output() string { return p.out.String() }

// Stop ends HAProxy and waits for it.
func (p *Process) Stop() error {
	select {
	case <-p.exited:
	default:
		p.cmd.Process.Kill()
		<-p.exited
	}
	var ee *exec.ExitError
	if p.err != nil && !errors.As(p.err, &ee) {
		return p.err
	}
	return nil
}

// listening tells whether a TCP socket of this machine listens on port,
// from /proc/net/tcp and tcp6: lines of "sl local rem st ...", the local
// address as HEXIP:HEXPORT, state 0A for LISTEN.
func listening(port string) bool {
	n, err := strconv.Atoi(port)
	if err != nil {
		return false
	}
	suffix := fmt.Sprintf(":%04X", n)
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		b, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) > 3 && strings.HasSuffix(f[1], suffix) && f[3] == "0A" {
				return true
			}
		}
	}
	return false
}
