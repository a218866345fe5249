package daemon

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"tentacle/protocol"
)

// maxMonitorInterval is the longest TENTACLE_MONITOR_INTERVAL, a day: a
// report rarer than that tells Pandora nothing timely.
const maxMonitorInterval = 86400

// spoolScanLimit bounds the count of the spool in each report. A spool that
// Pandora's data server no longer drains may hold millions of files; a
// report must stay cheap there, and never compete with uploads for the
// disk for long. Past the bound, the report gives what it counted, says so
// in the module's description, and the daemon logs it once.
type spoolScanLimit struct {
	Entries int           // directory entries read at most
	Time    time.Duration // time spent at most
}

// defaultSpoolScanLimit reads up to 100,000 entries or for up to a second,
// whichever comes first: a healthy spool holds a few hundred files.
var defaultSpoolScanLimit = spoolScanLimit{Entries: 100_000, Time: time.Second}

// spoolStats is what a scan of the spool's top directory found.
type spoolStats struct {
	// Files counts the regular files waiting, hidden ones (uploads in
	// progress) left out.
	Files int
	// Oldest is the modification time of the oldest .data file seen;
	// zero when there is none.
	Oldest time.Time
	// Bounded says the scan stopped at its limit: Files is then a lower
	// bound and Oldest the oldest of those seen.
	Bounded bool
}

// scanSpool counts the files waiting in dir's top directory, reading it in
// batches so that it can stop at the limit. Only .data files are looked
// at (a stat each) for their age: they are what Pandora's data server
// processes, and what piles up when it stops.
func scanSpool(dir string, limit spoolScanLimit) (spoolStats, error) {
	var st spoolStats
	f, err := os.Open(dir)
	if err != nil {
		return st, fmt.Errorf("spool scan: %w", err)
	}
	defer f.Close()
	deadline := time.Now().Add(limit.Time)
	read := 0
	for {
		batch := min(1024, limit.Entries-read)
		if batch <= 0 || time.Now().After(deadline) {
			// Stop, unless the directory happens to end here.
			if more, _ := f.ReadDir(1); len(more) > 0 {
				st.Bounded = true
			}
			return st, nil
		}
		entries, err := f.ReadDir(batch)
		read += len(entries)
		for _, e := range entries {
			name := e.Name()
			if !e.Type().IsRegular() || strings.HasPrefix(name, ".") {
				continue
			}
			st.Files++
			if !strings.HasSuffix(name, ".data") {
				continue
			}
			if info, err := e.Info(); err == nil && (st.Oldest.IsZero() || info.ModTime().Before(st.Oldest)) {
				st.Oldest = info.ModTime()
			}
		}
		if errors.Is(err, io.EOF) || (err == nil && len(entries) < batch) {
			return st, nil
		}
		if err != nil {
			return st, fmt.Errorf("spool scan: %w", err)
		}
	}
}

// agentData is a Pandora agent's data file, as the agents write it: the
// data server takes the agent from its attributes and one value from each
// module.
type agentData struct {
	XMLName   xml.Name      `xml:"agent_data"`
	AgentName string        `xml:"agent_name,attr"`
	Timestamp string        `xml:"timestamp,attr"`
	Interval  int           `xml:"interval,attr"`
	Version   string        `xml:"version,attr"`
	OSName    string        `xml:"os_name,attr"`
	OSVersion string        `xml:"os_version,attr"`
	Modules   []agentModule `xml:"module"`
}

// agentModule is one value of the report.
type agentModule struct {
	Name        string `xml:"name"`
	Type        string `xml:"type"`
	Description string `xml:"description"`
	Data        string `xml:"data"`
}

// Module types, as Pandora names them. The counters since start are
// generic_data_inc: Pandora stores and graphs their increase per second
// (files per second received, say), which is what an operator watches,
// rather than an ever-growing total; Pandora's documentation says a
// negative difference resets the module, so the drop to zero a restart
// causes is not graphed as a negative rate. The current values (connections, spool) are generic_data,
// graphed as they are, and tentacle_up is generic_proc, which Pandora
// shows as up or down and turns critical when it is 0 or missing.
const (
	moduleCounter = "generic_data_inc"
	moduleGauge   = "generic_data"
	moduleProc    = "generic_proc"
)

// monitorReport is what one report says.
type monitorReport struct {
	Agent, Version string
	Interval       int
	Now            time.Time
	Counters       *counters
	Spool          spoolStats
	SpoolErr       error
	FreeBytes      int64 // -1: unknown
}

// pandoraTime is the timestamp format of Pandora agents, in local time as
// the agents write it.
func pandoraTime(t time.Time) string { return t.Format("2006/01/02 15:04:05") }

// xml renders the report as an agent data file, in UTF-8.
func (r monitorReport) xml() ([]byte, error) {
	c := r.Counters
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	spoolNote := ""
	if r.Spool.Bounded {
		spoolNote = fmt.Sprintf(" (at least: the count stopped after %d entries or %v)", defaultSpoolScanLimit.Entries, defaultSpoolScanLimit.Time)
	}
	mods := []agentModule{
		{"tentacle_files_received", moduleCounter, "Files received since the daemon started", n(c.received.Load())},
		{"tentacle_bytes_received", moduleCounter, "Bytes received since the daemon started", n(c.bytesIn.Load())},
		{"tentacle_files_sent", moduleCounter, "Files sent since the daemon started", n(c.sent.Load())},
		{"tentacle_refused", moduleCounter, "Transfers refused since the daemon started", n(c.refused.Load())},
		{"tentacle_failed", moduleCounter, "Transfers failed since the daemon started", n(c.failed.Load())},
		{"tentacle_connections", moduleGauge, "Connections being served", n(c.connsActive.Load())},
	}
	if r.SpoolErr == nil {
		mods = append(mods, agentModule{"tentacle_spool_files", moduleGauge, "Files waiting in the storage directory" + spoolNote, strconv.Itoa(r.Spool.Files)})
		age := int64(0)
		if !r.Spool.Oldest.IsZero() {
			age = max(0, int64(r.Now.Sub(r.Spool.Oldest)/time.Second))
		}
		mods = append(mods, agentModule{"tentacle_spool_oldest_age", moduleGauge, "Seconds since the oldest waiting .data file was written" + spoolNote, n(age)})
	}
	if r.FreeBytes >= 0 {
		mods = append(mods, agentModule{"tentacle_spool_free_bytes", moduleGauge, "Bytes free for uploads on the storage directory's file system", n(r.FreeBytes)})
	}
	mods = append(mods, agentModule{"tentacle_up", moduleProc, "The Tentacle server is serving", "1"})
	doc := agentData{
		AgentName: r.Agent, Timestamp: pandoraTime(r.Now), Interval: r.Interval,
		Version: r.Version, OSName: osName(), OSVersion: osVersion(), Modules: mods,
	}
	body, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("agent data: %w", err)
	}
	return append([]byte("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"), append(body, '\n')...), nil
}

// osName is the os_name Pandora agents give: the system's name,
// capitalised as Pandora shows it.
func osName() string {
	switch runtime.GOOS {
	case "linux":
		return "Linux"
	case "windows":
		return "Windows"
	case "freebsd":
		return "FreeBSD"
	case "darwin":
		return "Darwin"
	}
	return runtime.GOOS
}

// defaultMonitorAgent is the report's agent name when
// TENTACLE_MONITOR_AGENT is not set: the host's name, so that the agent
// sits beside the host's own Pandora agent, with -tentacle so that it is
// not mistaken for it.
func defaultMonitorAgent() string {
	host, err := os.Hostname()
	if err != nil || checkAgentName(host+"-tentacle") != "" {
		return "tentacle"
	}
	return host + "-tentacle"
}

// monitorLoop writes the self-report every TENTACLE_MONITOR_INTERVAL
// seconds until the daemon stops. It reads the interval again after each
// reload (wakeMonitor), so that a reload turns the report on, off, or
// changes its pace. It runs on its own goroutine: a slow disk delays
// reports, never uploads or signals.
func (d *Daemon) monitorLoop() {
	defer close(d.monitorDone)
	for {
		d.mu.Lock()
		interval := d.cfg.MonitorInterval
		d.mu.Unlock()
		var tick <-chan time.Time
		var t *time.Timer
		if interval > 0 {
			t = time.NewTimer(time.Duration(interval) * time.Second)
			tick = t.C
		}
		select {
		case <-tick:
			d.writeReport()
		case <-d.monitorWake:
		case <-d.monitorStop:
		}
		if t != nil {
			t.Stop()
		}
		select {
		case <-d.monitorStop:
			return
		default:
		}
	}
}

// wakeMonitor makes the loop read its settings again.
func (d *Daemon) wakeMonitor() {
	select {
	case d.monitorWake <- struct{}{}:
	default:
	}
}

// writeReport writes one report into the storage directory, through the
// storage, so that the Pandora data server never reads half a file: it is
// written under a hidden name, fsynced, then linked under its final name
// as uploads are. A failure is logged when the report starts failing and
// when it works again, not at every interval, and never stops serving.
func (d *Daemon) writeReport() {
	d.mu.Lock()
	cfg := d.cfg
	d.mu.Unlock()
	sample := d.spool.sample(cfg.Server.Directory, 0)
	r := monitorReport{Agent: cfg.MonitorAgent, Version: d.version, Interval: cfg.MonitorInterval, Now: sample.At,
		Counters: &d.counters, Spool: sample.Stats, SpoolErr: sample.Err, FreeBytes: sample.FreeBytes}
	if r.Spool.Bounded != d.spoolBounded {
		d.spoolBounded = r.Spool.Bounded
		if r.Spool.Bounded {
			d.logf(protocol.LevelNotice, "self-report: the storage directory holds more than the report counts (%d entries or %v); the spool modules give a lower bound", defaultSpoolScanLimit.Entries, defaultSpoolScanLimit.Time)
		}
	}
	err := r.SpoolErr
	if err == nil {
		err = d.storeReport(r)
	}
	switch {
	case err != nil && !d.reportFailing:
		d.reportFailing = true
		d.logf(protocol.LevelError, "self-report: %v; the daemon keeps serving, and says when reports work again", err)
	case err == nil && d.reportFailing:
		d.reportFailing = false
		d.logf(protocol.LevelNotice, "self-report: written again")
	}
}

// spoolProbe measures the spool for the report and the metrics, and keeps
// the last measure: scrapes that come close together, or from several
// scrapers, share one scan instead of each reading a large directory.
type spoolProbe struct {
	mu   sync.Mutex
	last spoolSample
}

// spoolSample is one measure of the spool.
type spoolSample struct {
	At        time.Time
	Stats     spoolStats
	Err       error // the scan's; Stats is then empty
	FreeBytes int64 // -1: unknown
}

// sample measures dir, or gives the last measure if it is younger than
// maxAge. Callers wait for a scan under way rather than start another.
func (p *spoolProbe) sample(dir string, maxAge time.Duration) spoolSample {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if maxAge > 0 && !p.last.At.IsZero() && now.Sub(p.last.At) < maxAge {
		return p.last
	}
	s := spoolSample{At: now, FreeBytes: -1}
	s.Stats, s.Err = scanSpool(dir, defaultSpoolScanLimit)
	if free, err := diskFree(dir); err == nil {
		s.FreeBytes = free
	}
	p.last = s
	return s
}

// storeReport renders r and stores it as <agent>.<unix seconds>.data.
func (d *Daemon) storeReport(r monitorReport) (err error) {
	body, err := r.xml()
	if err != nil {
		return err
	}
	name := fmt.Sprintf("%s.%d.data", r.Agent, r.Now.Unix())
	f, err := d.instance.Storage.Create(name, false)
	if err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	defer f.Abort()
	if _, err := f.Write(body); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	if err := f.Commit(); err != nil {
		return fmt.Errorf("writing %s: %w", name, err)
	}
	return nil
}
