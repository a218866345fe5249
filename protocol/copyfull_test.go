package protocol

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"tentacle/internal/testcerts"
	"tentacle/internal/testharness"
	"tentacle/tlsconfig"
)

// recordReader returns at most size bytes per Read, as a tls.Conn returns
// one record, then fails with err (io.EOF when nil) once data is used up.
type recordReader struct {
	data []byte
	size int
	err  error
}

func (r *recordReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), r.size)], r.data)
	r.data = r.data[n:]
	return n, nil
}

// writeSizes keeps what is written and the length of every write.
type writeSizes struct {
	bytes.Buffer
	sizes []int
}

func (w *writeSizes) Write(p []byte) (int, error) {
	w.sizes = append(w.sizes, len(p))
	return w.Buffer.Write(p)
}

// TestCopyFullN checks that copyFullN writes whole buffers from a source
// that returns TLS-record-sized reads, copies exactly n bytes, and reports
// a short or failing source the way copyN does.
func TestCopyFullN(t *testing.T) {
	errBroken := errors.New("connection broken")
	tests := []struct {
		name    string
		have, n int   // bytes the source holds, bytes asked for
		srcErr  error // the source's error once its bytes are used up
		wantErr error
	}{
		{name: "less than a buffer", have: 5000, n: 5000},
		{name: "one buffer", have: copyBufferSize, n: copyBufferSize},
		{name: "three buffers and a bit", have: 3*copyBufferSize + 5, n: 3*copyBufferSize + 5},
		{name: "source holds more than n", have: 2 * copyBufferSize, n: copyBufferSize + 7},
		{name: "source ends early", have: copyBufferSize + 100, n: 2 * copyBufferSize, wantErr: io.EOF},
		{name: "source fails", have: copyBufferSize + 100, n: 2 * copyBufferSize, srcErr: errBroken, wantErr: errBroken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := randomBytes(t, tt.have)
			src := &recordReader{data: data, size: 16 << 10, err: tt.srcErr}
			var dst writeSizes
			written, err := copyFullN(&dst, src, int64(tt.n))
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			want := data[:min(tt.have, tt.n)]
			if written != int64(len(want)) || !bytes.Equal(dst.Bytes(), want) {
				t.Fatalf("wrote %d bytes (reported %d), want the first %d of the source", dst.Len(), written, len(want))
			}
			for i, s := range dst.sizes[:max(len(dst.sizes)-1, 0)] {
				if s != copyBufferSize {
					t.Fatalf("write %d of %d is %d bytes, want %d: %v", i+1, len(dst.sizes), s, copyBufferSize, dst.sizes)
				}
			}
		})
	}
}

// startTLSServer starts a server with TLS and gives the client's TLS
// configuration.
func startTLSServer(t *testing.T, timeout time.Duration) (*testServer, *tls.Config) {
	t.Helper()
	certs, err := testcerts.Generate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srvCfg, err := tlsconfig.Server(tlsconfig.Options{CertFile: certs.ServerCert, KeyFile: certs.ServerKey})
	if err != nil {
		t.Fatal(err)
	}
	cliCfg, err := tlsconfig.Client(tlsconfig.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, func(s *Server) {
		s.TLSConfig = srvCfg
		s.MaxSize = 8 << 20
		if timeout > 0 {
			s.Timeout = timeout
		}
	})
	return ts, cliCfg
}

// TestTLSUpload stores uploads over TLS byte for byte, for sizes around
// the copy buffer, where copyFullN's last write is short.
func TestTLSUpload(t *testing.T) {
	ts, cliCfg := startTLSServer(t, 0)
	d := Dialer{Timeout: 10 * time.Second, TLSConfig: cliCfg}
	c, err := d.Dial(t.Context(), ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, size := range []int{1, lineBufferSize + 1, copyBufferSize, copyBufferSize + 1, 5*copyBufferSize + 12345} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			data := randomBytes(t, size)
			name := fmt.Sprintf("tls-%d.data", size)
			if err := c.Send(name, bytes.NewReader(data), int64(size)); err != nil {
				t.Fatal(err)
			}
			if got, err := os.ReadFile(filepath.Join(ts.Dir, name)); err != nil || !bytes.Equal(got, data) {
				t.Fatalf("stored %d bytes (%v), want the %d sent", len(got), err, size)
			}
		})
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
}

// TestTLSUploadStalled drops a TLS client that stops sending in the middle
// of an upload, part of a buffer read, after the timeout, and keeps
// nothing of the file: filling the buffer must not wait longer than one
// read's deadline.
func TestTLSUploadStalled(t *testing.T) {
	const timeout = 300 * time.Millisecond
	ts, cliCfg := startTLSServer(t, timeout)
	raw, err := net.Dial("tcp", ts.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	c := tls.Client(raw, cliCfg)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	if _, err := io.WriteString(c, "SEND <stalled.data> SIZE 4194304\n"); err != nil {
		t.Fatal(err)
	}
	if line, err := br.ReadString('\n'); err != nil || line != "SEND OK\n" {
		t.Fatalf("got %q (%v), want SEND OK", line, err)
	}
	if _, err := c.Write(randomBytes(t, 3*copyBufferSize/2)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if b, err := br.ReadByte(); err == nil {
		t.Fatalf("connection still open: got %q", b)
	}
	if waited := time.Since(start); waited > 10*timeout {
		t.Errorf("dropped after %v, want about %v", waited, timeout)
	}
	testharness.WaitFor(t, "the timeout to be logged", func() bool { return ts.Log.contains("timed out") })
	if got := entries(t, ts.Dir); len(got) != 0 {
		t.Errorf("storage holds %v after the stalled upload", got)
	}
}

// BenchmarkTLSUpload measures one 64 MiB upload over TLS into a
// DirStorage, client and server in this process: the path whose copies
// and write sizes copyFullN is about. Run it with -cpuprofile and focus on
// receivePlain to see the server's share.
func BenchmarkTLSUpload(b *testing.B) {
	const size = 64 << 20
	certs, err := testcerts.Generate(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	srvCfg, err := tlsconfig.Server(tlsconfig.Options{CertFile: certs.ServerCert, KeyFile: certs.ServerKey})
	if err != nil {
		b.Fatal(err)
	}
	cliCfg, err := tlsconfig.Client(tlsconfig.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ts := startServer(b, func(s *Server) { s.TLSConfig = srvCfg; s.MaxSize = size })
	data := randomBytes(b, size)
	d := Dialer{Timeout: 30 * time.Second, TLSConfig: cliCfg}
	c, err := d.Dial(b.Context(), ts.Addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.SetBytes(size)
	for i := 0; b.Loop(); i++ {
		name := fmt.Sprintf("bench-%d.data", i)
		if err := c.Send(name, bytes.NewReader(data), size); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.Remove(filepath.Join(ts.Dir, name))
		b.StartTimer()
	}
}
