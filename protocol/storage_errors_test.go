package protocol

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"tentacle/internal/testharness"
)

// errDiskFull stands for ENOSPC or EIO from a failing disk.
var errDiskFull = errors.New("no space left on device (simulated)")

// failingStorage is a Storage whose new files fail as a full or failing
// disk does: a write past the first failAfter bytes, or the Commit.
type failingStorage struct {
	Storage
	failAfter  atomic.Int64 // -1: writes do not fail
	failCommit atomic.Bool
}

func (f *failingStorage) Create(name string, overwrite bool) (PendingFile, error) {
	p, err := f.Storage.Create(name, overwrite)
	if err != nil {
		return nil, err
	}
	return &failingFile{PendingFile: p, left: f.failAfter.Load(), failCommit: f.failCommit.Load()}, nil
}

type failingFile struct {
	PendingFile
	left       int64 // bytes it still takes; -1 for no bound
	failCommit bool
}

func (f *failingFile) Write(b []byte) (int, error) {
	if f.left < 0 {
		return f.PendingFile.Write(b)
	}
	if int64(len(b)) <= f.left {
		f.left -= int64(len(b))
		return f.PendingFile.Write(b)
	}
	n, _ := f.PendingFile.Write(b[:f.left])
	f.left = 0
	return n, errDiskFull
}

func (f *failingFile) Commit() error {
	if f.failCommit {
		return fmt.Errorf("sync: %w", errDiskFull)
	}
	return f.PendingFile.Commit()
}

// logLines returns what was logged so far.
func logLines(l *memLog) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// randomBytes returns n bytes that do not compress.
func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestStorageErrorRefusesAndGoesOn makes the storage fail in the middle of
// an upload (or at its Commit): the client gets "SEND ERR (storage
// error)", not a reset; the error is logged and recorded; nothing of the
// upload remains; and the same connection then stores a file.
func TestStorageErrorRefusesAndGoesOn(t *testing.T) {
	const size = 1 << 20 // several reads of the copy buffer
	tests := []struct {
		name       string
		verb       string
		overwrite  bool // named temporary files instead of O_TMPFILE
		failAfter  int64
		failCommit bool
	}{
		{name: "SEND fails at once", verb: VerbSend, failAfter: 0},
		{name: "SEND fails mid-stream", verb: VerbSend, failAfter: 300 << 10},
		{name: "SEND fails on the last byte", verb: VerbSend, failAfter: size - 1},
		{name: "SEND fails mid-stream, named temporary file", verb: VerbSend, overwrite: true, failAfter: 1000},
		{name: "SEND fails at Commit", verb: VerbSend, failAfter: -1, failCommit: true},
		{name: "ZSEND fails inflating", verb: VerbZSend, failAfter: 300 << 10},
		{name: "ZSEND fails inflating, named temporary file", verb: VerbZSend, overwrite: true, failAfter: 0},
		{name: "ZSEND fails at Commit", verb: VerbZSend, failAfter: -1, failCommit: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := &failingStorage{}
			ts := startServer(t, func(s *Server) {
				fs.Storage = s.Storage
				s.Storage = fs
				s.MaxSize = 4 << 20
				s.Overwrite = tt.overwrite
			})
			fs.failAfter.Store(tt.failAfter)
			fs.failCommit.Store(tt.failCommit)
			c, err := Dial(ts.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			upload := func(name string, data []byte) error {
				if tt.verb == VerbZSend {
					return c.ZSend(name, bytes.NewReader(data))
				}
				return c.Send(name, bytes.NewReader(data), int64(len(data)))
			}

			err = upload("full.data", randomBytes(t, size))
			var reply *ReplyError
			if !errors.Is(err, ErrStorage) || !errors.As(err, &reply) || reply.Line != tt.verb+" ERR (storage error)" {
				t.Fatalf("upload to a failing disk: %v, want the line %q", err, tt.verb+" ERR (storage error)")
			}
			if got := entries(t, ts.Dir); len(got) != 0 {
				t.Errorf("storage holds %v after the refusal", got)
			}
			if got := entries(t, ts.TempDir); len(got) != 0 {
				t.Errorf("temporary directory holds %v after the refusal", got)
			}
			if !ts.Log.contains("err: ") || !ts.Log.contains(errDiskFull.Error()) {
				t.Errorf("no error line naming the cause in %q", logLines(ts.Log))
			}
			if recs := ts.Recs.all(); len(recs) != 1 || !errors.Is(recs[0].Err, ErrStorage) {
				t.Errorf("records %+v, want one storage error", recs)
			}

			// The disk has room again: the session goes on.
			fs.failAfter.Store(-1)
			fs.failCommit.Store(false)
			data := randomBytes(t, size)
			if err := upload("next.data", data); err != nil {
				t.Fatalf("next upload on the same connection: %v", err)
			}
			if got := readFile(t, filepath.Join(ts.Dir, "next.data")); got != string(data) {
				t.Errorf("next.data holds %d bytes, want %d", len(got), len(data))
			}
			if err := c.Quit(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestNetworkErrorIsNotAStorageError cuts a client off in the middle of
// an upload: the server treats it as the connection's end (no refusal
// line, no storage error logged) and keeps nothing.
func TestNetworkErrorIsNotAStorageError(t *testing.T) {
	ts := startServer(t, nil)
	w := dialWire(t, ts.Addr)
	w.send("SEND <cut.data> SIZE 1000\n")
	w.expect("SEND OK\n")
	w.send(strings.Repeat("x", 500))
	w.c.(interface{ CloseWrite() error }).CloseWrite()
	if rest, err := io.ReadAll(w.br); err != nil || len(rest) != 0 {
		t.Errorf("after the cut: %q, %v; want the connection closed without a word", rest, err)
	}
	testharness.WaitFor(t, "the transfer record", func() bool { return len(ts.Recs.all()) == 1 })
	if rec := ts.Recs.all()[0]; errors.Is(rec.Err, ErrStorage) || !errors.Is(rec.Err, io.ErrUnexpectedEOF) {
		t.Errorf("recorded %v, want an unexpected EOF", rec.Err)
	}
	if ts.Log.contains("not stored") {
		t.Errorf("a cut connection logged as a storage failure: %q", logLines(ts.Log))
	}
	if got := entries(t, ts.Dir); len(got) != 0 {
		t.Errorf("storage holds %v", got)
	}
	if _, err := os.Stat(filepath.Join(ts.Dir, "cut.data")); err == nil {
		t.Error("partial file stored")
	}
}
