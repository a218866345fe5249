package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"tentacle/internal/testharness"
)

// TestSpliceUpload stores uploads of at least spliceMin bytes through the
// splice path, byte for byte, for sizes around the chunk; smaller ones are
// copied, byte for byte too.
func TestSpliceUpload(t *testing.T) {
	ts := startServer(t, func(s *Server) { s.MaxSize = 8 << 20 })
	c, err := Dial(ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tests := []struct {
		name    string
		size    int
		spliced bool
	}{
		{"a small file, copied", 4 << 10, false},
		{"one byte past the buffer, copied", lineBufferSize + 1, false},
		{"just under the splice minimum, copied", spliceMin - 1, false},
		// The rest past what the command reader holds must be spliceMin.
		{"the splice minimum past the buffer", spliceMin + lineBufferSize, true},
		{"one chunk", spliceChunk, true},
		{"a chunk and a byte", spliceChunk + 1, true},
		{"several chunks", 5*spliceChunk + 12345, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := splicedUploads.Load()
			data := randomBytes(t, tt.size)
			name := fmt.Sprintf("spliced-%d.data", tt.size)
			if err := c.Send(name, bytes.NewReader(data), int64(len(data))); err != nil {
				t.Fatal(err)
			}
			if got, err := os.ReadFile(filepath.Join(ts.Dir, name)); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("stored %d bytes (%v), want the %d sent", len(got), err, len(data))
			}
			if spliced := splicedUploads.Load() != before; spliced != tt.spliced {
				t.Errorf("spliced = %v, want %v", spliced, tt.spliced)
			}
		})
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
}

// TestSpliceUploadStalled drops a client that stops sending in the middle
// of a spliced upload after the timeout, and keeps nothing of the file.
func TestSpliceUploadStalled(t *testing.T) {
	ts := startServer(t, func(s *Server) { s.Timeout = 300 * time.Millisecond; s.MaxSize = 8 << 20 })
	w := dialWire(t, ts.Addr)
	w.send("SEND <stalled.data> SIZE 4194304\n")
	w.expect("SEND OK\n")
	w.send(string(randomBytes(t, 3*spliceChunk/2))) // well past the buffer, then silence
	w.expectClosed()
	testharness.WaitFor(t, "the timeout to be logged", func() bool { return ts.Log.contains("timed out") })
	if got := entries(t, ts.Dir); len(got) != 0 {
		t.Errorf("storage holds %v after the stalled upload", got)
	}
}

// TestSpliceUploadDiskFull fills a real file system in the middle of a
// spliced upload: the client gets "SEND ERR (storage error)", the rest of
// the announced bytes are taken off the wire, and the same connection then
// stores a file.
func TestSpliceUploadDiskFull(t *testing.T) {
	mnt := mountTmpfs(t, "", "4m")
	spool, filler := filepath.Join(mnt, "spool"), filepath.Join(mnt, "filler")
	mkdirs(t, mnt, "spool")
	const room = 512 << 10
	if err := os.WriteFile(filler, make([]byte, freeBytes(t, mnt)-room), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := OpenDirStorage(spool)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() }) // after the server's, before the unmount
	ts := startServer(t, func(s *Server) { s.MaxSize = 8 << 20; s.Storage = st })
	c, err := Dial(ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	before := splicedUploads.Load()
	err = c.Send("full.data", bytes.NewReader(randomBytes(t, 3*spliceChunk+5)), 3*spliceChunk+5)
	var reply *ReplyError
	if !errors.As(err, &reply) || !errors.Is(err, ErrStorage) || reply.Line != "SEND ERR (storage error)" {
		t.Fatalf("upload past the room: %v, want SEND ERR (storage error)", err)
	}
	if splicedUploads.Load() == before {
		t.Error("the upload did not take the splice path")
	}
	if !ts.Log.contains("no space left on device") {
		t.Errorf("no log line names the cause: %q", logLines(ts.Log))
	}
	if got := entries(t, spool); len(got) != 0 {
		t.Errorf("storage holds %v after the refusal", got)
	}
	data := randomBytes(t, room/2)
	if err := c.Send("fits.data", bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("next upload on the same connection: %v", err)
	}
	if got := readFile(t, filepath.Join(spool, "fits.data")); got != string(data) {
		t.Errorf("fits.data holds %d bytes, want %d", len(got), len(data))
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
}
