package protocol

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"
)

// errInsecureOff ends a connection that asks for LS or MV from a server not
// in insecure mode, as the reference does.
var errInsecureOff = errors.New("insecure mode disabled")

// handleRecv sends a file: RECV as it is stored, ZRECV as a ZIP archive.
func (c *conn) handleRecv(cmd Command) error {
	s := c.srv
	t := c.transfer(cmd)
	kind := "file"
	if cmd.Verb == VerbZRecv {
		kind = "compressed file"
	}
	s.logf(LevelInfo, "Request to receive %s '%s' from %s", kind, cmd.Name, c.remote)
	f, st, err := c.openStored(t, cmd)
	if f == nil {
		return err
	}
	defer f.Close()
	var body io.Reader = f
	size := st.Size()
	if cmd.Verb == VerbZRecv {
		archive, err := zipToTemp(f, cmd.Name, st.ModTime(), s.tempDir())
		if err == nil {
			defer archive.Close()
			size, err = archive.size()
		}
		if err != nil {
			s.logf(LevelError, "compress '%s': %v", t.Path, err)
			return c.refuse(t, cmd, ErrStorage, err.Error())
		}
		body = archive
	}
	if sent, err := c.offer(t, "file '"+t.Path+"'", size, body); !sent {
		return err
	}
	c.finish(t, nil)
	return nil
}

// handleMove sends a file as RECV does, then deletes it (MV).
func (c *conn) handleMove(cmd Command) error {
	s := c.srv
	if !s.Insecure {
		return errInsecureOff
	}
	t := c.transfer(cmd)
	s.logf(LevelInfo, "Request to move file '%s' from %s", cmd.Name, c.remote)
	f, st, err := c.openStored(t, cmd)
	if f == nil {
		return err
	}
	defer f.Close()
	if sent, err := c.offer(t, "file '"+t.Path+"'", st.Size(), f); !sent {
		return err
	}
	if err := s.Storage.Remove(t.Path); err != nil {
		s.logf(LevelError, "Requested file '%s' from %s sent but not deleted: %v", t.Path, c.remote, err)
		c.finish(t, fmt.Errorf("%w: %v", ErrStorage, err))
		return nil
	}
	c.finish(t, nil)
	return nil
}

// handleList sends the names in the directory the filters map a name to.
// "." and ".." come first: the reference lists them too (in directory
// order), so that a listing is never empty, since Tentacle clients do not
// take a zero-byte transfer well.
func (c *conn) handleList(cmd Command) error {
	s := c.srv
	if !s.Insecure {
		return errInsecureOff
	}
	t := c.transfer(cmd)
	s.logf(LevelInfo, "Request to list files matched by filter %s from %s", cmd.Name, c.remote)
	// The name only selects a filter, so it may be empty.
	if cmd.Name != "" {
		if err := CheckName(cmd.Name, s.InvalidChars); err != nil {
			return c.refuse(t, cmd, ErrInvalidName, err.Error())
		}
	}
	t.Path, _ = route(s.Filters, cmd.Name)
	names, err := s.Storage.List(t.Path)
	if err != nil {
		return c.refuse(t, cmd, ErrStorage, err.Error())
	}
	var b strings.Builder
	b.WriteString(".\n..\n")
	for _, n := range names {
		if listable(n, s.InvalidChars) {
			b.WriteString(n)
			b.WriteByte('\n')
		}
	}
	if sent, err := c.offer(t, "directory listing", int64(b.Len()), strings.NewReader(b.String())); !sent {
		return err
	}
	c.finish(t, nil)
	return nil
}

// openStored opens the stored file a download names, or refuses the
// command: then the file is nil and the error is the refusal reply's.
func (c *conn) openStored(t *Transfer, cmd Command) (fs.File, fs.FileInfo, error) {
	s := c.srv
	if err := CheckName(cmd.Name, s.InvalidChars); err != nil {
		return nil, nil, c.refuse(t, cmd, ErrInvalidName, err.Error())
	}
	t.Path = c.storagePath(cmd.Name)
	f, err := s.Storage.Open(t.Path)
	if errors.Is(err, ErrNotExist) {
		return nil, nil, c.refuse(t, cmd, ErrNotExist, "'"+t.Path+"' does not exist")
	}
	var st fs.FileInfo
	if err == nil {
		if st, err = f.Stat(); err != nil {
			f.Close()
		}
	}
	if err != nil {
		s.logf(LevelError, "%v", err)
		return nil, nil, c.refuse(t, cmd, ErrStorage, err.Error())
	}
	return f, st, nil
}

// offer is the download handshake of RECV, ZRECV, MV and LS: the server
// announces "VERB SIZE n", and sends the n bytes of body only if the client
// answers "VERB OK"; any other answer cancels the transfer and the session
// goes on. It reports whether body was sent. It records the transfer when
// it ends here (a failure, or the client's refusal); after a send, the
// caller records it. what names the data in log lines. A stored file goes
// out with sendfile on plain TCP (see sendOn).
func (c *conn) offer(t *Transfer, what string, size int64, body io.Reader) (bool, error) {
	s := c.srv
	if err := c.reply(t.Command + " SIZE " + strconv.FormatInt(size, 10)); err != nil {
		c.finish(t, err)
		return false, err
	}
	answer, err := c.readLine()
	if err != nil {
		c.finish(t, err)
		return false, err
	}
	if answer != t.Command+" OK" {
		s.logf(LevelLog, "Requested %s from %s not sent: client answered %q", what, c.remote, answer)
		c.finish(t, fmt.Errorf("%w: client answered %q", ErrRefused, answer))
		return false, nil
	}
	n, err := sendOn(c.rw, body, size)
	t.Bytes = n
	if err != nil {
		// The size is promised: data that shrank meanwhile leaves the
		// stream out of step, so the connection must end.
		c.finish(t, err)
		return false, err
	}
	s.logf(LevelLog, "Requested %s from %s sent", what, c.remote)
	return true, nil
}
