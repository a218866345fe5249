package daemon

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	"tentacle/handover"
	"tentacle/protocol"
	"tentacle/setup"
	"tentacle/transferlog"
)

// Daemon is a running tentacle_serverd: a tentacle_server whose
// configuration comes from the env file, that can reload it without closing
// its sockets, and that records every transfer.
type Daemon struct {
	// What a reload reads again: the env file and the environment,
	// without the copy of the file that systemd may have put there.
	envFile  string
	required bool
	environ  []string

	mu      sync.Mutex // guards cfg, logger and records on reload
	cfg     *Config
	logger  *protocol.TextLogger
	records *transferlog.Log
	// serviceLog holds the messages of a detached daemon without -l; nil
	// otherwise. Only Run's goroutine changes it (a reload that drops -l).
	serviceLog *transferlog.Log
	detached   bool // started by an init script: no terminal, no journal
	instance   *setup.Instance
	gens       *handover.Generations
	counters   counters
	notify     notifier
	version    string // the report's agent version

	// The self-report's loop (monitor.go): monitorWake makes it read
	// its settings again after a reload, monitorStop ends it and
	// monitorDone says it ended. spoolBounded and reportFailing are
	// its own, so that it logs changes only.
	monitorWake                 chan struct{}
	monitorStop, monitorDone    chan struct{}
	spoolBounded, reportFailing bool
	spool                       spoolProbe

	// metrics serves /metrics and /healthz (metrics.go); nil when
	// TENTACLE_METRICS_ADDR is not set.
	metrics *metricsServer
}

// wire connects a server to the daemon's storage, records and counters.
func (d *Daemon) wire(srv *protocol.Server, cfg *Config) *protocol.Server {
	srv.Storage = d.instance.Storage
	storageDir := cfg.Server.Directory
	srv.OnConnection = d.counters.connection
	srv.OnTransfer = func(t protocol.Transfer) {
		d.counters.add(t)
		d.mu.Lock()
		records := d.records
		d.mu.Unlock()
		if err := records.Write(transferlog.NewRecord(t, storageDir)); err != nil {
			d.logf(protocol.LevelError, "transfer log: %v", err)
		}
	}
	return srv
}

func (d *Daemon) logf(level protocol.Level, format string, args ...any) {
	d.mu.Lock()
	l := d.logger
	d.mu.Unlock()
	l.Log(level, fmt.Sprintf(format, args...))
}

// status is the line systemd shows.
func (d *Daemon) status() string { return "serving; " + d.counters.String() }

// reload re-reads the env file and the -F file and puts a server with the
// new settings in charge of new connections; transfers in flight finish
// under the old ones. An invalid configuration is logged and the running
// one kept: a reload never stops the daemon. Settings that only a restart
// can change are named in the log.
func (d *Daemon) reload() error {
	d.notify.Reloading()
	defer func() {
		d.notify.Ready()
		d.notify.Status(d.status())
	}()
	d.logf(protocol.LevelNotice, "Reloading the configuration")
	next, err := d.prepareReload()
	if err != nil {
		d.logf(protocol.LevelError, "reload refused, the running configuration stays: %v", err)
		return err
	}
	d.switchTo(next)
	d.counters.reloaded()
	d.wakeMonitor()
	d.logf(protocol.LevelNotice, "Configuration reloaded")
	return nil
}

// nextGeneration is what a reload switches to once everything that may
// fail has succeeded.
type nextGeneration struct {
	cfg        *Config
	logger     *protocol.TextLogger
	srv        *protocol.Server
	records    *transferlog.Log // d.records when TENTACLE_LOG_FILE is the same
	serviceLog *transferlog.Log // nil unless the reload opens tentacle_serverd.log
}

// prepareReload reads the configuration again and opens what it names,
// leaving the running generation untouched: on an error, what it opened
// is closed again and the daemon goes on as it was.
func (d *Daemon) prepareReload() (*nextGeneration, error) {
	cfg, err := loadServable(d.envFile, d.required, d.environ)
	if err != nil {
		return nil, err
	}
	for _, c := range restartOnly(d.cfg, cfg) {
		d.logf(protocol.LevelNotice, "%s changed: it takes effect at the next restart, not on reload", c)
	}
	o := cfg.Server
	n := &nextGeneration{cfg: cfg, records: d.records,
		logger: &protocol.TextLogger{Out: d.instance.Logger.Out, Err: d.instance.Logger.Err, Verbosity: o.Verbosity, Quiet: o.Quiet}}
	if n.srv, err = setup.NewServer(o, "", n.logger); err != nil {
		return nil, err
	}
	if cfg.LogFile != d.cfg.LogFile {
		if n.records, err = transferlog.Open(cfg.LogFile, cfg.rotation()); err != nil {
			return nil, fmt.Errorf("TENTACLE_LOG_FILE: %w", err)
		}
	}
	// A detached daemon started with -l has its standard streams on
	// /dev/null: a reload that drops -l sends its messages to
	// tentacle_serverd.log, as a start without -l would have.
	if o.LogFile == "" && d.detached && d.serviceLog == nil {
		if n.serviceLog, err = openServiceLog(cfg, nil); err != nil {
			n.abandon(d)
			return nil, err
		}
	}
	// A changed -l file is opened last of what may fail, so that a
	// refused reload leaves the messages where they were. Every logger
	// writes through the instance, the old server's included: they all
	// move to it now.
	if err := d.instance.SetLogFile(o.LogFile); err != nil {
		n.abandon(d)
		return nil, err
	}
	return n, nil
}

// abandon closes what prepareReload opened for a reload that is refused.
func (n *nextGeneration) abandon(d *Daemon) {
	if n.records != d.records {
		n.records.Close()
	}
	if n.serviceLog != nil {
		n.serviceLog.Close()
	}
}

// switchTo makes n the running generation: the new server takes the
// listening sockets, and the old one serves its connections to their end.
func (d *Daemon) switchTo(n *nextGeneration) {
	cfg, old, records := n.cfg, d.cfg, n.records
	if n.serviceLog != nil {
		d.instance.SetStreams(n.serviceLog.TextWriter(), n.serviceLog.TextWriter())
		d.serviceLog = n.serviceLog
	}
	if records == d.records {
		records.SetRotation(cfg.rotation())
	}
	// Keep what only a restart changes, so that the new server serves what
	// the sockets and storage really are.
	cfg.Server.Directory = old.Server.Directory
	cfg.User, cfg.Port, cfg.Addr, cfg.StoragePath = old.User, old.Port, old.Addr, old.StoragePath
	cfg.MetricsAddr = old.MetricsAddr

	d.mu.Lock()
	previousRecords := d.records
	d.cfg, d.logger, d.records = cfg, n.logger, records
	d.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	retired := d.gens.Replace(ctx, d.wire(n.srv, cfg))
	go func() {
		// The old server's connections record their transfers until
		// they end: its transfer log closes after them, not on a timer.
		<-retired
		cancel()
		if previousRecords != records {
			previousRecords.Close()
		}
	}()
}

// restartOnly names the settings that differ and that a reload cannot
// apply: the sockets, the user and the storage directory are fixed once
// root is gone.
func restartOnly(old, cur *Config) []string {
	var changed []string
	if old.Port != cur.Port || old.Server.Port != cur.Server.Port {
		changed = append(changed, "the port (TENTACLE_PORT, -p)")
	}
	if old.Addr != cur.Addr || !reflect.DeepEqual(old.Server.Addresses, cur.Server.Addresses) {
		changed = append(changed, "the address (TENTACLE_ADDR, -a)")
	}
	if old.User != cur.User {
		changed = append(changed, "the user (TENTACLE_USER)")
	}
	if old.MetricsAddr != cur.MetricsAddr {
		changed = append(changed, "the metrics address (TENTACLE_METRICS_ADDR)")
	}
	if old.Server.Directory != cur.Server.Directory {
		changed = append(changed, "the storage directory (PANDORA_SERVER_PATH, -s)")
	}
	return changed
}

// rotateRecords (SIGUSR1) reopens the message logs, the -l file and a
// detached daemon's tentacle_serverd.log, by their names, for logrotate
// to have moved them aside first (its postrotate sends the signal); and it
// starts a new transfer log file now.
func (d *Daemon) rotateRecords() error {
	d.mu.Lock()
	records := d.records
	d.mu.Unlock()
	var errs []error
	if err := d.instance.ReopenLog(); err != nil {
		errs = append(errs, err)
		d.logf(protocol.LevelError, "reopening the log: %v", err)
	}
	if d.serviceLog != nil {
		if err := d.serviceLog.Reopen(); err != nil {
			errs = append(errs, err)
			d.logf(protocol.LevelError, "reopening the service log: %v", err)
		}
	}
	if err := records.Rotate(); err != nil {
		d.logf(protocol.LevelError, "rotating the transfer log: %v", err)
		return errors.Join(append(errs, err)...)
	}
	d.logf(protocol.LevelNotice, "Transfer log rotated")
	return errors.Join(errs...)
}

// stop stops accepting, lets transfers in flight finish within the grace
// period (TENTACLE_SHUTDOWN_TIMEOUT), and releases everything.
func (d *Daemon) stop() error {
	d.notify.Stopping()
	if d.metrics != nil {
		d.metrics.stopping.Store(true)
	}
	d.logf(protocol.LevelNotice, "Server going down")
	d.mu.Lock()
	grace := d.cfg.ShutdownTimeout
	d.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	err := d.gens.Shutdown(ctx)
	if err != nil {
		d.logf(protocol.LevelError, "transfers still running after %v were cut", grace)
	}
	// The report writes into the storage: it ends before the storage
	// closes.
	if d.monitorStop != nil {
		close(d.monitorStop)
		<-d.monitorDone
	}
	d.closeMetrics()
	d.instance.Close()
	d.mu.Lock()
	d.records.Close()
	d.mu.Unlock()
	if d.serviceLog != nil {
		d.serviceLog.Close()
	}
	return err
}

// Run serves until stop is signalled, reloading on reload and rotating the
// transfer log on rotate, pinging systemd's watchdog when it asks for it.
func (d *Daemon) Run(reload, rotate, stop <-chan struct{}) error {
	var watchdog <-chan time.Time
	if iv := d.notify.WatchdogInterval(); iv > 0 {
		t := time.NewTicker(iv)
		defer t.Stop()
		watchdog = t.C
	}
	status := time.NewTicker(10 * time.Second)
	defer status.Stop()
	for {
		select {
		case <-reload:
			d.reload()
		case <-rotate:
			d.rotateRecords()
		case <-watchdog:
			d.notify.Watchdog()
		case <-status.C:
			d.notify.Status(d.status())
		case err := <-d.gens.Errors():
			d.logf(protocol.LevelError, "%v", err)
			d.stop()
			return err
		case <-stop:
			return d.stop()
		}
	}
}
