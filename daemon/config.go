package daemon

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"tentacle/envfile"
	"tentacle/options"
	"tentacle/setup"
	"tentacle/transferlog"
)

// Defaults of the settings that tentacle_server itself does not have. They
// are Pandora FMS's: its packages create these directories and expect these
// filters.
const (
	// DefaultStoragePath is where Pandora FMS servers pick up the files
	// that agents send (PANDORA_SERVER_PATH).
	DefaultStoragePath = "/var/spool/pandora/data_in"
	// DefaultFilters sorts what agents send into the subdirectories the
	// Pandora FMS server reads (the -i option used when TENTACLE_EXT_OPTS
	// is not set at all).
	DefaultFilters = `.*\.conf:conf;.*\.md5:md5;.*\.zip:collections;.*\.lock:trans;.*\.rcmd:commands`
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

// The variables the daemon reads.
const (
	keyStoragePath     = "PANDORA_SERVER_PATH"
	keyPort            = "TENTACLE_PORT"
	keyAddr            = "TENTACLE_ADDR"
	keyExtOpts         = "TENTACLE_EXT_OPTS"
	keyUser            = "TENTACLE_USER"
	keyConfigFile      = "TENTACLE_CONFIG_FILE"
	keyLogFile         = "TENTACLE_LOG_FILE"
	keyLogMaxSize      = "TENTACLE_LOG_MAX_SIZE"
	keyLogMaxBackups   = "TENTACLE_LOG_MAX_BACKUPS"
	keyLogMaxAge       = "TENTACLE_LOG_MAX_AGE"
	keyLogCompress     = "TENTACLE_LOG_COMPRESS"
	keyShutdownTimeout = "TENTACLE_SHUTDOWN_TIMEOUT"
)

// configKeys lists the variables in the order they are checked and
// reported.
var configKeys = []string{
	keyStoragePath, keyPort, keyAddr, keyUser, keyConfigFile, keyExtOpts,
	keyLogFile, keyLogMaxSize, keyLogMaxBackups, keyLogMaxAge, keyLogCompress,
	keyShutdownTimeout,
}

// legacyKeys are variables of Pandora's init script that may be copied into
// the env file; they mean nothing to tentacle_serverd, which runs the server
// itself, so they are ignored with a note rather than refused.
var legacyKeys = map[string]bool{"TENTACLE_DAEMON": true, "TENTACLE_PATH": true}

// keyOption maps the variables that become tentacle_server options to their
// letters: an error or an override on that letter is reported on the
// variable.
var keyOption = []struct {
	key    string
	letter byte
}{
	{keyStoragePath, 's'}, {keyPort, 'p'}, {keyAddr, 'a'}, {keyUser, 'U'}, {keyConfigFile, 'F'},
}

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

// cfgVar is a variable's value and where it came from.
type cfgVar struct {
	key, value string
	file       string // env file, "" if not from the file
	line       int
	env        bool // from the process environment
	set        bool // false: the default applies
}

// where names the origin of a variable for warnings.
func (v cfgVar) where() string {
	switch {
	case v.env:
		return "environment"
	case v.file != "":
		return fmt.Sprintf("%s:%d", v.file, v.line)
	}
	return "default"
}

// fail reports the variable's value as refused.
func (v cfgVar) fail(reason string) *ConfigError {
	return &ConfigError{File: v.file, Line: v.line, Environment: v.env, Key: v.key, Value: v.value, Reason: reason}
}

// failHidden reports the variable as refused without showing its value.
func (v cfgVar) failHidden(reason string, err error) *ConfigError {
	e := v.fail(reason)
	e.Value, e.Err = "", err
	return e
}

// cfgLoader collects the variables, then the errors and warnings, of one
// Load.
type cfgLoader struct {
	vars     map[string]cfgVar
	errs     []error
	warnings []string
}

// Load reads envFile (if not ""), overlays environ (os.Environ() format,
// passed by the caller — this package never reads the process environment
// itself, which keeps it testable), validates, and parses ServerArgs with
// options.ParseServer.
//
// A missing envFile is an error only if mustExist: the default files
// (/etc/default/tentacle_serverd, /etc/sysconfig/tentacle_serverd) are
// optional, one named with --env-file is not. A file that exists but cannot
// be read is always an error. Of environ, only the variables
// tentacle_serverd knows are used (other TENTACLE_ ones earn a warning); a
// later entry wins over an earlier one, as with os/exec.
//
// A variable set to the empty string counts as not set, so that the next
// source applies (an empty value in the environment leaves the file's;
// TENTACLE_ADDR=0 means all addresses explicitly), except TENTACLE_EXT_OPTS:
// set, even empty, it replaces the default filters entirely, as the empty
// TENTACLE_EXT_OPTS of Pandora's init script does.
//
// Keys of the env file that start with TENTACLE_ or PANDORA_ and that
// tentacle_serverd does not know are errors, so that a typo cannot silently
// leave a setting at its default; other keys are ignored with a warning.
// Every problem with the variables is reported at once, so that one
// restart shows them all: a single *ConfigError, or several joined with
// errors.Join (one per line). tentacle_server's options are only parsed
// when the variables are right; an error there is a *ConfigError too, on
// the variable the option came from, wrapping the *options.UsageError or
// *options.ValueError (except errors inside the -F file, which
// options.ParseServer already reports by file and key, and which are
// returned as they are).
//
// When no -F file is named, every setting is passed to tentacle_server, the
// defaults included. With a -F file (TENTACLE_CONFIG_FILE, or -F in
// TENTACLE_EXT_OPTS), the storage directory, the port and the filters are
// passed only when their variables are set, so that the file's directory,
// port and filters keys apply as they did under Pandora's init script, which
// gave tentacle_server only -F and TENTACLE_EXT_OPTS; the daemon's storage
// directory and filters are still used when the file has none.
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
	switch len(l.errs) {
	case 0:
	case 1:
		return nil, l.errs[0]
	default:
		// In file order, then those from the environment and defaults.
		slices.SortStableFunc(l.errs, func(a, b error) int {
			return cmp.Compare(errorLine(a), errorLine(b))
		})
		return nil, errors.Join(l.errs...)
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

// errorLine orders errors for reporting: the env file's by line, the
// others after them.
func errorLine(err error) int {
	if ce, ok := err.(*ConfigError); ok && ce.File != "" {
		return ce.Line
	}
	return math.MaxInt
}

// fromFile takes the env file's assignments; the last one of a key counts.
func (l *cfgLoader) fromFile(path string, vars []envfile.Var) {
	for _, v := range vars {
		at := fmt.Sprintf("%s:%d", path, v.Line)
		switch {
		case isConfigKey(v.Key):
			if prev, ok := l.vars[v.Key]; ok {
				l.warn("%s: %s is set again (also on line %d); this line counts", at, v.Key, prev.line)
			}
			l.vars[v.Key] = cfgVar{key: v.Key, value: v.Value, file: path, line: v.Line}
		case legacyKeys[v.Key]:
			l.warn("%s: %s is ignored: it belonged to Pandora's init script, and tentacle_serverd runs tentacle_server itself", at, v.Key)
		case strings.HasPrefix(v.Key, "TENTACLE_") || strings.HasPrefix(v.Key, "PANDORA_"):
			l.errs = append(l.errs, &ConfigError{File: path, Line: v.Line, Key: v.Key, Reason: "unknown setting" + suggestKey(v.Key) + "; the settings are " + strings.Join(configKeys, ", ")})
		default:
			l.warn("%s: %s is not a tentacle_serverd setting; ignored", at, v.Key)
		}
	}
}

// fromEnviron lays the environment's variables over the file's.
func (l *cfgLoader) fromEnviron(environ []string) {
	unknown := map[string]bool{}
	for _, kv := range environ {
		key, value, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		switch {
		case isConfigKey(key):
			if value != "" || key == keyExtOpts {
				l.vars[key] = cfgVar{key: key, value: value, env: true}
			}
		case strings.HasPrefix(key, "TENTACLE_") && !legacyKeys[key] && !unknown[key]:
			unknown[key] = true
			l.warn("environment: %s is not a tentacle_serverd setting; ignored%s", key, suggestKey(key))
		}
	}
}

// get returns a variable, with set false when the default applies.
func (l *cfgLoader) get(key string) cfgVar {
	v, ok := l.vars[key]
	if !ok {
		return cfgVar{key: key}
	}
	v.set = v.value != "" || key == keyExtOpts
	return v
}

func (l *cfgLoader) warn(format string, args ...any) {
	l.warnings = append(l.warnings, fmt.Sprintf(format, args...))
}

func (l *cfgLoader) fail(err error) { l.errs = append(l.errs, err) }

// variables checks the variables that are not tentacle_server options, and
// those of TENTACLE_USER, TENTACLE_PORT and TENTACLE_EXT_OPTS that the
// server's parser would report less clearly. It fills c and returns the
// options found in TENTACLE_EXT_OPTS.
func (l *cfgLoader) variables(c *Config) map[byte]bool {
	if v := l.get(keyPort); v.set {
		if _, ok := parseCfgInt(v.value, 1, 65535); !ok {
			l.fail(v.fail("must be a port number 1..65535"))
		}
	}
	if v := l.get(keyUser); v.set {
		if reason := checkUserName(v.value); reason != "" {
			l.fail(v.fail(reason))
		}
	}

	var ext map[byte]bool
	if v := l.get(keyExtOpts); v.set {
		words, err := envfile.SplitShellWords(v.value)
		if err != nil {
			l.fail(v.failHidden(err.Error(), nil))
		} else {
			c.ExtOpts = words
			ext = options.ScanServer(words)
			for _, letter := range []byte{'d', 'S', 'h', 'w'} {
				if ext[letter] {
					l.fail(v.failHidden(extForbidden[letter], nil))
				}
			}
		}
	}

	c.LogFile = DefaultLogFile
	if v := l.get(keyLogFile); v.set {
		if !strings.HasPrefix(v.value, "/") || strings.HasSuffix(v.value, "/") {
			l.fail(v.fail("must be the absolute path of a file, such as " + DefaultLogFile))
		} else {
			c.LogFile = v.value
		}
	}
	l.intVar(keyLogMaxSize, &c.LogMaxSizeMB, DefaultLogMaxSizeMB, 1, 1<<20, "must be a size in megabytes from 1 to 1048576")
	l.intVar(keyLogMaxBackups, &c.LogMaxBackups, DefaultLogMaxBackups, 0, 1<<20, "must be a number of files from 0 (keep all) to 1048576")
	l.intVar(keyLogMaxAge, &c.LogMaxAgeDays, DefaultLogMaxAgeDays, 0, 36500, "must be a number of days from 0 (keep whatever the age) to 36500")
	c.LogCompress = true
	if v := l.get(keyLogCompress); v.set {
		b, ok := parseCfgBool(v.value)
		if !ok {
			l.fail(v.fail("must be 1, yes, true or on to compress rotated logs, or 0, no, false or off"))
		}
		c.LogCompress = b
	}
	var seconds int
	l.intVar(keyShutdownTimeout, &seconds, int(DefaultShutdownTimeout/time.Second), 0, 3600, "must be a number of seconds from 0 (stop at once) to 3600")
	c.ShutdownTimeout = time.Duration(seconds) * time.Second
	return ext
}

// extForbidden explains the TENTACLE_EXT_OPTS options that make no sense
// for a service.
var extForbidden = map[byte]string{
	'd': "-d: tentacle_serverd must stay in the foreground, where the service manager starts, watches and stops it; remove -d",
	'S': "-S: it controls tentacle_server's Windows service; tentacle_serverd is itself the service, remove -S",
	'h': "-h: asking for help would stop the start; run tentacle_server -h to see the options, and remove -h",
	'w': setup.ErrPasswordPrompt.Error(),
}

// intVar reads a whole-number variable into dst, or its default.
func (l *cfgLoader) intVar(key string, dst *int, def, lo, hi int, reason string) {
	*dst = def
	v := l.get(key)
	if !v.set {
		return
	}
	n, ok := parseCfgInt(v.value, lo, hi)
	if !ok {
		l.fail(v.fail(reason))
		return
	}
	*dst = n
}

// server builds the tentacle_server arguments, parses them and fills the
// rest of c.
func (l *cfgLoader) server(c *Config, ext map[byte]bool) error {
	storage, port, addr := l.get(keyStoragePath), l.get(keyPort), l.get(keyAddr)
	user, conf, extVar := l.get(keyUser), l.get(keyConfigFile), l.get(keyExtOpts)
	hasConf := conf.set || ext['F']

	withStorage := storage.set || !hasConf && !ext['b']
	withFilters := !extVar.set && !hasConf
	build := func() []string {
		var args []string
		if withStorage {
			args = append(args, "-s", valueOr(storage, DefaultStoragePath))
		}
		if port.set || !hasConf {
			args = append(args, "-p", valueOr(port, strconv.Itoa(options.DefaultPort)))
		}
		if addr.set {
			args = append(args, "-a", addr.value)
		}
		args = append(args, "-U", valueOr(user, options.DefaultUser))
		if conf.set {
			args = append(args, "-F", conf.value)
		}
		if extVar.set {
			args = append(args, c.ExtOpts...)
		} else if withFilters {
			args = append(args, "-i", DefaultFilters)
		}
		return args
	}

	args := build()
	srv, err := options.ParseServer(args)
	var usage *options.UsageError
	if err != nil && !withStorage && !ext['s'] && errors.As(err, &usage) && usage.Option == "-s" {
		// The -F file has no directory either: use the daemon's.
		withStorage = true
		args = build()
		srv, err = options.ParseServer(args)
	}
	if err == nil && !withFilters && !extVar.set && srv.Filters == "" {
		// Nor has it filters: Pandora FMS needs its own.
		withFilters = true
		args = build()
		srv, err = options.ParseServer(args)
	}
	if err != nil {
		return l.attribute(err, ext)
	}

	for _, o := range keyOption {
		if v := l.get(o.key); v.set && ext[o.letter] {
			l.warn("%s: %s is overridden by -%c in %s (%s)", v.where(), o.key, o.letter, keyExtOpts, extVar.where())
		}
	}
	if srv.Daemon {
		// Only the -F file can have set it: -d itself was refused.
		l.warn("config %s: daemon 1 is ignored: tentacle_serverd stays in the foreground, where the service manager watches it", srv.ConfigFile)
		srv.Daemon = false
	}
	l.warnings = append(l.warnings, srv.Warnings...)

	c.ServerArgs, c.Server = args, srv
	c.StoragePath, c.Port, c.User, c.ConfigFile = srv.Directory, srv.Port, srv.User, srv.ConfigFile
	c.Addr = strings.Join(srv.Addresses, ",")
	if c.Addr == "0" {
		c.Addr = ""
	}
	return nil
}

// attribute turns an error of options.ParseServer into one naming the
// variable the offending argument came from. The arguments built from the
// variables are always well formed, so usage errors come from
// TENTACLE_EXT_OPTS, as do errors on any option it gives (it comes last, so
// its value is the one used). Errors inside the -F file already name that
// file and key, and are returned as they are.
func (l *cfgLoader) attribute(err error, ext map[byte]bool) error {
	extVar := l.get(keyExtOpts)
	var ve *options.ValueError
	if !errors.As(err, &ve) {
		if extVar.set {
			return extVar.failHidden("", err)
		}
		return err
	}
	if ve.File != "" || len(ve.Option) != 2 {
		return err
	}
	letter := ve.Option[1]
	if ext[letter] {
		return extVar.failHidden("", err)
	}
	for _, o := range keyOption {
		if o.letter != letter {
			continue
		}
		v := l.get(o.key)
		reason := ve.Reason
		if ve.Err != nil {
			reason += ": " + options.CauseText(ve.Err)
		}
		e := v.fail(reason)
		e.Value, e.Err = ve.Value, err
		return e
	}
	return err
}

// valueOr returns the variable's value, or def when it is not set.
func valueOr(v cfgVar, def string) string {
	if v.set {
		return v.value
	}
	return def
}

// isConfigKey reports whether key is one of the daemon's variables.
func isConfigKey(key string) bool {
	for _, k := range configKeys {
		if k == key {
			return true
		}
	}
	return false
}

// parseCfgInt reads a whole number in [lo, hi]: plain decimal digits, as
// tentacle_server's options are, no sign and no blanks.
func parseCfgInt(s string, lo, hi int) (int, bool) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, false
	}
	return n, true
}

// parseCfgBool reads the usual ways of writing on and off in configuration
// files, in any case.
func parseCfgBool(s string) (value, ok bool) {
	switch strings.ToLower(s) {
	case "1", "yes", "true", "on":
		return true, true
	case "0", "no", "false", "off":
		return false, true
	}
	return false, false
}

// checkUserName refuses what cannot be a user name or ID, leaving the
// lookup to the daemon's start (the account may not exist where the
// configuration is checked).
func checkUserName(s string) string {
	if strings.HasPrefix(s, "-") {
		return "must be a user name or numeric ID, not starting with -"
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r == ':' || r == '/' {
			return fmt.Sprintf("must be a user name or numeric ID; %q cannot be part of one", string(r))
		}
	}
	return ""
}

// suggestKey proposes the known variable closest to a misspelt one.
func suggestKey(key string) string {
	best, bestDist := "", 3
	for _, k := range configKeys {
		if d := editDistance(key, k); d < bestDist {
			best, bestDist = k, d
		}
	}
	if best == "" {
		return ""
	}
	return " (did you mean " + best + "?)"
}

// editDistance is the Levenshtein distance between a and b, in bytes (the
// keys are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
