//go:build linux

package packaging

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"tentacle/internal/testharness"
)

// The packages are built once, by `make package`, for every test.
var built struct {
	once     sync.Once
	dir      string
	deb, rpm string
	err      error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// packages returns the .deb and the .rpm that `make package` builds from
// this checkout.
func packages(t *testing.T) (deb, rpm string) {
	t.Helper()
	// Building the packages runs make, go and gzip.
	testharness.NeedTool(t, "make", "make")
	testharness.NeedTool(t, "go", "golang-go")
	testharness.NeedTool(t, "gzip", "gzip")
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "tentacle-packages-")
		if built.err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "make", "-C", "..", "package", "PKG_OUT="+built.dir)
		// A make running this test must not hand its jobserver or flags
		// to this one.
		cmd.Env = withoutEnv(os.Environ(), "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")
		out, err := cmd.CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("make package: %v\n%s", err, out)
			return
		}
		debs, _ := filepath.Glob(filepath.Join(built.dir, "tentacle_*_amd64.deb"))
		rpms, _ := filepath.Glob(filepath.Join(built.dir, "tentacle-*-1.x86_64.rpm"))
		if len(debs) != 1 || len(rpms) != 1 {
			built.err = fmt.Errorf("make package wrote %q and %q, want one tentacle_<version>_amd64.deb and one tentacle-<version>-1.x86_64.rpm\n%s", debs, rpms, out)
			return
		}
		built.deb, built.rpm = debs[0], rpms[0]
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.deb, built.rpm
}

func withoutEnv(env []string, names ...string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return slices.Contains(names, k)
	})
}

// run runs a command and returns its output and exit status; a command
// that cannot run, or runs for over two minutes, fails the test.
func run(t *testing.T, name string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive", "LC_ALL=C")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %s: timed out\n%s", name, strings.Join(args, " "), out.String())
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return out.String(), cmd.ProcessState.ExitCode()
}

// mustRun runs a command that must succeed.
func mustRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, code := run(t, name, args...)
	if code != 0 {
		t.Fatalf("%s %s: exit status %d\n%s", name, strings.Join(args, " "), code, out)
	}
	return out
}

var maintainerScripts = []string{
	"scripts/deb/postinst", "scripts/deb/prerm", "scripts/deb/postrm",
	"scripts/rpm/post", "scripts/rpm/preun", "scripts/rpm/postun",
}

func TestMaintainerScriptsShellcheck(t *testing.T) {
	testharness.NeedTool(t, "shellcheck", "shellcheck")
	out, code := run(t, "shellcheck", append([]string{"--shell=sh", "--severity=style"}, maintainerScripts...)...)
	if code != 0 {
		t.Fatalf("shellcheck:\n%s", out)
	}
}

// The user and directories are made, and the configuration files given
// to the pandora group, by the same code in both formats.
func TestMaintainerScriptsShareSetup(t *testing.T) {
	block := func(path, name string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		s := string(b)
		i := strings.Index(s, "# BEGIN "+name)
		j := strings.Index(s, "# END "+name)
		if i < 0 || j < i {
			t.Fatalf("%s: no BEGIN/END %s block", path, name)
		}
		return s[i:j]
	}
	for _, name := range []string{"pandora user and directories", "configuration files"} {
		if deb, rpm := block("scripts/deb/postinst", name), block("scripts/rpm/post", name); deb != rpm {
			t.Errorf("the %s block differs between scripts/deb/postinst and scripts/rpm/post:\n%s\n---\n%s", name, deb, rpm)
		}
	}
}

// TestConffilesPrivate checks that the configuration files, which may hold
// the password, are not world-readable in the packages. They are root's
// there: the postinst gives them to the pandora group, which does not
// exist yet when a first install unpacks them (TestDebInstall checks it).
func TestConffilesPrivate(t *testing.T) {
	testharness.NeedTool(t, "dpkg-deb", "dpkg")
	testharness.NeedTool(t, "rpm", "rpm")
	deb, rpm := packages(t)
	private := map[string]bool{"/etc/default/tentacle_serverd": true, "/etc/tentacle/tentacle_server.conf": true}
	seen := 0
	for line := range strings.Lines(mustRun(t, "dpkg-deb", "--contents", deb)) {
		f := strings.Fields(line)
		if len(f) < 6 || !private[strings.TrimPrefix(f[5], ".")] {
			continue
		}
		seen++
		if f[0] != "-rw-r-----" || f[1] != "root/root" {
			t.Errorf(".deb: %s is %s %s, want -rw-r----- root/root", f[5], f[0], f[1])
		}
	}
	if seen != len(private) {
		t.Errorf(".deb: %d of the configuration files %v, want all", seen, private)
	}
	private = map[string]bool{"/etc/sysconfig/tentacle_serverd": true, "/etc/tentacle/tentacle_server.conf": true}
	seen = 0
	for line := range strings.Lines(mustRun(t, "rpm", "-qp", "--queryformat", "[%{FILEMODES:perms} %{FILEUSERNAME} %{FILEGROUPNAME} %{FILENAMES}\n]", rpm)) {
		f := strings.Fields(line)
		if len(f) != 4 || !private[f[3]] {
			continue
		}
		seen++
		if f[0] != "-rw-r-----" || f[1] != "root" || f[2] != "root" {
			t.Errorf(".rpm: %s is %s %s:%s, want -rw-r----- root:root", f[3], f[0], f[1], f[2])
		}
	}
	if seen != len(private) {
		t.Errorf(".rpm: %d of the configuration files %v, want all", seen, private)
	}
}

func TestDebLintian(t *testing.T) {
	testharness.NeedTool(t, "lintian", "lintian")
	deb, _ := packages(t)
	// No --suppress-tags: the one tag this package expects,
	// statically-linked-binary, is overridden in the package itself
	// (lintian-overrides), where Debian tools look for it.
	out, _ := run(t, "lintian", "--info", deb)
	var errs []string
	for line := range strings.Lines(out) {
		switch {
		case strings.HasPrefix(line, "E: "):
			errs = append(errs, strings.TrimSpace(line))
		case strings.HasPrefix(line, "W: "):
			t.Log(strings.TrimSpace(line))
		}
	}
	if len(errs) > 0 {
		t.Errorf("lintian errors:\n%s\n\nfull output:\n%s", strings.Join(errs, "\n"), out)
	}
}

// debFiles lists the .deb's files (not directories), and its conffiles.
func debFiles(t *testing.T, deb string) (files map[string]string, conffiles []string) {
	t.Helper()
	files = map[string]string{}
	for line := range strings.Lines(mustRun(t, "dpkg-deb", "--contents", deb)) {
		f := strings.Fields(line)
		if len(f) < 6 || strings.HasPrefix(f[0], "d") {
			continue
		}
		files[strings.TrimPrefix(f[5], ".")] = f[0]
	}
	dir := t.TempDir()
	mustRun(t, "dpkg-deb", "--control", deb, dir)
	b, err := os.ReadFile(filepath.Join(dir, "conffiles"))
	if err != nil {
		t.Fatal(err)
	}
	return files, strings.Fields(string(b))
}

func TestRPMMatchesDeb(t *testing.T) {
	testharness.NeedTool(t, "dpkg-deb", "dpkg")
	testharness.NeedTool(t, "rpm", "rpm")
	deb, rpm := packages(t)
	debList, debConf := debFiles(t, deb)

	// What the .rpm has instead of the .deb's files, by the conventions of
	// RPM systems; "" for what only the .deb has.
	rename := map[string]string{
		"/usr/share/doc/tentacle/changelog.gz":  "",
		"/usr/share/lintian/overrides/tentacle": "",
		"/usr/share/doc/tentacle/copyright":     "/usr/share/licenses/tentacle/copyright",
	}
	prefixes := [][2]string{
		{"/lib/systemd/system/", "/usr/lib/systemd/system/"},
		{"/etc/default/", "/etc/sysconfig/"},
		{"/etc/init.d/", "/etc/rc.d/init.d/"},
	}
	want := map[string]string{}
	for name, mode := range debList {
		if to, ok := rename[name]; ok {
			name = to
		}
		for _, p := range prefixes {
			if rest, ok := strings.CutPrefix(name, p[0]); ok {
				name = p[1] + rest
			}
		}
		if name != "" {
			want[name] = mode
		}
	}
	got := map[string]string{}
	for line := range strings.Lines(mustRun(t, "rpm", "-qp", "--queryformat", "[%{FILEMODES:perms} %{FILENAMES}\n]", rpm)) {
		mode, name, ok := strings.Cut(strings.TrimSpace(line), " ")
		if ok && !strings.HasPrefix(mode, "d") {
			got[name] = mode
		}
	}
	for name, mode := range want {
		if got[name] != mode {
			t.Errorf(".rpm: %s is %q, want %q (as in the .deb)", name, got[name], mode)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf(".rpm has %s, which the .deb has not", name)
		}
	}

	wantDebConf := []string{"/etc/default/tentacle_serverd", "/etc/init.d/tentacle_serverd", "/etc/logrotate.d/tentacle", "/etc/tentacle/tentacle_server.conf"}
	slices.Sort(debConf)
	if !slices.Equal(debConf, wantDebConf) {
		t.Errorf(".deb conffiles: %q, want %q", debConf, wantDebConf)
	}
	rpmConf := strings.Fields(mustRun(t, "rpm", "-qpc", rpm))
	slices.Sort(rpmConf)
	if want := []string{"/etc/logrotate.d/tentacle", "/etc/sysconfig/tentacle_serverd", "/etc/tentacle/tentacle_server.conf"}; !slices.Equal(rpmConf, want) {
		t.Errorf(".rpm config files: %q, want %q", rpmConf, want)
	}
	// %config(noreplace): rpm's file flags, 1 config, 16 noreplace.
	for line := range strings.Lines(mustRun(t, "rpm", "-qp", "--queryformat", "[%{FILEFLAGS} %{FILENAMES}\n]", rpm)) {
		flags, name, _ := strings.Cut(strings.TrimSpace(line), " ")
		n, _ := strconv.Atoi(flags)
		if slices.Contains(rpmConf, name) && n&(1|16) != 1|16 {
			t.Errorf(".rpm: %s is not %%config(noreplace) (flags %d)", name, n)
		}
	}
}

func TestPackageScripts(t *testing.T) {
	testharness.NeedTool(t, "dpkg-deb", "dpkg")
	testharness.NeedTool(t, "rpm", "rpm")
	deb, rpm := packages(t)

	dir := t.TempDir()
	mustRun(t, "dpkg-deb", "--control", deb, dir)
	for _, s := range []string{"postinst", "prerm", "postrm"} {
		want, err := os.ReadFile("scripts/deb/" + s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(dir, s))
		if err != nil {
			t.Errorf(".deb: no %s: %v", s, err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf(".deb: %s is not scripts/deb/%s", s, s)
		}
		if fi, err := os.Stat(filepath.Join(dir, s)); err == nil && fi.Mode().Perm() != 0o755 {
			t.Errorf(".deb: %s has mode %v, want 0755", s, fi.Mode().Perm())
		}
	}

	scripts := mustRun(t, "rpm", "-qp", "--scripts", rpm)
	for _, s := range []struct{ file, header string }{
		{"scripts/rpm/post", "postinstall scriptlet (using /bin/sh):"},
		{"scripts/rpm/preun", "preuninstall scriptlet (using /bin/sh):"},
		{"scripts/rpm/postun", "postuninstall scriptlet (using /bin/sh):"},
	} {
		want, err := os.ReadFile(s.file)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(scripts, s.header+"\n"+strings.TrimRight(string(want), "\n")) {
			t.Errorf(".rpm: no %q followed by %s in rpm --scripts:\n%s", s.header, s.file, scripts)
		}
	}
}

// TestDebInstall installs the .deb on this machine and runs the service
// as an administrator would, through the init script (or systemd, when it
// runs), then purges the package. It does so in two cases: the package
// makes the pandora user, a system account without a login shell; and a
// pandora user exists already, as on any Pandora FMS server, with a login
// shell and a home of its own, which the package must leave exactly as it
// is. On a machine that has a pandora user only the second case runs, with
// that user. The machine is left as found: what the test or the package
// created (the pandora user and group, the spool and log directories, the
// file sent) is removed at the end, even on failure, and a pandora user the
// machine had is never changed nor removed.
func TestDebInstall(t *testing.T) {
	testharness.NeedRoot(t, "installs a package")
	if _, err := os.Stat("/var/lib/dpkg/status"); err != nil {
		t.Skip("not a Debian system: no dpkg database")
	}
	testharness.NeedTool(t, "dpkg", "dpkg")
	testharness.NeedTool(t, "service", "init-system-helpers")
	testharness.NeedTool(t, "useradd", "passwd")
	if st := packageStatus(t); st != "" {
		t.Skipf("a tentacle package is on this machine (status %s): not touching it", st)
	}
	l, err := net.Listen("tcp", ":41121")
	if err != nil {
		t.Skipf("port 41121 is busy: %v", err)
	}
	l.Close()
	deb, _ := packages(t)

	// Files the package would overwrite (a Pandora FMS installed by hand,
	// say) stop the test, as would a transfer log that the purge removes.
	files, _ := debFiles(t, deb)
	for name := range files {
		if _, err := os.Lstat(name); err == nil {
			t.Skipf("%s exists and is no package's: the test would replace it", name)
		}
	}
	for _, p := range []string{"/var/log/tentacle/transfers.log", "/var/log/tentacle/tentacle_serverd.log", "/run/tentacle_serverd.pid"} {
		if _, err := os.Lstat(p); err == nil {
			t.Skipf("%s exists: the test would remove it", p)
		}
	}

	tests := []struct {
		name string
		// userExists makes a pandora user with a login shell before the
		// install, unless the machine has one.
		userExists bool
	}{
		{"package makes the pandora user", false},
		{"existing pandora user left as it is", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { debInstall(t, deb, files, tt.userExists) })
	}
}

// debInstall is one case of TestDebInstall: install, serve, purge.
func debInstall(t *testing.T, deb string, files map[string]string, userExists bool) {
	machineUser := passwdEntry(t, "pandora")
	if !userExists && machineUser != "" {
		t.Skipf("this machine has a pandora user (%s): the package makes none; the other case checks that the package leaves it as it is", machineUser)
	}

	// What the machine had before.
	exists := func(p string) bool { _, err := os.Lstat(p); return err == nil }
	hadUser := machineUser != ""
	_, groupErr := user.LookupGroup("pandora")
	hadGroup := groupErr == nil
	// The directories the package may create, parents first.
	dirs := []string{"/var/spool/pandora", "/var/spool/pandora/data_in"}
	for _, sub := range []string{"conf", "md5", "collections", "trans", "commands"} {
		dirs = append(dirs, "/var/spool/pandora/data_in/"+sub)
	}
	dirs = append(dirs, "/var/log/tentacle")
	hadDirs := map[string]bool{}
	for _, d := range dirs {
		hadDirs[d] = exists(d)
	}
	var sent []string // files the test sent into the spool
	var daemonPID int
	t.Cleanup(func() {
		if packageStatus(t) != "" {
			if out, code := run(t, "service", "tentacle_serverd", "stop"); code != 0 {
				t.Logf("cleanup: service tentacle_serverd stop: exit status %d\n%s", code, out)
			}
			if out, code := run(t, "dpkg", "--purge", "tentacle"); code != 0 {
				t.Errorf("cleanup: dpkg --purge tentacle: exit status %d\n%s", code, out)
			}
		}
		if daemonPID > 0 && isDaemon(daemonPID) {
			t.Errorf("cleanup: the daemon (pid %d) still runs: killing it", daemonPID)
			syscall.Kill(daemonPID, syscall.SIGKILL)
		}
		for _, f := range sent {
			os.Remove(f)
		}
		for _, d := range slices.Backward(dirs) {
			if !hadDirs[d] {
				if err := os.RemoveAll(d); err != nil {
					t.Errorf("cleanup: %v", err)
				}
			}
		}
		if !hadUser && lookupUser("pandora") != nil {
			if out, code := run(t, "userdel", "pandora"); code != 0 {
				t.Errorf("cleanup: userdel pandora: exit status %d\n%s", code, out)
			}
		}
		if _, err := user.LookupGroup("pandora"); !hadGroup && err == nil {
			if out, code := run(t, "groupdel", "pandora"); code != 0 {
				t.Errorf("cleanup: groupdel pandora: exit status %d\n%s", code, out)
			}
		}
	})

	// A Pandora FMS server's user, when the machine has none: a login
	// shell and a home that are not the package's. The cleanup above
	// removes it, as the machine had none.
	if userExists && !hadUser {
		home := "/home/pandora-test-" + randomHex(t)
		mustRun(t, "useradd", "--user-group", "--shell", "/bin/bash", "--home-dir", home, "--no-create-home",
			"--comment", "made by tentacle's TestDebInstall", "pandora")
	}
	var userBefore, groupsBefore string
	if userExists {
		userBefore, groupsBefore = passwdEntry(t, "pandora"), userGroups(t, "pandora")
	}
	// unchanged checks that the existing pandora user is as it was:
	// uid, primary group, name, home, shell, and the groups it is in.
	unchanged := func(when string) {
		t.Helper()
		if got := passwdEntry(t, "pandora"); got != userBefore {
			t.Errorf("%s, the pandora user is %q, want it as it was: %q", when, got, userBefore)
		}
		if got := userGroups(t, "pandora"); got != groupsBefore {
			t.Errorf("%s, pandora is in the groups %q, want those it was in: %q", when, got, groupsBefore)
		}
	}

	// Install. Whether the postinst could start the service depends on
	// the machine (policy-rc.d forbids it in containers); it must not
	// fail the installation either way.
	out := mustRun(t, "dpkg", "--install", deb)
	t.Logf("dpkg --install:\n%s", out)

	pandora := lookupUser("pandora")
	if pandora == nil {
		t.Fatal("the package did not create the pandora user")
	}
	if userExists {
		unchanged("after the install")
	} else {
		if shell := loginShell(t, "pandora"); !slices.Contains([]string{"/usr/sbin/nologin", "/sbin/nologin", "/bin/false"}, shell) {
			t.Errorf("pandora's shell is %s, want no login shell", shell)
		}
		if pandora.HomeDir != "/var/spool/pandora" {
			t.Errorf("pandora's home is %s, want /var/spool/pandora", pandora.HomeDir)
		}
	}
	uid, err := strconv.Atoi(pandora.Uid)
	if err != nil {
		t.Fatalf("pandora's uid %q: %v", pandora.Uid, err)
	}
	wantDirs := map[string]fs.FileMode{"/var/spool/pandora/data_in": fs.ModeSetgid | 0o770, "/var/log/tentacle": 0o750}
	for _, sub := range []string{"conf", "md5", "collections", "trans", "commands"} {
		wantDirs["/var/spool/pandora/data_in/"+sub] = fs.ModeSetgid | 0o770
	}
	for d, mode := range wantDirs {
		fi, err := os.Stat(d)
		if err != nil {
			t.Errorf("the package did not create %s: %v", d, err)
			continue
		}
		if hadDirs[d] {
			continue
		}
		if got := fi.Mode() & (fs.ModePerm | fs.ModeSetgid); got != mode {
			t.Errorf("%s: mode %v, want %v", d, got, mode)
		}
		if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != uid {
			t.Errorf("%s: owner uid %d, want pandora (%d)", d, st.Uid, uid)
		}
	}

	// The configuration files may hold the password: the postinst gave
	// them to the group pandora, which the daemon runs as under systemd.
	pandoraGroup, err := user.LookupGroup("pandora")
	if err != nil {
		t.Fatalf("group pandora: %v", err)
	}
	gid, err := strconv.Atoi(pandoraGroup.Gid)
	if err != nil {
		t.Fatalf("pandora's gid %q: %v", pandoraGroup.Gid, err)
	}
	for _, conf := range []string{"/etc/default/tentacle_serverd", "/etc/tentacle/tentacle_server.conf"} {
		fi, err := os.Stat(conf)
		if err != nil {
			t.Errorf("the package did not install %s: %v", conf, err)
			continue
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode() != 0o640 || st.Uid != 0 || int(st.Gid) != gid {
			t.Errorf("%s: %v %d:%d, want -rw-r----- root:pandora (0:%d)", conf, fi.Mode(), st.Uid, st.Gid, gid)
		}
	}

	// Start (again, if the postinst did): the init script says so and
	// exits 0.
	out = mustRun(t, "service", "tentacle_serverd", "start")
	t.Logf("service tentacle_serverd start: %s", out)
	daemonPID = servicePID(t)
	// Runs before the cleanup purges the package and its log.
	defer func() {
		if t.Failed() {
			t.Logf("the daemon's log:\n%s", daemonLog(t))
		}
	}()
	if got := procIDs(t, daemonPID, "Uid:"); got != [4]int{uid, uid, uid, uid} {
		t.Errorf("the daemon (pid %d) runs as uids %v, want pandora (%d) for all", daemonPID, got, uid)
	}

	send := func(what string) {
		t.Helper()
		name := "tentacle-packaging-test-" + randomHex(t) + ".data"
		src := filepath.Join(t.TempDir(), name)
		content := []byte("<agent_data " + what + "/>\n")
		if err := os.WriteFile(src, content, 0o644); err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join("/var/spool/pandora/data_in", name)
		sent = append(sent, dst)
		mustRun(t, "/usr/bin/tentacle_client", "-a", "127.0.0.1", "-p", "41121", src)
		got, err := os.ReadFile(dst)
		if err != nil {
			t.Fatalf("the file sent %s is not in the spool: %v", what, err)
		}
		if !bytes.Equal(got, content) {
			t.Errorf("%s: %q, want %q", dst, got, content)
		}
		fi, err := os.Stat(dst)
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != uid {
			t.Errorf("%s: owner uid %d, want pandora (%d)", dst, st.Uid, uid)
		}
	}
	send("before reload")

	// The reload is a signal: "service reload" returns before the daemon
	// has acted on it. Its log line says it has, so the upload after it
	// goes to the reloaded server; without the line the reload failed.
	reloads := strings.Count(daemonLog(t), reloaded)
	mustRun(t, "service", "tentacle_serverd", "reload")
	testharness.WaitFor(t, "the daemon to log "+strconv.Quote(reloaded), func() bool {
		return strings.Count(daemonLog(t), reloaded) > reloads
	})
	if pid := servicePID(t); pid != daemonPID || !isDaemon(pid) {
		t.Fatalf("after reload the daemon is pid %d (alive: %v), want the same pid %d", pid, isDaemon(pid), daemonPID)
	}
	send("after reload")

	if out, code := run(t, "service", "tentacle_serverd", "status"); code != 0 {
		t.Errorf("service tentacle_serverd status while running: exit status %d, want 0\n%s", code, out)
	}
	mustRun(t, "service", "tentacle_serverd", "stop")
	if out, code := run(t, "service", "tentacle_serverd", "status"); code != 3 {
		t.Errorf("service tentacle_serverd status when stopped: exit status %d, want 3\n%s", code, out)
	}
	waitGone(t, daemonPID)

	out = mustRun(t, "dpkg", "--purge", "tentacle")
	t.Logf("dpkg --purge:\n%s", out)
	for _, f := range sent {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("the purge removed the spool's data: %v", err)
		}
	}
	if lookupUser("pandora") == nil {
		t.Error("the purge removed the pandora user")
	} else if userExists {
		unchanged("after the purge")
	}
	for name := range files {
		if exists(name) {
			t.Errorf("%s is still there after the purge", name)
		}
	}
	// Nothing left of the boot-time links.
	var left []string
	for _, pattern := range []string{
		"/etc/rc?.d/[SK]??tentacle_serverd",
		"/etc/systemd/system/tentacle_serverd.*",
		"/etc/systemd/system/*/tentacle_serverd.*",
		"/var/lib/systemd/deb-systemd-helper-enabled/tentacle_serverd.*",
		"/var/lib/systemd/deb-systemd-helper-enabled/*/tentacle_serverd.*",
		"/var/lib/systemd/deb-systemd-helper-masked/tentacle_serverd.*",
		"/etc/tentacle",
	} {
		m, _ := filepath.Glob(pattern)
		left = append(left, m...)
	}
	if !hadDirs["/var/log/tentacle"] && exists("/var/log/tentacle") {
		left = append(left, "/var/log/tentacle")
	}
	if len(left) > 0 {
		t.Errorf("left after the purge: %q", left)
	}
}

// packageStatus is the tentacle package's dpkg status (installed,
// config-files…), "" when dpkg knows no such package or it is not
// installed.
func packageStatus(t *testing.T) string {
	t.Helper()
	out, code := run(t, "dpkg-query", "--show", "--showformat=${db:Status-Status}", "tentacle")
	if code != 0 || out == "not-installed" {
		return ""
	}
	return out
}

// lookupUser returns the user, nil if there is none.
func lookupUser(name string) *user.User {
	u, err := user.Lookup(name)
	if err != nil {
		return nil
	}
	return u
}

// passwdEntry is the user's line in the passwd database, "" when there is
// no such user.
func passwdEntry(t *testing.T, name string) string {
	t.Helper()
	out, code := run(t, "getent", "passwd", name)
	if code == 2 { // no such key
		return ""
	}
	if code != 0 {
		t.Fatalf("getent passwd %s: exit status %d\n%s", name, code, out)
	}
	return strings.TrimSpace(out)
}

// userGroups names the groups the user is in, its primary group first.
func userGroups(t *testing.T, name string) string {
	t.Helper()
	return strings.TrimSpace(mustRun(t, "id", "--groups", "--name", name))
}

// loginShell is the user's shell in the passwd database.
func loginShell(t *testing.T, name string) string {
	t.Helper()
	f := strings.Split(strings.TrimSpace(mustRun(t, "getent", "passwd", name)), ":")
	if len(f) < 7 {
		t.Fatalf("getent passwd %s: %q", name, f)
	}
	return f[6]
}

// underSystemd reports whether systemd runs this machine, and so the
// service: the init script hands its commands to systemctl then.
func underSystemd() bool {
	fi, err := os.Stat("/run/systemd/system")
	return err == nil && fi.IsDir()
}

// reloaded is what the daemon logs once a reload has taken effect.
const reloaded = "Configuration reloaded"

// daemonLog is what the daemon has logged: under systemd the journal has
// it; started by the init script, the daemon writes it to
// tentacle_serverd.log beside the transfer log. Either may hold earlier
// runs' lines too. A log that cannot be read comes back as the error, for
// the failure message: the line waited for is then never there.
func daemonLog(t *testing.T) string {
	t.Helper()
	if underSystemd() {
		out, code := run(t, "journalctl", "--unit=tentacle_serverd.service", "--output=cat", "--no-pager")
		if code != 0 {
			return fmt.Sprintf("(journalctl: exit status %d: %s)", code, out)
		}
		return out
	}
	b, err := os.ReadFile("/var/log/tentacle/tentacle_serverd.log")
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	return string(b)
}

// servicePID is the running daemon's process ID: from the init script's
// pid file, or from systemd when it runs the service.
func servicePID(t *testing.T) int {
	t.Helper()
	var s string
	if underSystemd() {
		s = mustRun(t, "systemctl", "show", "--property=MainPID", "--value", "tentacle_serverd.service")
	} else {
		b, err := os.ReadFile("/run/tentacle_serverd.pid")
		if err != nil {
			t.Fatalf("no pid file: %v", err)
		}
		s = string(b)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || pid <= 0 {
		t.Fatalf("the daemon's pid: %q", s)
	}
	return pid
}

// procIDs returns the four IDs of a "Uid:" or "Gid:" line of
// /proc/PID/status.
func procIDs(t *testing.T, pid int, key string) [4]int {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("the daemon (pid %d) is not running: %v", pid, err)
	}
	defer f.Close()
	var ids [4]int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 5 && fields[0] == key {
			for i := range ids {
				ids[i], _ = strconv.Atoi(fields[i+1])
			}
			return ids
		}
	}
	t.Fatalf("/proc/%d/status has no %s line", pid, key)
	return ids
}

// isDaemon reports whether pid is a live tentacle_serverd (not a zombie,
// not another program that got the number).
func isDaemon(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false
	}
	var name, state string
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "Name:" {
			name = f[1]
		}
		if len(f) >= 2 && f[0] == "State:" {
			state = f[1]
		}
	}
	return name == "tentacle_server" && state != "Z" && state != "X"
}

// waitGone waits for the daemon to end: stop may return as it exits.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	testharness.WaitFor(t, fmt.Sprintf("the daemon (pid %d) to end after stop", pid), func() bool { return !isDaemon(pid) })
}

func randomHex(t *testing.T) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
