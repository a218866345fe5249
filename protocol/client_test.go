package protocol

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"tentacle/internal/testharness"
)

func dial(t testing.TB, addr string) *Client {
	t.Helper()
	c, err := (&Dialer{Timeout: 5 * time.Second}).Dial(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestClientVerbs(t *testing.T) {
	ts := startServer(t, func(s *Server) {
		s.Insecure = true
		s.Password = "pw"
		s.Filters = parseFilters(t, `\.conf$:conf`)
	})
	mkdirs(t, ts.Dir, "conf")
	c := dial(t, ts.Addr)
	if err := c.Auth("pw"); err != nil {
		t.Fatal(err)
	}
	if err := c.Send("one.data", strings.NewReader("first"), 5); err != nil {
		t.Fatal(err)
	}
	if err := c.ZSend("two.data", strings.NewReader(strings.Repeat("two ", 1000))); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(ts.Dir, "two.data")); got != strings.Repeat("two ", 1000) {
		t.Fatalf("ZSend stored %d bytes", len(got))
	}
	var buf bytes.Buffer
	if n, err := c.Recv("one.data", &buf); err != nil || n != 5 || buf.String() != "first" {
		t.Fatalf("Recv: %d %q %v", n, buf.String(), err)
	}
	buf.Reset()
	if _, err := c.ZRecv("two.data", &buf); err != nil || buf.String() != strings.Repeat("two ", 1000) {
		t.Fatalf("ZRecv: %d bytes, %v", buf.Len(), err)
	}
	names, err := c.List("")
	if err != nil || strings.Join(names, ",") != "conf,one.data,two.data" { // "." and ".." left out
		t.Fatalf("List: %v %v", names, err)
	}
	if names, err := c.List("x.conf"); err != nil || len(names) != 0 {
		t.Fatalf("List of an empty directory: %q %v", names, err)
	}
	buf.Reset()
	if _, err := c.Move("one.data", &buf); err != nil || buf.String() != "first" {
		t.Fatalf("Move: %q %v", buf.String(), err)
	}
	// The server deletes the file once its last byte is out, so the
	// client can get there first.
	testharness.WaitFor(t, "the moved file to go", func() bool {
		_, err := os.Stat(filepath.Join(ts.Dir, "one.data"))
		return errors.Is(err, os.ErrNotExist)
	})
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
	// The server records a command after its last byte has gone out, so
	// the client can be done first.
	testharness.WaitFor(t, "the records", func() bool { return len(ts.Recs.all()) >= 7 })
	if n := len(ts.Recs.all()); n != 7 { // Send, ZSend, Recv, ZRecv, 2 List, Move
		t.Errorf("%d transfer records, want 7", n)
	}
}

// TestClientRefusals checks that every refusal reaches the caller as a value
// it can test, and that the session goes on after it.
func TestClientRefusals(t *testing.T) {
	ts := startServer(t, func(s *Server) { s.MaxSize = 10 })
	writeFile(t, filepath.Join(ts.Dir, "taken.data"), "x")
	c := dial(t, ts.Addr)
	tests := []struct {
		name string
		op   func() error
		want error
	}{
		{"exists", func() error { return c.Send("taken.data", strings.NewReader("y"), 1) }, ErrExists},
		{"too big", func() error { return c.Send("big.data", strings.NewReader("0123456789a"), 11) }, ErrTooBig},
		{"empty", func() error { return c.Send("empty.data", strings.NewReader(""), 0) }, ErrTooBig},
		{"invalid", func() error { return c.Send("a*b", strings.NewReader("y"), 1) }, ErrInvalidName},
		{"zsend invalid", func() error { return c.ZSend("a*b", strings.NewReader("y")) }, ErrInvalidName},
		{"recv missing", func() error { _, err := c.Recv("nope", io.Discard); return err }, ErrNotExist},
		{"recv invalid", func() error { _, err := c.Recv("a~b", io.Discard); return err }, ErrInvalidName},
		{"zrecv missing", func() error { _, err := c.ZRecv("nope", io.Discard); return err }, ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.op()
			var re *ReplyError
			if !errors.Is(err, tt.want) || !errors.As(err, &re) {
				t.Fatalf("got %v, want a *ReplyError that is %v", err, tt.want)
			}
		})
	}
	// Still in step after all of that.
	if err := c.Send("ok.data", strings.NewReader("fine"), 4); err != nil {
		t.Fatal(err)
	}
	if err := c.Send("taken.data", strings.NewReader("y"), 1); !strings.Contains(err.Error(), "server responded SEND ERR (file already exists)") {
		t.Errorf("message %q does not quote the reply", err)
	}
}

func TestClientWrongPassword(t *testing.T) {
	ts := startServer(t, func(s *Server) { s.Password = "right" })
	c := dial(t, ts.Addr)
	if err := c.Auth("wrong"); !errors.Is(err, ErrAuth) {
		t.Fatalf("got %v, want ErrAuth", err)
	}
}

// TestKilledUploadLeavesNothing cuts a client off in the middle of a file:
// neither the file nor its temporary file may remain.
func TestKilledUploadLeavesNothing(t *testing.T) {
	ts := startServer(t, nil)
	w := dialWire(t, ts.Addr)
	w.send("SEND <cut.data> SIZE 1000\n")
	w.expect("SEND OK\n")
	w.send(strings.Repeat("x", 600))
	testharness.WaitFor(t, "the file being received", func() bool { return receiving(t, ts.Dir) })
	w.c.Close()
	testharness.WaitFor(t, "the aborted record", func() bool { return len(ts.Recs.all()) == 1 })
	if rec := ts.Recs.all()[0]; rec.Err == nil || rec.Bytes > 600 {
		t.Errorf("record %+v, want a failure after at most 600 bytes", rec)
	}
	if e := entries(t, ts.Dir); len(e) != 0 {
		t.Fatalf("left behind: %v", e)
	}
}

// TestRacingUploadsOneWins sends one name from many clients at once with
// overwrite off: exactly one succeeds, the others are refused, and the stored
// file is one client's whole content.
func TestRacingUploadsOneWins(t *testing.T) {
	ts := startServer(t, nil)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dial(t, ts.Addr)
			body := strings.Repeat(string(rune('a'+i)), 100000)
			errs[i] = c.Send("race.data", strings.NewReader(body), int64(len(body)))
		}()
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, ErrExists):
			t.Errorf("unexpected error %v", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d uploads succeeded, want 1", ok)
	}
	got := readFile(t, filepath.Join(ts.Dir, "race.data"))
	if len(got) != 100000 || strings.Count(got, got[:1]) != 100000 {
		t.Fatal("stored file mixes uploads")
	}
}

// TestSilentPeerDropped checks -t/-r: a client that stops talking is dropped
// once the timeout passes, and its partial upload is discarded.
func TestSilentPeerDropped(t *testing.T) {
	ts := startServer(t, func(s *Server) { s.Timeout = 200 * time.Millisecond })
	w := dialWire(t, ts.Addr)
	w.send("SEND <slow.data> SIZE 10\n")
	w.expect("SEND OK\n")
	w.send("12345")
	w.expectClosed()
	testharness.WaitFor(t, "the timeout log", func() bool { return ts.Log.contains("timed out") })
	testharness.WaitFor(t, "the discarded upload", func() bool { return len(entries(t, ts.Dir)) == 0 })
}

// TestMaxConnections holds the only slot and checks that a second client
// waits instead of failing, and is served once the slot frees.
func TestMaxConnections(t *testing.T) {
	ts := startServer(t, func(s *Server) { s.MaxConnections = 1 })
	first := dial(t, ts.Addr)
	if err := first.Send("1.data", strings.NewReader("1"), 1); err != nil {
		t.Fatal(err)
	}
	second := dial(t, ts.Addr) // connects: the kernel backlog takes it
	done := make(chan error, 1)
	go func() { done <- second.Send("2.data", strings.NewReader("2"), 1) }()
	select {
	case err := <-done:
		t.Fatalf("second client served while the slot was taken: %v", err)
	case <-time.After(100 * time.Millisecond):
		// A sleep on purpose: "not served" has no event to wait for, so
		// the check watches for 100 ms; a server that served the second
		// client later, with the slot still taken, would slip through.
	}
	first.Quit()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestShutdownServesWhatItAccepted starts an upload, keeps a second
// connection silent, calls Shutdown, and checks that the listener closes
// while both connections are still served to their end: a connection that
// has sent nothing yet is an agent about to send, not an idle one.
func TestShutdownServesWhatItAccepted(t *testing.T) {
	ts := startServer(t, nil)
	silent := dialWire(t, ts.Addr)
	busy := dialWire(t, ts.Addr)
	busy.send("SEND <late.data> SIZE 10\n")
	busy.expect("SEND OK\n")
	busy.send("12345")
	testharness.WaitFor(t, "both connections to be served", func() bool { return ts.Server.connCount() == 2 })

	done := make(chan error, 1)
	go func() { done <- ts.Shutdown(context.Background()) }()
	testharness.WaitFor(t, "the listener to close", func() bool {
		c, err := net.DialTimeout("tcp", ts.Addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	busy.send("67890")
	busy.expect("SEND OK\n")
	busy.send("QUIT\n")
	busy.expectClosed()
	// The silent one speaks only now, after the shutdown began.
	silent.send("SEND <silent.data> SIZE 3\n")
	silent.expect("SEND OK\n")
	silent.send("abc")
	silent.expect("SEND OK\n")
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned while a connection was open: %v", err)
	default:
	}
	silent.send("QUIT\n")
	silent.expectClosed()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"late.data": "1234567890", "silent.data": "abc"} {
		if got := readFile(t, filepath.Join(ts.Dir, name)); got != want {
			t.Fatalf("%s: stored %q, want %q", name, got, want)
		}
	}
}

// TestShutdownTimesOutSilentPeers checks that the usual timeout still ends
// a connection that never speaks, so that Shutdown ends too.
func TestShutdownTimesOutSilentPeers(t *testing.T) {
	ts := startServer(t, func(s *Server) { s.Timeout = 200 * time.Millisecond })
	silent := dialWire(t, ts.Addr)
	testharness.WaitFor(t, "the connection to be served", func() bool { return ts.Server.connCount() == 1 })
	if err := ts.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	silent.expectClosed()
}

func TestShutdownDeadline(t *testing.T) {
	ts := startServer(t, nil)
	busy := dialWire(t, ts.Addr)
	busy.send("SEND <never.data> SIZE 10\n")
	busy.expect("SEND OK\n")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := ts.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v", err)
	}
	ts.Close()
	busy.expectClosed()
}

func TestRemoveTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	mkdirs(t, dir, "conf")
	keep := []string{"a.data", "conf/.tentacle-notours.tmp", ".tentacle-0123.tmp"}
	drop := []string{".tentacle-0123456789abcdef.tmp", "conf/.tentacle-fedcba9876543210.tmp"}
	for _, n := range append(keep, drop...) {
		writeFile(t, filepath.Join(dir, n), "x")
	}
	st, err := OpenDirStorage(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	removed, err := st.RemoveTemporaryFiles()
	if err != nil || len(removed) != len(drop) {
		t.Fatalf("removed %v, %v", removed, err)
	}
	for _, n := range keep {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Errorf("%s removed: %v", n, err)
		}
	}
}

// TestRemoveTemporaryFilesSparesLiveUploads: a second server starting on
// the same directory removes a crash's leftovers, but not the temporary
// file of an upload another server is receiving, which then completes.
func TestRemoveTemporaryFilesSparesLiveUploads(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("temporary files are locked on Linux only")
	}
	dir := t.TempDir()
	first, err := OpenDirStorage(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	// Overwriting always takes a named temporary file.
	live, err := first.Create("live.data", true)
	if err != nil {
		t.Fatal(err)
	}
	live.Write([]byte("half"))
	leftover := filepath.Join(dir, ".tentacle-0123456789abcdef.tmp")
	os.WriteFile(leftover, []byte("crash"), 0o644)

	second, err := OpenDirStorage(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	removed, err := second.RemoveTemporaryFiles()
	if err != nil || len(removed) != 1 || removed[0] != filepath.Base(leftover) {
		t.Fatalf("removed %v, %v; want the leftover alone", removed, err)
	}
	live.Write([]byte(" and half"))
	if err := live.Commit(); err != nil {
		t.Fatalf("the live upload after the other server's clean-up: %v", err)
	}
	if got := readFile(t, filepath.Join(dir, "live.data")); got != "half and half" {
		t.Errorf("stored %q", got)
	}
	if names := entries(t, dir); len(names) != 1 {
		t.Errorf("directory holds %q, want live.data alone", names)
	}
}

// TestCheckWritableWhileAnotherStarts: two servers starting at once on one
// storage each check that they can write and clean the other's leftovers.
// The check's probe is a temporary file, which the other's clean-up may
// remove; neither start may fail for it, and no probe is left behind.
func TestCheckWritableWhileAnotherStarts(t *testing.T) {
	dir := t.TempDir()
	var stores [2]*DirStorage
	for i := range stores {
		st, err := OpenDirStorage(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		stores[i] = st
	}
	var wg sync.WaitGroup
	errs := make(chan error, 2*500)
	for _, st := range stores {
		wg.Go(func() {
			for range 500 {
				if err := st.CheckWritable(); err != nil {
					errs <- fmt.Errorf("CheckWritable: %w", err)
				}
				if _, err := st.RemoveTemporaryFiles(); err != nil {
					errs <- fmt.Errorf("RemoveTemporaryFiles: %w", err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if names := entries(t, dir); len(names) != 0 {
		t.Errorf("directory holds %q after the starts, want nothing", names)
	}
}

// TestSymlinkEscape checks that a symbolic link in the storage directory
// cannot serve or receive files outside it.
func TestSymlinkEscape(t *testing.T) {
	outside := t.TempDir()
	writeFile(t, filepath.Join(outside, "secret"), "secret")
	ts := startServer(t, func(s *Server) {
		s.Filters = parseFilters(t, `\.conf$:conf`)
	})
	if err := os.Symlink(filepath.Join(outside, "secret"), filepath.Join(ts.Dir, "link.data")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(ts.Dir, "conf")); err != nil {
		t.Fatal(err)
	}
	c := dial(t, ts.Addr)
	if _, err := c.Recv("link.data", io.Discard); err == nil {
		t.Error("RECV followed a link out of the storage directory")
	}
	if err := c.Send("x.conf", strings.NewReader("x"), 1); err == nil {
		t.Error("SEND wrote through a link out of the storage directory")
	}
	if e := entries(t, outside); len(e) != 1 {
		t.Errorf("outside directory now holds %v", e)
	}
}

// TestPipelinedDataIsKept sends the file with its command in one write, which
// the reference cannot take; this server must not lose the early bytes.
func TestPipelinedDataIsKept(t *testing.T) {
	ts := startServer(t, nil)
	w := dialWire(t, ts.Addr)
	w.send("SEND <p.data> SIZE 3\nabcQUIT\n")
	w.expect("SEND OK\n")
	w.expect("SEND OK\n")
	w.expectClosed()
	if got := readFile(t, filepath.Join(ts.Dir, "p.data")); got != "abc" {
		t.Fatalf("stored %q", got)
	}
}

// TestHTTPProxy tunnels a client through a small CONNECT proxy.
func TestHTTPProxy(t *testing.T) {
	ts := startServer(t, nil)
	tests := []struct {
		name      string
		user, pwd string
		status    string
		wantErr   bool
	}{
		{"plain", "", "", "HTTP/1.0 200 Connection established", false},
		{"auth", "agent", "p:w", "HTTP/1.1 200 OK", false},
		{"denied", "agent", "bad", "HTTP/1.0 407 Proxy Authentication Required", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			proxy, requests := startConnectProxy(t, tt.status)
			d := Dialer{Timeout: 5 * time.Second, Proxy: &HTTPProxy{Addr: proxy, User: tt.user, Password: tt.pwd}}
			c, err := d.Dial(context.Background(), ts.Addr)
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "407") {
					t.Fatalf("got %v, want the proxy's refusal", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Send(tt.name+".data", strings.NewReader("via proxy"), 9); err != nil {
				t.Fatal(err)
			}
			req := <-requests
			if !strings.HasPrefix(req, "CONNECT "+ts.Addr+" HTTP/1.0\r\n") {
				t.Errorf("request %q", req)
			}
			if tt.user != "" && !strings.Contains(req, "Proxy-Authorization: Basic YWdlbnQ6cDp3\r\n") {
				t.Errorf("no credentials in %q", req)
			}
		})
	}
}

// startConnectProxy runs a minimal HTTP CONNECT proxy that answers status,
// and tunnels when status is 200. It reports each request head.
func startConnectProxy(t *testing.T, status string) (string, <-chan string) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	requests := make(chan string, 4)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				var head strings.Builder
				for {
					line, err := br.ReadString('\n')
					if err != nil {
						return
					}
					head.WriteString(line)
					if line == "\r\n" {
						break
					}
				}
				requests <- head.String()
				io.WriteString(c, status+"\r\nVia: test\r\n\r\n")
				if !strings.Contains(status, " 200 ") {
					return
				}
				target := strings.Fields(head.String())[1]
				up, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer up.Close()
				go io.Copy(up, br)
				io.Copy(c, up)
			}()
		}
	}()
	return l.Addr().String(), requests
}

func TestRelay(t *testing.T) {
	upstream := startServer(t, nil)
	relay := startServer(t, func(s *Server) {
		s.Storage = nil
		s.RelayAddress = upstream.Addr
		s.Password = "relaypw"
	})
	c := dial(t, relay.Addr)
	if err := c.Auth("relaypw"); err != nil {
		t.Fatal(err)
	}
	body := strings.Repeat("relayed ", 100000)
	if err := c.Send("r.data", strings.NewReader(body), int64(len(body))); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := c.Recv("r.data", &buf); err != nil || buf.String() != body {
		t.Fatalf("Recv through relay: %d bytes, %v", buf.Len(), err)
	}
	if err := c.Send("r.data", strings.NewReader("x"), 1); !errors.Is(err, ErrExists) {
		t.Fatalf("refusal through relay: %v", err)
	}
	c.Quit()
	if got := readFile(t, filepath.Join(upstream.Dir, "r.data")); got != body {
		t.Fatal("upstream stored something else")
	}
	if e := entries(t, relay.Dir); len(e) != 0 {
		t.Errorf("relay stored %v", e)
	}
}

func TestRelayUpstreamDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	relay := startServer(t, func(s *Server) { s.Storage = nil; s.RelayAddress = addr })
	w := dialWire(t, relay.Addr)
	w.send("SEND <a> SIZE 1\n")
	w.expectClosed()
	testharness.WaitFor(t, "the log", func() bool { return relay.Log.contains("Cannot connect to " + addr) })
}

func TestAllowHook(t *testing.T) {
	ts := startServer(t, func(s *Server) { s.Allow = func(net.Addr) bool { return false } })
	w := dialWire(t, ts.Addr)
	w.send("QUIT\n")
	w.expectClosed()
	testharness.WaitFor(t, "the log", func() bool { return ts.Log.contains("closed by hosts access rules") })
}
