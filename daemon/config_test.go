package daemon

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"tentacle/options"
	"tentacle/setup"
	"tentacle/transferlog"
)

// loadFixture is a temporary directory with a storage directory and the
// names of an env file and a -F file in it.
type loadFixture struct {
	dir, storage, envFile, confFile string
}

func newLoadFixture(t *testing.T) *loadFixture {
	t.Helper()
	dir := t.TempDir()
	f := &loadFixture{
		dir:      dir,
		storage:  filepath.Join(dir, "data_in"),
		envFile:  filepath.Join(dir, "tentacle_serverd"),
		confFile: filepath.Join(dir, "tentacle_server.conf"),
	}
	if err := os.Mkdir(f.storage, 0o755); err != nil {
		t.Fatal(err)
	}
	return f
}

// expand replaces {storage}, {dir}, {env} and {conf} in s.
func (f *loadFixture) expand(s string) string {
	return strings.NewReplacer("{storage}", f.storage, "{dir}", f.dir, "{env}", f.envFile, "{conf}", f.confFile).Replace(s)
}

func (f *loadFixture) write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(f.expand(content)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// load writes the env file (unless content is "-") and calls Load with the
// expanded environment.
func (f *loadFixture) load(t *testing.T, content string, environ ...string) (*Config, error) {
	t.Helper()
	if content != "-" {
		f.write(t, f.envFile, content)
	}
	env := make([]string, len(environ))
	for i, kv := range environ {
		env[i] = f.expand(kv)
	}
	return Load(f.envFile, true, env)
}

func TestLoadDefaults(t *testing.T) {
	f := newLoadFixture(t)
	c, err := Load(filepath.Join(f.dir, "absent"), false, []string{"PANDORA_SERVER_PATH=" + f.storage, "PATH=/usr/bin", "HOME=/root"})
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		StoragePath:     f.storage,
		Port:            41121,
		User:            "pandora",
		LogFile:         "/var/log/tentacle/transfers.log",
		LogMaxSizeMB:    100,
		LogMaxBackups:   10,
		LogMaxAgeDays:   30,
		LogCompress:     true,
		ShutdownTimeout: 30 * time.Second,
		ServerArgs:      []string{"-s", f.storage, "-p", "41121", "-U", "pandora", "-i", defaultFilters},
	}
	srv := c.Server
	c.Server = nil
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Load defaults:\n got %+v\nwant %+v", c, want)
	}
	if srv == nil || srv.Directory != f.storage || srv.Port != 41121 || srv.User != "pandora" || srv.Filters != defaultFilters || srv.Daemon || len(srv.Addresses) != 0 {
		t.Errorf("Server = %+v", srv)
	}
}

// missingDefaultStorage points the default storage directory at one that
// does not exist, for the test's duration.
func missingDefaultStorage(t *testing.T) string {
	t.Helper()
	if defaultStoragePath != "/var/spool/pandora/data_in" {
		t.Fatalf("the default storage directory is %q, want Pandora FMS's", defaultStoragePath)
	}
	missing := filepath.Join(t.TempDir(), "data_in")
	defaultStoragePath = missing
	t.Cleanup(func() { defaultStoragePath = DefaultStoragePath })
	return missing
}

func TestLoadDefaultStorageMissing(t *testing.T) {
	missing := missingDefaultStorage(t)
	_, err := Load("", false, nil)
	want := `PANDORA_SERVER_PATH "` + missing + `" (default): the storage directory does not exist`
	if err == nil || err.Error() != want {
		t.Errorf("Load with the default storage missing:\n got %v\nwant %s", err, want)
	}
}

func TestLoadFileValues(t *testing.T) {
	f := newLoadFixture(t)
	c, err := f.load(t, `# tentacle_serverd settings
PANDORA_SERVER_PATH={storage}
TENTACLE_PORT=5000
TENTACLE_ADDR="127.0.0.1, ::1"
export TENTACLE_USER=nobody
TENTACLE_EXT_OPTS="-v -x 'my pass' -i '.*\.conf:conf'"
TENTACLE_LOG_FILE=/var/log/t/records.log
TENTACLE_LOG_MAX_SIZE=5
TENTACLE_LOG_MAX_BACKUPS=0
TENTACLE_LOG_MAX_AGE=7
TENTACLE_LOG_COMPRESS=Off
TENTACLE_SHUTDOWN_TIMEOUT=0
TENTACLE_MONITOR_INTERVAL=300
TENTACLE_MONITOR_AGENT=spool-é
TENTACLE_METRICS_ADDR=[::1]:9121
`)
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		EnvFile:         f.envFile,
		StoragePath:     f.storage,
		Port:            5000,
		Addr:            "127.0.0.1,::1",
		ExtOpts:         []string{"-v", "-x", "my pass", "-i", `.*\.conf:conf`},
		User:            "nobody",
		LogFile:         "/var/log/t/records.log",
		LogMaxSizeMB:    5,
		LogMaxBackups:   0,
		LogMaxAgeDays:   7,
		LogCompress:     false,
		ShutdownTimeout: 0,
		MonitorInterval: 300,
		MonitorAgent:    "spool-é",
		MetricsAddr:     "[::1]:9121",
		ServerArgs: []string{"-s", f.storage, "-p", "5000", "-a", "127.0.0.1, ::1", "-U", "nobody",
			"-v", "-x", "my pass", "-i", `.*\.conf:conf`},
	}
	srv := c.Server
	c.Server = nil
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Load:\n got %+v\nwant %+v", c, want)
	}
	if srv.Password != "my pass" || srv.Verbosity != 1 || srv.Filters != `.*\.conf:conf` || srv.Port != 5000 ||
		!reflect.DeepEqual(srv.Addresses, []string{"127.0.0.1", "::1"}) {
		t.Errorf("Server = %+v", srv)
	}
	if got := c.rotation(); got != (transferlog.Rotation{MaxSizeMB: 5, MaxBackups: 0, MaxAgeDays: 7, Compress: false}) {
		t.Errorf("rotation() = %+v", got)
	}
}

func TestLoadPrecedence(t *testing.T) {
	tests := []struct {
		name     string
		file     string
		environ  []string
		check    func(*Config) bool
		warnings []string // substrings, one per warning expected
	}{
		{
			name:    "environment wins over the file",
			file:    "PANDORA_SERVER_PATH=/nonexistent\nTENTACLE_PORT=5000\nTENTACLE_USER=nobody\n",
			environ: []string{"PANDORA_SERVER_PATH={storage}", "TENTACLE_PORT=6000"},
			check:   func(c *Config) bool { return c.Port == 6000 && c.StoragePath != "/nonexistent" && c.User == "nobody" },
		},
		{
			name:    "an empty environment variable leaves the file's",
			file:    "PANDORA_SERVER_PATH={storage}\nTENTACLE_PORT=5000\n",
			environ: []string{"TENTACLE_PORT="},
			check:   func(c *Config) bool { return c.Port == 5000 },
		},
		{
			name:  "an empty file value is the default",
			file:  "PANDORA_SERVER_PATH={storage}\nTENTACLE_PORT=\nTENTACLE_LOG_COMPRESS=''\n",
			check: func(c *Config) bool { return c.Port == 41121 && c.LogCompress },
		},
		{
			name:    "a later environment entry wins",
			file:    "PANDORA_SERVER_PATH={storage}\n",
			environ: []string{"TENTACLE_PORT=6000", "TENTACLE_PORT=7000"},
			check:   func(c *Config) bool { return c.Port == 7000 },
		},
		{
			name:     "TENTACLE_EXT_OPTS wins over the keys",
			file:     "PANDORA_SERVER_PATH={storage}\nTENTACLE_PORT=6000\nTENTACLE_EXT_OPTS='-p 5000'\n",
			check:    func(c *Config) bool { return c.Port == 5000 && c.Server.Port == 5000 && c.ServerArgs[3] == "6000" },
			warnings: []string{"{env}:2: TENTACLE_PORT is overridden by -p in TENTACLE_EXT_OPTS ({env}:3)"},
		},
		{
			name:     "TENTACLE_EXT_OPTS from the environment wins too",
			file:     "PANDORA_SERVER_PATH=/nonexistent\nTENTACLE_USER=nobody\n",
			environ:  []string{"TENTACLE_EXT_OPTS=-s {storage} -Udaemon"},
			check:    func(c *Config) bool { return c.StoragePath == c.Server.Directory && c.User == "daemon" },
			warnings: []string{"{env}:1: PANDORA_SERVER_PATH is overridden by -s in TENTACLE_EXT_OPTS (environment)", "{env}:2: TENTACLE_USER is overridden by -U"},
		},
		{
			name: "empty TENTACLE_EXT_OPTS drops the default filters",
			file: "PANDORA_SERVER_PATH={storage}\nTENTACLE_EXT_OPTS=\n",
			check: func(c *Config) bool {
				return c.Server.Filters == "" && len(c.ExtOpts) == 0 && c.ExtOpts != nil && len(c.ServerArgs) == 6
			},
			environ: nil,
		},
		{
			name:    "empty TENTACLE_EXT_OPTS in the environment wins over the file's",
			file:    "PANDORA_SERVER_PATH={storage}\nTENTACLE_EXT_OPTS=-v\n",
			environ: []string{"TENTACLE_EXT_OPTS="},
			check:   func(c *Config) bool { return c.Server.Verbosity == 0 && c.Server.Filters == "" },
		},
		{
			name:  "TENTACLE_EXT_OPTS without -i has no filters",
			file:  "PANDORA_SERVER_PATH={storage}\nTENTACLE_EXT_OPTS=-o\n",
			check: func(c *Config) bool { return c.Server.Filters == "" && c.Server.Overwrite },
		},
		{
			name:  "a value after -x is not an option",
			file:  "PANDORA_SERVER_PATH={storage}\nTENTACLE_EXT_OPTS='-x -d -I'\n",
			check: func(c *Config) bool { return c.Server.Password == "-d" && c.Server.Insecure && !c.Server.Daemon },
		},
		{
			name:  "relaying needs no storage",
			file:  "TENTACLE_EXT_OPTS='-b 192.0.2.1'\n",
			check: func(c *Config) bool { return c.StoragePath == "" && c.Server.ProxyAddress == "192.0.2.1" },
		},
		{
			name:  "TENTACLE_ADDR=0 is all addresses",
			file:  "PANDORA_SERVER_PATH={storage}\nTENTACLE_ADDR=0\n",
			check: func(c *Config) bool { return c.Addr == "" },
		},
		{
			name:    "booleans",
			file:    "PANDORA_SERVER_PATH={storage}\nTENTACLE_LOG_COMPRESS=no\n",
			environ: []string{"TENTACLE_LOG_COMPRESS=YES"},
			check:   func(c *Config) bool { return c.LogCompress },
		},
		{
			name:     "repeated key",
			file:     "PANDORA_SERVER_PATH={storage}\nTENTACLE_PORT=1\nTENTACLE_PORT=2\n",
			check:    func(c *Config) bool { return c.Port == 2 },
			warnings: []string{"{env}:3: TENTACLE_PORT is set again (also on line 2); this line counts"},
		},
		{
			name:     "other keys are ignored with a warning",
			file:     "PANDORA_SERVER_PATH={storage}\nMAXWAIT=60\nTENTACLE_PATH=/usr/bin\n",
			environ:  []string{"TENTACLE_PROT=1", "PANDORA_HOME=/x", "TENTACLE_DAEMON=x"},
			check:    func(c *Config) bool { return c.Port == 41121 },
			warnings: []string{"{env}:2: MAXWAIT is not a tentacle_serverd setting; ignored", "{env}:3: TENTACLE_PATH is ignored", "environment: TENTACLE_PROT is not a tentacle_serverd setting; ignored (did you mean TENTACLE_PORT?)"},
		},
		{
			name:     "tentacle_server's warnings are included",
			file:     "PANDORA_SERVER_PATH={storage}\nTENTACLE_EXT_OPTS='-g 5000'\n",
			check:    func(c *Config) bool { return len(c.Server.Warnings) == 1 },
			warnings: []string{"-g (proxy_port) has no effect"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newLoadFixture(t)
			c, err := f.load(t, tt.file, tt.environ...)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Errorf("unexpected configuration: %+v\nserver: %+v", c, c.Server)
			}
			if len(c.Warnings) != len(tt.warnings) {
				t.Errorf("warnings = %q, want %d", c.Warnings, len(tt.warnings))
			}
			for _, w := range tt.warnings {
				w = f.expand(w)
				found := false
				for _, got := range c.Warnings {
					found = found || strings.Contains(got, w)
				}
				if !found {
					t.Errorf("no warning %q in %q", w, c.Warnings)
				}
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		environ []string
		want    string // the whole message, expanded
		as      any    // nil, or a pointer to the error type Unwrap must reach
	}{
		{
			name: "bad port in the file",
			file: "PANDORA_SERVER_PATH={storage}\nTENTACLE_PORT=41x\n",
			want: `{env}:2: TENTACLE_PORT "41x": must be a port number 1..65535`,
		},
		{
			name:    "bad port in the environment",
			file:    "PANDORA_SERVER_PATH={storage}\n",
			environ: []string{"TENTACLE_PORT=70000"},
			want:    `environment: TENTACLE_PORT "70000": must be a port number 1..65535`,
		},
		{
			name: "every bad value at once",
			file: "PANDORA_SERVER_PATH={storage}\nTENTACLE_LOG_MAX_SIZE=0\nTENTACLE_LOG_COMPRESS=maybe\nTENTACLE_SHUTDOWN_TIMEOUT=30s\n",
			want: `{env}:2: TENTACLE_LOG_MAX_SIZE "0": must be a size in megabytes from 1 to 1048576` + "\n" +
				`{env}:3: TENTACLE_LOG_COMPRESS "maybe": must be 1, yes, true or on to compress rotated logs, or 0, no, false or off` + "\n" +
				`{env}:4: TENTACLE_SHUTDOWN_TIMEOUT "30s": must be a number of seconds from 0 (stop at once) to 3600`,
		},
		{
			name:    "errors in file order, then the environment's",
			file:    "TENTACLE_USER=-u\nTENTACLE_PORTS=1\nTENTACLE_PORT=x\n",
			environ: []string{"TENTACLE_LOG_MAX_AGE=old"},
			want: `{env}:1: TENTACLE_USER "-u": must be a user name or numeric ID, not starting with -` + "\n" +
				"{env}:2: TENTACLE_PORTS: unknown setting (did you mean TENTACLE_PORT?); the settings are " + strings.Join(configKeys, ", ") + "\n" +
				`{env}:3: TENTACLE_PORT "x": must be a port number 1..65535` + "\n" +
				`environment: TENTACLE_LOG_MAX_AGE "old": must be a number of days from 0 (keep whatever the age) to 36500`,
		},
		{
			name: "monitor settings",
			file: "TENTACLE_MONITOR_INTERVAL=5m\nTENTACLE_MONITOR_AGENT=a/b\n",
			want: `{env}:1: TENTACLE_MONITOR_INTERVAL "5m": must be a number of seconds from 1 to 86400 (unset: no report)` + "\n" +
				`{env}:2: TENTACLE_MONITOR_AGENT "a/b": must be an agent name fit for a file name: invalid file name: character '/' is not allowed`,
		},
		{
			name:    "monitor interval zero",
			file:    "PANDORA_SERVER_PATH={storage}\n",
			environ: []string{"TENTACLE_MONITOR_INTERVAL=0"},
			want:    `environment: TENTACLE_MONITOR_INTERVAL "0": must be a number of seconds from 1 to 86400 (unset: no report)`,
		},
		{
			name: "metrics address without a port",
			file: "TENTACLE_METRICS_ADDR=localhost\n",
			want: `{env}:1: TENTACLE_METRICS_ADDR "localhost": must be host:port, such as 127.0.0.1:9121 or [::1]:9121`,
		},
		{
			name:    "metrics port out of range",
			file:    "PANDORA_SERVER_PATH={storage}\n",
			environ: []string{"TENTACLE_METRICS_ADDR=127.0.0.1:70000"},
			want:    `environment: TENTACLE_METRICS_ADDR "127.0.0.1:70000": must be host:port, such as 127.0.0.1:9121 or [::1]:9121, with a port number 1..65535`,
		},
		{
			name: "hidden monitor agent",
			file: "TENTACLE_MONITOR_AGENT=.x\n",
			want: `{env}:1: TENTACLE_MONITOR_AGENT ".x": must be an agent name not starting with .`,
		},
		{
			name: "log backups",
			file: "TENTACLE_LOG_MAX_BACKUPS=-1\n",
			want: `{env}:1: TENTACLE_LOG_MAX_BACKUPS "-1": must be a number of files from 0 (keep all) to 1048576`,
		},
		{
			name: "log age",
			file: "TENTACLE_LOG_MAX_AGE=36501\n",
			want: `{env}:1: TENTACLE_LOG_MAX_AGE "36501": must be a number of days from 0 (keep whatever the age) to 36500`,
		},
		{
			name: "relative log file",
			file: "TENTACLE_LOG_FILE=transfers.log\n",
			want: `{env}:1: TENTACLE_LOG_FILE "transfers.log": must be the absolute path of a file, such as /var/log/tentacle/transfers.log`,
		},
		{
			name: "bad user",
			file: "TENTACLE_USER='pan dora'\n",
			want: `{env}:1: TENTACLE_USER "pan dora": must be a user name or numeric ID; " " cannot be part of one`,
		},
		{
			name: "user like an option",
			file: "TENTACLE_USER=-x\n",
			want: `{env}:1: TENTACLE_USER "-x": must be a user name or numeric ID, not starting with -`,
		},
		{
			name: "unknown TENTACLE_ key",
			file: "PANDORA_SERVER_PATH={storage}\nTENTACLE_PROT=5000\n",
			want: "{env}:2: TENTACLE_PROT: unknown setting (did you mean TENTACLE_PORT?); the settings are " + strings.Join(configKeys, ", "),
		},
		{
			name: "unknown PANDORA_ key",
			file: "PANDORA_SERVER=x\n",
			want: "{env}:1: PANDORA_SERVER: unknown setting; the settings are " + strings.Join(configKeys, ", "),
		},
		{
			name: "syntax error",
			file: "# settings\nTENTACLE_PORT = 5000\n",
			want: `{env}:2: TENTACLE_PORT: blanks before "=": write TENTACLE_PORT=value, with nothing between the name, "=" and the value`,
		},
		{
			name: "missing storage from the file",
			file: "\nPANDORA_SERVER_PATH={dir}/missing\n",
			want: `{env}:2: PANDORA_SERVER_PATH "{dir}/missing": the storage directory does not exist`,
			as:   new(*options.ValueError),
		},
		{
			name:    "missing storage from the environment",
			environ: []string{"PANDORA_SERVER_PATH={env}"},
			want:    `environment: PANDORA_SERVER_PATH "{env}": the storage directory is not a directory`,
		},
		{
			name: "bad address",
			file: "PANDORA_SERVER_PATH={storage}\nTENTACLE_ADDR=1.2.3.4,\n",
			want: `{env}:2: TENTACLE_ADDR "1.2.3.4,": empty address in the list; give IP addresses or host names separated by commas, or 0 for all addresses`,
		},
		{
			name: "missing -F file",
			file: "PANDORA_SERVER_PATH={storage}\nTENTACLE_CONFIG_FILE={dir}/none.conf\n",
			want: `{env}:2: TENTACLE_CONFIG_FILE "{dir}/none.conf": cannot read the configuration file: no such file or directory`,
			as:   new(*fs.PathError),
		},
		{
			name: "-d in TENTACLE_EXT_OPTS",
			file: "PANDORA_SERVER_PATH={storage}\nTENTACLE_EXT_OPTS=\"-v -d\"\n",
			want: "{env}:2: TENTACLE_EXT_OPTS: -d: tentacle_serverd must stay in the foreground, where the service manager starts, watches and stops it; remove -d",
		},
		{
			name:    "bundled -d in TENTACLE_EXT_OPTS from the environment",
			environ: []string{"TENTACLE_EXT_OPTS=-vdo"},
			want:    "environment: TENTACLE_EXT_OPTS: -d: tentacle_serverd must stay in the foreground, where the service manager starts, watches and stops it; remove -d",
		},
		{
			name: "-S and -h in TENTACLE_EXT_OPTS",
			file: "TENTACLE_EXT_OPTS='-S install -h'\n",
			want: "{env}:1: TENTACLE_EXT_OPTS: -S: it controls tentacle_server's Windows service; tentacle_serverd is itself the service, remove -S\n" +
				"{env}:1: TENTACLE_EXT_OPTS: -h: asking for help would stop the start; run tentacle_server -h to see the options, and remove -h",
		},
		{
			name: "--help in TENTACLE_EXT_OPTS",
			file: "TENTACLE_EXT_OPTS=--help\n",
			want: "{env}:1: TENTACLE_EXT_OPTS: -h: asking for help would stop the start; run tentacle_server -h to see the options, and remove -h",
		},
		{
			name: "-w in TENTACLE_EXT_OPTS",
			file: "TENTACLE_EXT_OPTS='-w'\n",
			want: "{env}:1: TENTACLE_EXT_OPTS: " + setup.ErrPasswordPrompt.Error(),
		},
		{
			name: "unknown option in TENTACLE_EXT_OPTS",
			file: "PANDORA_SERVER_PATH={storage}\n\nTENTACLE_EXT_OPTS='-x secret -j'\n",
			want: "{env}:3: TENTACLE_EXT_OPTS: -j: unknown option; the options are -a -b -c -d -e -f -F -g -h -i -I -k -l -m -o -p -P -q -r -s -S -t -T -u -U -v -V -w -x -z",
			as:   new(*options.UsageError),
		},
		{
			name: "missing option value in TENTACLE_EXT_OPTS",
			file: "PANDORA_SERVER_PATH={storage}\nTENTACLE_EXT_OPTS='-v -p'\n",
			want: "{env}:2: TENTACLE_EXT_OPTS: -p: missing value; write -p PORT (TCP port to listen on)",
			as:   new(*options.UsageError),
		},
		{
			name: "argument in TENTACLE_EXT_OPTS",
			file: "PANDORA_SERVER_PATH={storage}\nTENTACLE_EXT_OPTS='-v stray'\n",
			want: "{env}:2: TENTACLE_EXT_OPTS: unexpected argument stray: the server takes only options (and none are read after the first argument that is not one)",
		},
		{
			name: "bad value in TENTACLE_EXT_OPTS",
			file: "PANDORA_SERVER_PATH={storage}\nTENTACLE_PORT=5000\nTENTACLE_EXT_OPTS=-p70000\n",
			want: "{env}:3: TENTACLE_EXT_OPTS: -p 70000: port must be a whole number from 1 to 65535",
			as:   new(*options.ValueError),
		},
		{
			name: "storage from TENTACLE_EXT_OPTS",
			file: "PANDORA_SERVER_PATH={storage}\nTENTACLE_EXT_OPTS='-s {dir}/missing'\n",
			want: "{env}:2: TENTACLE_EXT_OPTS: -s {dir}/missing: the storage directory does not exist",
		},
		{
			name: "TENTACLE_EXT_OPTS that a shell would expand",
			file: "PANDORA_SERVER_PATH={storage}\nTENTACLE_EXT_OPTS='-x $PASSWORD'\n",
			want: `{env}:2: TENTACLE_EXT_OPTS: character 4: "$" outside quotes: nothing is expanded or run here (a shell would see a variable or command substitution); for a literal "$" use single quotes or \$`,
		},
		{
			name: "TENTACLE_EXT_OPTS with an unterminated quote",
			file: "TENTACLE_EXT_OPTS=\"-x 'my pass\"\n",
			want: `{env}:1: TENTACLE_EXT_OPTS: character 4: unterminated single quote: add the closing ' (on the same line)`,
		},
		{
			name: "TENTACLE_EXT_OPTS pointing at a bad -F file",
			file: "PANDORA_SERVER_PATH={storage}\nTENTACLE_EXT_OPTS='-F {dir}/none.conf'\n",
			want: "{env}:2: TENTACLE_EXT_OPTS: -F {dir}/none.conf: cannot read the configuration file: no such file or directory",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newLoadFixture(t)
			c, err := f.load(t, tt.file, tt.environ...)
			if err == nil {
				t.Fatalf("Load = %+v, want an error", c)
			}
			if want := f.expand(tt.want); err.Error() != want {
				t.Errorf("Load error:\n got %s\nwant %s", err, want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("the error shows the -x password: %v", err)
			}
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Errorf("error %T is not a *ConfigError", err)
			}
			if _, single := err.(*ConfigError); !single && !strings.Contains(tt.want, "\n") {
				t.Errorf("a single error comes as %T, not as a *ConfigError", err)
			}
			if tt.as != nil && !errors.As(err, tt.as) {
				t.Errorf("error %v does not unwrap to %T", err, tt.as)
			}
		})
	}
}

func TestLoadEnvFileExistence(t *testing.T) {
	f := newLoadFixture(t)
	missing := filepath.Join(f.dir, "absent")
	env := []string{"PANDORA_SERVER_PATH=" + f.storage}

	c, err := Load(missing, false, env)
	if err != nil || c.EnvFile != "" {
		t.Errorf("missing default file: %v, EnvFile %q", err, c.EnvFile)
	}
	c, err = Load("", false, env)
	if err != nil || c.EnvFile != "" {
		t.Errorf("no file: %v, EnvFile %q", err, c.EnvFile)
	}
	_, err = Load(missing, true, env)
	if !errors.Is(err, fs.ErrNotExist) || err.Error() != missing+": cannot read the env file: no such file or directory" {
		t.Errorf("missing --env-file: got %v", err)
	}
	// A default file that is there but cannot be read is not skipped.
	_, err = Load(f.dir, false, env)
	if err == nil || !strings.HasPrefix(err.Error(), f.dir+": cannot read the env file: ") {
		t.Errorf("unreadable default file: got %v", err)
	}
}

func TestLoadConfigFile(t *testing.T) {
	tests := []struct {
		name  string
		conf  string
		file  string
		check func(f *loadFixture, c *Config) bool
		args  string // ServerArgs joined with "|", expanded
		warn  string
	}{
		{
			name: "the -F file's keys apply where no variable is set",
			conf: "port 41122\ndirectory {storage}\nfilters .*:x\n",
			file: "TENTACLE_CONFIG_FILE={conf}\n",
			check: func(f *loadFixture, c *Config) bool {
				return c.Port == 41122 && c.StoragePath == f.storage && c.Server.Filters == ".*:x" && c.ConfigFile == f.confFile
			},
			args: "-U|pandora|-F|{conf}",
		},
		{
			name: "variables win over the -F file",
			conf: "port 41122\ndirectory /nonexistent\n",
			file: "TENTACLE_CONFIG_FILE={conf}\nTENTACLE_PORT=5000\nPANDORA_SERVER_PATH={storage}\nTENTACLE_EXT_OPTS=\"-i'a:b'\"\n",
			check: func(f *loadFixture, c *Config) bool {
				return c.Port == 5000 && c.StoragePath == f.storage && c.Server.Filters == "a:b"
			},
			args: "-s|{storage}|-p|5000|-U|pandora|-F|{conf}|-ia:b",
		},
		{
			name: "the default filters when the -F file has none",
			conf: "directory {storage}\n",
			file: "TENTACLE_CONFIG_FILE={conf}\n",
			check: func(f *loadFixture, c *Config) bool {
				return c.Server.Filters == defaultFilters && c.Port == 41121
			},
			args: "-U|pandora|-F|{conf}|-i|" + defaultFilters,
		},
		{
			name: "-F in TENTACLE_EXT_OPTS",
			conf: "directory {storage}\nport 41123\n",
			file: "TENTACLE_EXT_OPTS='-F {conf}'\n",
			check: func(f *loadFixture, c *Config) bool {
				return c.Port == 41123 && c.Server.Filters == "" && c.ConfigFile == f.confFile
			},
			args: "-U|pandora|-F|{conf}",
		},
		{
			name: "daemon 1 in the -F file is ignored",
			conf: "directory {storage}\ndaemon 1\n",
			file: "TENTACLE_CONFIG_FILE={conf}\n",
			check: func(f *loadFixture, c *Config) bool {
				return !c.Server.Daemon
			},
			args: "-U|pandora|-F|{conf}|-i|" + defaultFilters,
			warn: "config {conf}: daemon 1 is ignored",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newLoadFixture(t)
			f.write(t, f.confFile, tt.conf)
			c, err := f.load(t, tt.file)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(f, c) {
				t.Errorf("unexpected configuration: %+v\nserver: %+v", c, c.Server)
			}
			if got, want := strings.Join(c.ServerArgs, "|"), f.expand(tt.args); got != want {
				t.Errorf("ServerArgs:\n got %s\nwant %s", got, want)
			}
			if tt.warn != "" && (len(c.Warnings) != 1 || !strings.HasPrefix(c.Warnings[0], f.expand(tt.warn))) {
				t.Errorf("warnings = %q, want %q", c.Warnings, tt.warn)
			}
		})
	}
}

func TestLoadConfigFileWithoutDirectory(t *testing.T) {
	missing := missingDefaultStorage(t)
	f := newLoadFixture(t)
	f.write(t, f.confFile, "port 41122\n")
	_, err := f.load(t, "TENTACLE_CONFIG_FILE={conf}\n")
	want := `PANDORA_SERVER_PATH "` + missing + `" (default): the storage directory does not exist`
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	// An error inside the -F file names the file and key already.
	f.write(t, f.confFile, "port x\n")
	_, err = f.load(t, "-")
	var ve *options.ValueError
	if !errors.As(err, &ve) || ve.File != f.confFile || ve.Key != "port" {
		t.Errorf("bad key in the -F file: got %v", err)
	}
}

func TestConfigErrorFormat(t *testing.T) {
	inner := errors.New("inner")
	tests := []struct {
		err  *ConfigError
		want string
	}{
		{&ConfigError{File: "f", Line: 3, Key: "K", Value: "v", Reason: "bad"}, `f:3: K "v": bad`},
		{&ConfigError{File: "f", Reason: "unreadable"}, `f: unreadable`},
		{&ConfigError{Environment: true, Key: "K", Value: "v", Reason: "bad"}, `environment: K "v": bad`},
		{&ConfigError{Key: "K", Value: "v", Reason: "bad"}, `K "v" (default): bad`},
		{&ConfigError{File: "f", Line: 1, Key: "K", Err: inner}, `f:1: K: inner`},
		{&ConfigError{File: "f", Line: 1, Key: "K", Reason: "r", Err: inner}, `f:1: K: r`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	if !errors.Is(&ConfigError{Err: inner}, inner) {
		t.Error("Unwrap does not reach the cause")
	}
}
