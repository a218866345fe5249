package daemon

import (
	"fmt"
	"sync/atomic"

	"tentacle/protocol"
	"tentacle/transferlog"
)

// counters keep the totals shown in systemd's STATUS= line, so that
// `systemctl status tentacle_serverd` answers "is it receiving" at a glance.
// They are the one source of truth: the self-report (monitor.go) reads the
// same values, so that the two never disagree.
type counters struct {
	received, sent, refused, failed, reloads atomic.Int64
	bytesIn, bytesOut                        atomic.Int64
	// connsActive and connsTotal count the connections being served and
	// accepted since start, from protocol.Server's OnConnection.
	connsActive, connsTotal atomic.Int64
}

// connection counts a connection accepted (open) or ended.
func (c *counters) connection(open bool) {
	if open {
		c.connsActive.Add(1)
		c.connsTotal.Add(1)
		return
	}
	c.connsActive.Add(-1)
}

// add counts a finished transfer.
func (c *counters) add(t protocol.Transfer) {
	switch r := transferlog.NewRecord(t, ""); {
	case r.Result == transferlog.ResultRefused:
		c.refused.Add(1)
	case r.Result == transferlog.ResultFailed:
		c.failed.Add(1)
	case t.Command == protocol.VerbSend || t.Command == protocol.VerbZSend:
		c.received.Add(1)
		c.bytesIn.Add(t.Bytes)
	default:
		c.sent.Add(1)
		c.bytesOut.Add(t.Bytes)
	}
}

// reloaded counts a reload.
func (c *counters) reloaded() { c.reloads.Add(1) }

// String is the status line.
func (c *counters) String() string {
	return fmt.Sprintf("%d files received (%d bytes), %d sent (%d bytes), %d refused, %d failed, %d reloads, %d connections",
		c.received.Load(), c.bytesIn.Load(), c.sent.Load(), c.bytesOut.Load(), c.refused.Load(), c.failed.Load(), c.reloads.Load(), c.connsActive.Load())
}
