package protocol

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestSendFile sends files through the kernel path (a plain *os.File on
// plain TCP) and through the copying one (any other reader), including
// sizes that are not a multiple of a chunk, and checks what is stored.
func TestSendFile(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.Addr)
	tests := []struct {
		name   string
		size   int
		asFile bool
	}{
		{"one byte file", 1, true},
		{"one chunk file", sendfileChunk, true},
		{"odd size file", 3*sendfileChunk + 17, true},
		{"odd size reader", 3*sendfileChunk + 17, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := make([]byte, tt.size)
			rand.Read(data)
			path := filepath.Join(t.TempDir(), "src")
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var r io.Reader = f
			if !tt.asFile {
				r = io.MultiReader(f)
			}
			name := "sf" + filepath.Base(t.Name()) + ".data"
			if err := c.Send(name, r, int64(tt.size)); err != nil {
				t.Fatal(err)
			}
			if got := readFile(t, filepath.Join(ts.Dir, name)); got != string(data) {
				t.Fatalf("stored %d bytes, not the %d sent", len(got), len(data))
			}
			if off, _ := f.Seek(0, io.SeekCurrent); off != int64(tt.size) {
				t.Errorf("file offset %d after the upload, want %d (what a progress display watches)", off, tt.size)
			}
		})
	}
}

// TestSendFileShort: a file shorter than announced is an error, not a hang.
func TestSendFileShort(t *testing.T) {
	ts := startServer(t, nil)
	c := dial(t, ts.Addr)
	path := filepath.Join(t.TempDir(), "src")
	if err := os.WriteFile(path, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := c.Send("short.data", f, 100); err == nil {
		t.Fatal("a file shorter than its announced size was sent")
	}
}

// TestSendFileStalledPeer: on the kernel path, a server that says SEND OK
// and then stops reading is still dropped by the client's timeout, as on
// the copying path; the whole file does not get one long deadline.
func TestSendFileStalledPeer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	done := make(chan struct{})
	defer close(done)
	go func() {
		conn, err := l.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		if _, err := bufio.NewReader(conn).ReadString('\n'); err != nil {
			return
		}
		io.WriteString(conn, "SEND OK\n")
		<-done // never reads again, until the test ends
	}()
	const size = 256 << 20 // far more than the socket buffers hold
	path := filepath.Join(t.TempDir(), "src")
	if err := os.WriteFile(path, bytes.Repeat([]byte("x"), 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, size); err != nil { // sparse: cheap to make
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	c, err := (&Dialer{Timeout: 300 * time.Millisecond}).Dial(context.Background(), l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	err = c.Send("stalled.data", f, size)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Send to a peer that stopped reading: %v, want a timeout", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("dropped after %v, want about the 300ms timeout", took)
	}
}
