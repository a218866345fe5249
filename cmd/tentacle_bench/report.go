//go:build linux

package main

import (
	"fmt"
	"io"
	"regexp"
	"runtime"
	"strings"
	"time"
)

// report gathers the results and writes them as Markdown.
type report struct {
	cfg        *config
	args       []string
	started    time.Time
	finished   time.Time
	nofile     uint64
	workRoot   string
	machine    machineInfo
	serverInfo *binaryInfo
	perlInfo   *binaryInfo
	small      *smallResult
	big        *bigResult
	idle       *idleResult
	stalled    *stalledResult
	tls        *tlsResult
	haproxy    *haproxyResult
	client     *clientResult
	wan        *wanResult
	download   *downloadResult
}

// summaryLine is one row of the summary table.
type summaryLine struct{ test, measured, target, result string }

func verdict(pass bool) string {
	if pass {
		return "**PASS**"
	}
	return "**FAIL**"
}

// notApplicable is the verdict of a memory target in process, where the
// figures are the bench's own.
const notApplicable = "n/a (in-process)"

func (r *report) write(w io.Writer) {
	cfg := r.cfg
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }

	p("# Tentacle server benchmark\n\n")
	p("Run %s, %.0f s.\n\n", r.started.UTC().Format("2006-01-02 15:04 MST"), r.finished.Sub(r.started).Seconds())

	p("## Machine\n\n| | |\n|---|---|\n")
	p("| CPUs (nproc) | %d |\n", r.machine.cpus)
	p("| CPU model | %s |\n", r.machine.model)
	p("| Memory | %s |\n", r.machine.memory)
	p("| OS, kernel | %s, Linux %s |\n", r.machine.osName, r.machine.kernel)
	p("| Load average at start | %s |\n", r.machine.load)
	p("| Work directory | `%s` (removed afterwards unless -keep) |\n", r.workRoot)
	p("| Its file system | %s |\n", r.machine.fs)
	p("| Open files limit (bench and server) | %d |\n", r.nofile)
	p("| Bench built with | %s |\n\n", runtime.Version())

	p("## Command\n\n```\n%s\n```\n\n", commandLine(r.args))
	if cfg.inProcess {
		p("Server under test: an in-process `protocol.Server` with a `DirStorage` (`-inprocess`): its memory figures are the whole bench's, so the memory targets are not judged.\n\n")
	} else if r.serverInfo != nil {
		p("Server under test: `%s` (%d bytes, modified %s, sha256 %s…), run as a child process", r.serverInfo.path, r.serverInfo.size, r.serverInfo.modTime.UTC().Format("2006-01-02 15:04 MST"), r.serverInfo.sha256)
		if cmd := r.anyServerCmd(); cmd != nil {
			p(", for example:\n\n```\n%s\n```\n\n", commandLine(cmd))
		} else {
			p(".\n\n")
		}
	}
	if r.perlInfo != nil {
		p("Perl reference: `%s` (sha256 %s…)", r.perlInfo.path, r.perlInfo.sha256)
		if cmd := r.anyPerlCmd(); cmd != nil {
			p(", started as:\n\n```\n%s\n```\n\n", commandLine(cmd))
		} else {
			p(".\n\n")
		}
	}

	p("## Summary\n\n| test | measured | target | result |\n|---|---|---|---|\n")
	for _, l := range r.summary() {
		p("| %s | %s | %s | %s |\n", l.test, l.measured, l.target, l.result)
	}
	passed, judged := 0, 0
	for _, l := range r.summary() {
		switch l.result {
		case verdict(true):
			passed++
			judged++
		case verdict(false):
			judged++
		}
	}
	p("\n%d of %d targets met. Ratios compare the server with raw limits measured in the same run, in phases that alternate with the server's.\n", passed, judged)

	if r.small != nil {
		r.writeSmall(w)
	}
	if r.big != nil {
		r.writeBig(w)
	}
	if r.idle != nil {
		r.writeIdle(w)
	}
	if r.stalled != nil {
		r.writeStalled(w)
	}
	if r.tls != nil {
		r.writeTLS(w)
	}
	if r.haproxy != nil {
		r.writeHAProxy(w)
	}
	if r.client != nil {
		r.writeClient(w)
	}
	if r.download != nil {
		r.writeDownload(w)
	}
	if r.wan != nil {
		r.writeWAN(w)
	}
}

func (r *report) anyServerCmd() []string {
	switch {
	case r.small != nil && r.small.serverCmd != nil:
		return r.small.serverCmd
	case r.big != nil && r.big.serverCmd != nil:
		return r.big.serverCmd
	case r.idle != nil:
		return r.idle.serverCmd
	case r.haproxy != nil && r.haproxy.serverCmd != nil:
		return r.haproxy.serverCmd
	}
	return nil
}

func (r *report) anyPerlCmd() []string {
	switch {
	case r.small != nil && r.small.perlCmd != nil:
		return r.small.perlCmd
	case r.big != nil && r.big.perlCmd != nil:
		return r.big.perlCmd
	}
	return nil
}

func (r *report) summary() []summaryLine {
	var lines []summaryLine
	if r.small != nil {
		lines = append(lines, r.smallSummary()...)
	}
	if b := r.big; b != nil && len(b.server) > 0 && len(b.raw) > 0 {
		raw, srv := pool(b.raw), pool(b.server)
		name := formatBytes(b.server[0].size) + " upload"
		if srv.err != nil || raw.err != nil {
			lines = append(lines, summaryLine{name, "failed: " + firstErr(srv.err, raw.err), "≥ " + pct(targetBigRatio) + " of raw", verdict(false)})
		} else {
			ratio := srv.mbps() / raw.mbps()
			lines = append(lines, summaryLine{name + " throughput",
				fmt.Sprintf("%s of raw (%.0f vs %.0f MB/s)", pct(ratio), srv.mbps(), raw.mbps()),
				"≥ " + pct(targetBigRatio) + " of raw", verdict(ratio >= targetBigRatio)})
			res := verdict(b.serverEnd.hwm > 0 && b.serverEnd.hwm <= targetBigHWM)
			if r.cfg.inProcess {
				res = notApplicable
			}
			lines = append(lines, summaryLine{name + ", server peak RSS (VmHWM)", mib(b.serverEnd.hwm), "≤ " + mib(targetBigHWM), res})
		}
	}
	if id := r.idle; id != nil {
		name := fmt.Sprintf("%d idle connections", id.n)
		res := verdict(id.idleOK() && id.held.rss <= targetIdleRSS)
		if r.cfg.inProcess {
			res = notApplicable
		}
		measured := "RSS " + mib(id.held.rss)
		if !id.idleOK() {
			measured += fmt.Sprintf(" but only %d opened, %d held by the server, %d still open at the end", id.opened, id.accepted, id.aliveEnd)
		}
		lines = append(lines, summaryLine{name + ", server RSS", measured, "≤ " + mib(targetIdleRSS), res})
		probe := fmt.Sprintf("file stored in %s", roundDuration(id.probeTime))
		if id.probeErr != nil {
			probe = "failed: " + id.probeErr.Error()
		}
		lines = append(lines, summaryLine{"new client while " + name + " are held", probe, "gets a file through", verdict(id.probeErr == nil)})
	}
	lines = append(lines, r.tlsSummary()...)
	if r.wan != nil {
		lines = append(lines, r.wanSummary()...)
	}
	return lines
}

// idleOK reports whether every idle connection was opened, held by the
// server, and still open after the probe.
func (id *idleResult) idleOK() bool {
	return id.opened == id.n && id.accepted >= id.n && id.aliveEnd == id.n
}

func (r *report) writeSmall(w io.Writer) {
	s := r.small
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("\n## 1. Small files\n\n")
	p("Each client connects, sends one %s file (`SEND`), waits for the final `SEND OK` and sends `QUIT`, in a loop: this is how Pandora agents deliver their data files, and each file costs a connection, a durable write and a rename. ", formatBytes(s.fileSize))
	p("The raw limit is the storage work alone, from as many goroutines of the bench: create a temporary file, write %s, fsync, close, rename, open and fsync the directory. ", formatBytes(s.fileSize))
	if r.cfg.storagePhase {
		p("In between, for diagnosis only, the bench stores files through `protocol.DirStorage` itself (Create, Write, Commit, as the server's SEND handler does), without network or server process. ")
	}
	p("Each side gets %v per concurrency, split over %d rounds that alternate the order of the sides. The phases of one round and concurrency write into one fresh directory (names of their own; nothing is deleted until the end), and every server phase gets a fresh server process, started with the options shown above. Rates are pooled over the rounds (files over total time), after an unmeasured warm-up. %s\n\n",
		r.cfg.duration, r.cfg.rounds, r.judgedText())
	if r.cfg.storagePhase {
		p("| clients | raw files/s | DirStorage files/s (vs raw) | server files/s | server / raw | target | result | server errors |\n|---:|---:|---:|---:|---:|---|---|---:|\n")
	} else {
		p("| clients | raw files/s | server files/s | server / raw | target | result | server errors |\n|---:|---:|---:|---:|---|---|---:|\n")
	}
	var notes []string
	for _, row := range s.rows {
		if row.raw == nil || row.server == nil {
			continue
		}
		ratio := row.server.rate() / row.raw.rate()
		target, res := "—", "info"
		switch {
		case r.cfg.judges(row.clients):
			target, res = "≥ "+pct(targetSmallRatio), verdict(ratio >= targetSmallRatio && row.server.errors == 0)
		case row.clients >= smallTargetClients:
			target, res = "≥ "+pct(targetSmallRatio), notJudged
		}
		storage := ""
		if r.cfg.storagePhase && row.storage != nil {
			storage = fmt.Sprintf(" %.0f (%s) |", row.storage.rate(), pct(row.storage.rate()/row.raw.rate()))
			notes = append(notes, rateNotes("DirStorage", row.storage)...)
		}
		p("| %d | %.0f |%s %.0f | %s | %s | %s | %d |\n", row.clients, row.raw.rate(), storage, row.server.rate(), pct(ratio), target, res, row.server.errors)
		notes = append(notes, rateNotes("raw", row.raw)...)
		notes = append(notes, rateNotes("server", row.server)...)
	}
	p("\nWhere the CPU went. Machine: share of all %d CPUs busy during the phase (`/proc/stat`; other tenants' work included), in brackets the share stolen by the hypervisor. Server: its process's user + system time (`/proc/PID/stat`). Clients: the bench's own%s.\n\n", r.machine.cpus, map[bool]string{true: ", which in process includes the server", false: ""}[r.cfg.inProcess])
	p("| clients | raw: machine busy | raw: CPU per file | server phase: machine busy | server CPU per file | clients CPU per file | server CPU | clients CPU |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, row := range s.rows {
		if row.raw == nil || row.server == nil {
			continue
		}
		sv := row.server
		p("| %d | %s (%s) | %s | %s (%s) | %s | %s | %s | %s |\n", row.clients,
			pct(row.raw.machine.busy()), pct(row.raw.machine.stolen()), perOp(row.raw.bench, row.raw.ops),
			pct(sv.machine.busy()), pct(sv.machine.stolen()),
			perOp(sv.cpu, sv.ops), perOp(sv.bench, sv.ops), coreShare(sv.cpu, sv.elapsed), coreShare(sv.bench, sv.elapsed))
	}
	r.writeCeiling(w)
	if len(r.perlRows()) > 0 {
		p("\nThe Perl reference at the same concurrencies. It writes files without fsync (so it does less than the raw loop) and starts a Perl thread per connection:\n\n")
		p("| clients | Perl files/s | Perl / raw | Go server / Perl | Perl CPU per file | Perl errors |\n|---:|---:|---:|---:|---:|---:|\n")
		for _, row := range r.perlRows() {
			p("| %d | %.1f | %s | %.1f× | %s | %d |\n", row.clients, row.perl.rate(), pct(row.perl.rate()/row.raw.rate()), row.server.rate()/row.perl.rate(), perOp(row.perl.cpu, row.perl.ops), row.perl.errors)
			notes = append(notes, rateNotes("Perl", row.perl)...)
		}
	}
	if s.perlFailed != "" {
		notes = append(notes, "Perl server: "+s.perlFailed)
	}
	writeNotes(w, notes)
}

func (r *report) perlRows() []smallRow {
	var rows []smallRow
	for _, row := range r.small.rows {
		if row.perl != nil {
			rows = append(rows, row)
		}
	}
	return rows
}

func (r *report) writeBig(w io.Writer) {
	b := r.big
	if len(b.server) == 0 || len(b.raw) == 0 {
		return
	}
	size := b.server[0].size
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("\n## 2. Large upload\n\n")
	p("One client sends one %s file in one `SEND`, streaming unique bytes generated on the fly (a ChaCha8 keystream with a seed drawn per run, so never hot in the CPU cache and incompressible) in 128 KiB writes; the time runs from the connection to the final `SEND OK`, which the server sends once the file is fsynced and renamed into place. ", formatBytes(size))
	p("The raw limit streams the same bytes the same way over loopback TCP to a listener in the bench, which writes them to a file with `io.Copy` (splice(2) on Linux), fsyncs it and acknowledges. Each stored file, raw or server, is compared byte for byte with the keystream after its timing. ")
	p("An unmeasured raw transfer comes first (the first large write of a run is slow on this virtual machine), then %d rounds of raw and server, odd rounds raw first, even rounds server first; the rates are pooled over the rounds (total bytes over total time). ", len(b.raw))
	p("The server is started for this test alone, and its peak RSS is its `VmHWM` from `/proc/PID/status` after the last upload. MB/s are 10⁶ bytes per second.\n\n")
	p("| | size | seconds | MB/s | vs raw | server CPU |\n|---|---:|---:|---:|---:|---:|\n")
	var notes []string
	rawAll := pool(b.raw)
	row := func(name string, u uploadResult, isRaw bool) {
		if u.err != nil {
			p("| %s | %s | failed | | | |\n", name, formatBytes(u.size))
			notes = append(notes, name+": "+u.err.Error())
			return
		}
		vs, cpu := "—", "—"
		if !isRaw {
			vs = pct(u.mbps() / rawAll.mbps())
			if u.cpu >= 0 {
				cpu = fmt.Sprintf("%.2f s", u.cpu)
			}
		}
		p("| %s | %s | %.2f | %.0f | %s | %s |\n", name, formatBytes(u.size), u.elapsed.Seconds(), u.mbps(), vs, cpu)
	}
	for i := range max(len(b.raw), len(b.server)) {
		if i < len(b.raw) {
			row(fmt.Sprintf("raw, round %d", i+1), b.raw[i], true)
		}
		if i < len(b.server) {
			row(fmt.Sprintf("server, round %d", i+1), b.server[i], false)
		}
	}
	srvAll := pool(b.server)
	row("**raw, pooled**", rawAll, true)
	row("**server, pooled**", srvAll, false)
	if b.perl != nil {
		row("Perl reference", *b.perl, false)
	}
	p("\n| memory | server | target | result |\n|---|---:|---:|---|\n")
	res := verdict(b.serverEnd.hwm > 0 && b.serverEnd.hwm <= targetBigHWM)
	if r.cfg.inProcess {
		res = notApplicable
	}
	p("| RSS before the uploads | %s | | |\n", mib(b.serverBase.rss))
	p("| RSS after them | %s | | |\n", mib(b.serverEnd.rss))
	p("| peak RSS (VmHWM) | %s | ≤ %s | %s |\n", mib(b.serverEnd.hwm), mib(targetBigHWM), res)
	if b.perl != nil {
		p("| Perl reference: RSS before, peak RSS (%s upload) | %s, %s | | |\n", formatBytes(b.perl.size), mib(b.perlBase.rss), mib(b.perl.hwm))
	}
	if srvAll.err == nil && rawAll.err == nil {
		ratio := srvAll.mbps() / rawAll.mbps()
		p("\nThroughput: %s of raw, target ≥ %s: %s.\n", pct(ratio), pct(targetBigRatio), verdict(ratio >= targetBigRatio))
	}
	if b.perl != nil {
		notes = append(notes, fmt.Sprintf("The Perl reference gets %s rather than %s: it holds the whole file in memory before writing it (without fsync), so its peak RSS grows with the file; its ratio is against the raw rate of the larger file.", formatBytes(b.perl.size), formatBytes(size)))
	}
	if b.perlFailed != "" {
		notes = append(notes, "Perl server: "+b.perlFailed)
	}
	writeNotes(w, notes)
}

func (r *report) writeIdle(w io.Writer) {
	id := r.idle
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("\n## 3. Idle connections\n\n")
	if id.sendFirst {
		p("%d clients connect and each sends one %s file, then stays connected and silent (`-idle-send`). ", id.n, formatBytes(int64(r.cfg.fileSize)))
	} else {
		p("%d clients connect and send nothing, like agents stalled on a bad network (the default; `-idle-send` makes each send one file first). ", id.n)
	}
	p("Once the server holds them all (counted from its open files in `/proc/PID/fd`) and %v have passed, its `VmRSS` is read; then a new client connects and sends a file, and every idle connection is checked to be still open (a non-blocking peek on the client side). The server runs with `-c %d -t %d` so that the idle connections are neither queued behind the limit nor timed out.\n\n", id.hold, r.cfg.maxConns, r.cfg.timeout)
	p("| | |\n|---|---:|\n")
	p("| idle connections opened / held by the server | %d / %d |\n", id.opened, id.accepted)
	p("| server RSS before | %s |\n", mib(id.base.rss))
	p("| server RSS with the idle connections | %s |\n", mib(id.held.rss))
	if id.accepted > 0 {
		p("| per idle connection | %.1f KiB |\n", float64(id.held.rss-id.base.rss)/1024/float64(id.accepted))
	}
	p("| server peak RSS (VmHWM) | %s |\n", mib(id.held.hwm))
	p("| server threads | %d → %d |\n", id.base.threads, id.held.threads)
	p("| server open files | %d → %d |\n", id.baseFDs, id.heldFDs)
	if id.probeErr == nil {
		p("| new client: connect, SEND, QUIT | stored in %s |\n", roundDuration(id.probeTime))
	} else {
		p("| new client: connect, SEND, QUIT | **failed**: %v |\n", id.probeErr)
	}
	p("| idle connections still open after it | %d / %d |\n", id.aliveEnd, id.opened)
	res := verdict(id.idleOK() && id.held.rss <= targetIdleRSS)
	if r.cfg.inProcess {
		res = notApplicable + "; the RSS above is the bench's, clients included"
	}
	p("\nRSS target ≤ %s: %s. New client: %s.\n", mib(targetIdleRSS), res, verdict(id.probeErr == nil))
	var notes []string
	if id.dialErrs > 0 {
		notes = append(notes, fmt.Sprintf("%d idle connections failed to open; first error: %s", id.dialErrs, id.firstErr))
	}
	writeNotes(w, notes)
}

func rateNotes(who string, r *rateResult) []string {
	var notes []string
	if r.errors > 0 {
		notes = append(notes, fmt.Sprintf("%s, %d clients: %d errors, first: %s", who, r.clients, r.errors, r.firstErr))
	}
	if r.stored >= 0 && int64(r.stored) != r.ops {
		notes = append(notes, fmt.Sprintf("%s, %d clients: %d files acknowledged but %d found stored", who, r.clients, r.ops, r.stored))
	}
	return notes
}

func writeNotes(w io.Writer, notes []string) {
	if len(notes) == 0 {
		return
	}
	fmt.Fprintf(w, "\nNotes:\n\n")
	for _, n := range notes {
		fmt.Fprintf(w, "- %s\n", strings.ReplaceAll(n, "\n", " "))
	}
}

// perOp writes CPU seconds spent over ops operations, in ms each.
func perOp(cpu float64, ops int64) string {
	if cpu < 0 || ops == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f ms", 1000*cpu/float64(ops))
}

// coreShare writes CPU seconds used over a span as a share of one core.
func coreShare(cpu float64, span time.Duration) string {
	if cpu < 0 || span <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f%% of a core", 100*cpu/span.Seconds())
}

func pct(f float64) string { return fmt.Sprintf("%.0f%%", 100*f) }

func roundDuration(d time.Duration) time.Duration {
	if d > time.Second {
		return d.Round(10 * time.Millisecond)
	}
	return d.Round(100 * time.Microsecond)
}

func firstErr(errs ...error) string {
	for _, err := range errs {
		if err != nil {
			return err.Error()
		}
	}
	return ""
}

// plainArg is what a shell takes as one word without quotes.
var plainArg = regexp.MustCompile(`^[A-Za-z0-9_./=:,@%+-]+$`)

// commandLine writes args as a shell command; a program built by go run is
// shown as the go run command.
func commandLine(args []string) string {
	var b strings.Builder
	for i, a := range args {
		if i > 0 {
			b.WriteByte(' ')
		}
		switch {
		case i == 0 && strings.Contains(a, "go-build"):
			b.WriteString("go run ./cmd/tentacle_bench")
		case plainArg.MatchString(a):
			b.WriteString(a)
		default:
			b.WriteString("'" + strings.ReplaceAll(a, "'", `'\''`) + "'")
		}
	}
	return b.String()
}
