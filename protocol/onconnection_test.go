package protocol

import (
	"sync/atomic"
	"testing"

	"tentacle/internal/testharness"
)

// TestOnConnection counts connections as a daemon does: each accepted one
// is reported open, then closed when it ends, whether it quits or hangs up.
func TestOnConnection(t *testing.T) {
	var active, total atomic.Int64
	ts := startServer(t, func(s *Server) {
		s.OnConnection = func(open bool) {
			if open {
				active.Add(1)
				total.Add(1)
			} else {
				active.Add(-1)
			}
		}
	})
	a, b := dialWire(t, ts.Addr), dialWire(t, ts.Addr)
	testharness.WaitFor(t, "two connections open", func() bool { return active.Load() == 2 && total.Load() == 2 })
	a.send("QUIT\n")
	b.c.Close()
	testharness.WaitFor(t, "both ended", func() bool { return active.Load() == 0 })
	if total.Load() != 2 {
		t.Fatalf("%d connections counted, want 2", total.Load())
	}
}
