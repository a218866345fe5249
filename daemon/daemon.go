package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-systemd/v22/activation"

	"tentacle/envfile"
	"tentacle/handover"
	"tentacle/privileges"
	"tentacle/protocol"
	"tentacle/setup"
	"tentacle/transferlog"
)

// Daemon is a running tentacle_serverd: a tentacle_server whose
// configuration comes from the env file, that can reload it without closing
// its sockets, and that records every transfer.
type Daemon struct {
	envFile  string
	required bool
	environ  []string
	stdout   io.Writer
	stderr   io.Writer

	mu      sync.Mutex // guards cfg, logger and records on reload
	cfg     *Config
	logger  *protocol.TextLogger
	records *transferlog.Log
	// serviceLog holds the messages of a detached daemon; nil otherwise.
	serviceLog *transferlog.Log
	instance   *setup.Instance
	gens       *handover.Generations
	counters   Counters
	notify     Notifier
}

// Start reads the configuration, binds its sockets (or takes the ones
// systemd passed), opens the transfer log, gives root up, opens the storage
// and starts serving. It returns once the daemon serves; any error stops
// the start. envFile is the file to read ("" for none); required makes a
// missing file an error; environ is the process environment, which wins
// over the file.
func Start(envFile string, required bool, environ []string, stdout, stderr io.Writer) (*Daemon, error) {
	d := &Daemon{envFile: envFile, required: required, environ: environ, stdout: stdout, stderr: stderr}
	cfg, err := Load(envFile, required, environ)
	if err != nil {
		return nil, err
	}
	if cfg.Server.SSLPasswordPrompt { // ssl_password 1 in the -F file
		return nil, setup.ErrPasswordPrompt
	}
	d.cfg = cfg
	d.environ = withoutFileEcho(environ, cfg.EnvFile)
	var id *privileges.Identity
	if privileges.IsRoot() {
		if id, err = privileges.Lookup(cfg.User); err != nil {
			return nil, fmt.Errorf("TENTACLE_USER: %w", err)
		}
	}

	if id != nil {
		// A log directory that root creates must belong to the user,
		// who rotates the logs once root is gone.
		if err := ensureDirFor(filepath.Dir(cfg.LogFile), id); err != nil {
			return nil, fmt.Errorf("TENTACLE_LOG_FILE: %w", err)
		}
	}
	var serviceLog *transferlog.Log
	if stdout == nil && cfg.Server.LogFile == "" {
		// Detached by an init script, with no terminal and no journal:
		// keep the messages next to the transfer log, rotated alike.
		if serviceLog, err = transferlog.Open(ServiceLogPath(cfg), cfg.rotation()); err != nil {
			return nil, fmt.Errorf("service log: %w", err)
		}
		stdout, stderr = serviceLog.TextWriter(), serviceLog.TextWriter()
		if id != nil {
			if err := chownForUser(ServiceLogPath(cfg), id); err != nil {
				return nil, fmt.Errorf("service log: %w", err)
			}
		}
	}
	in, err := setup.New(cfg.Server, "", stdout, stderr)
	if err != nil {
		return nil, err
	}
	d.instance, d.logger, d.serviceLog = in, in.Logger, serviceLog
	fail := func(err error) (*Daemon, error) {
		in.Close()
		if serviceLog != nil {
			serviceLog.Close()
		}
		if d.records != nil {
			d.records.Close()
		}
		return nil, err
	}
	for _, w := range cfg.Warnings {
		d.logf(protocol.LevelNotice, "%s", w)
	}

	activated, err := systemdSockets()
	if err != nil {
		return fail(err)
	}
	err = in.Start(setup.Startup{Identity: id, Activated: activated, AsRoot: func(id *privileges.Identity) error {
		if d.records, err = transferlog.Open(cfg.LogFile, cfg.rotation()); err != nil {
			return logOpenError(cfg.LogFile, id, err)
		}
		setUmask()
		if id != nil {
			// Hand the transfer log to the user, who must be able to
			// rotate it once root is gone.
			if err := chownForUser(cfg.LogFile, id); err != nil {
				return logHandOverError(cfg.LogFile, id, err)
			}
		}
		return nil
	}})
	if _, ok := errors.AsType[*setup.StorageDirError](err); ok {
		err = fmt.Errorf("PANDORA_SERVER_PATH: %w", err)
	}
	if err != nil {
		return fail(err)
	}
	// Rotation creates files in the directory, as the user: root could
	// open the log there, but the user may not be able to.
	if err := checkDirWritable(filepath.Dir(cfg.LogFile)); err != nil {
		return fail(logDirError(cfg.LogFile, id, err))
	}

	d.gens = handover.New(in.Listeners)
	d.gens.Start(d.wire(in.Server, cfg))
	for _, l := range in.Listeners {
		d.logf(protocol.LevelNotice, "%s", setup.ListeningMessage(l.Addr()))
	}
	d.notify.Ready()
	d.notify.Status("serving; " + d.counters.String())
	return d, nil
}

// systemdSockets are the listening sockets systemd passed (socket
// activation), if any.
func systemdSockets() ([]net.Listener, error) {
	activated, err := activation.Listeners()
	if err != nil {
		return nil, fmt.Errorf("sockets from systemd: %w", err)
	}
	var usable []net.Listener
	for _, l := range activated {
		if l != nil {
			usable = append(usable, l)
		}
	}
	if len(activated) > 0 && len(usable) == 0 {
		return nil, errors.New("systemd passed sockets, but none is a listening TCP socket")
	}
	return usable, nil
}

// withoutFileEcho drops from environ the variables whose value is the one
// the env file gives them. Under systemd, EnvironmentFile= copies the file
// into the environment at start; since the environment wins over the file,
// those stale copies would hide every edit from a reload. A variable the
// environment sets to another value (Environment= in a unit drop-in) is a
// real override and stays.
func withoutFileEcho(environ []string, envFile string) []string {
	if envFile == "" {
		return environ
	}
	vars, err := envfile.Read(envFile)
	if err != nil {
		return environ
	}
	fromFile := map[string]string{}
	for _, v := range vars {
		fromFile[v.Key] = v.Value
	}
	var kept []string
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		if fv, ok := fromFile[k]; ok && fv == v {
			continue
		}
		kept = append(kept, kv)
	}
	return kept
}

// ServiceLogPath is where a detached daemon writes its messages when
// TENTACLE_EXT_OPTS names no -l file: tentacle_serverd.log beside the
// transfer log.
func ServiceLogPath(cfg *Config) string {
	return filepath.Join(filepath.Dir(cfg.LogFile), "tentacle_serverd.log")
}

// wire connects a server to the daemon's storage, records and counters.
func (d *Daemon) wire(srv *protocol.Server, cfg *Config) *protocol.Server {
	srv.Storage = d.instance.Storage
	storageDir := cfg.Server.Directory
	srv.OnTransfer = func(t protocol.Transfer) {
		d.counters.Add(t)
		d.mu.Lock()
		records := d.records
		d.mu.Unlock()
		if err := records.Write(transferlog.NewRecord(t, storageDir)); err != nil {
			d.logf(protocol.LevelError, "transfer log: %v", err)
		}
	}
	return srv
}

func (d *Daemon) logf(level Level, format string, args ...any) {
	d.mu.Lock()
	l := d.logger
	d.mu.Unlock()
	l.Log(level, fmt.Sprintf(format, args...))
}

// Level is protocol.Level, named here for the daemon's own messages.
type Level = protocol.Level

// Errors reports failures that end the daemon: a listening socket that
// broke for good.
func (d *Daemon) Errors() <-chan error { return d.gens.Errors() }

// Status is the line systemd shows.
func (d *Daemon) Status() string { return "serving; " + d.counters.String() }

// Reload re-reads the env file and the -F file and puts a server with the
// new settings in charge of new connections; transfers in flight finish
// under the old ones. An invalid configuration is logged and the running
// one kept: a reload never stops the daemon. Settings that only a restart
// can change are named in the log.
func (d *Daemon) Reload() error {
	d.notify.Reloading()
	defer func() {
		d.notify.Ready()
		d.notify.Status(d.Status())
	}()
	d.logf(protocol.LevelNotice, "Reloading the configuration")
	cfg, err := Load(d.envFile, d.required, d.environ)
	if err == nil && cfg.Server.SSLPasswordPrompt {
		err = setup.ErrPasswordPrompt
	}
	if err != nil {
		d.logf(protocol.LevelError, "reload refused, the running configuration stays: %v", err)
		return err
	}
	old := d.cfg
	for _, c := range restartOnly(old, cfg) {
		d.logf(protocol.LevelNotice, "%s changed: it takes effect at the next restart, not on reload", c)
	}
	o := cfg.Server
	logger := &protocol.TextLogger{Out: d.instance.Logger.Out, Err: d.instance.Logger.Err, Verbosity: o.Verbosity, Quiet: o.Quiet}
	srv, err := setup.NewServer(o, "", logger)
	if err != nil {
		d.logf(protocol.LevelError, "reload refused, the running configuration stays: %v", err)
		return err
	}
	records := d.records
	if cfg.LogFile != old.LogFile {
		nr, err := transferlog.Open(cfg.LogFile, cfg.rotation())
		if err != nil {
			d.logf(protocol.LevelError, "reload refused, the running configuration stays: TENTACLE_LOG_FILE: %v", err)
			return err
		}
		records = nr
	} else {
		records.SetRotation(cfg.rotation())
	}
	// Keep what only a restart changes, so that the new server serves what
	// the sockets and storage really are.
	cfg.Server.Directory = old.Server.Directory
	cfg.User, cfg.Port, cfg.Addr, cfg.StoragePath = old.User, old.Port, old.Addr, old.StoragePath

	d.mu.Lock()
	previousRecords := d.records
	d.cfg, d.logger, d.records = cfg, logger, records
	d.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	retired := d.gens.Replace(ctx, d.wire(srv, cfg))
	go func() {
		// The old server's connections record their transfers until
		// they end: its transfer log closes after them, not on a timer.
		<-retired
		cancel()
		if previousRecords != records {
			previousRecords.Close()
		}
	}()
	d.counters.Reloaded()
	d.logf(protocol.LevelNotice, "Configuration reloaded")
	return nil
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
	if old.Server.Directory != cur.Server.Directory {
		changed = append(changed, "the storage directory (PANDORA_SERVER_PATH, -s)")
	}
	return changed
}

// RotateRecords starts a new transfer log file now (SIGUSR1).
func (d *Daemon) RotateRecords() error {
	d.mu.Lock()
	records := d.records
	d.mu.Unlock()
	if d.serviceLog != nil {
		d.serviceLog.Rotate()
	}
	if err := records.Rotate(); err != nil {
		d.logf(protocol.LevelError, "rotating the transfer log: %v", err)
		return err
	}
	d.logf(protocol.LevelNotice, "Transfer log rotated")
	return nil
}

// Stop stops accepting, lets transfers in flight finish within the grace
// period (TENTACLE_SHUTDOWN_TIMEOUT), and releases everything.
func (d *Daemon) Stop() error {
	d.notify.Stopping()
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
			d.Reload()
		case <-rotate:
			d.RotateRecords()
		case <-watchdog:
			d.notify.Watchdog()
		case <-status.C:
			d.notify.Status(d.Status())
		case err := <-d.Errors():
			d.logf(protocol.LevelError, "%v", err)
			d.Stop()
			return err
		case <-stop:
			return d.Stop()
		}
	}
}

// checkDirWritable proves that files can be created in dir.
func checkDirWritable(dir string) error {
	f, err := os.CreateTemp(dir, ".tentacle-check-*")
	if err != nil {
		return err
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}
