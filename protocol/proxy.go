package protocol

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"time"

	"github.com/pires/go-proxyproto"
)

// ProxySources are the networks of the load balancers (HAProxy's
// send-proxy and send-proxy-v2, say) that stand between agents and the
// server: a connection from one of them begins with a PROXY protocol header
// naming the agent it relays. Without it every agent behind a balancer
// would look like the balancer, in the logs, the transfer records and the
// hosts access (-T) rules. The list is short, so a linear scan is fine.
type ProxySources []netip.Prefix

// Trusts reports whether a connection from remote must carry a PROXY
// protocol header. An IPv4 peer on an IPv6 socket (::ffff:a.b.c.d) counts
// as a.b.c.d.
func (p ProxySources) Trusts(remote net.Addr) bool {
	if len(p) == 0 || remote == nil {
		return false
	}
	ap, err := netip.ParseAddrPort(remote.String())
	if err != nil {
		return false
	}
	addr := ap.Addr().Unmap().WithZone("")
	for _, prefix := range p {
		if prefix.Contains(addr) {
			return true
		}
	}
	return false
}

// String lists the networks the way -P takes them.
func (p ProxySources) String() string {
	parts := make([]string, len(p))
	for i, prefix := range p {
		if prefix.IsSingleIP() {
			parts[i] = prefix.Addr().String()
		} else {
			parts[i] = prefix.String()
		}
	}
	return strings.Join(parts, ",")
}

// Why a connection from a trusted balancer was closed before its first
// command. Each goes to the log with the balancer's address.
var (
	// errNoProxyHeader: the balancer's connection began with something
	// else than a PROXY protocol header, or with nothing before the
	// timeout.
	errNoProxyHeader = errors.New("no PROXY protocol header")
	// errBadProxyHeader: the header is malformed (truncated, too long, a
	// wrong signature or length) or names a client address that the
	// server cannot use (a Unix socket, UDP).
	errBadProxyHeader = errors.New("bad PROXY protocol header")
)

// proxyReaderSize is the buffer that reads a header. The v1 parser needs
// its whole line, up to 107 bytes, to arrive at once; the v2 header is
// read through it in pieces, whatever its length.
const proxyReaderSize = 512

// readProxyHeader reads the PROXY protocol header (v1 or v2) that a
// trusted balancer sends before its client's first byte, on a connection
// from peer to local. It returns the client's address, or nil when the
// balancer speaks for itself: a health check. HAProxy's checks send v2
// LOCAL, or with v1 a header naming the check's own connection (peer to
// local); v1 UNKNOWN means the same. A connection closed or reset before
// its first byte gives io.EOF: that is a check that sends no header.
func readProxyHeader(br *bufio.Reader, peer, local net.Addr) (net.Addr, error) {
	if _, err := br.Peek(1); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("%w: %w", errNoProxyHeader, err)
	}
	h, err := proxyproto.Read(br)
	switch {
	case errors.Is(err, proxyproto.ErrNoProxyProtocol):
		return nil, errNoProxyHeader
	case err != nil:
		return nil, fmt.Errorf("%w: %w", errBadProxyHeader, err)
	case h.Command.IsLocal():
		return nil, nil
	}
	src, dst, ok := h.TCPAddrs()
	if !ok || src.IP == nil || dst.IP == nil {
		return nil, fmt.Errorf("%w: it names a %s client, and Tentacle clients connect over TCP/IP", errBadProxyHeader, familyName(h.TransportProtocol))
	}
	if sameEndpoint(src, peer) && sameEndpoint(dst, local) {
		return nil, nil
	}
	return net.TCPAddrFromAddrPort(tcpAddrPort(src)), nil
}

// tcpAddrPort is a's address and port, an IPv4-mapped address as IPv4.
func tcpAddrPort(a *net.TCPAddr) netip.AddrPort {
	ip, _ := netip.AddrFromSlice(a.IP)
	return netip.AddrPortFrom(ip.Unmap(), uint16(a.Port))
}

// sameEndpoint tells whether a header's address is the socket address b.
func sameEndpoint(a *net.TCPAddr, b net.Addr) bool {
	tb, ok := b.(*net.TCPAddr)
	return ok && tcpAddrPort(a) == tcpAddrPort(tb)
}

// familyName words a header's address family for a log line.
func familyName(f proxyproto.AddressFamilyAndProtocol) string {
	switch {
	case f.IsUnix():
		return "Unix socket"
	case f.IsDatagram():
		return "UDP"
	}
	return fmt.Sprintf("family 0x%02x", byte(f))
}

// acceptProxied reads the header of a connection from a trusted balancer
// within the server's timeout, all of it: a balancer that trickles a header
// is dropped as one that sends none. On success c.remote is the client the
// header names and the connection returned reads on from the header's end.
// It returns nil when the connection is to be closed; it has logged why,
// except for a health check, which closes quietly.
func (c *conn) acceptProxied() net.Conn {
	s := c.srv
	balancer := c.remote
	c.raw.SetReadDeadline(time.Now().Add(s.timeout()))
	br := bufio.NewReaderSize(c.raw, proxyReaderSize)
	client, err := readProxyHeader(br, balancer, c.raw.LocalAddr())
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
		// A balancer's check: connected, then closed or reset, even
		// before the header's end: no agent is behind it.
		s.logf(LevelInfo, "Connection closed from %s", balancer)
		return nil
	case errors.As(err, &ne) && ne.Timeout():
		s.logf(LevelError, "Connection from %s timed out waiting for its PROXY protocol header (-P trusts it as a balancer)", balancer)
		return nil
	case errors.Is(err, errNoProxyHeader):
		s.logf(LevelError, "Connection from %s closed: %v, which -P requires of this balancer", balancer, err)
		return nil
	case err != nil:
		s.logf(LevelError, "Connection from %s closed: %s", balancer, strings.ReplaceAll(err.Error(), "proxyproto: ", ""))
		return nil
	case client == nil:
		// Nobody to serve: the balancer checks that we are up. Bytes
		// after the header would be a client it could not name.
		if br.Buffered() > 0 {
			s.logf(LevelError, "Connection from %s closed: its PROXY protocol header names no client (LOCAL, UNKNOWN or the balancer itself) but data follows", balancer)
		}
		return nil
	}
	c.remote, c.balancer = client, balancer
	if br.Buffered() == 0 {
		return c.raw
	}
	early, _ := br.Peek(br.Buffered())
	return &replayConn{Conn: c.raw, pending: bytes.Clone(early)}
}

// replayConn is a connection whose first bytes were read ahead (with the
// PROXY header) and are served again before the socket's.
type replayConn struct {
	net.Conn
	pending []byte
}

func (r *replayConn) Read(p []byte) (int, error) {
	if len(r.pending) > 0 {
		n := copy(p, r.pending)
		r.pending = r.pending[n:]
		return n, nil
	}
	return r.Conn.Read(p)
}

// looksLikeProxyHeader tells whether a command line that was not
// understood is the start of a PROXY protocol header: "PROXY ..." (v1),
// or the empty line that begins v2's signature, followed by the rest of
// it. rest is what the reader holds after the line.
func looksLikeProxyHeader(line string, rest []byte) bool {
	if strings.HasPrefix(line, "PROXY ") {
		return true
	}
	// The v2 signature is "\r\n\r\n\x00\r\nQUIT\n": the line read was
	// its first "\r\n".
	return line == "" && bytes.HasPrefix(rest, proxyproto.SIGV2[2:])
}
