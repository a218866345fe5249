package handover

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tentacle/internal/testharness"
	"tentacle/protocol"
)

// TestReplaceKeepsSocketsAndTransfers swaps the server in charge while an
// upload is in flight and clients keep connecting: the upload completes
// under the old password, new connections need the new one, and no
// connection attempt is refused in between.
func TestReplaceKeepsSocketsAndTransfers(t *testing.T) {
	dir := t.TempDir()
	st, err := protocol.OpenDirStorage(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	gens := New([]net.Listener{l})
	gens.Start(&protocol.Server{Storage: st, Password: "old"})

	// An upload under the old password, paused half way.
	c, err := protocol.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Auth("old"); err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	uploaded := make(chan error, 1)
	go func() { uploaded <- c.Send("inflight.data", pr, 10) }()
	pw.Write([]byte("12345"))

	// Clients keep dialling through the reload.
	dialler := testharness.StartDialling(addr, time.Second)

	gens.Replace(context.Background(), &protocol.Server{Storage: st, Password: "new"})
	if gens.inCharge().Password != "new" {
		t.Fatal("the new server is not in charge")
	}
	pw.Write([]byte("67890"))
	if err := <-uploaded; err != nil {
		t.Fatalf("in-flight upload: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "inflight.data")); string(got) != "1234567890" {
		t.Fatalf("stored %q", got)
	}

	for _, tt := range []struct {
		pwd string
		ok  bool
	}{{"new", true}, {"old", false}} {
		nc, err := protocol.Dial(addr)
		if err != nil {
			t.Fatal(err)
		}
		err = nc.Auth(tt.pwd)
		if (err == nil) != tt.ok {
			t.Errorf("password %q after the reload: %v", tt.pwd, err)
		}
		nc.Close()
	}
	if dials, refused := dialler.Stop(); refused != 0 || dials == 0 {
		t.Fatalf("%d of %d connection attempts refused", refused, dials)
	}
	c.Quit()
	if err := gens.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if testharness.Accepts(addr) {
		t.Fatal("still listening after Shutdown")
	}
}

// TestShutdownWaitsForInFlight: stopping lets an upload finish.
func TestShutdownWaitsForInFlight(t *testing.T) {
	dir := t.TempDir()
	st := openStorage(t, dir)
	l := listen(t)
	gens := New([]net.Listener{l})
	gens.Start(&protocol.Server{Storage: st})
	c, err := protocol.Dial(l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	uploaded := make(chan error, 1)
	go func() { uploaded <- c.Send("last.data", pr, 4) }()
	pw.Write([]byte("ab"))
	stopped := make(chan error, 1)
	go func() { stopped <- gens.Shutdown(context.Background()) }()
	waitClosed(t, l.Addr().String())
	pw.Write([]byte("cd"))
	if err := <-uploaded; err != nil {
		t.Fatal(err)
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "last.data")); string(got) != "abcd" {
		t.Fatalf("stored %q", got)
	}
}

// waitClosed waits for Shutdown to close the listener on addr: Shutdown
// says so only when it returns, after the connections it waits for.
func waitClosed(t *testing.T, addr string) {
	t.Helper()
	testharness.WaitFor(t, "the listener to close", func() bool { return !testharness.Accepts(addr) })
}

// openStorage opens a storage in dir, closed when the test ends.
func openStorage(t *testing.T, dir string) *protocol.DirStorage {
	t.Helper()
	st, err := protocol.OpenDirStorage(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// listen listens on a free loopback port.
func listen(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestShutdownDeadlineCuts(t *testing.T) {
	st := openStorage(t, t.TempDir())
	l := listen(t)
	gens := New([]net.Listener{l})
	gens.Start(&protocol.Server{Storage: st})
	c, err := protocol.Dial(l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	defer pw.Close()
	uploaded := make(chan error, 1)
	go func() { uploaded <- c.Send("never.data", pr, 4) }()
	pw.Write([]byte("ab"))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := gens.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v", err)
	}
	pw.Write([]byte("cd"))
	if err := <-uploaded; err == nil || strings.Contains(err.Error(), "SEND OK") {
		t.Fatalf("cut upload reported %v", err)
	}
}
