//go:build system && linux

package systemtest

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tentacle/protocol"
)

// load is a set of agents that upload unique files to the daemon in a
// container, one connection per file as agents do, until stopped.
type load struct {
	c      *container
	addr   string
	prefix string
	stopc  chan struct{}
	wg     sync.WaitGroup
	count  atomic.Int64

	mu       sync.Mutex
	sent     map[string][]byte
	failures []string
}

// startLoad starts agents agents uploading to addr inside c.
func startLoad(c *container, addr, prefix string, agents int) *load {
	l := &load{c: c, addr: addr, prefix: prefix, stopc: make(chan struct{}), sent: map[string][]byte{}}
	for a := range agents {
		l.wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-l.stopc:
					return
				default:
				}
				name := fmt.Sprintf("%s.%02d.%05d.data", prefix, a, i)
				body := make([]byte, 500+(i*37)%3500)
				rand.Read(body)
				err := l.upload(name, body)
				l.count.Add(1)
				l.mu.Lock()
				if err != nil {
					l.failures = append(l.failures, name+": "+err.Error())
				} else {
					l.sent[name] = body
				}
				l.mu.Unlock()
			}
		})
	}
	return l
}

func (l *load) upload(name string, body []byte) error {
	conn, err := l.c.dial(l.addr, 30*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	// Generous: a restart or an upgrade may keep an agent waiting in the
	// backlog for a few seconds, which is fine; losing it is not.
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	c := protocol.NewClient(conn)
	if err := c.Send(name, bytes.NewReader(body), int64(len(body))); err != nil {
		return err
	}
	return c.Quit()
}

// waitFor lets the agents upload at least n more files.
func (l *load) waitFor(t *testing.T, n int64) {
	t.Helper()
	target := l.count.Load() + n
	deadline := time.Now().Add(2 * time.Minute)
	for l.count.Load() < target {
		if time.Now().After(deadline) {
			t.Fatalf("the agents uploaded %d files in 2 minutes, want %d", l.count.Load(), target)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop ends the agents and checks that none failed and that every file is
// in the spool, byte for byte. It returns how many were uploaded.
func (l *load) stop(t *testing.T, spool string) int {
	t.Helper()
	close(l.stopc)
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.failures) > 0 {
		t.Errorf("%d of %d uploads failed; first: %s", len(l.failures), len(l.failures)+len(l.sent), l.failures[0])
	}
	for name, body := range l.sent {
		got, err := os.ReadFile(filepath.Join(l.c.path(spool), name))
		if err != nil || !bytes.Equal(got, body) {
			t.Errorf("%s: stored %d bytes (%v), want the %d sent", name, len(got), err, len(body))
			break
		}
	}
	return len(l.sent)
}
