package protocol

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"tentacle/internal/testharness"
)

// TestSendfileDownload sends stored files for RECV and MV on plain TCP
// through the sendfile path, byte for byte, for sizes around the chunk.
func TestSendfileDownload(t *testing.T) {
	ts := startServer(t, func(s *Server) { s.Insecure = true })
	c, err := Dial(ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tests := []struct {
		name string
		verb string
		size int
	}{
		{"RECV, one byte", VerbRecv, 1},
		{"RECV, a chunk and a byte", VerbRecv, sendfileChunk + 1},
		{"RECV, several megabytes", VerbRecv, 5<<20 + 3},
		{"MV, several megabytes", VerbMV, 3<<20 + 1},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "down-" + strconv.Itoa(i) + ".data"
			data := randomBytes(t, tt.size)
			if err := os.WriteFile(filepath.Join(ts.Dir, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
			before := sentFiles.Load()
			var got bytes.Buffer
			get := c.Recv
			if tt.verb == VerbMV {
				get = c.Move
			}
			if _, err := get(name, &got); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Bytes(), data) {
				t.Fatalf("got %d bytes, want the %d stored", got.Len(), len(data))
			}
			if sentFiles.Load() == before {
				t.Error("the download did not take the sendfile path")
			}
		})
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
}

// TestSendfileDownloadStalled drops a client that stops reading in the
// middle of a sendfile download after the timeout.
func TestSendfileDownloadStalled(t *testing.T) {
	ts := startServer(t, func(s *Server) { s.Timeout = 300 * time.Millisecond })
	const size = 64 << 20 // far more than the socket buffers hold
	f, err := os.Create(filepath.Join(ts.Dir, "big.data"))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.Close()
	before := sentFiles.Load()
	w := dialWire(t, ts.Addr)
	w.send("RECV <big.data>\n")
	w.expect("RECV SIZE " + strconv.Itoa(size) + "\n")
	w.send("RECV OK\n")
	testharness.WaitFor(t, "the stalled download to time out", func() bool { return ts.Log.contains("timed out") })
	if sentFiles.Load() == before {
		t.Error("the download did not take the sendfile path")
	}
}
