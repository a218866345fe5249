package protocol

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"
)

// handleSend receives a file: SEND streams it to storage, ZSEND first keeps
// the archive aside, then inflates its first member into storage.
func (c *conn) handleSend(cmd Command) error {
	s := c.srv
	t := c.transfer(cmd)
	s.logf(LevelInfo, "Request to send %s '%s' size %db from %s", uploadKind(cmd.Verb), cmd.Name, cmd.Size, c.remote)
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
		t.Bytes, err = c.receiveArchive(pending, cmd.Size)
	} else {
		t.Bytes, err = c.receivePlain(pending, cmd.Size, "write")
	}
	if err == nil {
		err = pending.Commit()
	}
	if err != nil {
		pending.Abort() // nothing may remain when the client reads the refusal
		return c.refuseUpload(t, cmd, err)
	}
	c.finish(t, nil)
	if err := c.reply(cmd.Verb + " OK"); err != nil {
		return err
	}
	s.logf(LevelInfo, "Received %s '%s' size %db from %s", uploadKind(cmd.Verb), cmd.Name, cmd.Size, c.remote)
	return nil
}

// uploadKind names what a SEND or ZSEND carries, in log lines.
func uploadKind(verb string) string {
	if verb == VerbZSend {
		return "compressed file"
	}
	return "file"
}

// refuseUpload answers an upload whose data was taken but not stored, or
// ends the connection when the data did not arrive.
func (c *conn) refuseUpload(t *Transfer, cmd Command, err error) error {
	s := c.srv
	switch {
	case errors.Is(err, ErrExists):
		return c.refuse(t, cmd, ErrExists, "'"+t.Path+"' was stored by another upload meanwhile")
	case errors.Is(err, ErrTooBig):
		// The archive itself was small enough: say what was not.
		s.logf(LevelLog, "Compressed file '%s' size %db from %s inflates to more than %d bytes: too big", cmd.Name, cmd.Size, c.remote, s.maxSize())
		return c.refused(t, ErrTooBig)
	case errors.Is(err, ErrBadArchive):
		s.logf(LevelLog, "Uncompress error for '%s' from %s: %v", cmd.Name, c.remote, err)
		return c.refused(t, err)
	case errors.Is(err, ErrStorage) || !isConnError(err):
		// The data was taken off the wire: the session is in step.
		s.logf(LevelError, "%s '%s' size %db from %s not stored: %v", capitalised(uploadKind(cmd.Verb)), cmd.Name, cmd.Size, c.remote, err)
		return c.refuse(t, cmd, ErrStorage, err.Error())
	}
	c.finish(t, err)
	return err
}

// receivePlain stores the n bytes of a SEND in dst. A failing disk (ENOSPC,
// EIO) must not reset the connection: the writer keeps the storage's error
// and swallows the rest of the announced bytes, so that an error of the copy
// itself is the network's, and after a storage error the session is in step
// for the refusal and the next command.
// doing names the step in the error.
//
// On plain TCP, into a file (see FileBacked), when at least spliceMin bytes
// remain past those already buffered, they are spliced from the socket to the file in the kernel, in chunks
// that each get the read deadline; TLS, PROXY-protocol connections and other
// storages copy through a pooled buffer, which is filled before each write
// (see copyFullN).
func (c *conn) receivePlain(dst io.Writer, n int64, doing string) (int64, error) {
	w := &storeWriter{w: dst}
	if f, tcp := c.spliceable(dst); f != nil {
		buffered := min(int64(c.br.Buffered()), n)
		if _, err := copyN(w, c.br, buffered); err != nil {
			return w.n, connError{err}
		}
		n -= buffered
		if w.err == nil && n >= spliceMin {
			stored, werr, cerr := spliceUpload(f, tcp, n, c.deadlines.timeout)
			if cerr != errNoSplice {
				splicedUploads.Add(1)
				w.n += stored
				if cerr != nil {
					return w.n, connError{cerr}
				}
				if werr != nil {
					return w.n, fmt.Errorf("%w: %s: %w", ErrStorage, doing, werr)
				}
				return w.n, nil
			}
		}
	}
	if _, err := copyFullN(w, c.br, n); err != nil {
		return w.n, connError{err}
	}
	if w.err != nil {
		return w.n, fmt.Errorf("%w: %s: %w", ErrStorage, doing, w.err)
	}
	return w.n, nil
}

// FileBacked is an optional interface of a PendingFile that writes straight
// into an open file, as DirStorage's do: the server then splices uploads
// from the socket into that file (Linux, plain TCP) instead of copying them
// through user space. The file must be the one Write writes to, at its
// current offset, with nothing else done on each write.
type FileBacked interface {
	File() *os.File
}

// spliceMin is the smallest rest of an upload that is spliced. Splicing
// costs a pipe and a handful of system calls per upload, which a small
// file (most agents' data files are a few KiB) pays for nothing: it copies
// through the buffer in one read and one write.
const spliceMin = 256 << 10

// splicedUploads counts the uploads that took the splice path, so that
// the tests can tell that they exercised it.
var splicedUploads atomic.Int64

// spliceable gives the file and the TCP connection of an upload that can
// be spliced, or nils.
func (c *conn) spliceable(dst io.Writer) (*os.File, *net.TCPConn) {
	if c.deadlines == nil || c.rw != net.Conn(c.deadlines) {
		return nil, nil // TLS
	}
	tcp, ok := c.deadlines.Conn.(*net.TCPConn)
	if !ok {
		return nil, nil // a PROXY-protocol wrapper, or no TCP
	}
	var f *os.File
	switch d := dst.(type) {
	case *os.File:
		f = d
	case FileBacked:
		f = d.File()
	}
	if f == nil {
		return nil, nil
	}
	return f, tcp
}

// receiveArchive keeps the n bytes of a ZIP archive in a temporary file
// (a ZIP is read from its end, so it cannot be inflated as it streams in),
// then inflates its first member into dst, refusing more than MaxSize bytes.
// A failure to keep the archive or to write dst wraps ErrStorage, and comes
// only once the n bytes are off the wire, so that the session stays in step
// for the refusal; a connError is the connection's.
func (c *conn) receiveArchive(dst io.Writer, n int64) (int64, error) {
	archive, err := os.CreateTemp(c.srv.tempDir(), tempPrefix+"zsend-*")
	if err != nil {
		// Take the data anyway so that the connection stays in step.
		if _, cerr := copyN(io.Discard, c.br, n); cerr != nil {
			return 0, connError{cerr}
		}
		return 0, fmt.Errorf("%w: keep the archive: %w", ErrStorage, err)
	}
	defer os.Remove(archive.Name())
	defer archive.Close()
	if _, err := c.receivePlain(archive, n, "keep the archive"); err != nil {
		return 0, err
	}
	stored := &trackedWriter{w: dst}
	written, err := unzipFirst(stored, archive, n, c.srv.maxSize())
	if err != nil && stored.err != nil {
		return written, fmt.Errorf("%w: store the inflated file: %w", ErrStorage, stored.err)
	}
	return written, err
}

// connError marks a failure of the connection while data was arriving:
// the stream is out of step, so the connection must end.
type connError struct{ err error }

func (e connError) Error() string { return e.Unwrap().Error() }

// Unwrap gives the network's error; a stream that ended early is
// io.ErrUnexpectedEOF.
func (e connError) Unwrap() error {
	if e.err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return e.err
}

func isConnError(err error) bool {
	var ce connError
	return errors.As(err, &ce)
}

// capitalised is s with its first letter upper case (ASCII).
func capitalised(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
