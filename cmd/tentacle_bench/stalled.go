//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"tentacle/protocol"
)

// stalledAgents is how many agents the stalled test leaves hanging, and
// stalledTimeout the -t it gives the servers: the shipped settings (-t 1,
// with the default -r 3, so a silent peer is dropped after 4 s).
const (
	stalledAgents  = 40
	stalledTimeout = 1
)

// stalledRow is one server of the stalled-agents test.
type stalledRow struct {
	label     string
	maxConns  int // -c given; 0 for the default
	took      time.Duration
	err       error
	serverCmd []string
}

// stalledResult is the stalled-agents test: agents on dead links connect,
// announce a file and go silent; how long does a healthy agent behind them
// wait to store its file, with the reference's -c 10 and with the default?
type stalledResult struct {
	agents int
	rows   []stalledRow
}

func runStalledTest(ctx context.Context, cfg *config, work *workDir) (*stalledResult, error) {
	res := &stalledResult{agents: stalledAgents}
	for _, row := range []stalledRow{
		{label: "-c 10 (the reference's default)", maxConns: 10},
		{label: "default -c", maxConns: 0},
	} {
		if ctx.Err() != nil {
			break
		}
		dir, err := work.fresh("stalled-server")
		if err != nil {
			return nil, err
		}
		opts := cfg.serverOptions(1 << 20)
		opts.maxConns, opts.timeout = row.maxConns, stalledTimeout
		srv, err := startServer(opts, dir)
		if err != nil {
			return nil, err
		}
		row.serverCmd = srv.cmdline
		progress("stalled agents: %d against %s", stalledAgents, row.label)
		var stalled []net.Conn
		for i := range stalledAgents {
			c, err := net.DialTimeout("tcp", srv.addr, 10*time.Second)
			if err != nil {
				row.err = err
				break
			}
			fmt.Fprintf(c, "SEND <stalled.%02d.data> SIZE 100\n", i)
			stalled = append(stalled, c)
		}
		if row.err == nil {
			start := time.Now()
			row.err = healthyUpload(srv.addr)
			row.took = time.Since(start)
		}
		for _, c := range stalled {
			c.Close()
		}
		srv.stop()
		res.rows = append(res.rows, row)
	}
	return res, nil
}

// healthyUpload stores one small file, as an agent on a good link does,
// waiting up to a minute for the server.
func healthyUpload(addr string) error {
	c, err := (&protocol.Dialer{Timeout: time.Minute}).Dial(context.Background(), addr)
	if err != nil {
		return err
	}
	defer c.Close()
	body := []byte("<agent_data/>")
	if err := c.Send("healthy.data", bytes.NewReader(body), int64(len(body))); err != nil {
		return err
	}
	return c.Quit()
}

func (r *report) writeStalled(w io.Writer) {
	s := r.stalled
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("\n## Stalled agents\n\n")
	p("%d agents connect, send `SEND <name> SIZE 100` and go silent, as agents on a dead link do; then a healthy agent stores one file. The servers run with `-t %d` (dropped after %d s of silence). The time is from the healthy agent's connect to its final `SEND OK`.\n\n", s.agents, stalledTimeout, 4*stalledTimeout)
	p("| server | healthy agent's upload |\n|---|---|\n")
	for _, row := range s.rows {
		got := roundDuration(row.took).String()
		if row.err != nil {
			got = "failed: " + row.err.Error()
		}
		p("| %s | %s |\n", row.label, got)
	}
}
