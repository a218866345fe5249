//go:build linux

package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"tentacle/internal/haproxy"
	"tentacle/protocol"
)

// The haproxy test: small files from haproxyClients agents, straight to a
// server and through HAProxy (send-proxy-v2) to the same server, in the
// same run. HAProxy reaches the server from haproxySource, the one address
// the server's -P trusts, so that the bench's direct agents, on 127.0.0.1,
// stay direct.
const (
	haproxyClients = 16
	haproxySource  = "127.0.0.2"
)

// haproxyResult is the haproxy test.
type haproxyResult struct {
	clients   int
	fileSize  int64
	direct    *rateResult
	balanced  *rateResult
	lbCPU     float64 // HAProxy's CPU seconds over the balanced phases, -1 when unknown
	version   string  // haproxy -v's first line
	serverCmd []string
	config    string // HAProxy's configuration
	skipped   string // why the test did not run
}

func runHAProxyTest(ctx context.Context, cfg *config, work *workDir) (*haproxyResult, error) {
	size := int64(cfg.fileSize)
	res := &haproxyResult{clients: haproxyClients, fileSize: size}
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		res.skipped = "haproxy is not installed (Debian package haproxy)"
		progress("haproxy: %s; skipped", res.skipped)
		return res, nil
	}
	if out, err := exec.Command(bin, "-v").Output(); err == nil {
		res.version, _, _ = strings.Cut(string(out), "\n")
	}
	data := make([]byte, size)
	newPatternReader().Read(data)

	dir, err := work.fresh("haproxy-server")
	if err != nil {
		return nil, err
	}
	opts := cfg.serverOptions(size)
	opts.proxyFrom = protocol.ProxySources{netip.MustParsePrefix(haproxySource + "/32")}
	srv, err := startServer(opts, dir)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	res.serverCmd = srv.cmdline

	lbPort, err := freePort()
	if err != nil {
		return nil, err
	}
	lbDir, err := work.fresh("haproxy-config")
	if err != nil {
		return nil, err
	}
	hcfg := haproxy.Config{
		Binary: bin, Dir: lbDir, Listen: "127.0.0.1:" + strconv.Itoa(lbPort), Source: haproxySource,
		// As the shipped example checks its servers.
		CheckInterval: 2 * time.Second,
		MaxConn:       4096,
		Servers:       []haproxy.Server{{Name: "tentacle", Addr: srv.addr, ProxyVersion: 2}},
	}
	res.config = hcfg.Text()
	startCtx, cancel := context.WithTimeout(ctx, startupTimeout)
	lb, err := haproxy.Start(startCtx, hcfg)
	cancel()
	if err != nil {
		return nil, err
	}
	defer lb.Stop()

	// Warm both paths, then alternate them, as the small-file test does.
	warm := min(cfg.duration, time.Second)
	progress("haproxy: warming up for %v", 2*warm)
	if _, err := smallFilesTo(ctx, srv.addr, srv, haproxyClients, warm, data, "warm-direct"); err != nil {
		return nil, err
	}
	if _, err := smallFilesTo(ctx, hcfg.Listen, srv, haproxyClients, warm, data, "warm-lb"); err != nil {
		return nil, err
	}
	slice := cfg.duration / time.Duration(cfg.rounds)
	paths := []string{"direct", "haproxy"}
	for round := range cfg.rounds {
		order := slices.Clone(paths)
		if round%2 == 1 {
			slices.Reverse(order)
		}
		for _, path := range order {
			if ctx.Err() != nil {
				return res, nil
			}
			tag := fmt.Sprintf("haproxy, round %d/%d, %d clients", round+1, cfg.rounds, haproxyClients)
			prefix := fmt.Sprintf("%s-r%d", path, round)
			if path == "direct" {
				progress("%s: straight to the server", tag)
				got, err := smallFilesTo(ctx, srv.addr, srv, haproxyClients, slice, data, prefix)
				if err != nil {
					return nil, err
				}
				res.direct = accumulate(res.direct, got)
				logRate(cfg, "direct", got)
				continue
			}
			progress("%s: through HAProxy", tag)
			cpu0 := processCPUSeconds(lb.Pid())
			got, err := smallFilesTo(ctx, hcfg.Listen, srv, haproxyClients, slice, data, prefix)
			if err != nil {
				return nil, fmt.Errorf("%w\nhaproxy: %s", err, lb.Output())
			}
			if cpu1 := processCPUSeconds(lb.Pid()); cpu0 >= 0 && cpu1 >= 0 && res.lbCPU >= 0 {
				res.lbCPU += cpu1 - cpu0
			} else {
				res.lbCPU = -1
			}
			res.balanced = accumulate(res.balanced, got)
			logRate(cfg, "through HAProxy", got)
		}
	}
	return res, nil
}

func (r *report) writeHAProxy(w io.Writer) {
	h := r.haproxy
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("\n## Through HAProxy\n\n")
	if h.skipped != "" {
		p("Not run: %s.\n", h.skipped)
		return
	}
	p("%d clients send %s files, one per connection, as in the small-file test: straight to a server, and through HAProxy to the same server process, which trusts HAProxy's address with `-P %s` and reads a PROXY v2 header (`send-proxy-v2`) on each of its connections. The two paths alternate over the rounds; rates are pooled. %s, configured as:\n\n", h.clients, formatBytes(h.fileSize), haproxySource, h.version)
	p("```\n%s```\n\n", h.config)
	if h.direct == nil || h.balanced == nil {
		p("Interrupted before both paths were measured.\n")
		return
	}
	d, b := h.direct, h.balanced
	p("| path | files/s | vs direct | server CPU per file | HAProxy CPU |\n|---|---|---|---|---|\n")
	p("| direct | %.0f | 100%% | %s | |\n", d.rate(), perOp(d.cpu, d.ops))
	lb := "unknown"
	if h.lbCPU >= 0 {
		lb = fmt.Sprintf("%s, %s per file", coreShare(h.lbCPU, b.elapsed), perOp(h.lbCPU, b.ops))
	}
	p("| through HAProxy | %.0f | %s | %s | %s |\n", b.rate(), pct(b.rate()/d.rate()), perOp(b.cpu, b.ops), lb)
	writeNotes(w, append(rateNotes("direct", d), rateNotes("through HAProxy", b)...))
}
