//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tentacle/internal/testharness"
	"tentacle/protocol"
)

// sharedBodySize is about the size of each racing upload: large enough
// that the racers' writes overlap.
const sharedBodySize = 256 << 10

// racingUpload sends body as name to addr, but holds the data back until
// go is closed, so that every racer has been told to go ahead (SEND OK)
// before any sends: they then race to the commit, not to the check.
func racingUpload(addr, name string, body []byte, ready *sync.WaitGroup, start <-chan struct{}) error {
	c, err := (&protocol.Dialer{Timeout: 10 * time.Second}).Dial(context.Background(), addr)
	if err != nil {
		ready.Done()
		return err
	}
	defer c.Close()
	gate := &gatedReader{r: bytes.NewReader(body), ready: ready, start: start}
	err = c.Send(name, gate, int64(len(body)))
	if !gate.opened {
		ready.Done() // refused before the data: it never reached the gate
	}
	if err != nil {
		return err
	}
	return c.Quit()
}

// gatedReader reports ready on its first read, which the client makes only
// after the server's go-ahead, then waits for start.
type gatedReader struct {
	r      *bytes.Reader
	ready  *sync.WaitGroup
	start  <-chan struct{}
	opened bool
}

func (g *gatedReader) Read(p []byte) (int, error) {
	if !g.opened {
		g.opened = true
		g.ready.Done()
		<-g.start
	}
	return g.r.Read(p)
}

// TestSharedSpool runs two server processes on one storage directory, as
// two nodes behind a balancer would share one, and races uploads of the
// same names through both. With overwrite off exactly one upload of each
// name is stored and every other is refused as existing; with overwrite
// on each one succeeds, and the file holds one of them whole. A reader
// polling the directory meanwhile never sees a partial file.
func TestSharedSpool(t *testing.T) {
	const (
		names     = 12
		perServer = 4
	)
	for _, overwrite := range []bool{false, true} {
		t.Run(fmt.Sprintf("overwrite=%v", overwrite), func(t *testing.T) {
			dir := storageDir(t)
			var addrs []string
			for range 2 {
				port := testharness.FreePort(t)
				args := []string{"-s", dir, "-a", "127.0.0.1", "-p", port, "-m", "10000000"}
				if overwrite {
					args = append(args, "-o")
				}
				startServer(t, withUser(args...)...)
				addrs = append(addrs, "127.0.0.1:"+port)
			}
			for _, a := range addrs {
				waitListening(t, a)
			}

			// Every body differs, so a stored file tells which upload it is.
			bodies := map[string][]byte{}
			body := func(name string, server, i int) []byte {
				b := bytes.Repeat([]byte(fmt.Sprintf("%s from server %d racer %d\n", name, server, i)), sharedBodySize/40)
				bodies[string(b)] = b
				return b
			}
			stop := make(chan struct{})
			var watcher sync.WaitGroup
			var partial []string
			watcher.Go(func() { partial = watchWhole(dir, stop) })

			for n := range names {
				name := fmt.Sprintf("agent%d.data", n)
				var ready, done sync.WaitGroup
				start := make(chan struct{})
				errs := make([]error, 2*perServer)
				for s, addr := range addrs {
					for i := range perServer {
						b := body(name, s, i)
						ready.Add(1)
						done.Go(func() { errs[s*perServer+i] = racingUpload(addr, name, b, &ready, start) })
					}
				}
				ready.Wait()
				close(start)
				done.Wait()

				ok, exists := 0, 0
				for _, err := range errs {
					switch {
					case err == nil:
						ok++
					case errors.Is(err, protocol.ErrExists):
						exists++
					default:
						t.Errorf("%s: upload failed: %v", name, err)
					}
				}
				if overwrite && ok != len(errs) || !overwrite && (ok != 1 || exists != len(errs)-1) {
					t.Errorf("%s: %d stored, %d refused as existing, of %d", name, ok, exists, len(errs))
				}
				got, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				if _, whole := bodies[string(got)]; !whole {
					t.Errorf("%s holds %d bytes that are no upload's whole body", name, len(got))
				}
			}
			close(stop)
			watcher.Wait()
			if len(partial) > 0 {
				t.Errorf("a reader saw partial files: %q", partial)
			}

			// Overwriting, the last upload wins, whichever server takes it.
			if overwrite {
				for i, addr := range addrs {
					last := []byte(fmt.Sprintf("last, through server %d\n", i))
					c, err := protocol.Dial(addr)
					if err != nil {
						t.Fatal(err)
					}
					if err := c.Send("agent0.data", bytes.NewReader(last), int64(len(last))); err != nil {
						t.Fatal(err)
					}
					c.Close()
					if got, _ := os.ReadFile(filepath.Join(dir, "agent0.data")); !bytes.Equal(got, last) {
						t.Errorf("after the last upload through server %d: %q", i, got)
					}
				}
			}
			entries, _ := os.ReadDir(dir)
			if len(entries) != names {
				var left []string
				for _, e := range entries {
					left = append(left, e.Name())
				}
				t.Errorf("spool holds %q, want the %d files alone", left, names)
			}
		})
	}
}

// watchWhole reads every visible file in dir until stop, as the Pandora
// data server would, and returns those it found holding no whole upload.
func watchWhole(dir string, stop <-chan struct{}) []string {
	var bad []string
	for {
		select {
		case <-stop:
			return bad
		default:
		}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if e.Name()[0] == '.' {
				continue // a hidden temporary file, never read by Pandora
			}
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err != nil {
				continue
			}
			if !wholeUpload(b) {
				bad = append(bad, fmt.Sprintf("%s (%d bytes)", e.Name(), len(b)))
			}
		}
		time.Sleep(time.Millisecond)
	}
}

// wholeUpload tells whether b is one racer's body: the same line over and
// over, as many times as a body holds.
func wholeUpload(b []byte) bool {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return false
	}
	line := b[:i+1]
	return len(b) == len(line)*(sharedBodySize/40) && bytes.Equal(b, bytes.Repeat(line, len(b)/len(line)))
}

// TestSharedSpoolStartDuringUpload starts a second server on a spool
// while the first receives an upload into a named temporary file (as with
// -o, or on file systems without O_TMPFILE): the second server's clean-up
// of leftovers spares it, and the upload completes.
func TestSharedSpoolStartDuringUpload(t *testing.T) {
	dir := storageDir(t)
	first := "127.0.0.1:" + testharness.FreePort(t)
	_, port, _ := net.SplitHostPort(first)
	startServer(t, withUser("-s", dir, "-a", "127.0.0.1", "-p", port, "-o")...)
	waitListening(t, first)

	c, err := protocol.Dial(first)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	pr, pw := io.Pipe()
	uploaded := make(chan error, 1)
	go func() { uploaded <- c.Send("inflight.data", pr, 8) }()
	pw.Write([]byte("1234"))
	testharness.WaitFor(t, "the temporary file", func() bool {
		entries, _ := os.ReadDir(dir)
		return len(entries) == 1 && entries[0].Name()[0] == '.'
	})

	second := "127.0.0.1:" + testharness.FreePort(t)
	_, port, _ = net.SplitHostPort(second)
	_, out := startServer(t, withUser("-s", dir, "-a", "127.0.0.1", "-p", port, "-o", "-v")...)
	// Serving means the clean-up is done: it runs before.
	testharness.WaitFor(t, "the second server to serve", func() bool {
		c, err := protocol.Dial(second)
		if err != nil {
			return false
		}
		defer c.Close()
		return c.Send("probe.data", strings.NewReader("p"), 1) == nil
	})
	pw.Write([]byte("5678"))
	if err := <-uploaded; err != nil {
		t.Fatalf("upload across the second server's start: %v\nsecond server:\n%s", err, out)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "inflight.data")); string(got) != "12345678" {
		t.Errorf("stored %q", got)
	}
	if strings.Contains(out.String(), "unfinished upload") {
		t.Errorf("the second server removed a live upload's file:\n%s", out)
	}
}
