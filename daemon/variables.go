package daemon

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"tentacle/envfile"
	"tentacle/protocol"
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
	keyMonitorInterval = "TENTACLE_MONITOR_INTERVAL"
	keyMonitorAgent    = "TENTACLE_MONITOR_AGENT"
	keyMetricsAddr     = "TENTACLE_METRICS_ADDR"
)

// configKeys lists the variables in the order they are checked and
// reported.
var configKeys = []string{
	keyStoragePath, keyPort, keyAddr, keyUser, keyConfigFile, keyExtOpts,
	keyLogFile, keyLogMaxSize, keyLogMaxBackups, keyLogMaxAge, keyLogCompress,
	keyShutdownTimeout, keyMonitorInterval, keyMonitorAgent, keyMetricsAddr,
}

// legacyKeys are variables of Pandora's init script that may be copied into
// the env file; they mean nothing to tentacle_serverd, which runs the server
// itself, so they are ignored with a note rather than refused.
var legacyKeys = map[string]bool{"TENTACLE_DAEMON": true, "TENTACLE_PATH": true}

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

// joinedErrors is nil, the one error, or all of them in file order, then
// those of the environment and the defaults.
func (l *cfgLoader) joinedErrors() error {
	switch len(l.errs) {
	case 0:
		return nil
	case 1:
		return l.errs[0]
	}
	slices.SortStableFunc(l.errs, func(a, b error) int {
		return cmp.Compare(errorLine(a), errorLine(b))
	})
	return errors.Join(l.errs...)
}

// errorLine orders errors for reporting: the env file's by line, the
// others after them.
func errorLine(err error) int {
	if ce, ok := err.(*ConfigError); ok && ce.File != "" {
		return ce.Line
	}
	return math.MaxInt
}

// variables checks the variables that are not tentacle_server options, and
// TENTACLE_PORT, TENTACLE_USER and TENTACLE_EXT_OPTS, which the server's
// parser would report less clearly. It fills c and returns the option
// letters TENTACLE_EXT_OPTS gives.
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

	ext := l.extOptions(c)

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
	l.monitor(c)
	if v := l.get(keyMetricsAddr); v.set {
		if reason := checkListenAddr(v.value); reason != "" {
			l.fail(v.fail(reason))
		} else {
			c.MetricsAddr = v.value
		}
	}
	return ext
}

// checkListenAddr refuses what net.Listen could not take as a TCP
// host:port, so that the mistake shows at start and reload, not as a
// failed bind.
func checkListenAddr(s string) string {
	const want = "must be host:port, such as 127.0.0.1:9121 or [::1]:9121"
	host, port, err := net.SplitHostPort(s)
	if err != nil || strings.ContainsAny(host, " /") {
		return want
	}
	if _, ok := parseCfgInt(port, 1, 65535); !ok {
		return want + ", with a port number 1..65535"
	}
	return ""
}

// monitor reads the self-report's settings. The agent name is checked
// even while the report is off, so that a typo shows before it is turned
// on; the host name default is only looked up when the report is on.
func (l *cfgLoader) monitor(c *Config) {
	l.intVar(keyMonitorInterval, &c.MonitorInterval, 0, 1, maxMonitorInterval, fmt.Sprintf("must be a number of seconds from 1 to %d (unset: no report)", maxMonitorInterval))
	if v := l.get(keyMonitorAgent); v.set {
		if reason := checkAgentName(v.value); reason != "" {
			l.fail(v.fail(reason))
			return
		}
		c.MonitorAgent = v.value
	} else if c.MonitorInterval > 0 {
		c.MonitorAgent = defaultMonitorAgent()
	}
}

// checkAgentName refuses an agent name that cannot start a data file's
// name: one that protocol.CheckName would refuse in an upload, or a hidden
// one, which the Pandora data server would skip.
func checkAgentName(name string) string {
	if strings.HasPrefix(name, ".") {
		return "must be an agent name not starting with ."
	}
	if err := protocol.CheckName(name+".0000000000.data", ""); err != nil {
		return "must be an agent name fit for a file name: " + err.Error()
	}
	return ""
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

// Variables returns the names of the variables the daemon reads, in the
// order they are checked, so that a test can hold the documentation to
// this table rather than to a copy of it.
func Variables() []string { return slices.Clone(configKeys) }
