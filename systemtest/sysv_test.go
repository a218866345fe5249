//go:build system && linux

package systemtest

import (
	"os"
	"strings"
	"testing"

	"tentacle/internal/testharness"
)

// TestSysVInit installs the .deb on a Debian 12 booted with SysV init
// (sysvinit-core), where the LSB script is what runs the daemon, and drives
// it through service(8) with the exit codes LSB promises: status is 0
// while it runs and 3 once stopped, start and stop succeed when there is
// nothing to do, reload applies a new password without a restart.
func TestSysVInit(t *testing.T) {
	needRoot(t)
	deb := pkg(t, firstVersion, ".deb")
	c := boot(t, sysvTree)
	c.waitRunlevel()
	c.copyIn(deb, "/root/tentacle.deb", 0o644)

	// The package starts the service through invoke-rc.d.
	c.must("dpkg", "-i", "/root/tentacle.deb")
	status := func(want int) {
		t.Helper()
		if _, code := c.run("service", "tentacle_serverd", "status"); code != want {
			t.Fatalf("service tentacle_serverd status: exit %d, want %d", code, want)
		}
	}
	upload := func(name string, args ...string) int {
		t.Helper()
		c.writeFile("/root/"+name, []byte(name), 0o644)
		_, code := c.run(append(append([]string{"tentacle_client", "-a", "127.0.0.1"}, args...), "/root/"+name)...)
		return code
	}
	pid := func() string {
		t.Helper()
		out, _ := c.run("pidof", "tentacle_serverd")
		return strings.TrimSpace(out)
	}

	status(0)
	if out := c.must("ps", "-o", "user=", "-C", "tentacle_serverd"); strings.TrimSpace(out) != "pandora" {
		t.Errorf("the daemon runs as %q, want pandora", out)
	}
	if code := upload("sysv.data"); code != 0 {
		t.Fatalf("upload: exit %d", code)
	}
	expectStored(t, c, "sysv.data", "sysv.data")

	// Reload: the same process, a new password.
	before := pid()
	c.setEnvVar(envFile, "TENTACLE_EXT_OPTS", "\"-x sysvsecret\"")
	c.must("service", "tentacle_serverd", "reload")
	if after := pid(); after != before {
		t.Errorf("reload replaced the process: %s, then %s", before, after)
	}
	if code := upload("reloaded.data", "-x", "sysvsecret"); code != 0 {
		t.Errorf("the new password after reload: exit %d", code)
	}
	if code := upload("nopass.data"); code == 0 {
		t.Error("no password accepted after the reload set one")
	}
	c.setEnvVar(envFile, "TENTACLE_EXT_OPTS", "")

	// Restart: a new process, serving.
	c.must("service", "tentacle_serverd", "restart")
	status(0)
	if after := pid(); after == before || after == "" {
		t.Errorf("restart kept process %q", after)
	}
	if code := upload("restarted.data"); code != 0 {
		t.Errorf("upload after restart: exit %d", code)
	}

	// logrotate, as cron would run it: the detached daemon's messages
	// move to .1, and SIGUSR1 makes it open a new file, as pandora.
	logFile := "/var/log/tentacle/tentacle_serverd.log"
	c.must("logrotate", "-f", "/etc/logrotate.d/tentacle")
	if _, err := os.Stat(c.path(logFile + ".1")); err != nil {
		t.Errorf("logrotate left no %s.1: %v", logFile, err)
	}
	testharness.WaitFor(t, "the daemon to reopen its log", func() bool {
		_, err := os.Stat(c.path(logFile))
		return err == nil
	})
	if out := c.must("stat", "-c", "%U", logFile); strings.TrimSpace(out) != "pandora" {
		t.Errorf("the reopened %s belongs to %s, want pandora", logFile, out)
	}
	if code := upload("rotated.data"); code != 0 {
		t.Errorf("upload after logrotate: exit %d", code)
	}

	// Stop, and the LSB codes around it.
	c.must("service", "tentacle_serverd", "stop")
	status(3)
	if p := pid(); p != "" {
		t.Errorf("still running after stop: %s", p)
	}
	c.must("service", "tentacle_serverd", "stop") // nothing to do: 0
	c.must("service", "tentacle_serverd", "start")
	c.must("service", "tentacle_serverd", "start") // already running: 0
	status(0)
	if n := len(strings.Fields(pid())); n != 1 {
		t.Errorf("%d daemons after two starts, want 1", n)
	}
	if _, code := c.run("/etc/init.d/tentacle_serverd", "no-such-action"); code == 0 {
		t.Error("an unknown action exits 0")
	}

	// Removal stops it and keeps the files.
	c.must("dpkg", "-r", "tentacle")
	if p := pid(); p != "" {
		t.Errorf("still running after dpkg -r: %s", p)
	}
	expectStored(t, c, "restarted.data", "restarted.data")
	t.Logf("%d files kept in the spool after removal", len(spoolFiles(t, c)))
}
