package daemon

import (
	"errors"
	"fmt"
	"sync/atomic"

	"tentacle/protocol"
	"tentacle/transferlog"
)

// counters keep the totals shown in systemd's STATUS= line, so that
// `systemctl status tentacle_serverd` answers "is it receiving" at a glance.
// They are the one source of truth: the self-report (monitor.go) and the
// Prometheus metrics (metrics.go) read the same values, so that the three
// never disagree.
type counters struct {
	received, sent, refused, failed, reloads atomic.Int64
	bytesIn, bytesOut                        atomic.Int64
	// connsActive and connsTotal count the connections being served and
	// accepted since start, from protocol.Server's OnConnection.
	connsActive, connsTotal atomic.Int64
	// transfers counts by command and result (transferCommands,
	// transferResults), refusedBy by reason (refusalReasons): fixed
	// arrays, so that counting stays one atomic add and a metric's labels
	// stay few whatever clients send.
	transfers [len(transferCommands)][len(transferResults)]atomic.Int64
	refusedBy [len(refusalReasons)]atomic.Int64
}

// transferCommands are the transfer commands, as the protocol names them;
// an unknown one (there is none today) counts under the last.
var transferCommands = [...]string{protocol.VerbSend, protocol.VerbZSend, protocol.VerbRecv, protocol.VerbZRecv, protocol.VerbLS, protocol.VerbMV}

// transferResults are the results, as the transfer log names them.
var transferResults = [...]string{transferlog.ResultOK, transferlog.ResultRefused, transferlog.ResultFailed}

// refusalReasons name the refusals, in the transfer log's order of
// refusal errors; "other" is any other refusal line.
var refusalReasons = [...]struct {
	label string
	err   error
}{
	{"invalid_name", protocol.ErrInvalidName},
	{"too_big", protocol.ErrTooBig},
	{"exists", protocol.ErrExists},
	{"not_exist", protocol.ErrNotExist},
	{"bad_archive", protocol.ErrBadArchive},
	{"other", protocol.ErrRefused},
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
	r := transferlog.NewRecord(t, "")
	cmd := len(transferCommands) - 1
	for i, name := range transferCommands {
		if name == t.Command {
			cmd = i
		}
	}
	switch {
	case r.Result == transferlog.ResultRefused:
		c.refused.Add(1)
		c.transfers[cmd][1].Add(1)
		reason := len(refusalReasons) - 1
		for i, rr := range refusalReasons {
			if errors.Is(t.Err, rr.err) {
				reason = i
				break
			}
		}
		c.refusedBy[reason].Add(1)
	case r.Result == transferlog.ResultFailed:
		c.failed.Add(1)
		c.transfers[cmd][2].Add(1)
	case t.Command == protocol.VerbSend || t.Command == protocol.VerbZSend:
		c.transfers[cmd][0].Add(1)
		c.received.Add(1)
		c.bytesIn.Add(t.Bytes)
	default:
		c.transfers[cmd][0].Add(1)
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
