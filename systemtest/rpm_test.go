//go:build system && linux

package systemtest

import (
	"os"
	"strings"
	"testing"
)

// TestRPMScriptlets installs, upgrades and erases the .rpm with rpm itself
// on the booted Debian 12 with systemd, so that its scriptlets (%post,
// %preun, %postun) really run under a real systemd: the user and
// directories made, the service enabled and started, restarted on
// upgrade, stopped and disabled on erase, the agents' files kept.
//
// What this does not prove: that the package installs on an RPM-based
// distribution. --nodeps skips its dependencies (shadow-utils), and the
// scriptlets run with Debian's useradd, paths and rpm, not RHEL's; SELinux
// labels and the SysV branch (/etc/rc.d/init.d, chkconfig) are not run.
func TestRPMScriptlets(t *testing.T) {
	needRoot(t)
	rpm1, rpm2 := pkg(t, firstVersion, ".rpm"), pkg(t, secondVersion, ".rpm")
	c := boot(t, systemdTree)
	c.waitSystemd()
	c.copyIn(rpm1, "/root/tentacle-1.rpm", 0o644)
	c.copyIn(rpm2, "/root/tentacle-2.rpm", 0o644)

	c.must("rpm", "-i", "--nodeps", "/root/tentacle-1.rpm")
	if out := c.must("getent", "passwd", "pandora"); !strings.Contains(out, "/var/spool/pandora") {
		t.Errorf("pandora: %q", out)
	}
	for _, q := range [][]string{{"is-enabled", unit}, {"is-active", unit}} {
		if out := c.must(append([]string{"systemctl"}, q...)...); !strings.Contains(out, "enabled") && !strings.Contains(out, "active") {
			t.Errorf("systemctl %v: %q", q, out)
		}
	}
	if _, err := os.Stat(c.path("/etc/sysconfig/tentacle_serverd")); err != nil {
		t.Errorf("the rpm's env file: %v", err)
	}
	c.writeFile("/root/rpm.data", []byte("rpm"), 0o644)
	c.must("tentacle_client", "-a", "127.0.0.1", "/root/rpm.data")
	expectStored(t, c, "rpm.data", "rpm")

	// Without the socket unit a restart refuses connections for a moment;
	// with it, agents wait in its queue: switch, then upgrade under load.
	c.must("systemctl", "stop", unit)
	c.must("systemctl", "enable", "--now", socket)
	c.writeFile("/root/activate.data", []byte("activate"), 0o644)
	c.must("tentacle_client", "-a", "127.0.0.1", "/root/activate.data") // starts the service
	before := strings.TrimSpace(c.must("systemctl", "show", "-p", "MainPID", "--value", unit))
	l := startLoad(c, addr, "rpmupgrade", 8)
	l.waitFor(t, 200)
	c.must("rpm", "-U", "--nodeps", "/root/tentacle-2.rpm")
	l.waitFor(t, 200)
	n := l.stop(t, spool)
	t.Logf("rpm -U under load: %d uploads, %d failed", n, len(l.failures))
	if after := strings.TrimSpace(c.must("systemctl", "show", "-p", "MainPID", "--value", unit)); after == before || after == "0" {
		t.Errorf("rpm -U did not restart the daemon: MainPID %s, then %s", before, after)
	}
	if v := c.must("rpm", "-q", "--qf", "%{VERSION}", "tentacle"); v != secondVersion {
		t.Errorf("installed version %q, want %s", v, secondVersion)
	}

	c.must("rpm", "-e", "--nodeps", "tentacle")
	if out, _ := c.run("systemctl", "is-active", unit); strings.TrimSpace(out) == "active" {
		t.Error("still active after rpm -e")
	}
	for _, u := range []string{unit, socket} {
		if out, _ := c.run("systemctl", "is-enabled", u); strings.TrimSpace(out) == "enabled" {
			t.Errorf("%s still enabled after rpm -e", u)
		}
	}
	if out, _ := c.run("systemctl", "is-active", socket); strings.TrimSpace(out) == "active" {
		t.Error("the socket still listens after rpm -e")
	}
	expectStored(t, c, "rpm.data", "rpm")
}
