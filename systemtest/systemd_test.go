//go:build system && linux

package systemtest

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"tentacle/internal/testharness"
)

const (
	spool   = "/var/spool/pandora/data_in"
	envFile = "/etc/default/tentacle_serverd"
	addr    = "127.0.0.1:41121"
	unit    = "tentacle_serverd.service"
	socket  = "tentacle_serverd.socket"
	// maxExposure is the most `systemd-analyze security` may rate the
	// service: 1.5 or less is what the best-hardened services reach.
	maxExposure = 1.5
)

// TestSystemd installs the .deb on a booted Debian 12 with systemd and runs
// through an administrator's life with it: enable and start, transfers
// from our client and from the reference's, both reloads, the unit's
// hardening, switching to socket activation, a restart and an upgrade
// under load, the watchdog, and a stop, remove, purge and second install
// that keep the agents' files.
func TestSystemd(t *testing.T) {
	needRoot(t)
	deb1, deb2 := pkg(t, firstVersion, ".deb"), pkg(t, secondVersion, ".deb")
	c := boot(t, systemdTree)
	c.waitSystemd()
	c.copyIn(deb1, "/root/tentacle-1.deb", 0o644)
	c.copyIn(deb2, "/root/tentacle-2.deb", 0o644)
	perl, why := perlClient(t)
	if perl != "" {
		c.copyIn(perl, "/usr/local/bin/tentacle_client_perl", 0o755)
	} else {
		t.Logf("the transfers from the Perl client are skipped: %s", why)
	}

	t.Run("install and enable", func(t *testing.T) {
		c.t = t
		c.must("dpkg", "-i", "/root/tentacle-1.deb")
		c.must("systemctl", "enable", "--now", unit)
		if out := c.must("systemctl", "is-active", unit); strings.TrimSpace(out) != "active" {
			t.Fatalf("%s is %q", unit, out)
		}
		status := c.must("systemctl", "show", "-p", "StatusText", "--value", unit)
		if !strings.Contains(status, "serving") {
			t.Errorf("StatusText %q, want the daemon's serving line (Type=notify)", status)
		}
		if out := c.must("ps", "-o", "user=", "-C", "tentacle_serverd"); strings.TrimSpace(out) != "pandora" {
			t.Errorf("the daemon runs as %q, want pandora", out)
		}
		// They may hold the password: pandora reads them, others not.
		for _, conf := range []string{envFile, "/etc/tentacle/tentacle_server.conf"} {
			if out := c.must("stat", "-c", "%a %U:%G", conf); strings.TrimSpace(out) != "640 root:pandora" {
				t.Errorf("%s: %s, want 640 root:pandora", conf, out)
			}
		}
	})

	t.Run("transfers and records", func(t *testing.T) {
		c.t = t
		c.writeFile("/root/ours.data", []byte("<agent_data from='ours'/>"), 0o644)
		c.must("tentacle_client", "-a", "127.0.0.1", "-v", "/root/ours.data")
		expectStored(t, c, "ours.data", "<agent_data from='ours'/>")
		if perl != "" {
			c.writeFile("/root/perl.data", []byte("<agent_data from='perl'/>"), 0o644)
			c.must("perl", "/usr/local/bin/tentacle_client_perl", "-a", "127.0.0.1", "-v", "/root/perl.data")
			expectStored(t, c, "perl.data", "<agent_data from='perl'/>")
		}
		testharness.WaitFor(t, "the transfer record", func() bool {
			b, _ := os.ReadFile(c.path("/var/log/tentacle/transfers.log"))
			return regexp.MustCompile(`"file":"ours.data".*"result":"ok"`).Match(b)
		})
	})

	t.Run("reload changes the password", func(t *testing.T) {
		c.t = t
		c.writeFile("/root/pw.data", []byte("pw"), 0o644)
		defer func() {
			// Back to no password, by a restart: the next steps must not
			// depend on reload working.
			c.setEnvVar(envFile, "TENTACLE_EXT_OPTS", "")
			c.run("systemctl", "restart", unit)
		}()
		for i, reload := range [][]string{
			{"systemctl", "reload", unit},
			{"service", "tentacle_serverd", "reload"},
		} {
			password := "secret" + strconv.Itoa(i)
			c.setEnvVar(envFile, "TENTACLE_EXT_OPTS", "\"-x "+password+"\"")
			c.must(reload...)
			if out := c.must("systemctl", "is-active", unit); strings.TrimSpace(out) != "active" {
				t.Fatalf("after %v: %s", reload, out)
			}
			c.must("tentacle_client", "-a", "127.0.0.1", "-x", password, "/root/pw.data")
			c.must("rm", spool+"/pw.data")
			if _, code := c.run("tentacle_client", "-a", "127.0.0.1", "-x", "wrong", "/root/pw.data"); code == 0 {
				t.Fatalf("after %v, a wrong password is accepted", reload)
			}
		}
		if journal := c.must("journalctl", "-u", unit, "--no-pager"); strings.Contains(journal, "Operation not permitted") {
			t.Errorf("the journal shows a failed reload:\n%s", lastLines(journal, 20))
		}
	})

	t.Run("hardening", func(t *testing.T) {
		c.t = t
		out := c.must("systemd-analyze", "security", unit, "--no-pager")
		m := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no exposure level in:\n%s", out)
		}
		if level, _ := strconv.ParseFloat(m[1], 64); level > maxExposure {
			t.Errorf("exposure %s, want %.1f or less", m[1], maxExposure)
		}
		t.Logf("exposure line: %s", strings.TrimSpace(lastLines(out, 1)))
	})

	t.Run("switch to socket activation", func(t *testing.T) {
		c.t = t
		// As README says: stop the service, which holds the port, then
		// let the socket unit hold it.
		c.must("systemctl", "stop", unit)
		c.must("systemctl", "enable", "--now", socket)
		c.writeFile("/root/activated.data", []byte("activated"), 0o644)
		c.must("tentacle_client", "-a", "127.0.0.1", "/root/activated.data")
		expectStored(t, c, "activated.data", "activated")
		if out := c.must("systemctl", "is-active", unit); strings.TrimSpace(out) != "active" {
			t.Fatalf("the connection did not start %s: %s", unit, out)
		}
		if journal := c.must("journalctl", "-u", unit, "--no-pager", "-n", "30"); !strings.Contains(journal, "socket(s) from systemd") {
			t.Errorf("the daemon did not take the socket from systemd:\n%s", journal)
		}
	})

	t.Run("restart under load", func(t *testing.T) {
		c.t = t
		l := startLoad(c, addr, "restart", 16)
		l.waitFor(t, 300)
		c.must("systemctl", "restart", unit)
		l.waitFor(t, 300)
		n := l.stop(t, spool)
		t.Logf("restart under load: %d uploads, %d failed", n, len(l.failures))
	})

	t.Run("upgrade under load", func(t *testing.T) {
		c.t = t
		// An administrator's change to a configuration file survives.
		c.setEnvVar(envFile, "TENTACLE_LOG_MAX_BACKUPS", "7")
		edited, _ := os.ReadFile(c.path(envFile))
		l := startLoad(c, addr, "upgrade", 16)
		l.waitFor(t, 300)
		c.must("dpkg", "-i", "/root/tentacle-2.deb")
		if after, _ := os.ReadFile(c.path(envFile)); string(after) != string(edited) {
			t.Errorf("the upgrade changed the edited %s:\n%s", envFile, after)
		}
		l.waitFor(t, 300)
		n := l.stop(t, spool)
		t.Logf("upgrade under load: %d uploads, %d failed", n, len(l.failures))
		if v := c.must("dpkg-query", "-W", "-f", "${Version}", "tentacle"); v != secondVersion {
			t.Errorf("installed version %q, want %s", v, secondVersion)
		}
		if out := c.must("systemctl", "is-active", unit, socket); strings.Fields(out)[0] != "active" || strings.Fields(out)[1] != "active" {
			t.Errorf("after the upgrade: %q", out)
		}
	})

	t.Run("watchdog restarts a hung daemon", func(t *testing.T) {
		c.t = t
		// A stopped process cannot act on the watchdog's SIGABRT: the
		// SIGKILL that follows TimeoutAbortSec ends it.
		c.writeFile("/etc/systemd/system/"+unit+".d/watchdog.conf", []byte("[Service]\nWatchdogSec=2s\nTimeoutAbortSec=2s\nRestartSec=1s\n"), 0o644)
		c.must("systemctl", "daemon-reload")
		c.must("systemctl", "restart", unit)
		before := strings.TrimSpace(c.must("systemctl", "show", "-p", "MainPID", "--value", unit))
		c.must("kill", "-STOP", before)
		testharness.WaitFor(t, "systemd to restart the hung daemon", func() bool {
			out, _ := c.command(context.Background(), "systemctl", "show", "-p", "MainPID,ActiveState", "--value", unit).Output()
			f := strings.Fields(string(out))
			return len(f) == 2 && f[0] != before && f[0] != "0" && f[1] == "active"
		})
		if journal := c.must("journalctl", "-u", unit, "--no-pager", "-o", "cat", "SYSLOG_IDENTIFIER=systemd"); !strings.Contains(journal, "Failed with result 'watchdog'") {
			t.Errorf("the journal does not name the watchdog:\n%s", journal)
		}
		os.RemoveAll(c.path("/etc/systemd/system/" + unit + ".d"))
		c.must("systemctl", "daemon-reload")
		c.must("systemctl", "restart", unit)
		c.writeFile("/root/after-watchdog.data", []byte("alive"), 0o644)
		c.must("tentacle_client", "-a", "127.0.0.1", "/root/after-watchdog.data")
	})

	t.Run("stop, remove, purge, install again", func(t *testing.T) {
		c.t = t
		c.must("systemctl", "stop", socket, unit)
		if out, _ := c.run("systemctl", "is-active", unit); strings.TrimSpace(out) == "active" {
			t.Fatalf("still active after stop")
		}
		stored := spoolFiles(t, c)
		c.must("dpkg", "-r", "tentacle")
		c.must("dpkg", "-P", "tentacle")
		if _, err := os.Stat(c.path("/usr/sbin/tentacle_serverd")); err == nil {
			t.Error("the daemon is still installed after purge")
		}
		if after := spoolFiles(t, c); len(after) != len(stored) {
			t.Errorf("the spool held %d files before removal, %d after purge", len(stored), len(after))
		}
		c.must("dpkg", "-i", "/root/tentacle-2.deb")
		if out := c.must("systemctl", "is-active", unit); strings.TrimSpace(out) != "active" {
			t.Fatalf("not active after a second install: %s", out)
		}
		c.writeFile("/root/again.data", []byte("again"), 0o644)
		c.must("tentacle_client", "-a", "127.0.0.1", "/root/again.data")
		expectStored(t, c, "again.data", "again")
	})
}

// expectStored checks a file of the container's spool.
func expectStored(t *testing.T, c *container, name, want string) {
	t.Helper()
	got, err := os.ReadFile(filepath.Join(c.path(spool), name))
	if err != nil || string(got) != want {
		t.Fatalf("%s: %q %v, want %q", name, got, err, want)
	}
}

// spoolFiles lists the agents' files in the spool.
func spoolFiles(t *testing.T, c *container) []string {
	t.Helper()
	entries, err := os.ReadDir(c.path(spool))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	return names
}
