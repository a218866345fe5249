//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"tentacle/protocol"
)

// targetWANRatio is the target of the wan test: this server, with its
// shipped defaults, stores files at least this many times as fast as the
// Perl reference with its own.
const targetWANRatio = 20

// wanRow is one server of the wan test.
type wanRow struct {
	label    string
	cmd      []string
	failed   string // why the server could not be measured
	ok       int    // agents that got their final SEND OK
	errors   int
	firstErr string
	errKinds map[string]int  // how many agents failed with each error
	elapsed  time.Duration   // wall time, first connect to the last agent's end
	latency  []time.Duration // of the agents that succeeded, sorted
	verified int             // files stored byte for byte
	bad      int             // files missing or different
	firstBad string
	cpu      float64 // server CPU seconds, -1 when unknown
	bench    float64 // the bench's CPU seconds (agents and delay line)
	onward   onwardStats
	// listen is the machine's TcpExt ListenOverflows and ListenDrops
	// over the run, nil when unknown.
	listen []int64
	tail   string // the end of the server's output, when agents failed
}

// wanResult is the wan test: agents behind a wide-area link, each holding
// a connection of the server for several round trips, against servers run
// with their shipped defaults.
type wanResult struct {
	line     delayLineConfig
	agents   int
	parallel int
	fileSize int64
	ours     wanRow
	perl     *wanRow // nil without -perl
}

// wanFile names agent i's file.
func wanFile(prefix string, i int) string { return fmt.Sprintf("%s-%04d.data", prefix, i) }

// wanData is agent i's file: bytes of its own (a ChaCha8 keystream keyed by
// the run's seed and i), so that a file stored under another's name, or
// mixed with another's bytes, fails the check.
func wanData(seed [32]byte, i int, size int64) []byte {
	binary.LittleEndian.PutUint64(seed[24:], uint64(i))
	b := make([]byte, size)
	rand.NewChaCha8(seed).Read(b)
	return b
}

// wanLine is the delay line of the configuration.
func (cfg *config) wanLine() delayLineConfig {
	hs := cfg.wanHandshake
	if hs == 0 {
		hs = 2 * cfg.wanDelay
	}
	return delayLineConfig{delay: cfg.wanDelay, handshake: hs, window: int(cfg.wanWindow), dialTimeout: clientTimeout}
}

// runWANTest measures this server, then the Perl reference when -perl is
// given, each run with its shipped defaults behind its own delay line.
func runWANTest(ctx context.Context, cfg *config, work *workDir) (*wanResult, error) {
	res := &wanResult{line: cfg.wanLine(), agents: cfg.wanAgents, parallel: cfg.wanParallel, fileSize: int64(cfg.fileSize)}
	var seed [32]byte
	for i := range 3 {
		binary.LittleEndian.PutUint64(seed[8*i:], rand.Uint64())
	}
	files := make([][]byte, cfg.wanAgents)
	for i := range files {
		files[i] = wanData(seed, i, res.fileSize)
	}
	opts := cfg.serverOptions(res.fileSize)
	opts.defaults = true
	row, err := wanServer(ctx, cfg, opts, work, "wan-server", files)
	if err != nil {
		return nil, err
	}
	res.ours = row
	if cfg.perl != "" && ctx.Err() == nil {
		opts := cfg.perlOptions(res.fileSize)
		opts.defaults = true
		row, err := wanServer(ctx, cfg, opts, work, "wan-perl", files)
		if err != nil {
			row.failed = err.Error()
			progress("wan: Perl server: %v", err)
		}
		res.perl = &row
	}
	return res, nil
}

// wanServer starts a server and a delay line in front of it, sends the
// agents' files through the line and checks what was stored. An error
// means the server could not be measured at all.
func wanServer(ctx context.Context, cfg *config, opts serverOptions, work *workDir, prefix string, files [][]byte) (wanRow, error) {
	row := wanRow{cpu: -1}
	dir, err := work.fresh(prefix)
	if err != nil {
		return row, err
	}
	srv, err := startServer(opts, dir)
	if err != nil {
		return row, err
	}
	defer srv.stop()
	row.label, row.cmd = srv.label, srv.cmdline
	line, err := startDelayLine(srv.addr, cfg.wanLine())
	if err != nil {
		return row, err
	}
	progress("wan: %d agents through %v each way, %d at a time, to %s with its defaults", len(files), cfg.wanDelay, cfg.wanParallel, srv.label)
	cpu0, self0, listen0 := srv.cpuSeconds(), selfCPUSeconds(), listenCounters()
	runAgents(ctx, line.addr(), prefix, files, cfg.wanParallel, &row)
	if cpu1 := srv.cpuSeconds(); cpu0 >= 0 && cpu1 >= 0 {
		row.cpu = cpu1 - cpu0
	}
	row.bench = selfCPUSeconds() - self0
	if listen1 := listenCounters(); listen0 != nil && listen1 != nil {
		row.listen = []int64{listen1[0] - listen0[0], listen1[1] - listen0[1]}
	}
	if row.errors > 0 {
		row.tail = lastBytes(srv.output.String(), 600)
	}
	line.close()
	row.onward = line.stats()
	if !srv.alive() {
		return row, fmt.Errorf("server died%s", srv.exitNote())
	}
	row.verified, row.bad, row.firstBad = verifyWANFiles(dir, prefix, files)
	progress("  %s: %d stored in %.2fs = %.1f files/s, %d errors, %d verified", srv.label, row.ok, row.elapsed.Seconds(), row.rate(), row.errors, row.verified)
	return row, nil
}

// runAgents sends every file through addr from a pool of parallel
// workers, one agent (connection) per file, and records each agent's
// latency from the start of its connect to its final SEND OK.
func runAgents(ctx context.Context, addr, prefix string, files [][]byte, parallel int, row *wanRow) {
	jobs := make(chan int)
	lat := make([]time.Duration, len(files))
	failed := make([]bool, len(files))
	var mu sync.Mutex
	row.errKinds = make(map[string]int)
	start := time.Now()
	var wg sync.WaitGroup
	for range parallel {
		wg.Go(func() {
			for i := range jobs {
				t0 := time.Now()
				err := sendAgent(ctx, addr, wanFile(prefix, i), files[i], func() { lat[i] = time.Since(t0) })
				if err != nil {
					failed[i] = true
					mu.Lock()
					if row.errors == 0 {
						row.firstErr = fmt.Sprintf("agent %d: %v", i, err)
					}
					row.errors++
					row.errKinds[errorKind(err)]++
					mu.Unlock()
				}
			}
		})
	}
	for i := range files {
		if ctx.Err() != nil {
			break
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	row.elapsed = time.Since(start)
	for i, d := range lat {
		if !failed[i] && d > 0 {
			row.latency = append(row.latency, d)
		}
	}
	slices.Sort(row.latency)
	row.ok = len(row.latency)
}

// sendAgent is one agent's session, as Pandora's tentacle_client runs it:
// connect, SEND, wait for SEND OK, the data, wait for SEND OK, QUIT.
// answered is called when the final SEND OK has come.
func sendAgent(ctx context.Context, addr, name string, data []byte, answered func()) error {
	d := protocol.Dialer{Timeout: clientTimeout}
	c, err := d.Dial(ctx, addr)
	if err != nil {
		return err
	}
	if err := c.Send(name, bytes.NewReader(data), int64(len(data))); err != nil {
		c.Close()
		return err
	}
	answered()
	return c.Quit()
}

// connAddrs matches the addresses in a network error, which differ from
// one agent to the next.
var connAddrs = regexp.MustCompile(`\d+\.\d+\.\d+\.\d+:\d+(->\d+\.\d+\.\d+\.\d+:\d+)?`)

// errorKind is err's message without its addresses, so that agents that
// failed the same way count together.
func errorKind(err error) string { return connAddrs.ReplaceAllString(err.Error(), "ADDR") }

// verifyWANFiles reads every agent's file back from dir and compares it
// with what the agent sent: the count of files stored byte for byte, of
// files missing or different, and the first such.
func verifyWANFiles(dir, prefix string, files [][]byte) (verified, bad int, firstBad string) {
	for i, want := range files {
		name := wanFile(prefix, i)
		got, err := os.ReadFile(filepath.Join(dir, name))
		switch {
		case err != nil:
		case !bytes.Equal(got, want):
			err = fmt.Errorf("%s: %d bytes stored, not the %d sent", name, len(got), len(want))
		default:
			verified++
			continue
		}
		if bad == 0 {
			firstBad = err.Error()
		}
		bad++
	}
	return verified, bad, firstBad
}

// rate is the files stored per second of wall time.
func (r *wanRow) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.ok) / r.elapsed.Seconds()
}

// percentile is the latency below which the fraction q of the agents
// that succeeded fall (nearest rank), 0 when none did.
func (r *wanRow) percentile(q float64) time.Duration {
	if len(r.latency) == 0 {
		return 0
	}
	i := int(q*float64(len(r.latency))+0.5) - 1
	return r.latency[min(max(i, 0), len(r.latency)-1)]
}

// clean reports whether every agent stored its file, byte for byte.
func (r *wanRow) clean(agents int) bool {
	return r.failed == "" && r.errors == 0 && r.verified == agents
}

// wanSummary is the wan test's line of the summary table.
func (r *report) wanSummary() []summaryLine {
	w := r.wan
	name := fmt.Sprintf("WAN (%v round trip): %d agents × %s, %d at a time, each server with its defaults", 2*w.line.delay, w.agents, formatBytes(w.fileSize), w.parallel)
	target := fmt.Sprintf("≥ %d× Perl in files/s", targetWANRatio)
	if w.perl == nil || w.perl.failed != "" || w.perl.rate() == 0 {
		return []summaryLine{{name, fmt.Sprintf("%.0f files/s; Perl not measured", w.ours.rate()), target, "not judged"}}
	}
	ratio := w.ours.rate() / w.perl.rate()
	return []summaryLine{{name,
		fmt.Sprintf("%.1f× (%.0f vs %.1f files/s)", ratio, w.ours.rate(), w.perl.rate()),
		target, verdict(ratio >= targetWANRatio && w.ours.clean(w.agents))}}
}

// writeWAN writes the wan test's section of the report.
func (r *report) writeWAN(w io.Writer) {
	s := r.wan
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("\n## Agents behind a WAN\n\n")
	p("%d agents each send one %s file of bytes of its own, %d at a time (a pool of %d workers taking %d jobs), each on a connection of its own: connect, `SEND`, wait for `SEND OK`, the data, wait for the final `SEND OK`, `QUIT`, as Pandora's `tentacle_client` does. ", s.agents, formatBytes(s.fileSize), s.parallel, s.parallel, s.agents)
	p("They reach the server through a delay line in the bench, since this kernel has no netem: a relay on loopback that holds every chunk %v in each direction (a %v round trip), waits %v after accepting an agent before it connects to the server, as a TCP handshake would, and holds at most %s per direction. ", s.line.delay, 2*s.line.delay, s.line.handshake, formatBytes(int64(s.line.window)))
	least := s.line.handshake + 4*s.line.delay
	p("An agent can thus not finish in less than the handshake and two round trips, %v, and %d agents at a time cannot store more than %.0f files/s. ", least, s.parallel, float64(s.parallel)/least.Seconds())
	p("It does not model loss, slow-start or a bandwidth limit, and it accepts every agent at once: only its own connect to the server meets the server's listen backlog. ")
	p("Latency is per agent, from the start of its connect to its final `SEND OK`; an agent waits up to %v for each answer, and one that gets none counts as an error. Files/s are the files acknowledged over the wall time from the first connect to the end of the last agent. Each server runs with its shipped defaults (the command lines below), and every file is read back and compared byte for byte.\n\n", clientTimeout)
	p("| server | files/s | wall time | p50 | p99 | max | errors | stored byte for byte | server CPU per file | bench CPU per file (agents, delay line) | connects onward ≥ %v (slowest) |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n", slowConnect)
	var notes []string
	for _, row := range []*wanRow{&s.ours, s.perl} {
		if row == nil {
			continue
		}
		if row.failed != "" {
			p("| %s | failed | | | | | | | | | |\n", row.label)
			notes = append(notes, row.label+": "+row.failed)
			continue
		}
		p("| %s | %.1f | %s | %s | %s | %s | %d | %d / %d | %s | %s | %d (%s) |\n", row.label, row.rate(), roundDuration(row.elapsed),
			roundDuration(row.percentile(0.50)), roundDuration(row.percentile(0.99)), roundDuration(row.percentile(1)),
			row.errors, row.verified, s.agents, perOp(row.cpu, int64(row.ok)), perOp(row.bench, int64(row.ok)), row.onward.slow, roundDuration(row.onward.maxDur))
		notes = append(notes, row.notes()...)
	}
	for _, row := range []*wanRow{&s.ours, s.perl} {
		if row != nil && row.cmd != nil {
			p("\n%s:\n\n```\n%s\n```\n", row.label, commandLine(row.cmd))
		}
	}
	if l := r.wanSummary()[0]; l.result != "not judged" {
		p("\nThis server / Perl: %s, target ≥ %d×: %s.\n", l.measured, targetWANRatio, l.result)
	}
	writeNotes(w, notes)
}

// notes are what the table of the wan test cannot say about a row.
func (r *wanRow) notes() []string {
	var notes []string
	if r.errors > 0 {
		kinds := slices.SortedFunc(maps.Keys(r.errKinds), func(a, b string) int { return r.errKinds[b] - r.errKinds[a] })
		var by []string
		for _, k := range kinds[:min(len(kinds), 3)] {
			by = append(by, fmt.Sprintf("%d × %q", r.errKinds[k], k))
		}
		notes = append(notes, fmt.Sprintf("%s: %d agents failed (%s), first: %s", r.label, r.errors, strings.Join(by, ", "), r.firstErr))
	}
	if r.onward.broken > 0 {
		notes = append(notes, fmt.Sprintf("%s: the server's side of %d connections ended in an error at the delay line, first: %s", r.label, r.onward.broken, r.onward.brokenErr))
	}
	if r.listen != nil && (r.listen[0] > 0 || r.listen[1] > 0) {
		notes = append(notes, fmt.Sprintf("%s: the kernel counted %d accept-queue overflows and %d dropped connection requests during the run (TcpExt ListenOverflows, ListenDrops, machine-wide)", r.label, r.listen[0], r.listen[1]))
	}
	if r.tail != "" {
		notes = append(notes, fmt.Sprintf("%s: the end of its output: %q", r.label, r.tail))
	}
	if r.bad > 0 {
		notes = append(notes, fmt.Sprintf("%s: %d files missing or different, first: %s", r.label, r.bad, r.firstBad))
	}
	if r.onward.errs > 0 {
		notes = append(notes, fmt.Sprintf("%s: %d connects from the delay line to the server failed, first: %s", r.label, r.onward.errs, r.onward.firstErr))
	}
	if r.onward.slow > 0 {
		notes = append(notes, fmt.Sprintf("%s: %d of %d connects onward took %v or more (median %s, slowest %s): the server's accept queue was full and the kernel dropped their SYNs, which it retries after 1 s, then 3 s, 7 s… after the first try.", r.label, r.onward.slow, r.onward.n, slowConnect, roundDuration(r.onward.median), roundDuration(r.onward.maxDur)))
	}
	return notes
}

// listenCounters reads the kernel's TcpExt ListenOverflows and ListenDrops
// (a full accept queue, and the connection requests dropped, for whatever
// reason, on the way to it), or nil when they cannot be read. They are
// counted for the whole machine.
func listenCounters() []int64 {
	b, err := os.ReadFile("/proc/net/netstat")
	if err != nil {
		return nil
	}
	var names []string
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] != "TcpExt:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		got := []int64{-1, -1}
		for i := 1; i < min(len(f), len(names)); i++ {
			n, _ := strconv.ParseInt(f[i], 10, 64)
			switch names[i] {
			case "ListenOverflows":
				got[0] = n
			case "ListenDrops":
				got[1] = n
			}
		}
		if got[0] < 0 || got[1] < 0 {
			return nil
		}
		return got
	}
	return nil
}

// lastBytes is the end of s, at most n bytes, for a note.
func lastBytes(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}
