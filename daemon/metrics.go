package daemon

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"tentacle/protocol"
)

// metricsSpoolMaxAge is how long a measure of the spool serves scrapes:
// several Prometheus servers scraping every few seconds then cost one
// bounded scan, not one each.
const metricsSpoolMaxAge = 5 * time.Second

// metricsServer serves /metrics and /healthz on TENTACLE_METRICS_ADDR. It
// has no authentication and no TLS: bind it to localhost, or to a network
// only the monitoring reaches.
type metricsServer struct {
	listener net.Listener
	http     *http.Server
	// stopping turns /healthz to 503 once the daemon stops, so that a
	// health check sees the stop before the port closes.
	stopping atomic.Bool
}

// listenMetrics binds the metrics port. It runs while the daemon may still
// be root, as the main port is bound, so that a port below 1024 works and
// a busy one stops the start.
func (d *Daemon) listenMetrics() error {
	if d.cfg.MetricsAddr == "" {
		return nil
	}
	l, err := net.Listen("tcp", d.cfg.MetricsAddr)
	if err != nil {
		return fmt.Errorf("TENTACLE_METRICS_ADDR: %w", err)
	}
	d.metrics = &metricsServer{listener: l}
	return nil
}

// serveMetrics starts serving the bound metrics port, if any.
func (d *Daemon) serveMetrics() {
	m := d.metrics
	if m == nil {
		return
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newDaemonCollector(d),
	)
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: metricsErrorLog{d}}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if m.stopping.Load() {
			http.Error(w, "stopping", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	m.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
	go func() {
		if err := m.http.Serve(m.listener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.logf(protocol.LevelError, "metrics: %v", err)
		}
	}()
	d.logf(protocol.LevelNotice, "Metrics on http://%s/metrics (no authentication)", m.listener.Addr())
}

// closeMetrics stops serving metrics; a failed start calls it too, with
// the port bound but not served.
func (d *Daemon) closeMetrics() {
	m := d.metrics
	if m == nil {
		return
	}
	m.stopping.Store(true)
	if m.http != nil {
		m.http.Close()
	} else {
		m.listener.Close()
	}
}

// metricsErrorLog takes promhttp's errors into the daemon's log.
type metricsErrorLog struct{ d *Daemon }

func (l metricsErrorLog) Println(v ...any) {
	l.d.logf(protocol.LevelError, "metrics: %s", fmt.Sprint(v...))
}

// daemonCollector reads the daemon's counters and a spool measure at each
// scrape: nothing is counted twice, so the metrics agree with the STATUS=
// line and the self-report.
type daemonCollector struct {
	d                                                      *Daemon
	transfers, bytes, connsActive, connsTotal, refused     *prometheus.Desc
	spoolFiles, spoolOldest, spoolFree, reloads, buildInfo *prometheus.Desc
}

func newDaemonCollector(d *Daemon) *daemonCollector {
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	return &daemonCollector{
		d:           d,
		transfers:   desc("tentacle_transfers_total", "Transfer commands ended since start, by command and result (ok, refused, failed).", "command", "result"),
		bytes:       desc("tentacle_bytes_total", "File bytes moved since start: in (received), out (sent).", "direction"),
		connsActive: desc("tentacle_connections_active", "Connections being served."),
		connsTotal:  desc("tentacle_connections_total", "Connections accepted since start."),
		refused:     desc("tentacle_refused_total", "Transfers refused since start, by reason.", "reason"),
		spoolFiles:  desc("tentacle_spool_files", "Regular files waiting in the storage directory's top (a lower bound when the count stopped at its limit)."),
		spoolOldest: desc("tentacle_spool_oldest_file_age_seconds", "Seconds since the oldest waiting .data file was written; 0 when there is none."),
		spoolFree:   desc("tentacle_spool_free_bytes", "Bytes free for uploads on the storage directory's file system."),
		reloads:     desc("tentacle_reloads_total", "Configuration reloads since start."),
		buildInfo:   prometheus.NewDesc("tentacle_build_info", "The daemon's version, 1.", nil, prometheus.Labels{"version": d.version, "goversion": runtime.Version()}),
	}
}

// Describe implements prometheus.Collector.
func (c *daemonCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.transfers, c.bytes, c.connsActive, c.connsTotal, c.refused, c.spoolFiles, c.spoolOldest, c.spoolFree, c.reloads, c.buildInfo} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *daemonCollector) Collect(ch chan<- prometheus.Metric) {
	n := &c.d.counters
	counter := func(desc *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), labels...)
	}
	gauge := func(desc *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v)
	}
	for i, cmd := range transferCommands {
		for j, res := range transferResults {
			counter(c.transfers, n.transfers[i][j].Load(), cmd, res)
		}
	}
	counter(c.bytes, n.bytesIn.Load(), "in")
	counter(c.bytes, n.bytesOut.Load(), "out")
	gauge(c.connsActive, float64(n.connsActive.Load()))
	counter(c.connsTotal, n.connsTotal.Load())
	for i, r := range refusalReasons {
		counter(c.refused, n.refusedBy[i].Load(), r.label)
	}
	counter(c.reloads, n.reloads.Load())
	gauge(c.buildInfo, 1)

	c.d.mu.Lock()
	dir := c.d.cfg.Server.Directory
	c.d.mu.Unlock()
	s := c.d.spool.sample(dir, metricsSpoolMaxAge)
	if s.Err == nil {
		gauge(c.spoolFiles, float64(s.Stats.Files))
		age := 0.0
		if !s.Stats.Oldest.IsZero() {
			age = max(0, s.At.Sub(s.Stats.Oldest).Seconds())
		}
		gauge(c.spoolOldest, age)
	} else {
		ch <- prometheus.NewInvalidMetric(c.spoolFiles, s.Err)
	}
	if s.FreeBytes >= 0 {
		gauge(c.spoolFree, float64(s.FreeBytes))
	}
}
