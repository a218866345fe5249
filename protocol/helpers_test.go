package protocol

import (
	"bufio"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tentacle/internal/testharness"
)

// testServer runs a Server on 127.0.0.1:0 over a fresh storage directory.
type testServer struct {
	*Server
	Dir  string
	Addr string
	Log  *memLog
	Recs *recorder
	errc chan error
}

// memLog keeps log lines for assertions.
type memLog struct {
	mu    sync.Mutex
	lines []string
}

func (m *memLog) Log(level Level, msg string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lines = append(m.lines, []string{"err", "log", "info", "notice"}[level]+": "+msg)
}

func (m *memLog) contains(sub string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, l := range m.lines {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

// recorder collects transfer records.
type recorder struct {
	mu   sync.Mutex
	recs []Transfer
}

func (r *recorder) add(t Transfer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.recs = append(r.recs, t)
}

func (r *recorder) all() []Transfer {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Transfer(nil), r.recs...)
}

func startServer(t testing.TB, configure func(*Server)) *testServer {
	t.Helper()
	dir := t.TempDir()
	st, err := OpenDirStorage(dir)
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Dir: dir, Log: &memLog{}, Recs: &recorder{}, errc: make(chan error, 1)}
	// The timeout for a silent peer is generous: a client compressing a
	// ZSEND says nothing meanwhile, and under -race on a loaded machine
	// that took over 5 s. The tests of the timeout set their own.
	ts.Server = &Server{Storage: st, Logger: ts.Log, OnTransfer: ts.Recs.add, Timeout: testharness.WaitTimeout, TempDir: t.TempDir()}
	if configure != nil {
		configure(ts.Server)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts.Addr = l.Addr().String()
	go func() { ts.errc <- ts.Serve(l) }()
	t.Cleanup(func() {
		ts.Close()
		if err := <-ts.errc; err != ErrServerClosed {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
		st.Close()
	})
	return ts
}

// wire is a raw connection for byte-exact protocol checks.
type wire struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

func dialWire(t testing.TB, addr string) *wire {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return &wire{t: t, c: c, br: bufio.NewReader(c)}
}

func (w *wire) send(s string) {
	w.t.Helper()
	if _, err := io.WriteString(w.c, s); err != nil {
		w.t.Fatalf("write %q: %v", s, err)
	}
}

// expect reads one line and compares it, LF included.
func (w *wire) expect(want string) {
	w.t.Helper()
	got, err := w.br.ReadString('\n')
	if err != nil || got != want {
		w.t.Fatalf("got %q (%v), want %q", got, err, want)
	}
}

// expectClosed checks that the server closes the connection without a word.
func (w *wire) expectClosed() {
	w.t.Helper()
	b, err := w.br.ReadByte()
	if err == nil {
		rest, _ := w.br.ReadString('\n')
		w.t.Fatalf("connection still open: got %q", string(b)+rest)
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		w.t.Fatalf("connection still open (timed out waiting for close)")
	}
}

// writeFile writes content to path, 0644.
func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// parseFilters parses a filter specification the test knows to be valid.
func parseFilters(t testing.TB, spec string) []Filter {
	t.Helper()
	filters, err := ParseFilters(spec)
	if err != nil {
		t.Fatal(err)
	}
	return filters
}

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// entries lists a directory, hidden temporary files included.
func entries(t testing.TB, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range des {
		names = append(names, d.Name())
	}
	return names
}

func mkdirs(t testing.TB, root string, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func ioReadFull(r io.Reader, b []byte) (int, error) { return io.ReadFull(r, b) }

// receiving reports whether an upload into dir is under way: a temporary
// file is there, or (where files are created without a name) this process
// holds a file open in dir.
func receiving(t testing.TB, dir string) bool {
	for _, e := range entries(t, dir) {
		if isTempName(e) {
			return true
		}
	}
	fds, _ := os.ReadDir("/proc/self/fd")
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && strings.HasPrefix(target, dir+"/") {
			return true
		}
	}
	return false
}
