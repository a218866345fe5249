//go:build linux

package systemd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"tentacle/daemon"
	"tentacle/envfile"
	"tentacle/internal/testharness"
	"tentacle/options"
	"tentacle/protocol"
)

// The files under test, relative to this package's directory.
const (
	serviceUnit = "tentacle_serverd.service"
	socketUnit  = "tentacle_serverd.socket"
	initScript  = "../init.d/tentacle_serverd"
	envFile     = "../etc/default/tentacle_serverd"
	confFile    = "../etc/tentacle/tentacle_server.conf"
	manDir      = "../man"
)

// envKeys are the variables tentacle_serverd reads, from its own table.
var envKeys = daemon.Variables()

// confKeys are the keys of tentacle_server's -F file, from its own table.
var confKeys = options.ServerConfigKeys()

// pandoraFilters are the five filters Pandora FMS servers expect.
var pandoraFilters = []string{
	`.*\.conf:conf`, `.*\.md5:md5`, `.*\.zip:collections`, `.*\.lock:trans`, `.*\.rcmd:commands`,
}

// userIDs returns the numeric uid and gid of u.
func userIDs(t *testing.T, u *user.User) (uid, gid int) {
	t.Helper()
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		t.Fatalf("user %s: uid %q: %v", u.Username, u.Uid, err)
	}
	gid, err = strconv.Atoi(u.Gid)
	if err != nil {
		t.Fatalf("user %s: gid %q: %v", u.Username, u.Gid, err)
	}
	return uid, gid
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func writeFile(t *testing.T, path, text string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), mode); err != nil {
		t.Fatal(err)
	}
}

// readUnit reads a unit file into "Section.Key" → values, in file order.
func readUnit(t *testing.T, path string) map[string][]string {
	t.Helper()
	unit := map[string][]string{}
	section := ""
	for _, line := range strings.Split(readFile(t, path), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[':
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: not a Key=value line: %q", path, line)
			}
			unit[section+"."+k] = append(unit[section+"."+k], v)
		}
	}
	return unit
}

// TestUnitsVerify runs systemd-analyze verify on both units, in a root
// directory that holds systemd's own units and the programs ours run, so
// that nothing of the host's configuration gets in.
func TestUnitsVerify(t *testing.T) {
	analyze := testharness.NeedTool(t, "systemd-analyze", "systemd")
	hostUnits := ""
	for _, d := range []string{"/usr/lib/systemd/system", "/lib/systemd/system"} {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			hostUnits = d
			break
		}
	}
	if hostUnits == "" {
		t.Skip("no systemd unit directory: install the Debian package systemd")
	}

	root := t.TempDir()
	units := filepath.Join(root, "etc/systemd/system")
	for _, d := range []string{units, filepath.Join(root, "usr/lib/systemd/system"), filepath.Join(root, "usr/sbin"), filepath.Join(root, "usr/bin")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("usr/bin", filepath.Join(root, "bin")); err != nil {
		t.Fatal(err)
	}
	// Not the host's tentacle_serverd units: ours are the ones verified,
	// and TestDebInstall (package packaging, run at the same time) may be
	// installing or purging them, which makes a copy of the whole
	// directory fail on a file that vanished.
	entries, err := os.ReadDir(hostUnits)
	if err != nil {
		t.Fatal(err)
	}
	var copies []string
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "tentacle_serverd.") {
			copies = append(copies, filepath.Join(hostUnits, e.Name()))
		}
	}
	if out, err := exec.Command("cp", append(append([]string{"-a"}, copies...), filepath.Join(root, "usr/lib/systemd/system"))...).CombinedOutput(); err != nil {
		t.Fatalf("copy %s: %v\n%s", hostUnits, err, out)
	}
	// verify only checks that the programs exist and are executable.
	writeFile(t, filepath.Join(root, "usr/sbin/tentacle_serverd"), "#!/bin/sh\n", 0o755)
	writeFile(t, filepath.Join(root, "usr/bin/kill"), "#!/bin/sh\n", 0o755)
	for _, u := range []string{serviceUnit, socketUnit} {
		writeFile(t, filepath.Join(units, u), readFile(t, u), 0o644)
	}

	verify := func(names ...string) (string, error) {
		args := []string{"verify", "--man=no", "--root=" + root}
		for _, n := range names {
			args = append(args, filepath.Join(units, n))
		}
		out, err := exec.Command(analyze, args...).CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	out, err := verify(serviceUnit, socketUnit)
	if err != nil {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	for _, line := range strings.Split(out, "\n") {
		switch {
		case line == "":
		case strings.Contains(line, "tentacle_serverd"):
			t.Errorf("systemd-analyze verify: %s", line)
		default:
			t.Logf("systemd-analyze verify, not about our units: %s", line)
		}
	}

	// A misspelt directive is only a warning (exit status 0): make sure
	// warnings do show in this set-up, or the check above proves nothing.
	broken := strings.Replace(readFile(t, serviceUnit), "LockPersonality=", "LockPersonalty=", 1)
	writeFile(t, filepath.Join(units, "tentacle_serverd-broken.service"), broken, 0o644)
	if out, _ := verify("tentacle_serverd-broken.service"); !strings.Contains(out, "LockPersonalty") {
		t.Errorf("systemd-analyze verify did not report a misspelt directive; got %q", out)
	}
}

// TestUnitsContent checks what the daemon relies on in the units, and the
// hardening that keeps systemd-analyze security at 1.5 or less.
func TestUnitsContent(t *testing.T) {
	svc := readUnit(t, serviceUnit)
	want := map[string][]string{
		"Service.Type": {"notify"},
		// systemd starts the daemon as pandora: it never is root, and
		// ExecReload's kill, run as pandora too, may signal it.
		"Service.User":            {options.DefaultUser},
		"Service.Group":           {options.DefaultUser},
		"Service.ExecStart":       {"/usr/sbin/tentacle_serverd"},
		"Service.ExecReload":      {"/bin/kill -HUP $MAINPID"},
		"Service.EnvironmentFile": {"-/etc/default/tentacle_serverd", "-/etc/sysconfig/tentacle_serverd"},
		"Service.Restart":         {"on-failure"},
		"Service.UMask":           {"0007"},
		"Service.LogsDirectory":   {"tentacle"},
		// No capability at all, and none to gain.
		"Service.CapabilityBoundingSet": {""},
		"Service.NoNewPrivileges":       {"yes"},
		"Service.PrivateUsers":          {"yes"},
		"Service.ProtectSystem":         {"strict"},
		"Service.ProtectHome":           {"yes"},
		"Service.ProcSubset":            {"pid"},
		"Service.DevicePolicy":          {"closed"},
		// An allow list, less what needs privileges or changes
		// resources, plus chown(2), which lumberjack's rotation needs.
		"Service.SystemCallFilter":      {"@system-service", "~@privileged @resources", "@chown"},
		"Service.SystemCallErrorNumber": {"EPERM"},
		"Install.WantedBy":              {"multi-user.target"},
	}
	for k, v := range want {
		if !slices.Equal(svc[k], v) {
			t.Errorf("%s: %s = %q, want %q", serviceUnit, k, svc[k], v)
		}
	}
	for _, k := range []string{"Service.AmbientCapabilities", "Service.DynamicUser", "Service.PermissionsStartOnly"} {
		if v, ok := svc[k]; ok {
			t.Errorf("%s: %s=%q: the daemon needs no privilege, and the drop-ins of tentacle_serverd(8) add what a low port needs", serviceUnit, k, v)
		}
	}
	for _, v := range append(svc["Service.ExecStart"], svc["Service.ExecReload"]...) {
		if strings.ContainsAny(v[:1], "+!") {
			t.Errorf("%s: %q runs with privileges", serviceUnit, v)
		}
	}
	// sd_notify, the watchdog and the journal are AF_UNIX sockets.
	families := strings.Fields(strings.Join(svc["Service.RestrictAddressFamilies"], " "))
	if !slices.Equal(families, []string{"AF_INET", "AF_INET6", "AF_UNIX"}) {
		t.Errorf("%s: RestrictAddressFamilies %q, want AF_INET AF_INET6 AF_UNIX", serviceUnit, families)
	}
	rw := strings.Fields(strings.Join(svc["Service.ReadWritePaths"], " "))
	for _, d := range svc["Service.LogsDirectory"] {
		rw = append(rw, "/var/log/"+d)
	}
	for _, p := range []string{daemon.DefaultStoragePath, daemon.DefaultLogFile} {
		if !slices.ContainsFunc(rw, func(dir string) bool {
			return strings.HasPrefix(p, strings.TrimPrefix(dir, "-")+"/")
		}) {
			t.Errorf("%s: ReadWritePaths and LogsDirectory %q do not cover %s", serviceUnit, rw, p)
		}
	}
	if d := unitDuration(t, svc, "Service.TimeoutStopSec"); d <= daemon.DefaultShutdownTimeout {
		t.Errorf("%s: TimeoutStopSec %v leaves no margin over the daemon's %v grace", serviceUnit, d, daemon.DefaultShutdownTimeout)
	}
	if _, ok := svc["Service.WatchdogSec"]; ok {
		if d := unitDuration(t, svc, "Service.WatchdogSec"); d < 30*time.Second {
			t.Errorf("%s: WatchdogSec %v is too short", serviceUnit, d)
		}
	}

	sock := readUnit(t, socketUnit)
	if got := sock["Socket.ListenStream"]; !slices.Equal(got, []string{strconv.Itoa(options.DefaultPort)}) {
		t.Errorf("%s: ListenStream = %q, want %d", socketUnit, got, options.DefaultPort)
	}
	if got := sock["Install.WantedBy"]; !slices.Equal(got, []string{"sockets.target"}) {
		t.Errorf("%s: WantedBy = %q, want sockets.target", socketUnit, got)
	}
}

// maxExposure is the most systemd-analyze security may rate the service.
const maxExposure = 1.5

// TestUnitSecurity rates the service unit with systemd-analyze security,
// offline: the same rating as systemd gives the installed unit, provided
// the unit sets what the running systemd would imply (PrivateMounts=).
func TestUnitSecurity(t *testing.T) {
	analyze := testharness.NeedTool(t, "systemd-analyze", "systemd")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, serviceUnit), readFile(t, serviceUnit), 0o644)
	cmd := exec.Command(analyze, "security", "--offline=yes", "--no-pager", filepath.Join(dir, serviceUnit))
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil && strings.Contains(string(out), "offline") {
		t.Skipf("this systemd-analyze cannot rate a unit file offline (systemd 250 or later can): %s", out)
	}
	m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindStringSubmatch(string(out))
	if err != nil || m == nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	level, _ := strconv.ParseFloat(m[1], 64)
	if level > maxExposure {
		t.Errorf("systemd-analyze security rates %s %s, want %.1f or less:\n%s", serviceUnit, m[1], maxExposure, out)
	}
	t.Logf("%s", m[0])
}

// unitDuration reads a duration written as Go reads it ("45s").
func unitDuration(t *testing.T, unit map[string][]string, key string) time.Duration {
	t.Helper()
	v := unit[key]
	if len(v) != 1 {
		t.Fatalf("%s: want one value, got %q", key, v)
	}
	d, err := time.ParseDuration(v[0])
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	return d
}

// TestInitScriptShellcheck lints the init script as the POSIX sh script it
// says it is.
func TestInitScriptShellcheck(t *testing.T) {
	shellcheck := testharness.NeedTool(t, "shellcheck", "shellcheck")
	out, err := exec.Command(shellcheck, initScript).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("shellcheck %s: %v\n%s", initScript, err, out)
	}
}

// TestInitScriptHeaders checks the LSB and chkconfig headers that
// update-rc.d, insserv and chkconfig read.
func TestInitScriptHeaders(t *testing.T) {
	text := readFile(t, initScript)
	if !strings.HasPrefix(text, "#!/bin/sh\n") {
		t.Errorf("%s does not start with #!/bin/sh", initScript)
	}
	_, info, ok := strings.Cut(text, "### BEGIN INIT INFO\n")
	info, _, ok2 := strings.Cut(info, "### END INIT INFO\n")
	if !ok || !ok2 {
		t.Fatalf("%s: no LSB INIT INFO block", initScript)
	}
	fields := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(info), "\n") {
		k, v, found := strings.Cut(strings.TrimPrefix(line, "# "), ":")
		if found && !strings.HasPrefix(k, " ") { // not a continuation line
			fields[k] = strings.Join(strings.Fields(v), " ")
		}
	}
	want := map[string]string{
		"Provides":       "tentacle_serverd",
		"Required-Start": "$network $remote_fs $syslog",
		"Default-Start":  "2 3 4 5",
		"Default-Stop":   "0 1 6",
	}
	for k, v := range want {
		if fields[k] != v {
			t.Errorf("%s: %s: %q, want %q", initScript, k, fields[k], v)
		}
	}
	for _, k := range []string{"Required-Stop", "Short-Description", "Description"} {
		if fields[k] == "" {
			t.Errorf("%s: no %s", initScript, k)
		}
	}
	for _, re := range []string{`(?m)^# chkconfig: 2345 \d+ \d+$`, `(?m)^# description: \S`} {
		if !regexp.MustCompile(re).MatchString(text) {
			t.Errorf("%s: no line matching %s", initScript, re)
		}
	}
}

// TestEnvFile loads the env file the way the daemon does, with the storage
// directory and the transfer log moved to places that exist here.
func TestEnvFile(t *testing.T) {
	spool := t.TempDir()
	environ := []string{"PANDORA_SERVER_PATH=" + spool, "TENTACLE_LOG_FILE=" + filepath.Join(t.TempDir(), "transfers.log")}
	cfg, err := daemon.Load(envFile, true, environ)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) > 0 {
		t.Errorf("warnings: %q", cfg.Warnings)
	}
	if got := strings.Split(cfg.Server.Filters, ";"); !slices.Equal(got, pandoraFilters) {
		t.Errorf("filters %q, want Pandora's %q", got, pandoraFilters)
	}
	if want := []string{"-i", strings.Join(pandoraFilters, ";")}; !slices.Equal(cfg.ExtOpts, want) {
		t.Errorf("TENTACLE_EXT_OPTS = %q, want %q", cfg.ExtOpts, want)
	}
	if cfg.StoragePath != spool || cfg.Port != options.DefaultPort || cfg.Addr != "" ||
		cfg.User != options.DefaultUser || cfg.ConfigFile != "" {
		t.Errorf("storage %q port %d addresses %q user %q config %q: want the defaults",
			cfg.StoragePath, cfg.Port, cfg.Addr, cfg.User, cfg.ConfigFile)
	}
	if cfg.LogMaxSizeMB != daemon.DefaultLogMaxSizeMB || cfg.LogMaxBackups != daemon.DefaultLogMaxBackups ||
		cfg.LogMaxAgeDays != daemon.DefaultLogMaxAgeDays || !cfg.LogCompress ||
		cfg.ShutdownTimeout != daemon.DefaultShutdownTimeout {
		t.Errorf("transfer log %d MB %d files %d days compress %v, shutdown %v: want the defaults",
			cfg.LogMaxSizeMB, cfg.LogMaxBackups, cfg.LogMaxAgeDays, cfg.LogCompress, cfg.ShutdownTimeout)
	}
	sameInShell(t, envFile)
}

// commentedAssignment matches the lines of the env file that show a
// setting: KEY=value, commented out or not.
var commentedAssignment = regexp.MustCompile(`(?m)^(#?)([A-Z_]+)=`)

// TestEnvFileDefaults checks that the env file names every setting once,
// and that uncommenting every "#KEY=value" line changes nothing, so that
// those lines do show the defaults.
func TestEnvFileDefaults(t *testing.T) {
	text := readFile(t, envFile)
	seen := map[string]int{}
	for _, m := range commentedAssignment.FindAllStringSubmatch(text, -1) {
		seen[m[2]]++
	}
	for _, k := range envKeys {
		if seen[k] != 1 {
			t.Errorf("%s: %s appears %d times, want once", envFile, k, seen[k])
		}
		delete(seen, k)
	}
	for k := range seen {
		t.Errorf("%s: %s is not a tentacle_serverd setting", envFile, k)
	}

	uncommented := filepath.Join(t.TempDir(), "tentacle_serverd")
	writeFile(t, uncommented, commentedAssignment.ReplaceAllString(text, "$2="), 0o644)
	conf, err := filepath.Abs(confFile)
	if err != nil {
		t.Fatal(err)
	}
	environ := []string{"PANDORA_SERVER_PATH=" + t.TempDir(), "TENTACLE_LOG_FILE=" + filepath.Join(t.TempDir(), "transfers.log")}
	shipped, err := daemon.Load(envFile, true, environ)
	if err != nil {
		t.Fatal(err)
	}
	// The file names /etc/tentacle/tentacle_server.conf: use the copy here.
	all, err := daemon.Load(uncommented, true, append(environ, "TENTACLE_CONFIG_FILE="+conf))
	if err != nil {
		t.Fatalf("with every line uncommented: %v", err)
	}
	if len(all.Warnings) > 0 {
		t.Errorf("with every line uncommented: warnings %q", all.Warnings)
	}
	// The self-report is off by default: its line shows a value to turn
	// it on with (the file says so), which must be a valid one.
	if all.MonitorInterval != 300 || all.MonitorAgent == "" {
		t.Errorf("uncommented, the self-report is %d s as %q, want the example's 300 s as the host's agent", all.MonitorInterval, all.MonitorAgent)
	}
	all.MonitorInterval, all.MonitorAgent = shipped.MonitorInterval, shipped.MonitorAgent
	if a, b := effective(shipped), effective(all); !reflect.DeepEqual(a, b) {
		t.Errorf("uncommenting the defaults changes the settings:\nshipped     %+v\nuncommented %+v", a, b)
	}
	sameInShell(t, uncommented)
}

// effective is what a Config does, without where it came from.
func effective(c *daemon.Config) daemon.Config {
	e := *c
	srv := *c.Server
	srv.ConfigFile, srv.Warnings, srv.Addresses = "", nil, nil // "0" and none both mean all: Addr says it
	e.Server, e.EnvFile, e.ConfigFile, e.ServerArgs, e.Warnings = &srv, "", "", nil, nil
	return e
}

// sameInShell checks that a POSIX shell sourcing path gets the values the
// daemon reads from it.
func sameInShell(t *testing.T, path string) {
	t.Helper()
	vars, err := envfile.Read(path)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("env", "-i", "/bin/sh", "-c", `set -a; . "$1"; exec env`, "sh", path).Output()
	if err != nil {
		t.Fatalf("sh . %s: %v", path, err)
	}
	shell := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			shell[k] = v
		}
	}
	for _, v := range vars {
		if got, ok := shell[v.Key]; !ok || got != v.Value {
			t.Errorf("%s:%d: %s is %q to a shell, %q to the daemon", path, v.Line, v.Key, got, v.Value)
		}
	}
}

// TestServerConfFile checks that the configuration file documents every
// key and, installed as it is, changes nothing.
func TestServerConfFile(t *testing.T) {
	dir := t.TempDir()
	parse := func(conf string) *options.Server {
		t.Helper()
		s, err := options.ParseServer([]string{"-F", conf, "-s", dir})
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Warnings) > 0 {
			t.Errorf("%s: warnings %q", conf, s.Warnings)
		}
		s.ConfigFile = ""
		return s
	}
	defaults, err := options.ParseServer([]string{"-s", dir})
	if err != nil {
		t.Fatal(err)
	}
	if got := parse(confFile); !reflect.DeepEqual(got, defaults) {
		t.Errorf("%s changes the defaults:\n got %+v\nwant %+v", confFile, got, defaults)
	}

	text := readFile(t, confFile)
	for _, k := range confKeys {
		if !regexp.MustCompile(`(?m)^#` + k + `( |$)`).MatchString(text) {
			t.Errorf("%s: no #%s line", confFile, k)
		}
	}
	// Each key is one the server knows: an unknown one is reported even
	// without a value.
	known := filepath.Join(t.TempDir(), "known.conf")
	writeFile(t, known, strings.Join(confKeys, "\n")+"\n", 0o644)
	parse(known)

	// The keys shown with their default change nothing when uncommented.
	// (proxy_port is shown with its default too, but alone it earns a
	// warning: it is an example, with proxy_ip. max_connections shows
	// 1024, which the default is unless the open-file limit lowers it.)
	withDefault := regexp.MustCompile(`(?m)^#((port|max_size|overwrite|timeout|retries|ssl_password|insecure|daemon|verbose|quiet|use_libwrap|block_size|invalid_chars) )`)
	if n := len(withDefault.FindAllString(text, -1)); n != 13 {
		t.Errorf("%s: %d keys shown with their default, want 13", confFile, n)
	}
	uncommented := filepath.Join(t.TempDir(), "tentacle_server.conf")
	writeFile(t, uncommented, withDefault.ReplaceAllString(text, "$1"), 0o644)
	if got := parse(uncommented); !reflect.DeepEqual(got, defaults) {
		t.Errorf("uncommenting the defaults changes the settings:\n got %+v\nwant %+v", got, defaults)
	}
}

// TestManPages renders each manual page with every groff warning on, and
// checks that it covers every option.
func TestManPages(t *testing.T) {
	groff := testharness.NeedTool(t, "groff", "groff-base")
	pages := map[string][]string{
		"tentacle_server.1": letters("abcdefFghiIklmopPqrsStTuUvVwxz"),
		"tentacle_client.1": letters("abcefghkpqrtvwxyz"),
		"tentacle_serverd.8": append([]string{`\-\-env\-file`, `\-\-pidfile`, `\-\-force`, `\-d`, `\-\-version`, `\-\-help`,
			"install", "uninstall", "start", "stop", "restart", "status", "SIGHUP", "SIGUSR1", "SIGTERM"}, envKeys...),
	}
	for page, words := range pages {
		path := filepath.Join(manDir, page)
		out, err := exec.Command(groff, "-man", "-Tutf8", "-ww", "-z", path).CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("groff %s: %v\n%s", page, err, out)
		}
		text := readFile(t, path)
		for _, w := range words {
			if !strings.Contains(text, w) {
				t.Errorf("%s does not mention %s", page, w)
			}
		}
	}
}

// letters turns option letters into the roff text that documents them.
func letters(s string) []string {
	var opts []string
	for _, c := range s {
		opts = append(opts, `\-`+string(c))
	}
	return opts
}

// TestInitScript drives the init script against a real daemon: every
// command, the LSB exit statuses, and what the port and the pid file say.
// As root, the daemon runs as nobody, as it would run as pandora.
func TestInitScript(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("needs /proc")
	}
	base := reachableTempDir(t, "tentacle-initd-")
	bin := buildDaemon(t, base)

	spool, logs := filepath.Join(base, "spool"), filepath.Join(base, "log")
	serverLog := filepath.Join(logs, "server.log")
	port := testharness.FreePort(t)
	addr := net.JoinHostPort("127.0.0.1", port)
	lines := []string{
		"PANDORA_SERVER_PATH='" + spool + "'",
		"TENTACLE_ADDR=127.0.0.1",
		"TENTACLE_PORT=" + port,
		"TENTACLE_LOG_FILE='" + filepath.Join(logs, "transfers.log") + "'",
		`TENTACLE_EXT_OPTS="-l '` + serverLog + `'"`,
		"TENTACLE_SHUTDOWN_TIMEOUT=5",
	}
	wantUID := os.Getuid()
	for _, d := range []string{spool, logs} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if os.Geteuid() == 0 {
		nobody, err := user.Lookup("nobody")
		if err != nil {
			t.Fatalf("as root, the daemon needs a user to run as: %v", err)
		}
		uid, gid := userIDs(t, nobody)
		for _, d := range []string{spool, logs} {
			if err := os.Chown(d, uid, gid); err != nil {
				t.Fatal(err)
			}
		}
		lines = append(lines, "TENTACLE_USER=nobody")
		wantUID = uid
	}
	envPath := filepath.Join(base, "env")
	writeFile(t, envPath, strings.Join(lines, "\n")+"\n", 0o644)
	pidFile := filepath.Join(base, "tentacle_serverd.pid")
	overrides := []string{
		"TENTACLE_SERVERD_BIN=" + bin,
		"TENTACLE_SERVERD_PIDFILE=" + pidFile,
		"TENTACLE_SERVERD_ENV_FILE=" + envPath,
	}
	t.Cleanup(func() {
		if pid, err := readPid(pidFile); err == nil {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})

	script, err := filepath.Abs(initScript)
	if err != nil {
		t.Fatal(err)
	}
	run := func(want int, extraEnv []string, args ...string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "/bin/sh", append([]string{script}, args...)...)
		cmd.Env = append(append(os.Environ(), overrides...), extraEnv...)
		out, err := cmd.CombinedOutput()
		code := 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatalf("init script %q: %v", args, err)
		}
		t.Logf("init script %q: exit %d: %s", args, code, strings.TrimSpace(string(out)))
		if code != want {
			t.Fatalf("init script %q: exit %d, want %d\n%s", args, code, want, out)
		}
	}
	serving := func() int {
		t.Helper()
		testharness.WaitFor(t, "the daemon to accept connections on "+addr, func() bool { return testharness.Accepts(addr) })
		pid, err := readPid(pidFile)
		if err != nil {
			t.Fatalf("pid file: %v", err)
		}
		if !alive(pid) {
			t.Fatalf("pid %d from the pid file is not running", pid)
		}
		if uid := processUID(t, pid); uid != wantUID {
			t.Errorf("the daemon runs as uid %d, want %d", uid, wantUID)
		}
		return pid
	}

	run(3, nil, "status")
	run(7, nil, "reload")

	// A pid file left by a daemon that died.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	writeFile(t, pidFile, fmt.Sprintf("%d\n", dead.Process.Pid), 0o644)
	run(1, nil, "status")

	// The script must not pass its caller's settings on: the daemon would
	// take this one over the env file's and refuse it.
	run(0, []string{"TENTACLE_PORT=not-a-port"}, "start")
	pid := serving()
	run(0, nil, "start")
	if again := serving(); again != pid {
		t.Errorf("a second start replaced pid %d with %d", pid, again)
	}
	run(0, nil, "status")

	run(0, nil, "reload")
	testharness.WaitFor(t, "the daemon to log its reload", func() bool {
		data, _ := os.ReadFile(serverLog)
		return strings.Contains(string(data), "Configuration reloaded")
	})
	if again := serving(); again != pid {
		t.Errorf("reload replaced pid %d with %d", pid, again)
	}

	for _, cmd := range []string{"restart", "force-reload", "try-restart"} {
		run(0, nil, cmd)
		next := serving()
		if next == pid {
			t.Errorf("%s kept pid %d", cmd, pid)
		}
		testharness.WaitFor(t, fmt.Sprintf("the old daemon (pid %d) to be gone", pid), func() bool { return !alive(pid) })
		pid = next
	}

	run(0, nil, "stop")
	if testharness.Accepts(addr) {
		t.Errorf("port %s still accepts connections after stop", addr)
	}
	if _, err := os.Stat(pidFile); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pid file after stop: %v", err)
	}
	if alive(pid) {
		t.Errorf("pid %d still runs after stop", pid)
	}
	run(0, nil, "stop")
	run(3, nil, "status")
	run(0, nil, "try-restart")
	run(3, nil, "status")

	run(2, nil, "bogus")
	run(2, nil)
	run(5, []string{"TENTACLE_SERVERD_BIN=" + filepath.Join(base, "missing")}, "start")
	run(6, []string{"TENTACLE_SERVERD_ENV_FILE=" + filepath.Join(base, "missing.env")}, "start")
	run(3, nil, "status")
}

// buildDaemon builds tentacle_serverd into dir, as the packages do.
func buildDaemon(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "tentacle_serverd")
	build := exec.Command("go", "build", "-o", bin, "tentacle/cmd/tentacle_serverd")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestServiceUnprivileged runs the daemon the way the unit does: started
// as an unprivileged user (nobody here, pandora there), with no capability
// and none to gain, reading an env file that only root and its group may
// read. It must serve, record transfers, rotate its log, and reload on the
// SIGHUP that ExecReload's kill sends, as the same user, with a new
// password. Then with the drop-in of tentacle_serverd(8) for a port below
// 1024: CAP_NET_BIND_SERVICE as an ambient capability.
func TestServiceUnprivileged(t *testing.T) {
	testharness.NeedRoot(t, "runs the daemon as another user")
	setpriv := testharness.NeedTool(t, "setpriv", "util-linux")
	kill := testharness.NeedTool(t, "kill", "procps")
	svc := readUnit(t, serviceUnit)
	if !slices.Equal(svc["Service.NoNewPrivileges"], []string{"yes"}) || !slices.Equal(svc["Service.CapabilityBoundingSet"], []string{""}) {
		t.Fatalf("%s: NoNewPrivileges or CapabilityBoundingSet changed: update this test", serviceUnit)
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Fatalf("the daemon needs a user to run as: %v", err)
	}
	uid, gid := userIDs(t, nobody)
	// As systemd's User= and Group=.
	asUser := []string{"--reuid=" + nobody.Uid, "--regid=" + nobody.Gid, "--clear-groups"}

	base := reachableTempDir(t, "tentacle-unprivileged-")
	bin := buildDaemon(t, base)
	spool, logs := filepath.Join(base, "spool"), filepath.Join(base, "log")
	for _, d := range []string{spool, logs} {
		if err := os.Mkdir(d, 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(d, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	transfers := filepath.Join(logs, "transfers.log")
	envPath := filepath.Join(base, "env")
	writeEnv := func(port string, extra ...string) {
		t.Helper()
		// TENTACLE_USER is the init script's: a daemon that does not
		// start as root serves as itself.
		lines := append([]string{
			"PANDORA_SERVER_PATH=" + spool, "TENTACLE_ADDR=127.0.0.1", "TENTACLE_PORT=" + port,
			"TENTACLE_USER=root", "TENTACLE_LOG_FILE=" + transfers,
		}, extra...)
		writeFile(t, envPath, strings.Join(lines, "\n")+"\n", 0o640)
		// As the packages install it: root's, read through the group.
		if err := os.Chown(envPath, 0, gid); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(envPath, 0o640); err != nil {
			t.Fatal(err)
		}
	}

	var out testharness.SyncBuffer
	start := func(port string, privileges ...string) *exec.Cmd {
		t.Helper()
		args := append(append(asUser, privileges...), bin, "--env-file", envPath)
		cmd := exec.Command(setpriv, args...)
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		t.Cleanup(func() {
			cmd.Process.Kill()
			<-exited
		})
		addr := net.JoinHostPort("127.0.0.1", port)
		testharness.WaitFor(t, "the daemon to serve on "+addr, func() bool {
			select {
			case err := <-exited:
				exited <- err
				t.Fatalf("the daemon exited: %v\n%s", err, out.String())
			default:
			}
			return testharness.Accepts(addr)
		})
		if got := processUID(t, cmd.Process.Pid); got != uid {
			t.Errorf("the daemon runs as uid %d, want %d (nobody)", got, uid)
		}
		if caps := procStatus(cmd.Process.Pid, "CapBnd"); len(privileges) == 0 && caps != "0000000000000000" {
			t.Errorf("the daemon's bounding set is %s, want empty", caps)
		}
		return cmd
	}
	stop := func(cmd *exec.Cmd) {
		t.Helper()
		cmd.Process.Signal(syscall.SIGTERM)
		testharness.WaitFor(t, "the daemon to stop", func() bool { return !alive(cmd.Process.Pid) })
	}
	send := func(port, password, name string) error {
		t.Helper()
		c, err := protocol.Dial(net.JoinHostPort("127.0.0.1", port))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if password != "" {
			if err := c.Auth(password); err != nil {
				return err
			}
		}
		return c.Send(name, strings.NewReader(name), int64(len(name)))
	}
	// signal sends sig the way ExecReload does: kill, run as the
	// daemon's user, with no capability.
	signal := func(cmd *exec.Cmd, sig string) {
		t.Helper()
		args := append(append(asUser, "--bounding-set=-all", "--no-new-privs"), kill, "-"+sig, strconv.Itoa(cmd.Process.Pid))
		if b, err := exec.Command(setpriv, args...).CombinedOutput(); err != nil {
			t.Fatalf("kill -%s as nobody: %v\n%s", sig, err, b)
		}
	}

	port := testharness.FreePort(t)
	writeEnv(port)
	cmd := start(port, "--bounding-set=-all", "--no-new-privs")
	if err := send(port, "", "before.data"); err != nil {
		t.Fatalf("upload: %v", err)
	}

	writeEnv(port, `TENTACLE_EXT_OPTS="-x s3cret"`)
	signal(cmd, "HUP")
	testharness.WaitFor(t, "the daemon to reload", func() bool { return strings.Contains(out.String(), "Configuration reloaded") })
	if err := send(port, "", "nopassword.data"); err == nil {
		t.Errorf("after the reload, an upload without the password is accepted")
	}
	if err := send(port, "s3cret", "after.data"); err != nil {
		t.Errorf("after the reload, an upload with the password: %v", err)
	}

	signal(cmd, "USR1")
	testharness.WaitFor(t, "the daemon to rotate its log", func() bool { return strings.Contains(out.String(), "Transfer log rotated") })
	if err := send(port, "s3cret", "rotated.data"); err != nil {
		t.Errorf("after the rotation: %v", err)
	}
	testharness.WaitFor(t, "a rotated transfer log, compressed", func() bool {
		m, _ := filepath.Glob(filepath.Join(logs, "transfers-*.log.gz"))
		return len(m) == 1
	})
	for _, name := range []string{"before.data", "after.data", "rotated.data"} {
		fi, err := os.Stat(filepath.Join(spool, name))
		if err != nil {
			t.Errorf("%s was not stored: %v", name, err)
			continue
		}
		if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != uid {
			t.Errorf("%s: owner uid %d, want nobody (%d)", name, st.Uid, uid)
		}
	}
	for line := range strings.Lines(out.String()) {
		if strings.Contains(line, "[err]") && !strings.Contains(line, "did not authenticate") {
			t.Errorf("the daemon logged an error: %s", line)
		}
	}
	stop(cmd)

	// The drop-in for a port below 1024.
	low := ""
	for p := 1000; p > 900 && low == ""; p-- {
		if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p)); err == nil {
			l.Close()
			low = strconv.Itoa(p)
		}
	}
	if low == "" {
		t.Skip("no free port between 901 and 1000")
	}
	writeEnv(low)
	cmd = start(low, "--bounding-set=-all,+net_bind_service", "--inh-caps=-all,+net_bind_service",
		"--ambient-caps=-all,+net_bind_service", "--no-new-privs")
	if err := send(low, "", "low.data"); err != nil {
		t.Errorf("upload on port %s: %v", low, err)
	}
	stop(cmd)
	t.Logf("daemon output:\n%s", out.String())
}

func readPid(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(data)))
}

// procStatus returns a field of /proc/PID/status, "" if there is none.
func procStatus(pid int, field string) string {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ""
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// alive reports whether pid runs: exists and is not a zombie (the daemon's
// parent is whatever reaps orphans here, which may take its time).
func alive(pid int) bool {
	state := procStatus(pid, "State")
	return state != "" && state[0] != 'Z' && state[0] != 'X'
}

func processUID(t *testing.T, pid int) int {
	t.Helper()
	fields := strings.Fields(procStatus(pid, "Uid"))
	if len(fields) == 0 {
		t.Fatalf("pid %d: no Uid in /proc", pid)
	}
	uid, err := strconv.Atoi(fields[1]) // effective
	if err != nil {
		t.Fatal(err)
	}
	return uid
}

// reachableTempDir makes a temporary directory, removed after the test,
// that the unprivileged user a daemon drops to can enter: not t.TempDir,
// whose parent only its owner may traverse.
func reachableTempDir(t *testing.T, prefix string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
