package protocol

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pires/go-proxyproto"

	"tentacle/internal/testcerts"
	"tentacle/internal/testharness"
	"tentacle/tlsconfig"
)

// proxyHeader formats a valid header from src (the client) to dst.
func proxyHeader(t testing.TB, version byte, src, dst string) []byte {
	t.Helper()
	h := proxyproto.HeaderProxyFromAddrs(version, net.TCPAddrFromAddrPort(netip.MustParseAddrPort(src)), net.TCPAddrFromAddrPort(netip.MustParseAddrPort(dst)))
	h.Command = proxyproto.PROXY
	b, err := h.Format()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// localHeader is what a balancer's health check sends: v2 LOCAL, or v1
// UNKNOWN.
func localHeader(version byte) []byte {
	if version == 1 {
		return []byte("PROXY UNKNOWN\r\n")
	}
	return append(append([]byte{}, proxyproto.SIGV2...), 0x20, 0x00, 0x00, 0x00)
}

// v2Header builds a v2 header by hand, for the malformed ones.
func v2Header(sig []byte, command, family byte, length uint16, body []byte) []byte {
	b := append(append([]byte{}, sig...), command, family)
	b = binary.BigEndian.AppendUint16(b, length)
	return append(b, body...)
}

// dialFrom connects to addr from the loopback address local, so that one
// test can be both a trusted balancer and a direct client.
func dialFrom(t testing.TB, local, addr string) *wire {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return &wire{t: t, c: c, br: bufio.NewReader(c)}
}

func mustSources(t testing.TB, nets ...string) ProxySources {
	t.Helper()
	var p ProxySources
	for _, n := range nets {
		p = append(p, netip.MustParsePrefix(n))
	}
	return p
}

// lines returns the log lines of a level ("err", "log", "info").
func (m *memLog) at(level string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, l := range m.lines {
		if strings.HasPrefix(l, level+": ") {
			out = append(out, l)
		}
	}
	return out
}

// TestProxyHeaderNamesClient sends a file through a "balancer" on
// 127.0.0.1 with each kind of header, the header and the command in one
// write as HAProxy may send them: the file is stored, and the client the
// header names is the one that hosts access, the log and the record see.
func TestProxyHeaderNamesClient(t *testing.T) {
	tests := []struct {
		name   string
		header func(t testing.TB) []byte
		client string // Transfer.Remote as printed
	}{
		{"v1 TCP4", func(t testing.TB) []byte { return proxyHeader(t, 1, "192.0.2.7:40001", "127.0.0.1:41121") }, "192.0.2.7:40001"},
		{"v1 TCP6", func(t testing.TB) []byte { return proxyHeader(t, 1, "[2001:db8::7]:40002", "[::1]:41121") }, "[2001:db8::7]:40002"},
		{"v2 TCP4", func(t testing.TB) []byte { return proxyHeader(t, 2, "192.0.2.8:40003", "127.0.0.1:41121") }, "192.0.2.8:40003"},
		{"v2 TCP6", func(t testing.TB) []byte { return proxyHeader(t, 2, "[2001:db8::8]:40004", "[::1]:41121") }, "[2001:db8::8]:40004"},
		{"v2 IPv4-mapped", func(t testing.TB) []byte {
			return proxyHeader(t, 2, "[::ffff:192.0.2.9]:40005", "[::1]:41121")
		}, "192.0.2.9:40005"},
		{"v2 with TLVs", func(t testing.TB) []byte {
			h := proxyproto.HeaderProxyFromAddrs(2, &net.TCPAddr{IP: net.ParseIP("192.0.2.10"), Port: 40006}, &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 41121})
			h.Command = proxyproto.PROXY
			if err := h.SetTLVs([]proxyproto.TLV{{Type: proxyproto.PP2_TYPE_AUTHORITY, Value: []byte("tentacle.example")}}); err != nil {
				t.Fatal(err)
			}
			b, err := h.Format()
			if err != nil {
				t.Fatal(err)
			}
			return b
		}, "192.0.2.10:40006"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				mu      sync.Mutex
				allowed []string
			)
			ts := startServer(t, func(s *Server) {
				s.ProxyFrom = mustSources(t, "127.0.0.1/32")
				s.Allow = func(remote net.Addr) bool {
					mu.Lock()
					defer mu.Unlock()
					allowed = append(allowed, remote.String())
					return true
				}
			})
			w := dialFrom(t, "127.0.0.1", ts.Addr)
			w.send(string(tt.header(t)) + "SEND <a.data> SIZE 5\n")
			w.expect("SEND OK\n")
			w.send("hello")
			w.expect("SEND OK\n")
			w.send("QUIT\n")
			w.expectClosed()
			if got := readFile(t, ts.Dir+"/a.data"); got != "hello" {
				t.Fatalf("stored %q", got)
			}
			testharness.WaitFor(t, "the record", func() bool { return len(ts.Recs.all()) == 1 })
			if got := ts.Recs.all()[0].Remote.String(); got != tt.client {
				t.Errorf("Transfer.Remote %s, want %s", got, tt.client)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(allowed) != 1 || allowed[0] != tt.client {
				t.Errorf("Allow saw %v, want [%s]", allowed, tt.client)
			}
			if !ts.Log.contains("Client connected from " + tt.client + " through 127.0.0.1:") {
				t.Errorf("log does not name the client and the balancer: %q", ts.Log.lines)
			}
			if errs := ts.Log.at("err"); len(errs) > 0 {
				t.Errorf("errors logged: %q", errs)
			}
		})
	}
}

// TestProxyHeaderThenTLS: TLS starts after the header, and a client
// certificate's subject is recorded with the client's address.
func TestProxyHeaderThenTLS(t *testing.T) {
	certs, err := testcerts.Generate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srvTLS, err := tlsconfig.Server(tlsconfig.Options{CertFile: certs.ServerCert, KeyFile: certs.ServerKey, CAFile: certs.CACert})
	if err != nil {
		t.Fatal(err)
	}
	cliTLS, err := tlsconfig.Client(tlsconfig.Options{CertFile: certs.ClientCert, KeyFile: certs.ClientKey, CAFile: certs.CACert})
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, func(s *Server) {
		s.ProxyFrom = mustSources(t, "127.0.0.0/8")
		s.TLSConfig = srvTLS
		s.Password = "pw"
	})
	raw, err := net.Dial("tcp", ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Write(proxyHeader(t, 2, "198.51.100.4:1234", "127.0.0.1:41121")); err != nil {
		t.Fatal(err)
	}
	c := NewClient(tls.Client(raw, cliTLS))
	if err := c.Auth("pw"); err != nil {
		t.Fatal(err)
	}
	if err := c.Send("tls.data", strings.NewReader("secret"), 6); err != nil {
		t.Fatal(err)
	}
	c.Quit()
	testharness.WaitFor(t, "the record", func() bool { return len(ts.Recs.all()) == 1 })
	rec := ts.Recs.all()[0]
	if rec.Remote.String() != "198.51.100.4:1234" || rec.TLSSubject == "" || rec.Err != nil {
		t.Errorf("record %+v, want the header's client, a certificate subject, success", rec)
	}
	if got := readFile(t, ts.Dir+"/tls.data"); got != "secret" {
		t.Errorf("stored %q", got)
	}
}

// TestProxyHealthChecks: what balancers send to check that a server is
// up is answered by a close, and leaves no line in the log but at -V.
// HAProxy's checks send v2 LOCAL with send-proxy-v2, and with send-proxy a
// v1 header naming the check's own connection; both then reset the
// connection. Plain TCP checks connect and close, or reset.
func TestProxyHealthChecks(t *testing.T) {
	tests := []struct {
		name  string
		send  func(c net.Conn) []byte
		reset bool // close with a reset, as HAProxy does
	}{
		{"v2 LOCAL", func(net.Conn) []byte { return localHeader(2) }, true},
		{"v1 UNKNOWN", func(net.Conn) []byte { return localHeader(1) }, false},
		{"v2 LOCAL with an address block", func(net.Conn) []byte { return v2Header(proxyproto.SIGV2, 0x20, 0x11, 12, make([]byte, 12)) }, false},
		{"v1 naming its own connection", func(c net.Conn) []byte {
			return proxyHeader(t, 1, c.LocalAddr().String(), c.RemoteAddr().String())
		}, true},
		{"v2 naming its own connection", func(c net.Conn) []byte {
			return proxyHeader(t, 2, c.LocalAddr().String(), c.RemoteAddr().String())
		}, true},
		{"connect and close", nil, false},
		{"connect and reset", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, func(s *Server) { s.ProxyFrom = mustSources(t, "127.0.0.1/32") })
			for range 5 {
				w := dialFrom(t, "127.0.0.1", ts.Addr)
				if tt.send != nil {
					w.send(string(tt.send(w.c)))
					if !tt.reset {
						w.expectClosed()
					}
				}
				if tt.reset {
					w.c.(*net.TCPConn).SetLinger(0)
				}
				w.c.Close()
			}
			testharness.WaitFor(t, "the checks to end", func() bool { return ts.connCount() == 0 })
			if got := append(ts.Log.at("err"), ts.Log.at("log")...); len(got) > 0 {
				t.Errorf("health checks logged %q", got)
			}
			if len(ts.Recs.all()) > 0 {
				t.Errorf("health checks recorded transfers: %v", ts.Recs.all())
			}
		})
	}
}

// TestProxyBadHeaders: whatever a trusted source sends instead of a good
// header ends in a close and exactly one error line naming the source,
// within the timeout: never a crash, a hang or a file.
func TestProxyBadHeaders(t *testing.T) {
	v4block := make([]byte, 12)
	tests := []struct {
		name  string
		send  []byte
		close bool   // the test closes its side after sending
		want  string // in the error line
	}{
		{"no header", []byte("SEND <a.data> SIZE 5\n"), false, "no PROXY protocol header"},
		{"nothing within the timeout", nil, false, "timed out waiting for its PROXY protocol header"},
		{"truncated v1", []byte("PROXY TCP4 192.0.2.1 127.0.0.1"), true, "bad PROXY protocol header"},
		{"truncated v1, then silence", []byte("PROXY TCP4 192.0.2.1 127.0.0.1"), false, "bad PROXY protocol header"},
		{"v1 signature alone", []byte("PRO"), false, "timed out waiting for its PROXY protocol header"},
		{"v1 over 107 bytes", []byte("PROXY TCP6 " + strings.Repeat("ffff:", 30) + "\r\n"), false, "107 bytes"},
		{"v1 without CR", []byte("PROXY TCP4 192.0.2.1 127.0.0.1 1 2\n"), false, "bad PROXY protocol header"},
		{"v1 bad address", []byte("PROXY TCP4 192.0.2.300 127.0.0.1 1 2\r\n"), false, "bad PROXY protocol header"},
		{"v1 unknown family", []byte("PROXY UDP4 192.0.2.1 127.0.0.1 1 2\r\n"), false, "bad PROXY protocol header"},
		{"v2 wrong signature", v2Header([]byte("\r\n\r\n\x00\r\nQUIX\n"), 0x21, 0x11, 12, v4block), false, "no PROXY protocol header"},
		{"v2 wrong version", v2Header(proxyproto.SIGV2, 0x31, 0x11, 12, v4block), false, "bad PROXY protocol header"},
		{"v2 length too short", v2Header(proxyproto.SIGV2, 0x21, 0x11, 4, v4block[:4]), false, "invalid length"},
		{"v2 length too long", v2Header(proxyproto.SIGV2, 0x21, 0x11, 65535, v4block), false, "invalid length"},
		{"v2 length beyond the data", v2Header(proxyproto.SIGV2, 0x21, 0x11, 40, v4block), false, "timed out waiting for its PROXY protocol header"},
		{"v2 truncated", v2Header(proxyproto.SIGV2, 0x21, 0x11, 12, v4block[:6]), true, "bad PROXY protocol header"},
		{"v2 Unix socket", v2Header(proxyproto.SIGV2, 0x21, 0x31, 216, make([]byte, 216)), false, "Unix socket client"},
		{"v2 UDP", v2Header(proxyproto.SIGV2, 0x21, 0x12, 12, v4block), false, "UDP client"},
		{"v2 undefined family", v2Header(proxyproto.SIGV2, 0x21, 0x13, 12, v4block), false, "unsupported address family"},
		{"v2 PROXY UNSPEC", v2Header(proxyproto.SIGV2, 0x21, 0x00, 0, nil), false, "unsupported address family"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, func(s *Server) {
				s.ProxyFrom = mustSources(t, "127.0.0.1/32")
				s.Timeout = time.Second
			})
			w := dialFrom(t, "127.0.0.1", ts.Addr)
			if tt.send != nil {
				w.send(string(tt.send))
			}
			if tt.close {
				w.c.(*net.TCPConn).CloseWrite()
			}
			w.expectClosed()
			testharness.WaitFor(t, "the connection to end", func() bool { return ts.connCount() == 0 })
			errs := ts.Log.at("err")
			if len(errs) != 1 || !strings.Contains(errs[0], tt.want) || !strings.Contains(errs[0], "127.0.0.1:") {
				t.Errorf("error lines %q, want one naming the source and %q", errs, tt.want)
			}
			if len(ts.Recs.all()) != 0 || len(entries(t, ts.Dir)) != 0 {
				t.Errorf("a bad header led to a transfer: %v, %v", ts.Recs.all(), entries(t, ts.Dir))
			}
		})
	}
}

// TestProxyHeaderFromUntrusted: a peer that -P does not name is served as
// a direct client, and a PROXY header from it is an unknown command, so
// that it cannot pass itself off as another address.
func TestProxyHeaderFromUntrusted(t *testing.T) {
	tests := []struct {
		name   string
		header func(t testing.TB) []byte
	}{
		{"v1", func(t testing.TB) []byte { return proxyHeader(t, 1, "10.1.2.3:1000", "127.0.0.1:41121") }},
		{"v2", func(t testing.TB) []byte { return proxyHeader(t, 2, "10.1.2.3:1000", "127.0.0.1:41121") }},
		{"v2 LOCAL", func(testing.TB) []byte { return localHeader(2) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, func(s *Server) { s.ProxyFrom = mustSources(t, "127.0.0.2/32") })
			w := dialFrom(t, "127.0.0.3", ts.Addr)
			w.send(string(tt.header(t)) + "SEND <spoof.data> SIZE 5\n")
			w.expectClosed()
			testharness.WaitFor(t, "the log", func() bool { return len(ts.Log.at("err")) > 0 })
			if errs := ts.Log.at("err"); len(errs) != 1 || !strings.Contains(errs[0], "127.0.0.3:") || !strings.Contains(errs[0], "from a peer that -P does not trust") {
				t.Errorf("error lines %q, want one naming 127.0.0.3 as untrusted", errs)
			}
			if len(entries(t, ts.Dir)) != 0 {
				t.Errorf("spoofed upload stored: %v", entries(t, ts.Dir))
			}

			// The same peer without a header is an ordinary agent.
			d := dialFrom(t, "127.0.0.3", ts.Addr)
			d.send("SEND <direct.data> SIZE 2\n")
			d.expect("SEND OK\n")
			d.send("ok")
			d.expect("SEND OK\n")
			testharness.WaitFor(t, "the record", func() bool { return len(ts.Recs.all()) == 1 })
			if got := ts.Recs.all()[0].Remote.String(); !strings.HasPrefix(got, "127.0.0.3:") {
				t.Errorf("direct client recorded as %s", got)
			}
		})
	}
}

// TestProxyAllowJudgesClient: the hosts access rules see the client the
// header names, not the balancer, and refuse it like a direct one.
func TestProxyAllowJudgesClient(t *testing.T) {
	ts := startServer(t, func(s *Server) {
		s.ProxyFrom = mustSources(t, "127.0.0.1/32")
		s.Allow = func(remote net.Addr) bool { return !strings.HasPrefix(remote.String(), "203.0.113.") }
	})
	w := dialFrom(t, "127.0.0.1", ts.Addr)
	w.send(string(proxyHeader(t, 2, "203.0.113.5:999", "127.0.0.1:41121")) + "QUIT\n")
	w.expectClosed()
	testharness.WaitFor(t, "the log", func() bool {
		return ts.Log.contains("Connection from 203.0.113.5:999 is closed by hosts access rules")
	})
	w = dialFrom(t, "127.0.0.1", ts.Addr)
	w.send(string(proxyHeader(t, 2, "198.51.100.5:999", "127.0.0.1:41121")) + "SEND <ok.data> SIZE 1\n")
	w.expect("SEND OK\n")
}

// TestProxySourcesTrusts checks the matching of peers against -P's nets.
func TestProxySourcesTrusts(t *testing.T) {
	p := mustSources(t, "10.0.0.0/8", "192.0.2.1/32", "2001:db8::/32")
	tests := []struct {
		addr string
		want bool
	}{
		{"10.1.2.3:5", true},
		{"11.0.0.1:5", false},
		{"192.0.2.1:5", true},
		{"192.0.2.2:5", false},
		{"[::ffff:10.0.0.1]:5", true},
		{"[2001:db8::1]:5", true},
		{"[2001:db9::1]:5", false},
		{"[fe80::1%eth0]:5", false},
	}
	for _, tt := range tests {
		addr := net.TCPAddrFromAddrPort(netip.MustParseAddrPort(tt.addr))
		if got := p.Trusts(addr); got != tt.want {
			t.Errorf("Trusts(%s) = %v, want %v", tt.addr, got, tt.want)
		}
	}
	if (ProxySources{}).Trusts(&net.TCPAddr{IP: net.IPv4(10, 0, 0, 1)}) {
		t.Error("an empty list trusts a peer")
	}
	if got := p.String(); got != "10.0.0.0/8,192.0.2.1,2001:db8::/32" {
		t.Errorf("String() = %q", got)
	}
}

// TestReadProxyHeaderErrors checks the errors of the header path as values.
func TestReadProxyHeaderErrors(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, io.EOF},
		{"no header", []byte("SEND <a> SIZE 1\n"), errNoProxyHeader},
		{"truncated v1", []byte("PROXY TCP4 1.2.3.4"), errBadProxyHeader},
		{"v2 Unix", v2Header(proxyproto.SIGV2, 0x21, 0x31, 216, make([]byte, 216)), errBadProxyHeader},
	}
	for _, tt := range tests {
		_, err := readProxyHeader(bufio.NewReaderSize(bytes.NewReader(tt.in), proxyReaderSize), fuzzPeer, fuzzLocal)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, err, tt.want)
		}
	}
}
