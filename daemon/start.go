package daemon

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/coreos/go-systemd/v22/activation"

	"tentacle/envfile"
	"tentacle/handover"
	"tentacle/privileges"
	"tentacle/protocol"
	"tentacle/setup"
	"tentacle/transferlog"
)

// Options say where the daemon's configuration comes from and where its
// messages go.
type Options struct {
	// EnvFile is the env file to read, "" for none; Required makes a
	// missing one an error (one named with --env-file, not a default).
	EnvFile  string
	Required bool
	// Environ is the process environment, which wins over the file.
	Environ []string
	// Stdout and Stderr receive the messages, unless the options name a
	// log file (-l) or the daemon is Detached.
	Stdout, Stderr io.Writer
	// Version is the daemon's version, given in its self-report.
	Version string
	// Detached is a daemon put in the background by an init script, with
	// no terminal and no journal: without -l, its messages go to
	// tentacle_serverd.log beside the transfer log, rotated alike.
	Detached bool
}

// Start reads the configuration, binds its sockets (or takes the ones
// systemd passed), opens the transfer log, gives root up, opens the storage
// and starts serving. It returns once the daemon serves; any error stops
// the start.
func Start(o Options) (*Daemon, error) {
	cfg, err := loadServable(o.EnvFile, o.Required, o.Environ)
	if err != nil {
		return nil, err
	}
	d := &Daemon{envFile: o.EnvFile, required: o.Required, environ: withoutFileEcho(o.Environ, cfg.EnvFile), cfg: cfg, version: o.Version}
	id, err := serviceUser(cfg)
	if err != nil {
		return nil, err
	}
	d.detached = o.Detached
	stdout, stderr := o.Stdout, o.Stderr
	if o.Detached && cfg.Server.LogFile == "" {
		if d.serviceLog, err = openServiceLog(cfg, id); err != nil {
			return nil, err
		}
		stdout, stderr = d.serviceLog.TextWriter(), d.serviceLog.TextWriter()
	}
	if err := d.start(id, stdout, stderr); err != nil {
		d.release()
		return nil, err
	}
	d.serve()
	return d, nil
}

// loadServable is Load, refusing what the daemon cannot do: prompt for the
// key's password (ssl_password 1 in the -F file; -w is refused by Load).
func loadServable(envFile string, required bool, environ []string) (*Config, error) {
	cfg, err := Load(envFile, required, environ)
	if err == nil && cfg.Server.SSLPasswordPrompt {
		return nil, setup.ErrPasswordPrompt
	}
	return cfg, err
}

// serviceUser is the user to serve as when started as root (nil
// otherwise). The transfer log's directory, if root has to create it, is
// made theirs: they rotate the logs there once root is gone.
func serviceUser(cfg *Config) (*privileges.Identity, error) {
	if !privileges.IsRoot() {
		return nil, nil
	}
	id, err := privileges.Lookup(cfg.User)
	if err != nil {
		return nil, fmt.Errorf("TENTACLE_USER: %w", err)
	}
	if err := ensureDirFor(filepath.Dir(cfg.LogFile), id); err != nil {
		return nil, fmt.Errorf("TENTACLE_LOG_FILE: %w", err)
	}
	return id, nil
}

// openServiceLog opens the log of a detached daemon's messages, the user's
// to write once root is gone.
func openServiceLog(cfg *Config, id *privileges.Identity) (*transferlog.Log, error) {
	path := serviceLogPath(cfg)
	l, err := transferlog.Open(path, cfg.rotation())
	if err != nil {
		return nil, fmt.Errorf("service log: %w", err)
	}
	if id != nil {
		if err := chownForUser(path, id); err != nil {
			l.Close()
			return nil, fmt.Errorf("service log: %w", err)
		}
	}
	return l, nil
}

// serviceLogPath is where a detached daemon writes its messages when
// TENTACLE_EXT_OPTS names no -l file: tentacle_serverd.log beside the
// transfer log.
func serviceLogPath(cfg *Config) string {
	return filepath.Join(filepath.Dir(cfg.LogFile), "tentacle_serverd.log")
}

// start builds the server, then runs setup's start-up sequence: bind the
// sockets, open the transfer log as root, give root up and open the
// storage.
func (d *Daemon) start(id *privileges.Identity, stdout, stderr io.Writer) error {
	in, err := setup.New(d.cfg.Server, "", stdout, stderr)
	if err != nil {
		return err
	}
	d.instance, d.logger = in, in.Logger
	for _, w := range d.cfg.Warnings {
		d.logf(protocol.LevelNotice, "%s", w)
	}
	activated, err := systemdSockets()
	if err != nil {
		return err
	}
	err = in.Start(setup.Startup{Identity: id, Activated: activated, AsRoot: func(id *privileges.Identity) error {
		if err := d.openRecords(id); err != nil {
			return err
		}
		return d.listenMetrics()
	}})
	if _, ok := errors.AsType[*setup.StorageDirError](err); ok {
		return fmt.Errorf("PANDORA_SERVER_PATH: %w", err)
	}
	if err != nil {
		return err
	}
	// Rotation creates files in the directory, as the user: root could
	// open the log there, but the user may not be able to.
	if err := checkDirWritable(filepath.Dir(d.cfg.LogFile)); err != nil {
		return logDirError(d.cfg.LogFile, id, err)
	}
	if id == nil {
		d.noteUserNotApplied()
	}
	return nil
}

// noteUserNotApplied says so when TENTACLE_USER names another user than the
// one the daemon was started as: only a daemon started as root switches
// users, and under systemd the unit's User= decides. An administrator who
// set it would otherwise not know why it has no effect.
func (d *Daemon) noteUserNotApplied() {
	name := strconv.Itoa(os.Getuid())
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	if d.cfg.User != name {
		d.logf(protocol.LevelNotice, "TENTACLE_USER=%s is not applied: the daemon was started as %s, not as root (under systemd, the unit's User= decides; see tentacle_serverd(8))", d.cfg.User, name)
	}
}

// openRecords opens the transfer log while root still can, and hands it to
// id, who must be able to rotate it once root is gone.
func (d *Daemon) openRecords(id *privileges.Identity) error {
	records, err := transferlog.Open(d.cfg.LogFile, d.cfg.rotation())
	if err != nil {
		return logOpenError(d.cfg.LogFile, id, err)
	}
	d.records = records
	setUmask()
	if id != nil {
		if err := chownForUser(d.cfg.LogFile, id); err != nil {
			return logHandOverError(d.cfg.LogFile, id, err)
		}
	}
	return nil
}

// serve starts accepting and tells systemd the daemon is ready.
func (d *Daemon) serve() {
	d.gens = handover.New(d.instance.Listeners)
	d.gens.Start(d.wire(d.instance.Server, d.cfg))
	for _, l := range d.instance.Listeners {
		d.logf(protocol.LevelNotice, "%s", setup.ListeningMessage(l.Addr()))
	}
	d.monitorWake = make(chan struct{}, 1)
	d.monitorStop, d.monitorDone = make(chan struct{}), make(chan struct{})
	go d.monitorLoop()
	d.serveMetrics()
	d.notify.Ready()
	d.notify.Status(d.status())
}

// release closes what a failed start opened.
func (d *Daemon) release() {
	d.closeMetrics()
	if d.instance != nil {
		d.instance.Close()
	}
	if d.serviceLog != nil {
		d.serviceLog.Close()
	}
	if d.records != nil {
		d.records.Close()
	}
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
