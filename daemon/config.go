package daemon

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"

	"tentacle/envfile"
	"tentacle/options"
	"tentacle/transferlog"
)

// Defaults of the settings that tentacle_server itself does not have. They
// are Pandora FMS's: its packages create these directories and expect these
// filters.
const (
	// DefaultStoragePath is where Pandora FMS servers pick up the files
	// that agents send (PANDORA_SERVER_PATH).
	DefaultStoragePath = "/var/spool/pandora/data_in"
	// defaultFilters sorts what agents send into the subdirectories the
	// Pandora FMS server reads (the -i option used when TENTACLE_EXT_OPTS
	// is not set at all).
	defaultFilters = `.*\.conf:conf;.*\.md5:md5;.*\.zip:collections;.*\.lock:trans;.*\.rcmd:commands`
	// DefaultLogFile is the transfer log (TENTACLE_LOG_FILE).
	DefaultLogFile = "/var/log/tentacle/transfers.log"
	// DefaultLogMaxSizeMB is the size in megabytes at which the transfer
	// log is rotated (TENTACLE_LOG_MAX_SIZE).
	DefaultLogMaxSizeMB = 100
	// DefaultLogMaxBackups is the number of rotated transfer logs kept
	// (TENTACLE_LOG_MAX_BACKUPS).
	DefaultLogMaxBackups = 10
	// DefaultLogMaxAgeDays is the age in days after which rotated transfer
	// logs are removed (TENTACLE_LOG_MAX_AGE).
	DefaultLogMaxAgeDays = 30
	// DefaultShutdownTimeout is how long a stop waits for the transfers in
	// flight (TENTACLE_SHUTDOWN_TIMEOUT).
	DefaultShutdownTimeout = 30 * time.Second
)

// defaultStoragePath is DefaultStoragePath in a variable, so that the tests
// can point it at a directory of their own: the real one may exist, made
// by a Pandora FMS server or by the package tests running meanwhile.
var defaultStoragePath = DefaultStoragePath

// Config is the daemon's configuration after the env file and the
// environment are merged: what to run tentacle_server with, and the
// settings only the daemon has (transfer log, shutdown grace period).
//
// The precedence, highest first, is: TENTACLE_EXT_OPTS; the other variables
// from the environment; the same from the env file; the -F configuration
// file (TENTACLE_CONFIG_FILE); the defaults. StoragePath, Port, Addr, User
// and ConfigFile give the result, what tentacle_server will really use, so
// that a message or a comparison on reload never shows a value that was
// overridden.
type Config struct {
	// EnvFile is the env file read, "" if none was (none given, or a
	// default one that does not exist).
	EnvFile string
	// StoragePath is the storage directory (PANDORA_SERVER_PATH or -s);
	// "" when relaying with -b and none is set.
	StoragePath string
	// Port is the TCP port to listen on (TENTACLE_PORT or -p).
	Port int
	// Addr is the addresses to listen on, separated by commas
	// (TENTACLE_ADDR or -a, or the -F file's addresses); "" means all
	// addresses.
	Addr string
	// ExtOpts is TENTACLE_EXT_OPTS split into arguments; nil when it is
	// not set.
	ExtOpts []string
	// User is the account the server runs as after binding its sockets
	// (TENTACLE_USER or -U).
	User string
	// ConfigFile is the tentacle_server configuration file given to -F
	// (TENTACLE_CONFIG_FILE or -F), "" if none.
	ConfigFile string
	// LogFile is the transfer log (TENTACLE_LOG_FILE), an absolute path.
	LogFile string
	// LogMaxSizeMB, LogMaxBackups and LogMaxAgeDays rotate the transfer
	// log (TENTACLE_LOG_MAX_SIZE, TENTACLE_LOG_MAX_BACKUPS,
	// TENTACLE_LOG_MAX_AGE). A zero LogMaxBackups keeps every rotated file,
	// a zero LogMaxAgeDays removes none for its age.
	LogMaxSizeMB, LogMaxBackups, LogMaxAgeDays int
	// LogCompress gzips rotated transfer logs (TENTACLE_LOG_COMPRESS).
	LogCompress bool
	// ShutdownTimeout is how long a stop waits for transfers in flight
	// before cutting them (TENTACLE_SHUTDOWN_TIMEOUT); zero cuts them at
	// once.
	ShutdownTimeout time.Duration
	// MonitorInterval is how often, in seconds, the daemon writes its own
	// health as a Pandora agent data file into the storage directory
	// (TENTACLE_MONITOR_INTERVAL); zero writes none.
	MonitorInterval int
	// MonitorAgent is the agent name of that report
	// (TENTACLE_MONITOR_AGENT); by default, when the report is on, the
	// host name followed by -tentacle.
	MonitorAgent string
	// MetricsAddr is the host:port where Prometheus metrics are served
	// (TENTACLE_METRICS_ADDR), "" for none.
	MetricsAddr string
	// ServerArgs is the tentacle_server argument list built from the
	// variables, in the order -s -p -a -U -F, then TENTACLE_EXT_OPTS (or
	// the default filters), so that the options in TENTACLE_EXT_OPTS come
	// last and win. It is what the administrator can run by hand to
	// reproduce the daemon's server.
	ServerArgs []string
	// Server is options.ParseServer(ServerArgs): the server's validated
	// settings. Daemon is always false: the service manager, not the
	// server, puts the daemon in the background.
	Server *options.Server
	// Warnings are notes about things accepted but probably not meant:
	// ignored variables, repeated keys, variables overridden by
	// TENTACLE_EXT_OPTS, and tentacle_server's own warnings (Server.Warnings
	// is included, so printing this list is enough).
	Warnings []string
}

// rotation returns the transfer log's rotation settings.
func (c *Config) rotation() transferlog.Rotation {
	return transferlog.Rotation{MaxSizeMB: c.LogMaxSizeMB, MaxBackups: c.LogMaxBackups, MaxAgeDays: c.LogMaxAgeDays, Compress: c.LogCompress}
}

// ConfigError reports what stops the daemon from starting: a line of the
// env file it cannot read, or a variable whose value it refuses. Its
// message starts with where to fix it: "path:line: " for the env file,
// "environment: " for a variable set in the process environment (systemd's
// Environment=), nothing for a default. Then comes the variable and its
// value, and the reason:
//
//	/etc/default/tentacle_serverd:12: TENTACLE_PORT "41x": must be a port number 1..65535
//
// The value of TENTACLE_EXT_OPTS is never shown, since it may hold the
// password given with -x.
type ConfigError struct {
	// File and Line locate the env file line at fault (Line is 0 when the
	// file as a whole is at fault, e.g. it cannot be read).
	File string
	Line int
	// Environment is set when the value came from the process environment.
	Environment bool
	// Key is the variable at fault, if known.
	Key string
	// Value is the rejected value; empty when not shown.
	Value string
	// Reason says what is wrong and what would be accepted; when empty,
	// Err's message is used.
	Reason string
	// Err is the underlying cause, such as the *options.UsageError or
	// *options.ValueError of tentacle_server's option parser or an
	// *fs.PathError, reachable through errors.Is and errors.As: a caller
	// that finds an *options.UsageError may print the server's usage.
	Err error
}

// Error formats the location, the variable and the reason in one line.
func (e *ConfigError) Error() string {
	var b strings.Builder
	switch {
	case e.File != "" && e.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", e.File, e.Line)
	case e.File != "":
		b.WriteString(e.File + ": ")
	case e.Environment:
		b.WriteString("environment: ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		if e.Value != "" {
			b.WriteString(" " + strconv.Quote(e.Value))
			if e.File == "" && !e.Environment {
				b.WriteString(" (default)")
			}
		}
		b.WriteString(": ")
	}
	if e.Reason != "" || e.Err == nil {
		b.WriteString(e.Reason)
	} else {
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap gives errors.Is and errors.As access to the cause.
func (e *ConfigError) Unwrap() error { return e.Err }

// Load reads envFile ("" for none; a missing one is an error only if
// mustExist, since the default files are optional) and lays environ
// (os.Environ() form, given by the caller, so that Load is testable) over
// it, then builds and parses tentacle_server's arguments.
//
// A variable set to "" counts as not set, so that the next source applies,
// except TENTACLE_EXT_OPTS: set, even empty, it replaces the default
// filters, as Pandora's init script's empty one does. Unknown TENTACLE_ and
// PANDORA_ keys in the file are errors, so that a typo cannot leave a
// setting at its default unnoticed. Every problem with the variables is
// reported at once, so that one restart shows them all: a *ConfigError, or
// several joined, one per line. An error of tentacle_server's options names
// the variable it came from, except one inside the -F file, which names
// that file already.
//
// With a -F file, the storage directory, port and filters are passed only
// when their variables are set, so that the file's keys apply as under
// Pandora's init script, which passed only -F and TENTACLE_EXT_OPTS; the
// daemon's directory and filters still fill in what the file lacks.
func Load(envFile string, mustExist bool, environ []string) (*Config, error) {
	l := &cfgLoader{vars: map[string]cfgVar{}}
	c := &Config{}
	if envFile != "" {
		vars, err := envfile.Read(envFile)
		switch {
		case err == nil:
			c.EnvFile = envFile
			l.fromFile(envFile, vars)
		case !mustExist && errors.Is(err, fs.ErrNotExist):
		default:
			return nil, envFileError(err)
		}
	}
	l.fromEnviron(environ)

	ext := l.variables(c)
	if err := l.joinedErrors(); err != nil {
		return nil, err
	}
	if err := l.server(c, ext); err != nil {
		return nil, err
	}
	c.Warnings = l.warnings
	return c, nil
}

// envFileError gives an error of the env file the type of Load's others.
func envFileError(err error) error {
	var fe *envfile.Error
	if !errors.As(err, &fe) {
		return err
	}
	return &ConfigError{File: fe.File, Line: fe.Line, Key: fe.Key, Reason: fe.Reason, Err: fe.Err}
}
