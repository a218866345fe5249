package protocol

import (
	"bufio"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// copyBufferSize is the size of the buffers that move file data: large
// enough for few system calls per megabyte, small enough that many parallel
// transfers stay cheap.
const copyBufferSize = 128 << 10

var copyBuffers = sync.Pool{New: func() any { return new([copyBufferSize]byte) }}

// conn serves one client connection.
type conn struct {
	srv       *Server
	raw       net.Conn      // the accepted connection
	deadlines *deadlineConn // raw, with a deadline for every read and write
	rw        net.Conn      // raw, or the TLS connection over it
	br        *bufio.Reader // reads rw
	// remote is the client: the peer, or the one that a trusted
	// balancer's PROXY header names (then balancer is the peer).
	remote   net.Addr
	balancer net.Addr

	tlsSubject string
	// inFlight is the transfer being served, until finish records it:
	// what a recovered panic records as failed.
	inFlight *Transfer
}

// serve runs the connection from TLS handshake to close.
func (c *conn) serve() {
	defer c.srv.forgetConn(c)
	defer c.raw.Close()
	defer c.recoverPanic()
	s := c.srv
	stream := c.raw
	if s.ProxyFrom.Trusts(c.remote) {
		if stream = c.acceptProxied(); stream == nil {
			return
		}
	}
	// The rules judge the client, not the balancer it came through.
	if s.Allow != nil && !s.Allow(c.remote) {
		s.logf(LevelLog, "Connection from %s is closed by hosts access rules", c.remote)
		return
	}
	if c.balancer != nil {
		s.logf(LevelInfo, "Client connected from %s through %s", c.remote, c.balancer)
	} else {
		s.logf(LevelInfo, "Client connected from %s", c.remote)
	}

	c.deadlines = &deadlineConn{Conn: stream, timeout: s.timeout()}
	c.rw = c.deadlines
	if s.TLSConfig != nil {
		tc := tls.Server(c.rw, s.TLSConfig)
		if err := tc.Handshake(); err != nil {
			s.logf(LevelError, "TLS handshake with %s failed: %v", c.remote, err)
			return
		}
		if certs := tc.ConnectionState().PeerCertificates; len(certs) > 0 {
			c.tlsSubject = certs[0].Subject.String()
		}
		s.logf(LevelLog, "SSL started for %s", c.remote)
		c.rw = tc
	}
	c.br = bufio.NewReaderSize(c.rw, lineBufferSize)

	if s.Password != "" && !c.authenticate() {
		return
	}
	if s.RelayAddress != "" {
		c.relay()
		return
	}
	// A shutdown does not end this loop: the client decides when the
	// session ends (QUIT, or by closing), within the usual timeouts.
	for {
		line, err := c.readLine()
		if err != nil {
			c.logReadError(err, "waiting for a command")
			return
		}
		cmd, err := ParseCommand(line)
		if err != nil {
			c.logUnknown(line)
			return
		}
		if !c.handle(cmd) {
			return
		}
	}
}

// logUnknown logs a line that is no command. A PROXY protocol header from
// a peer that -P does not name is one: it is refused, so that no agent can
// pass itself off as another, and said loudly, since it is either an
// attack or a balancer missing from -P.
func (c *conn) logUnknown(line string) {
	s := c.srv
	rest, _ := c.br.Peek(c.br.Buffered())
	if looksLikeProxyHeader(line, rest) {
		s.logf(LevelError, "Unknown command %q from %s: a PROXY protocol header from a peer that -P does not trust", line, c.remote)
		return
	}
	s.logf(LevelLog, "Unknown command '%s' from %s", line, c.remote)
}

// recoverPanic turns a panic while serving this connection (in the
// server, a Storage, Allow or OnTransfer) into the end of this connection
// alone: it is logged with its stack, the transfer in flight is recorded
// as failed, and every other connection goes on.
func (c *conn) recoverPanic() {
	v := recover()
	if v == nil {
		return
	}
	c.srv.logf(LevelError, "panic while serving %s: %v\n%s", c.remote, v, debug.Stack())
	if t := c.inFlight; t != nil {
		// A panic in OnTransfer itself is not retried: finish has
		// already cleared inFlight before calling it.
		defer func() {
			if v := recover(); v != nil {
				c.srv.logf(LevelError, "panic while recording a transfer of %s: %v", c.remote, v)
			}
		}()
		c.finish(t, fmt.Errorf("%w: panic: %v", ErrInternal, v))
	}
}

// handle runs one command and reports whether the connection goes on.
func (c *conn) handle(cmd Command) bool {
	s := c.srv
	var err error
	switch cmd.Verb {
	case VerbSend, VerbZSend:
		err = c.handleSend(cmd)
	case VerbRecv, VerbZRecv:
		err = c.handleRecv(cmd)
	case VerbMV:
		err = c.handleMove(cmd)
	case VerbLS:
		err = c.handleList(cmd)
	case VerbQuit:
		s.logf(LevelInfo, "Connection closed from %s", c.remote)
		return false
	default: // PASS after authentication, or to a server without a password
		s.logf(LevelLog, "Unknown command '%s' from %s", cmd.Verb, c.remote)
		return false
	}
	if err != nil {
		if errors.Is(err, errInsecureOff) {
			s.logf(LevelInfo, "Insecure mode disabled. Rejected %s <%s> from %s", cmd.Verb, cmd.Name, c.remote)
		} else {
			c.logReadError(err, cmd.Verb)
		}
		return false
	}
	return true
}

// authenticate checks the PASS line: the MD5 of the MD5 of the password, in
// hex. The comparison takes the same time whatever the guess.
func (c *conn) authenticate() bool {
	s := c.srv
	line, err := c.readLine()
	if err != nil {
		c.logReadError(err, "waiting for the password")
		return false
	}
	digest, ok := strings.CutPrefix(line, "PASS ")
	if !ok {
		s.logf(LevelError, "Client %s did not authenticate", c.remote)
		return false
	}
	want := passwordProof(s.Password)
	if subtle.ConstantTimeCompare([]byte(digest), []byte(want)) != 1 {
		s.logf(LevelError, "Invalid password from %s", c.remote)
		return false
	}
	s.logf(LevelLog, "Client %s authenticated", c.remote)
	return c.reply("PASS OK") == nil
}

// errLineTooLong is a command or reply longer than MaxLineLength.
var errLineTooLong = fmt.Errorf("line longer than %d bytes", MaxLineLength)

// readLine reads one line, without its LF (and without a CR before it, which
// some clients add).
func (c *conn) readLine() (string, error) {
	return readLine(c.br)
}

func readLine(br *bufio.Reader) (string, error) {
	line, err := br.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return "", errLineTooLong
	case err != nil:
		if err == io.EOF && len(line) > 0 {
			err = io.ErrUnexpectedEOF
		}
		return "", err
	case len(line)-1 > MaxLineLength:
		return "", errLineTooLong
	}
	return strings.TrimSuffix(string(line[:len(line)-1]), "\r"), nil
}

// reply sends one line.
func (c *conn) reply(line string) error {
	_, err := io.WriteString(c.rw, line+"\n")
	return err
}

func (c *conn) logReadError(err error, doing string) {
	s := c.srv
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF):
		s.logf(LevelInfo, "Connection closed from %s", c.remote)
	case errors.Is(err, io.ErrUnexpectedEOF):
		s.logf(LevelError, "Connection from %s unexpectedly closed (%s)", c.remote, doing)
	case errors.As(err, &ne) && ne.Timeout():
		s.logf(LevelError, "Connection from %s timed out (%s)", c.remote, doing)
	case errors.Is(err, errLineTooLong):
		s.logf(LevelError, "Received too much data from %s (%s)", c.remote, doing)
	default:
		s.logf(LevelError, "Connection error from %s (%s): %v", c.remote, doing, err)
	}
}

// transfer starts the record of a transfer command.
func (c *conn) transfer(cmd Command) *Transfer {
	c.inFlight = &Transfer{Remote: c.remote, TLSSubject: c.tlsSubject, Command: cmd.Verb, Name: cmd.Name, Start: time.Now()}
	return c.inFlight
}

// finish completes a transfer record and hands it on.
func (c *conn) finish(t *Transfer, err error) {
	c.inFlight = nil
	t.Duration = time.Since(t.Start)
	t.Err = err
	if c.srv.OnTransfer != nil {
		c.srv.OnTransfer(*t)
	}
}

// refuse answers a command with its refusal line and records why. It
// returns the error of the reply itself, which ends the connection.
func (c *conn) refuse(t *Transfer, cmd Command, reason error, detail string) error {
	c.logRefusal(cmd, reason, detail)
	return c.refused(t, reason)
}

// refused records a refusal that was already logged and sends its line.
func (c *conn) refused(t *Transfer, reason error) error {
	c.finish(t, reason)
	return c.reply(refusalLine(t.Command, reason))
}

// refusalLine is the line that refuses a command for reason, in the
// reference's words: "VERB ERR (reason)", except that MV, LS and a bad
// compressed upload are refused without a reason, and RECV names an
// invalid name its own way.
func refusalLine(verb string, reason error) string {
	switch {
	case verb == VerbMV || verb == VerbLS || errors.Is(reason, ErrBadArchive):
		return verb + " ERR"
	case (verb == VerbRecv || verb == VerbZRecv) && errors.Is(reason, ErrInvalidName):
		return verb + " ERR (file has an invalid file name)"
	}
	for _, known := range []error{ErrInvalidName, ErrTooBig, ErrExists, ErrNotExist, ErrStorage} {
		if errors.Is(reason, known) {
			return verb + " ERR (" + known.Error() + ")"
		}
	}
	return verb + " ERR (" + reason.Error() + ")"
}

// logRefusal logs a refusal in the reference's words, which scripts grep
// for ("is too big", "already exists", ...), and the detail at info level.
func (c *conn) logRefusal(cmd Command, reason error, detail string) {
	s := c.srv
	upload := cmd.Verb == VerbSend || cmd.Verb == VerbZSend
	what := "file"
	if cmd.Verb == VerbZRecv {
		what = "compressed file"
	}
	switch {
	case upload && reason == ErrInvalidName:
		s.logf(LevelLog, "File '%s' size %db from %s has an invalid file name", cmd.Name, cmd.Size, c.remote)
	case upload && reason == ErrTooBig:
		s.logf(LevelLog, "File '%s' size %db from %s is too big", cmd.Name, cmd.Size, c.remote)
	case upload && reason == ErrExists:
		s.logf(LevelLog, "File '%s' size %db from %s already exists", cmd.Name, cmd.Size, c.remote)
	case !upload && reason == ErrInvalidName:
		s.logf(LevelLog, "Requested %s '%s' from %s has an invalid file name", what, cmd.Name, c.remote)
	case !upload && reason == ErrNotExist:
		s.logf(LevelLog, "Requested %s '%s' from %s does not exist", what, cmd.Name, c.remote)
	default:
		s.logf(LevelLog, "%s <%s> from %s refused: %s", cmd.Verb, cmd.Name, c.remote, reason)
	}
	s.logf(LevelInfo, "%s <%s> from %s: %s", cmd.Verb, cmd.Name, c.remote, detail)
}

// storagePath applies the filters to a checked name.
func (c *conn) storagePath(name string) string {
	dir, f := route(c.srv.Filters, name)
	if f != nil {
		c.srv.logf(LevelLog, "File '%s' matches filter '%s' (changing to directory '%s')", name, f.Pattern, dir)
	}
	return path.Join(dir, name)
}

// copyN copies exactly n bytes with a pooled buffer, so that neither side's
// buffering decides the size of the system calls.
func copyN(dst io.Writer, src io.Reader, n int64) (int64, error) {
	buf := copyBuffers.Get().(*[copyBufferSize]byte)
	defer copyBuffers.Put(buf)
	written, err := io.CopyBuffer(onlyWriter{dst}, io.LimitReader(src, n), buf[:])
	if err == nil && written < n {
		err = io.EOF
	}
	return written, err
}

// copyFullN copies exactly n bytes like copyN, but fills the pooled buffer
// before each write, so that the writes are copyBufferSize long whatever
// the reads return. It is the receive path of uploads that are not
// spliced: a tls.Conn returns one record (at most 16 KiB) per Read, and
// writing each record to the file on its own took eight write(2) calls
// per buffer instead of one. Every read of the source still gets its own
// deadline, so a stalled client is dropped as soon as before; the bytes
// read before an error are written, and counted, like copyN's.
func copyFullN(dst io.Writer, src io.Reader, n int64) (int64, error) {
	buf := copyBuffers.Get().(*[copyBufferSize]byte)
	defer copyBuffers.Put(buf)
	var written int64
	for written < n {
		got, rerr := io.ReadFull(src, buf[:min(n-written, copyBufferSize)])
		if got > 0 {
			w, werr := dst.Write(buf[:got])
			written += int64(w)
			if werr == nil && w < got {
				werr = io.ErrShortWrite
			}
			if werr != nil {
				return written, werr
			}
		}
		if rerr == io.ErrUnexpectedEOF {
			return written, io.EOF
		}
		if rerr != nil {
			return written, rerr
		}
	}
	return written, nil
}

// onlyWriter hides a ReadFrom method so that io.CopyBuffer uses its buffer.
type onlyWriter struct{ io.Writer }

// deadlineConn gives every read and write on a connection its own deadline,
// which is how a silent or stuck peer gets dropped without slowing anyone
// else: a transfer may take as long as it needs while it moves.
type deadlineConn struct {
	net.Conn
	timeout time.Duration
}

func (d *deadlineConn) Read(p []byte) (int, error) {
	if d.timeout > 0 {
		d.Conn.SetReadDeadline(time.Now().Add(d.timeout))
	}
	return d.Conn.Read(p)
}

func (d *deadlineConn) Write(p []byte) (int, error) {
	if d.timeout > 0 {
		d.Conn.SetWriteDeadline(time.Now().Add(d.timeout))
	}
	return d.Conn.Write(p)
}

// sendfileChunk is how much the kernel is asked to move before the write
// deadline is pushed on again: the size of one write on the copying path,
// so that a slow link is held to the same pace (a chunk per timeout) and a
// peer that stops reading is dropped after the timeout, however large the
// file.
const sendfileChunk = copyBufferSize

// sentFiles counts the transfers that took the sendfile path of sendOn,
// so that the tests can tell that they exercised it.
var sentFiles atomic.Int64

// copyOut sends exactly n bytes of r to the server (see sendOn).
func (c *Client) copyOut(r io.Reader, n int64) (int64, error) { return sendOn(c.conn, r, n) }

// sendOn sends exactly n bytes of r on conn: a client's upload, or a file
// the server sends for RECV or MV. When r is a plain file and conn a plain
// TCP one (no TLS, no PROXY-protocol wrapper), the kernel moves the bytes
// (sendfile(2) on Linux) instead of copying them through user space, in
// chunks that each get the write deadline; the file's offset advances as
// it goes, which is what a progress display may watch. Otherwise it copies
// with a pooled buffer.
func sendOn(conn net.Conn, r io.Reader, n int64) (int64, error) {
	f, isFile := r.(*os.File)
	dc, isPlain := conn.(*deadlineConn)
	if !isFile || !isPlain {
		return copyN(conn, r, n)
	}
	tcp, ok := dc.Conn.(*net.TCPConn)
	if !ok {
		return copyN(conn, r, n)
	}
	sentFiles.Add(1)
	var written int64
	for written < n {
		chunk := min(n-written, sendfileChunk)
		if dc.timeout > 0 {
			tcp.SetWriteDeadline(time.Now().Add(dc.timeout))
		}
		// TCPConn.ReadFrom takes an *io.LimitedReader of an *os.File as
		// the sendfile case, and falls back to copying on its own when
		// the kernel cannot.
		m, err := tcp.ReadFrom(&io.LimitedReader{R: f, N: chunk})
		written += m
		if err != nil {
			return written, err
		}
		if m < chunk {
			return written, io.EOF // the file is shorter than announced
		}
	}
	return written, nil
}
