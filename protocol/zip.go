package protocol

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// unzipFirst inflates the first member of the ZIP archive in r (size bytes)
// into dst and returns how many bytes it wrote. ZSEND stores only that
// member, as the reference does. An archive that would inflate past max bytes
// is refused with ErrTooBig before max+1 bytes are written, so a small
// "zip bomb" cannot fill the disk; an unreadable archive is ErrBadArchive.
func unzipFirst(dst io.Writer, r io.ReaderAt, size, max int64) (int64, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil && !(errors.Is(err, zip.ErrInsecurePath) && zr != nil) {
		return 0, fmt.Errorf("%w: %v", ErrBadArchive, err)
	}
	if len(zr.File) == 0 {
		return 0, fmt.Errorf("%w: the archive is empty", ErrBadArchive)
	}
	member := zr.File[0]
	if member.UncompressedSize64 > uint64(max) {
		return 0, fmt.Errorf("%w: the archive inflates to %d bytes, more than %d", ErrTooBig, member.UncompressedSize64, max)
	}
	rc, err := member.Open()
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrBadArchive, err)
	}
	defer rc.Close()
	w := &trackedWriter{w: dst}
	// A byte more than max tells an archive that inflates too far from one
	// that just fits; past math.MaxInt64 (a server run with -m
	// 9223372036854775807) nothing can inflate, and max+1 would wrap to a
	// negative limit that copies nothing and refuses every archive.
	limit := max + 1
	if limit < max {
		limit = max
	}
	n, err := copyN(w, rc, limit)
	switch {
	case err == io.EOF: // the member ended before max+1 bytes: as it should
	case err != nil && w.err != nil:
		return n, fmt.Errorf("store inflated data: %w", w.err)
	case err != nil:
		return n, fmt.Errorf("%w: %v", ErrBadArchive, err)
	default:
		return n, fmt.Errorf("%w: the archive inflates to more than %d bytes", ErrTooBig, max)
	}
	return n, nil
}

// trackedWriter remembers a write error, so that a failing disk is not
// blamed on the client's archive.
type trackedWriter struct {
	w   io.Writer
	err error
}

func (t *trackedWriter) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	if err != nil {
		t.err = err
	}
	return n, err
}

// storeWriter writes an upload's bytes to storage until a write fails
// (ENOSPC, EIO), then keeps the error and swallows the rest. The copy from
// the client goes on to the announced size, so that the connection stays
// in step and the client gets a refusal line instead of a reset; and an
// error of the copy is then the network's, never the storage's.
type storeWriter struct {
	w   io.Writer
	n   int64 // bytes stored
	err error // the first write error
}

func (s *storeWriter) Write(p []byte) (int, error) {
	if s.err == nil {
		n, err := s.w.Write(p)
		s.n += int64(n)
		if err == nil && n < len(p) {
			err = io.ErrShortWrite
		}
		s.err = err
	}
	return len(p), nil
}

// tempArchive is a ZIP archive in a temporary file that disappears on Close.
type tempArchive struct{ *os.File }

func (t tempArchive) Close() error {
	err := t.File.Close()
	os.Remove(t.Name())
	return err
}

// size is the archive's length; it leaves the file at its start, ready to
// be sent.
func (t tempArchive) size() (int64, error) {
	n, err := t.Seek(0, io.SeekEnd)
	if err == nil {
		_, err = t.Seek(0, io.SeekStart)
	}
	return n, err
}

// zipToTemp writes a one-member ZIP archive of src, named name, to a
// temporary file in dir: the archive's size must be known before it is sent,
// and keeping it on disk keeps memory flat whatever the file's size.
func zipToTemp(src io.Reader, name string, modified time.Time, dir string) (tempArchive, error) {
	f, err := os.CreateTemp(dir, tempPrefix+"zip-*")
	if err != nil {
		return tempArchive{}, fmt.Errorf("create archive: %w", err)
	}
	archive := tempArchive{f}
	if err := writeZip(f, src, name, modified); err != nil {
		archive.Close()
		return tempArchive{}, err
	}
	return archive, nil
}

// writeZip writes a one-member, deflated ZIP archive of src to w.
func writeZip(w io.Writer, src io.Reader, name string, modified time.Time) error {
	zw := zip.NewWriter(w)
	member, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Deflate, Modified: modified})
	if err != nil {
		return fmt.Errorf("compress %q: %w", name, err)
	}
	buf := copyBuffers.Get().(*[copyBufferSize]byte)
	defer copyBuffers.Put(buf)
	if _, err := io.CopyBuffer(member, src, buf[:]); err != nil {
		return fmt.Errorf("compress %q: %w", name, err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("compress %q: %w", name, err)
	}
	return nil
}
