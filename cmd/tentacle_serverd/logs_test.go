//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"tentacle/internal/testharness"
)

func fileHas(path, text string) bool {
	b, err := os.ReadFile(path)
	return err == nil && strings.Contains(string(b), text)
}

// TestLogFileFollowsReloadAndSIGUSR1 runs the daemon with an -l file:
// SIGUSR1 after the file was renamed makes a new one under the old name,
// and a reload that names another -l file moves the messages there.
func TestLogFileFollowsReloadAndSIGUSR1(t *testing.T) {
	e := newEnv(t, "nobody")
	first, second := filepath.Join(e.logs, "first.log"), filepath.Join(e.logs, "second.log")
	base := strings.TrimSpace(readEnv(t, e))
	e.write(base, "TENTACLE_EXT_OPTS='-l "+first+"'")
	cmd := exec.Command(daemonBin, "--env-file", e.file)
	out := &testharness.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	testharness.WaitFor(t, "the daemon to serve", func() bool { return fileHas(first, "Server listening on") })

	if err := os.Rename(first, first+".1"); err != nil {
		t.Fatal(err)
	}
	cmd.Process.Signal(syscall.SIGUSR1)
	testharness.WaitFor(t, "a new -l file", func() bool { return fileHas(first, "Transfer log rotated") })
	if fileHas(first+".1", "Transfer log rotated") {
		t.Error("the renamed -l file got the line after SIGUSR1")
	}

	e.write(base, "TENTACLE_EXT_OPTS='-l "+second+"'")
	cmd.Process.Signal(syscall.SIGHUP)
	testharness.WaitFor(t, "the reload", func() bool { return fileHas(second, "Configuration reloaded") })
	if fileHas(first, "Configuration reloaded") {
		t.Error("the old -l file got the line after the reload")
	}
	if err := send(e.addr(), "", "after.data", "x"); err != nil {
		t.Fatalf("serving after the reload: %v", err)
	}
	if out.String() != "" {
		t.Errorf("messages on the standard streams with -l: %q", out.String())
	}
}

// TestLogrotateConfig runs the packaged logrotate configuration, pointed at
// a temporary directory and pid file, with logrotate -f against a detached
// daemon (as the init script starts it): tentacle_serverd.log is renamed,
// the postrotate's SIGUSR1 makes the daemon write to a new file under the
// old name, and a second run compresses the first copy (delaycompress).
func TestLogrotateConfig(t *testing.T) {
	testharness.NeedRoot(t, "logrotate, as the system runs it, is root")
	logrotate := testharness.NeedTool(t, "logrotate", "logrotate")
	e := newEnv(t, "nobody")
	pid := e.startDetached()
	serviceLog := filepath.Join(e.logs, "tentacle_serverd.log")
	testharness.WaitFor(t, "the service log", func() bool { return fileHas(serviceLog, "Server listening on") })

	// The shipped file, with this test's paths, and without the systemd
	// branch: the host's systemd must not be asked about a unit that
	// a package test may have installed meanwhile.
	conf := readFileT(t, "../../packaging/logrotate/tentacle")
	for old, cur := range map[string]string{
		"/var/log/tentacle/":         e.logs + "/",
		"/run/tentacle_serverd.pid":  e.pidFile(),
		"[ -d /run/systemd/system ]": "false",
	} {
		if !strings.Contains(conf, old) {
			t.Fatalf("the logrotate configuration no longer holds %q", old)
		}
		conf = strings.ReplaceAll(conf, old, cur)
	}
	confPath := filepath.Join(e.dir, "logrotate.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(e.dir, "logrotate.state")
	rotate := func() {
		t.Helper()
		if out, err := exec.Command(logrotate, "-f", "-s", state, confPath).CombinedOutput(); err != nil || len(out) > 0 {
			t.Fatalf("logrotate -f: %v\n%s", err, out)
		}
	}

	rotate()
	if !fileHas(serviceLog+".1", "Server listening on") {
		t.Fatalf("%s.1 lacks the messages from before the rotation", serviceLog)
	}
	testharness.WaitFor(t, "the daemon to reopen its log", func() bool { return fileHas(serviceLog, "Transfer log rotated") })
	if st, err := os.Stat(serviceLog); err != nil || st.Mode().Perm() != 0o640 || int(st.Sys().(*syscall.Stat_t).Uid) != e.user.UID {
		t.Errorf("new service log: %v %v, want 0640 owned by the serving user", st, err)
	}
	if err := send(e.addr(), "", "rotated.data", "x"); err != nil {
		t.Fatalf("serving after the rotation: %v", err)
	}

	rotate()
	if _, err := os.Stat(serviceLog + ".2.gz"); err != nil {
		t.Errorf("second rotation: %v", err)
	}
	testharness.WaitFor(t, "the daemon to reopen its log again", func() bool { return fileHas(serviceLog, "Transfer log rotated") })
	if syscall.Kill(pid, 0) != nil {
		t.Fatal("the daemon died")
	}
}

func readFileT(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDetachedReloadDropsLogFile: a daemon detached with -l has no
// terminal to fall back on, so a reload that drops -l sends its messages
// to tentacle_serverd.log, where a start without -l would have.
func TestDetachedReloadDropsLogFile(t *testing.T) {
	e := newEnv(t, "nobody")
	lfile := filepath.Join(e.logs, "l.log")
	serviceLog := filepath.Join(e.logs, "tentacle_serverd.log")
	base := strings.TrimSpace(readEnv(t, e))
	e.write(base, "TENTACLE_EXT_OPTS='-l "+lfile+"'")
	pid := e.startDetached()
	testharness.WaitFor(t, "the daemon to serve", func() bool { return fileHas(lfile, "Server listening on") })
	if _, err := os.Stat(serviceLog); err == nil {
		t.Errorf("%s exists although -l was given", serviceLog)
	}

	e.write(base)
	syscall.Kill(pid, syscall.SIGHUP)
	testharness.WaitFor(t, "the reload", func() bool { return fileHas(serviceLog, "Configuration reloaded") })
	syscall.Kill(pid, syscall.SIGUSR1)
	testharness.WaitFor(t, "the rotation", func() bool { return fileHas(serviceLog, "Transfer log rotated") })
	if fileHas(lfile, "Configuration reloaded") {
		t.Error("the dropped -l file got the line after the reload")
	}
}
