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
	"strconv"
	"strings"
	"sync"
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
	remote    net.Addr

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
	if s.Allow != nil && !s.Allow(c.remote) {
		s.logf(LevelLog, "Connection from %s is closed by hosts access rules", c.remote)
		return
	}
	s.logf(LevelInfo, "Client connected from %s", c.remote)

	c.deadlines = &deadlineConn{Conn: c.raw, timeout: s.timeout()}
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
			s.logf(LevelLog, "Unknown command '%s' from %s", line, c.remote)
			return
		}
		if !c.handle(cmd) {
			return
		}
	}
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
	case VerbRecv, VerbZRecv, VerbMV:
		err = c.handleRecv(cmd)
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

// refuse answers a command with "VERB ERR (reason)" and records why. It
// returns the error of the reply itself, which ends the connection.
func (c *conn) refuse(t *Transfer, cmd Command, reason error, detail string) error {
	c.logRefusal(cmd, reason, detail)
	c.finish(t, reason)
	return c.reply(t.Command + " ERR (" + reason.Error() + ")")
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

// handleSend receives a file: SEND streams it to storage, ZSEND first keeps
// the archive aside, then inflates its first member into storage.
func (c *conn) handleSend(cmd Command) error {
	s := c.srv
	t := c.transfer(cmd)
	if cmd.Verb == VerbZSend {
		s.logf(LevelInfo, "Request to send compressed file '%s' size %db from %s", cmd.Name, cmd.Size, c.remote)
	} else {
		s.logf(LevelInfo, "Request to send file '%s' size %db from %s", cmd.Name, cmd.Size, c.remote)
	}
	if err := CheckName(cmd.Name, s.InvalidChars); err != nil {
		return c.refuse(t, cmd, ErrInvalidName, err.Error())
	}
	if cmd.Size < 1 || cmd.Size > s.maxSize() {
		return c.refuse(t, cmd, ErrTooBig, fmt.Sprintf("size %d is outside 1..%d", cmd.Size, s.maxSize()))
	}
	t.Path = c.storagePath(cmd.Name)
	pending, err := s.Storage.Create(t.Path, s.Overwrite)
	if errors.Is(err, ErrExists) {
		return c.refuse(t, cmd, ErrExists, "'"+t.Path+"' already exists")
	}
	if err != nil {
		s.logf(LevelError, "%v", err)
		return c.refuse(t, cmd, ErrStorage, err.Error())
	}
	defer pending.Abort()
	if err := c.reply(cmd.Verb + " OK"); err != nil {
		c.finish(t, err)
		return err
	}

	if cmd.Verb == VerbZSend {
		n, err := c.receiveArchive(pending, cmd.Size)
		t.Bytes = n
		if err != nil {
			// Nothing may remain when the client reads the refusal.
			pending.Abort()
		}
		switch {
		case errors.Is(err, ErrTooBig):
			// The archive itself was small enough: say what was not.
			s.logf(LevelLog, "Compressed file '%s' size %db from %s inflates to more than %d bytes: too big", cmd.Name, cmd.Size, c.remote, s.maxSize())
			c.finish(t, ErrTooBig)
			return c.reply(cmd.Verb + " ERR (" + ErrTooBig.Error() + ")")
		case errors.Is(err, ErrStorage):
			// The archive was taken off the wire: the session is in step.
			s.logf(LevelError, "Compressed file '%s' size %db from %s not stored: %v", cmd.Name, cmd.Size, c.remote, err)
			return c.refuse(t, cmd, ErrStorage, err.Error())
		case errors.Is(err, ErrBadArchive):
			s.logf(LevelLog, "Uncompress error for '%s' from %s: %v", cmd.Name, c.remote, err)
			c.finish(t, err)
			return c.reply(cmd.Verb + " ERR")
		case err != nil:
			c.finish(t, err)
			return err
		}
	} else {
		// A failing disk (ENOSPC, EIO) must not reset the connection:
		// the writer keeps the storage's error and swallows the rest of
		// the announced bytes, so that an error of the copy itself is
		// the network's, and after a storage error the session is in
		// step for the refusal and the next command.
		w := &storeWriter{w: pending}
		_, err := copyN(w, c.br, cmd.Size)
		t.Bytes = w.n
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			c.finish(t, err)
			return err
		}
		if w.err != nil {
			// Nothing may remain when the client reads the refusal.
			pending.Abort()
			err := fmt.Errorf("write %q: %w", t.Path, w.err)
			s.logf(LevelError, "File '%s' size %db from %s not stored: %v", cmd.Name, cmd.Size, c.remote, err)
			return c.refuse(t, cmd, ErrStorage, err.Error())
		}
	}

	if err := pending.Commit(); err != nil {
		pending.Abort() // nothing may remain when the client reads the refusal
		if errors.Is(err, ErrExists) {
			return c.refuse(t, cmd, ErrExists, "'"+t.Path+"' was stored by another upload meanwhile")
		}
		s.logf(LevelError, "File '%s' size %db from %s not stored: %v", cmd.Name, cmd.Size, c.remote, err)
		return c.refuse(t, cmd, ErrStorage, err.Error())
	}
	c.finish(t, nil)
	if err := c.reply(cmd.Verb + " OK"); err != nil {
		return err
	}
	if cmd.Verb == VerbZSend {
		s.logf(LevelInfo, "Received compressed file '%s' size %db from %s", cmd.Name, cmd.Size, c.remote)
	} else {
		s.logf(LevelInfo, "Received file '%s' size %db from %s", cmd.Name, cmd.Size, c.remote)
	}
	return nil
}

// receiveArchive keeps the n bytes of a ZIP archive in a temporary file
// (a ZIP is read from its end, so it cannot be inflated as it streams in),
// then inflates its first member into dst, refusing more than MaxSize bytes.
// A failure to keep the archive or to write dst wraps ErrStorage, and comes
// only once the n bytes are off the wire, so that the session stays in step
// for the refusal; any other error but the archive's is the connection's.
func (c *conn) receiveArchive(dst io.Writer, n int64) (int64, error) {
	archive, err := os.CreateTemp(c.srv.tempDir(), tempPrefix+"zsend-*")
	if err != nil {
		// Take the data anyway so that the connection stays in step.
		if _, cerr := copyN(io.Discard, c.br, n); cerr != nil {
			if cerr == io.EOF {
				cerr = io.ErrUnexpectedEOF
			}
			return 0, cerr
		}
		return 0, fmt.Errorf("%w: keep the archive: %w", ErrStorage, err)
	}
	defer os.Remove(archive.Name())
	defer archive.Close()
	w := &storeWriter{w: archive} // see handleSend
	if _, err := copyN(w, c.br, n); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return 0, err
	}
	if w.err != nil {
		return 0, fmt.Errorf("%w: keep the archive: %w", ErrStorage, w.err)
	}
	stored := &trackedWriter{w: dst}
	written, err := unzipFirst(stored, archive, n, c.srv.maxSize())
	if err != nil && stored.err != nil {
		return written, fmt.Errorf("%w: store the inflated file: %w", ErrStorage, stored.err)
	}
	return written, err
}

// errInsecureOff ends a connection that asks for LS or MV from a server not
// in insecure mode, as the reference does.
var errInsecureOff = errors.New("insecure mode disabled")

// handleRecv sends a file: RECV as it is stored, ZRECV as a ZIP archive, MV
// as RECV and then deletes it.
func (c *conn) handleRecv(cmd Command) error {
	s := c.srv
	if cmd.Verb == VerbMV && !s.Insecure {
		return errInsecureOff
	}
	t := c.transfer(cmd)
	switch cmd.Verb {
	case VerbZRecv:
		s.logf(LevelInfo, "Request to receive compressed file '%s' from %s", cmd.Name, c.remote)
	case VerbMV:
		s.logf(LevelInfo, "Request to move file '%s' from %s", cmd.Name, c.remote)
	default:
		s.logf(LevelInfo, "Request to receive file '%s' from %s", cmd.Name, c.remote)
	}
	refuse := func(reason error, detail string) error {
		if cmd.Verb == VerbMV { // MV refuses without a reason
			c.logRefusal(cmd, reason, detail)
			c.finish(t, reason)
			return c.reply("MV ERR")
		}
		if reason == ErrInvalidName { // RECV's own wording
			c.logRefusal(cmd, reason, detail)
			c.finish(t, reason)
			return c.reply(cmd.Verb + " ERR (file has an invalid file name)")
		}
		return c.refuse(t, cmd, reason, detail)
	}
	if err := CheckName(cmd.Name, s.InvalidChars); err != nil {
		return refuse(ErrInvalidName, err.Error())
	}
	t.Path = c.storagePath(cmd.Name)
	f, err := s.Storage.Open(t.Path)
	if err != nil {
		if errors.Is(err, ErrNotExist) {
			return refuse(ErrNotExist, "'"+t.Path+"' does not exist")
		}
		s.logf(LevelError, "%v", err)
		return refuse(ErrStorage, err.Error())
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		s.logf(LevelError, "%v", err)
		return refuse(ErrStorage, err.Error())
	}
	var body io.Reader = f
	size := st.Size()
	if cmd.Verb == VerbZRecv {
		archive, err := zipToTemp(f, cmd.Name, st.ModTime(), s.tempDir())
		if err != nil {
			s.logf(LevelError, "compress '%s': %v", t.Path, err)
			return refuse(ErrStorage, err.Error())
		}
		defer archive.Close()
		asize, err := archive.Seek(0, io.SeekEnd)
		if err == nil {
			_, err = archive.Seek(0, io.SeekStart)
		}
		if err != nil {
			return refuse(ErrStorage, err.Error())
		}
		body, size = archive, asize
	}

	if err := c.reply(cmd.Verb + " SIZE " + strconv.FormatInt(size, 10)); err != nil {
		c.finish(t, err)
		return err
	}
	answer, err := c.readLine()
	if err != nil {
		c.finish(t, err)
		return err
	}
	if answer != cmd.Verb+" OK" {
		s.logf(LevelLog, "Requested file '%s' from %s not sent: client answered %q", t.Path, c.remote, answer)
		c.finish(t, fmt.Errorf("%w: client answered %q", ErrRefused, answer))
		return nil
	}
	n, err := copyN(c.rw, body, size)
	t.Bytes = n
	if err != nil {
		// The size is promised: a file that shrank meanwhile leaves the
		// stream out of step, so the connection must end.
		c.finish(t, err)
		return err
	}
	if cmd.Verb == VerbMV {
		if err := s.Storage.Remove(t.Path); err != nil {
			s.logf(LevelError, "Requested file '%s' from %s sent but not deleted: %v", t.Path, c.remote, err)
			c.finish(t, fmt.Errorf("%w: %v", ErrStorage, err))
			return nil
		}
	}
	c.finish(t, nil)
	s.logf(LevelLog, "Requested file '%s' from %s sent", t.Path, c.remote)
	return nil
}

// handleList sends the names in the directory the filters map a name to.
func (c *conn) handleList(cmd Command) error {
	s := c.srv
	if !s.Insecure {
		return errInsecureOff
	}
	t := c.transfer(cmd)
	s.logf(LevelInfo, "Request to list files matched by filter %s from %s", cmd.Name, c.remote)
	fail := func(reason error, detail string) error {
		c.logRefusal(cmd, reason, detail)
		c.finish(t, reason)
		return c.reply("LS ERR")
	}
	// The name only selects a filter, so it may be empty.
	if cmd.Name != "" {
		if err := CheckName(cmd.Name, s.InvalidChars); err != nil {
			return fail(ErrInvalidName, err.Error())
		}
	}
	t.Path, _ = route(s.Filters, cmd.Name)
	names, err := s.Storage.List(t.Path)
	if err != nil {
		return fail(ErrStorage, err.Error())
	}
	// "." and ".." come first, as with the reference: a listing is never
	// empty, since Tentacle clients do not take a zero-byte transfer well.
	var b strings.Builder
	b.WriteString(".\n..\n")
	for _, n := range names {
		if listable(n, s.InvalidChars) {
			b.WriteString(n)
			b.WriteByte('\n')
		}
	}
	if err := c.reply("LS SIZE " + strconv.Itoa(b.Len())); err != nil {
		c.finish(t, err)
		return err
	}
	answer, err := c.readLine()
	if err != nil {
		c.finish(t, err)
		return err
	}
	if answer != "LS OK" {
		s.logf(LevelLog, "Requested directory listing from %s not sent", c.remote)
		c.finish(t, fmt.Errorf("%w: client answered %q", ErrRefused, answer))
		return nil
	}
	_, err = io.WriteString(c.rw, b.String())
	t.Bytes = int64(b.Len())
	c.finish(t, err)
	if err == nil {
		s.logf(LevelLog, "Requested directory listing from %s sent", c.remote)
	}
	return err
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
