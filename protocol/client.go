package protocol

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// Client is one connection to a Tentacle server. Its methods are the
// protocol's verbs; each waits for the server's answer before it sends data,
// because the reference server cannot take data sent early. A Client is not
// safe for concurrent use: the protocol runs one command at a time.
type Client struct {
	conn net.Conn
	br   *bufio.Reader
}

// Dialer holds the options for connecting to a server. The zero value dials
// plain TCP with DefaultTimeout.
type Dialer struct {
	// Timeout bounds the connection set-up and how long the server may stay
	// silent at any point afterwards; 0 means DefaultTimeout.
	Timeout time.Duration
	// LocalAddr, when set, is the local host or IP address to connect from.
	LocalAddr string
	// Proxy, when set, is an HTTP proxy to tunnel through with CONNECT.
	Proxy *HTTPProxy
	// TLSConfig, when set, starts TLS on the connection before anything
	// else, as a server with a certificate expects.
	TLSConfig *tls.Config
}

// HTTPProxy is an HTTP proxy that supports CONNECT, for agents whose only
// way out of their network is a web proxy.
type HTTPProxy struct {
	Addr     string // host:port of the proxy
	User     string // with Password, sent as Basic proxy authorisation when not empty
	Password string
}

// Dial connects to a Tentacle server at addr (host:port) over plain TCP.
func Dial(addr string) (*Client, error) {
	var d Dialer
	return d.Dial(context.Background(), addr)
}

// Dial connects to the server at addr (host:port) with d's options.
func (d *Dialer) Dial(ctx context.Context, addr string) (*Client, error) {
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	nd := net.Dialer{Timeout: timeout}
	if d.LocalAddr != "" {
		ip, err := net.ResolveIPAddr("ip", d.LocalAddr)
		if err != nil {
			return nil, fmt.Errorf("local address %q: %w", d.LocalAddr, err)
		}
		nd.LocalAddr = &net.TCPAddr{IP: ip.IP, Zone: ip.Zone}
	}
	target := addr
	if d.Proxy != nil {
		target = d.Proxy.Addr
	}
	conn, err := nd.DialContext(ctx, "tcp", target)
	if err != nil {
		if d.Proxy != nil {
			return nil, fmt.Errorf("connect to proxy %s: %w", target, err)
		}
		return nil, fmt.Errorf("connect to %s: %w", target, err)
	}
	dc := &deadlineConn{Conn: conn, timeout: timeout}
	var c net.Conn = dc
	if d.Proxy != nil {
		if err := d.Proxy.connect(dc, addr); err != nil {
			conn.Close()
			return nil, err
		}
	}
	if d.TLSConfig != nil {
		tc := tls.Client(dc, d.TLSConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
		}
		c = tc
	}
	return &Client{conn: c, br: bufio.NewReaderSize(c, lineBufferSize)}, nil
}

// NewClient uses an established connection, for callers that dial on their
// own. The connection should bound its reads and writes with deadlines.
func NewClient(conn net.Conn) *Client {
	return &Client{conn: conn, br: bufio.NewReaderSize(conn, lineBufferSize)}
}

// connect asks the proxy on conn for a tunnel to addr.
func (p *HTTPProxy) connect(conn net.Conn, addr string) error {
	req := "CONNECT " + addr + " HTTP/1.0\r\n"
	if p.User != "" {
		req += "Proxy-Authorization: Basic " + basicAuth(p.User, p.Password) + "\r\n"
	}
	if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
		return fmt.Errorf("proxy %s: %w", p.Addr, err)
	}
	// Read the answer a byte at a time: whatever follows its blank line
	// belongs to the tunnel, and TLS may take over the connection.
	var head []byte
	one := make([]byte, 1)
	for !strings.HasSuffix(string(head), "\r\n\r\n") && !strings.HasSuffix(string(head), "\n\n") {
		if _, err := io.ReadFull(conn, one); err != nil {
			return fmt.Errorf("proxy %s: reading its answer: %w", p.Addr, err)
		}
		if head = append(head, one[0]); len(head) > 16<<10 {
			return fmt.Errorf("proxy %s: answer too long", p.Addr)
		}
	}
	status, _, _ := strings.Cut(string(head), "\n")
	status = strings.TrimRight(status, "\r")
	fields := strings.Fields(status)
	if len(fields) < 2 || !strings.HasPrefix(fields[0], "HTTP/") || fields[1] != "200" {
		return fmt.Errorf("CONNECT error: %s", status)
	}
	return nil
}

func basicAuth(user, password string) string {
	return base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
}

// Auth proves the password. A server that does not accept it closes the
// connection without a word; that, like any other answer than PASS OK, is
// ErrAuth.
func (c *Client) Auth(password string) error {
	if err := c.send("PASS " + passwordProof(password)); err != nil {
		return fmt.Errorf("%w: %v", ErrAuth, err)
	}
	line, err := c.readLine()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrAuth, err)
	}
	if line != "PASS OK" {
		return fmt.Errorf("%w: server responded %s", ErrAuth, line)
	}
	return nil
}

// Send uploads size bytes from r under name. A refusal is a *ReplyError
// (errors.Is with ErrExists, ErrTooBig, ...); the connection stays usable
// after a refusal, but not after any other error.
func (c *Client) Send(name string, r io.Reader, size int64) error {
	return c.upload(VerbSend, name, r, size)
}

// ZSend uploads r under name as a ZIP archive, which the server inflates.
// The archive is built in a temporary file first: its size goes on the wire
// before its bytes.
func (c *Client) ZSend(name string, r io.Reader) error {
	a, err := NewArchive(name, r)
	if err != nil {
		return err
	}
	defer a.Close()
	return c.SendArchive(a)
}

// Archive is a one-member ZIP archive of a file, built in a temporary file
// ahead of a ZSEND: the protocol puts the archive's size on the wire before
// its bytes, and a caller that reports what it sends (as the reference
// client's -v does) needs that size before the upload starts.
type Archive struct {
	name string
	f    tempArchive
	size int64
}

// NewArchive compresses r into a temporary archive whose member is name.
// Close removes it.
func NewArchive(name string, r io.Reader) (*Archive, error) {
	f, err := os.CreateTemp("", tempPrefix+"zsend-*")
	if err != nil {
		return nil, fmt.Errorf("zsend %q: %w", name, err)
	}
	a := &Archive{name: name, f: tempArchive{f}}
	if err := writeZip(f, r, name, time.Now()); err != nil {
		a.Close()
		return nil, fmt.Errorf("zsend %q: %w", name, err)
	}
	if a.size, err = a.f.size(); err != nil {
		a.Close()
		return nil, fmt.Errorf("zsend %q: %w", name, err)
	}
	return a, nil
}

// Size is the archive's length in bytes: what ZSEND announces.
func (a *Archive) Size() int64 { return a.size }

// Sent is how many of the archive's bytes have been read for sending so
// far. It may be called from another goroutine while SendArchive runs, so
// that a progress display can watch the upload without sitting in its way.
func (a *Archive) Sent() int64 {
	n, err := a.f.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0
	}
	return n
}

// Close removes the temporary archive.
func (a *Archive) Close() error { return a.f.Close() }

// SendArchive uploads a with ZSEND under the name it was built with.
func (c *Client) SendArchive(a *Archive) error {
	if _, err := a.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("zsend %q: %w", a.name, err)
	}
	return c.upload(VerbZSend, a.name, a.f.File, a.size)
}

func (c *Client) upload(verb, name string, r io.Reader, size int64) error {
	if err := c.send(verb + " <" + name + "> SIZE " + strconv.FormatInt(size, 10)); err != nil {
		return err
	}
	if err := c.expect(verb, verb+" OK"); err != nil {
		return err
	}
	if _, err := c.copyOut(r, size); err != nil {
		if err == io.EOF {
			err = fmt.Errorf("source ended before %d bytes", size)
		}
		c.conn.Close() // the server still waits for bytes: no way back in step
		return fmt.Errorf("%s %q: %w", strings.ToLower(verb), name, err)
	}
	return c.expect(verb, verb+" OK")
}

// Recv downloads name into w and returns the number of bytes written.
func (c *Client) Recv(name string, w io.Writer) (int64, error) {
	return c.download(VerbRecv, name, w)
}

// Move downloads name into w like Recv, and the server deletes it once sent.
// Servers accept it only in insecure mode.
func (c *Client) Move(name string, w io.Writer) (int64, error) {
	return c.download(VerbMV, name, w)
}

// ZRecv downloads name as a ZIP archive and writes the inflated file to w.
// The archive waits in a temporary file, since a ZIP is read from its end.
func (c *Client) ZRecv(name string, w io.Writer) (int64, error) {
	f, err := os.CreateTemp("", tempPrefix+"zrecv-*")
	if err != nil {
		return 0, fmt.Errorf("zrecv %q: %w", name, err)
	}
	archive := tempArchive{f}
	defer archive.Close()
	size, err := c.download(VerbZRecv, name, f)
	if err != nil {
		return 0, err
	}
	n, err := unzipFirst(w, f, size, math.MaxInt64-1)
	if err != nil {
		return n, fmt.Errorf("zrecv %q: %w", name, err)
	}
	return n, nil
}

// List returns the names in the server directory that the server's filters
// map name to ("" for the storage directory). Insecure mode only.
func (c *Client) List(name string) ([]string, error) {
	var b strings.Builder
	if _, err := c.download(VerbLS, name, &b); err != nil {
		return nil, err
	}
	var names []string
	for _, n := range strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n") {
		// Servers list "." and ".." so that a listing is never empty;
		// they are not files.
		if n != "" && n != "." && n != ".." {
			names = append(names, n)
		}
	}
	return names, nil
}

func (c *Client) download(verb, name string, w io.Writer) (int64, error) {
	if err := c.send(verb + " <" + name + ">"); err != nil {
		return 0, err
	}
	line, err := c.readLine()
	if err != nil {
		return 0, err
	}
	sizeText, ok := strings.CutPrefix(line, verb+" SIZE ")
	size, okSize := parseSize(sizeText)
	if !ok || !okSize || size == math.MaxInt64 {
		return 0, &ReplyError{Command: verb, Line: line}
	}
	if err := c.send(verb + " OK"); err != nil {
		return 0, err
	}
	tw := &trackedWriter{w: w}
	n, err := copyN(tw, c.br, size)
	if err != nil {
		if tw.err != nil {
			// Keep the connection in step: take the rest from the wire.
			if _, derr := copyN(io.Discard, c.br, size-n); derr != nil {
				c.conn.Close()
			}
			return n, fmt.Errorf("%s %q: write: %w", strings.ToLower(verb), name, tw.err)
		}
		c.conn.Close()
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return n, fmt.Errorf("%s %q: %w", strings.ToLower(verb), name, err)
	}
	return n, nil
}

// Quit ends the session politely and closes the connection.
func (c *Client) Quit() error {
	err := c.send(VerbQuit)
	if cerr := c.conn.Close(); err == nil {
		err = cerr
	}
	return err
}

// Close closes the connection without QUIT.
func (c *Client) Close() error { return c.conn.Close() }

// LocalAddr is the client's end of the connection.
func (c *Client) LocalAddr() net.Addr { return c.conn.LocalAddr() }

func (c *Client) send(line string) error {
	if _, err := io.WriteString(c.conn, line+"\n"); err != nil {
		return fmt.Errorf("send %s: %w", strings.Fields(line)[0], err)
	}
	return nil
}

func (c *Client) readLine() (string, error) {
	line, err := readLine(c.br)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return "", fmt.Errorf("read reply: %w", err)
	}
	return line, nil
}

// expect reads a reply and turns anything but want into a *ReplyError.
func (c *Client) expect(verb, want string) error {
	line, err := c.readLine()
	if err != nil {
		return err
	}
	if line != want {
		return &ReplyError{Command: verb, Line: line}
	}
	return nil
}
