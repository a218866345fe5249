//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"tentacle/internal/testharness"
	"tentacle/privileges"
	"tentacle/protocol"
	"tentacle/transferlog"
)

var daemonBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tentacle-serverd-test")
	if err != nil {
		panic(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil { // the serving user runs it
		panic(err)
	}
	daemonBin = filepath.Join(dir, "tentacle_serverd")
	if out, err := exec.Command("go", "build", "-o", daemonBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is a daemon set-up: its env file, spool and log.
type env struct {
	t                      *testing.T
	dir, file, spool, logs string
	port                   string
	user                   *privileges.Identity // who serves: nil when not root
}

// newEnv writes an env file for a daemon on 127.0.0.1. As root it serves as
// userName, which owns the spool and log directories.
func newEnv(t *testing.T, userName string, extra ...string) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), port: testharness.FreePort(t)}
	e.spool, e.logs = filepath.Join(e.dir, "spool"), filepath.Join(e.dir, "log")
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	check(os.Chmod(e.dir, 0o755))
	check(os.Chmod(filepath.Dir(e.dir), 0o755)) // the serving user must reach it
	check(os.Mkdir(e.spool, 0o770))
	check(os.Mkdir(e.logs, 0o750))
	if privileges.IsRoot() {
		id, err := privileges.Lookup(userName)
		check(err)
		e.user = id
		check(os.Chown(e.spool, id.UID, id.GID))
		check(os.Chown(e.logs, id.UID, id.GID))
	} else {
		u, err := user.Current()
		check(err)
		userName = u.Username
	}
	e.file = filepath.Join(e.dir, "tentacle_serverd")
	lines := append([]string{
		"# written by the test",
		"PANDORA_SERVER_PATH=" + e.spool,
		"TENTACLE_PORT=" + e.port,
		"TENTACLE_ADDR=127.0.0.1",
		"TENTACLE_USER=" + userName,
		"TENTACLE_LOG_FILE=" + filepath.Join(e.logs, "transfers.log"),
		"TENTACLE_SHUTDOWN_TIMEOUT=20",
	}, extra...)
	e.write(lines...)
	return e
}

func (e *env) write(lines ...string) {
	if err := os.WriteFile(e.file, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) addr() string { return "127.0.0.1:" + e.port }

// start runs the daemon in the foreground and waits until it listens.
func (e *env) start(extraEnv ...string) (*exec.Cmd, *testharness.SyncBuffer) {
	e.t.Helper()
	cmd := exec.Command(daemonBin, "--env-file", e.file)
	cmd.Env = append(os.Environ(), extraEnv...)
	return cmd, startServing(e.t, cmd)
}

// startServing starts cmd, a daemon in the foreground however it is
// wrapped (prlimit, another user), kills it when the test ends, and waits
// until it serves; it returns the daemon's output.
func startServing(t *testing.T, cmd *exec.Cmd) *testharness.SyncBuffer {
	t.Helper()
	out := &testharness.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	testharness.WaitFor(t, "the daemon to serve", func() bool {
		return strings.Contains(out.String(), "Server listening on") || strings.Contains(out.String(), "[err]")
	})
	if !strings.Contains(out.String(), "Server listening on") {
		t.Fatalf("daemon did not start:\n%s", out)
	}
	return out
}

// pidFile is where startDetached has the daemon write its pid.
func (e *env) pidFile() string { return filepath.Join(e.dir, "tentacle_serverd.pid") }

// startDetached starts the daemon as the init script does (-d --pidfile)
// and returns its pid, read from the pid file, once -d has returned; the
// daemon is stopped when the test ends.
func (e *env) startDetached() int {
	e.t.Helper()
	pidFile := e.pidFile()
	if out, err := exec.Command(daemonBin, "--env-file", e.file, "-d", "--pidfile", pidFile).CombinedOutput(); err != nil {
		e.t.Fatalf("-d: %v\n%s", err, out)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		e.t.Fatal(err)
	}
	// Not 0 nor less: kill(2) would signal this test's process group.
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		e.t.Fatalf("pid file %s holds %q", pidFile, b)
	}
	e.t.Cleanup(func() {
		syscall.Kill(pid, syscall.SIGTERM)
		testharness.WaitFor(e.t, "the background daemon to stop", func() bool { return syscall.Kill(pid, 0) != nil })
	})
	return pid
}

func send(addr, password, name, body string) error {
	c, err := (&protocol.Dialer{Timeout: 5 * time.Second}).Dial(context.Background(), addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if password != "" {
		if err := c.Auth(password); err != nil {
			return err
		}
	}
	if err := c.Send(name, strings.NewReader(body), int64(len(body))); err != nil {
		return err
	}
	return c.Quit()
}

func records(t *testing.T, e *env) []transferlog.Record {
	t.Helper()
	f, err := os.Open(filepath.Join(e.logs, "transfers.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []transferlog.Record
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r transferlog.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("record %q: %v", sc.Text(), err)
		}
		recs = append(recs, r)
	}
	return recs
}

// testUser makes a system user for the test and removes it afterwards.
func testUser(t *testing.T) string {
	t.Helper()
	testharness.NeedTool(t, "useradd", "passwd")
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	name := "tnt" + hex.EncodeToString(b)
	if out, err := exec.Command("useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "--user-group", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("userdel", name).Run() })
	return name
}

// TestServesAsUserWithGroupMode starts the daemon as root with a user made
// by the test: /proc shows it serving as that user, and files land owned by
// it with mode 0660 (umask 0007).
func TestServesAsUserWithGroupMode(t *testing.T) {
	testharness.NeedRoot(t, "drops to a user of its own")
	name := testUser(t)
	e := newEnv(t, name)
	e.write(append(strings.Split(strings.TrimSpace(readEnv(t, e)), "\n"), "TENTACLE_LOG_FILE="+filepath.Join(e.logs, "new", "transfers.log"))...)
	cmd, out := e.start()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]int{"Uid": e.user.UID, "Gid": e.user.GID} {
		m := regexp.MustCompile(`(?m)^` + key + `:\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$`).FindStringSubmatch(string(status))
		for _, id := range m[1:] {
			if id != strconv.Itoa(want) {
				t.Fatalf("%s: %v, want %d everywhere\n%s", key, m[1:], want, out)
			}
		}
	}
	if m := regexp.MustCompile(`(?m)^Groups:\s*(.*)$`).FindStringSubmatch(string(status)); strings.TrimSpace(m[1]) != strconv.Itoa(e.user.GID) {
		t.Errorf("supplementary groups %q, want only %d", m[1], e.user.GID)
	}
	if err := send(e.addr(), "", "agent.1.data", "<data/>"); err != nil {
		t.Fatal(err)
	}
	// The log directory did not exist: root made it, for the user.
	if st, err := os.Stat(filepath.Join(e.logs, "new")); err != nil || int(st.Sys().(*syscall.Stat_t).Uid) != e.user.UID {
		t.Errorf("log directory made by the daemon: %v", err)
	}
	st, err := os.Stat(filepath.Join(e.spool, "agent.1.data"))
	if err != nil {
		t.Fatal(err)
	}
	if sys := st.Sys().(*syscall.Stat_t); int(sys.Uid) != e.user.UID || int(sys.Gid) != e.user.GID || st.Mode().Perm() != 0o660 {
		t.Fatalf("file %v owned by %d:%d, want 0660 %d:%d", st.Mode(), sys.Uid, sys.Gid, e.user.UID, e.user.GID)
	}
	e.logs = filepath.Join(e.logs, "new")
	recs := records(t, e)
	if len(recs) != 1 || recs[0].Result != transferlog.ResultOK || recs[0].File != "agent.1.data" || recs[0].Path != filepath.Join(e.spool, "agent.1.data") {
		t.Fatalf("records %+v", recs)
	}
}

// TestStartErrors: a bad configuration stops the start with exit 1 and a
// message naming what is wrong, before anything is bound.
func TestStartErrors(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  string
	}{
		{"bad port", []string{"TENTACLE_PORT=41x"}, ":8: TENTACLE_PORT"},
		{"bad ext opt", []string{"TENTACLE_EXT_OPTS='-Q'"}, "TENTACLE_EXT_OPTS"},
		{"unknown key", []string{"TENTACLE_PROT=1"}, "TENTACLE_PROT"},
		{"bad monitor interval", []string{"TENTACLE_MONITOR_INTERVAL=-5"}, `:8: TENTACLE_MONITOR_INTERVAL "-5"`},
		{"bad monitor agent", []string{"TENTACLE_MONITOR_AGENT=a:b"}, `:8: TENTACLE_MONITOR_AGENT "a:b"`},
		{"bad metrics address", []string{"TENTACLE_METRICS_ADDR=localhost"}, `:8: TENTACLE_METRICS_ADDR "localhost"`},
		{"missing storage", []string{"PANDORA_SERVER_PATH=/nonexistent/spool"}, "PANDORA_SERVER_PATH"},
		{"missing user", []string{"TENTACLE_USER=no-such-user-here"}, "no-such-user-here"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "missing user" {
				testharness.NeedRoot(t, "only root switches users")
			}
			e := newEnv(t, "nobody", tt.lines...)
			out, err := exec.Command(daemonBin, "--env-file", e.file).CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), tt.want) || !strings.Contains(string(out), "[err]") {
				t.Fatalf("exit %v, output:\n%s\nwant an [err] naming %q", err, out, tt.want)
			}
			if c, err := net.Dial("tcp", e.addr()); err == nil {
				c.Close()
				t.Fatal("something listens")
			}
		})
	}
	out, err := exec.Command(daemonBin, "--env-file", "/nonexistent/env").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "/nonexistent/env") {
		t.Errorf("missing --env-file: %v %s", err, out)
	}
}

// TestReloadDuringUpload changes the password with SIGHUP while a 100 MiB
// upload is in flight: the upload completes, new connections need the new
// password, no connection attempt is refused, and a bad file on a later
// SIGHUP is ignored.
func TestReloadDuringUpload(t *testing.T) {
	e := newEnv(t, "nobody", "TENTACLE_EXT_OPTS=\"-x old -m 200000000\"")
	cmd, out := e.start()

	const size = 100 << 20
	c, err := (&protocol.Dialer{Timeout: 10 * time.Second}).Dial(context.Background(), e.addr())
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Auth("old"); err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	uploaded := make(chan error, 1)
	go func() { uploaded <- c.Send("big.data", pr, size) }()
	chunk := bytes.Repeat([]byte("x"), 1<<20)
	for range 50 {
		pw.Write(chunk)
	}

	dialler := testharness.StartDialling(e.addr(), 2*time.Second)

	e.write(append(strings.Split(strings.TrimSpace(readEnv(t, e)), "\n")[:7], "TENTACLE_EXT_OPTS=\"-x new -m 200000000\"")...)
	cmd.Process.Signal(syscall.SIGHUP)
	testharness.WaitFor(t, "the reload", func() bool { return strings.Contains(out.String(), "Configuration reloaded") })
	if err := send(e.addr(), "new", "after.data", "new"); err != nil {
		t.Fatalf("new password after reload: %v\n%s", err, out)
	}
	if err := send(e.addr(), "old", "old.data", "old"); err == nil {
		t.Fatal("old password still accepted for new connections")
	}
	for range 50 {
		pw.Write(chunk)
	}
	if err := <-uploaded; err != nil {
		t.Fatalf("upload across the reload: %v\n%s", err, out)
	}
	c.Quit()
	if st, err := os.Stat(filepath.Join(e.spool, "big.data")); err != nil || st.Size() != size {
		t.Fatalf("big.data: %v", err)
	}

	// A broken file on SIGHUP: logged, the running configuration stays.
	e.write(`TENTACLE_PORT="unterminated`)
	cmd.Process.Signal(syscall.SIGHUP)
	testharness.WaitFor(t, "the refused reload", func() bool { return strings.Contains(out.String(), "reload refused") })
	if err := send(e.addr(), "new", "still.data", "up"); err != nil {
		t.Fatalf("after a bad reload: %v", err)
	}
	if dials, refused := dialler.Stop(); refused != 0 || dials == 0 {
		t.Fatalf("%d of %d connection attempts refused", refused, dials)
	}
}

// receiving reports whether process pid holds a file open in dir: an
// upload under way, whether or not its file has a name yet.
func receiving(pid int, dir string) bool {
	fdDir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, _ := os.ReadDir(fdDir)
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join(fdDir, fd.Name())); err == nil && strings.HasPrefix(target, dir+"/") {
			return true
		}
	}
	entries, _ := os.ReadDir(dir)
	return len(entries) > 0
}

func readEnv(t *testing.T, e *env) string {
	b, err := os.ReadFile(e.file)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestStopLetsUploadFinish sends SIGTERM in the middle of an upload: the
// upload completes, then the daemon exits 0.
func TestStopLetsUploadFinish(t *testing.T) {
	e := newEnv(t, "nobody")
	cmd, out := e.start()
	c, err := protocol.Dial(e.addr())
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	uploaded := make(chan error, 1)
	go func() { uploaded <- c.Send("last.data", pr, 6) }()
	pw.Write([]byte("abc"))
	testharness.WaitFor(t, "the upload to start", func() bool { return receiving(cmd.Process.Pid, e.spool) })
	cmd.Process.Signal(syscall.SIGTERM)
	testharness.WaitFor(t, "the stop", func() bool { return strings.Contains(out.String(), "Server going down") })
	pw.Write([]byte("def"))
	if err := <-uploaded; err != nil {
		t.Fatalf("upload: %v\n%s", err, out)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, out)
	}
	if got, _ := os.ReadFile(filepath.Join(e.spool, "last.data")); string(got) != "abcdef" {
		t.Fatalf("stored %q", got)
	}
}

// TestKillMidUploadLeavesNoFile: after SIGKILL in the middle of an upload,
// nothing is visible under the final name, and the next start cleans the
// temporary file.
func TestKillMidUploadLeavesNoFile(t *testing.T) {
	e := newEnv(t, "nobody")
	cmd, _ := e.start()
	c, err := protocol.Dial(e.addr())
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	go c.Send("killed.data", pr, 6)
	pw.Write([]byte("abc"))
	testharness.WaitFor(t, "the upload to start", func() bool { return receiving(cmd.Process.Pid, e.spool) })
	cmd.Process.Kill()
	cmd.Wait()
	if _, err := os.Stat(filepath.Join(e.spool, "killed.data")); err == nil {
		t.Fatal("partial file under its final name")
	}
	// Nothing may be left: the file had no name yet, or, where names
	// are needed, the next start removes the temporary file.
	e.start()
	testharness.WaitFor(t, "an empty spool", func() bool {
		entries, _ := os.ReadDir(e.spool)
		return len(entries) == 0
	})
}

// TestRotateOnSIGUSR1 checks the transfer log: records parse, and SIGUSR1
// starts a new file.
func TestRotateOnSIGUSR1(t *testing.T) {
	e := newEnv(t, "nobody", "TENTACLE_LOG_COMPRESS=no")
	cmd, out := e.start()
	for i := range 5 {
		if err := send(e.addr(), "", fmt.Sprintf("r%d.data", i), "x"); err != nil {
			t.Fatal(err)
		}
	}
	send(e.addr(), "", "r0.data", "again") // refused: exists
	testharness.WaitFor(t, "six records", func() bool { return len(records(t, e)) == 6 })
	if r := records(t, e)[5]; r.Result != transferlog.ResultRefused || r.Reason == "" {
		t.Errorf("refusal recorded as %+v", r)
	}
	cmd.Process.Signal(syscall.SIGUSR1)
	testharness.WaitFor(t, "the rotation", func() bool { return strings.Contains(out.String(), "Transfer log rotated") })
	files, _ := filepath.Glob(filepath.Join(e.logs, "transfers*.log"))
	if len(files) != 2 || len(records(t, e)) != 0 {
		t.Fatalf("after SIGUSR1: %v", files)
	}
}

// TestSocketActivation runs the daemon under the real systemd-socket-activate:
// it serves the socket it is given, ignoring TENTACLE_PORT.
func TestSocketActivation(t *testing.T) {
	activate := testharness.NeedTool(t, "systemd-socket-activate", "systemd")
	e := newEnv(t, "nobody")
	port := testharness.FreePort(t)
	out := &testharness.SyncBuffer{}
	cmd := exec.Command(activate, "-l", "127.0.0.1:"+port, daemonBin, "--env-file", e.file)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	testharness.WaitFor(t, "the activation socket", func() bool {
		c, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	if err := send("127.0.0.1:"+port, "", "activated.data", "on demand"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out.String(), "socket(s) from systemd") {
		t.Errorf("no word of the activated socket:\n%s", out)
	}
	if c, err := net.Dial("tcp", e.addr()); err == nil {
		c.Close()
		t.Error("TENTACLE_PORT was bound too")
	}
}

// TestNotify listens as systemd would on NOTIFY_SOCKET and checks the
// daemon's messages through a start, a reload, the watchdog and a stop.
func TestNotify(t *testing.T) {
	e := newEnv(t, "nobody")
	sock := filepath.Join(e.dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := os.Chmod(sock, 0o777); err != nil { // the daemon writes after dropping root
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []string
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			mu.Lock()
			got = append(got, string(buf[:n]))
			mu.Unlock()
		}
	}()
	seen := func(prefix string) bool {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range got {
			if strings.HasPrefix(m, prefix) {
				return true
			}
		}
		return false
	}
	cmd, _ := e.start("NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=200000", "WATCHDOG_PID=")
	testharness.WaitFor(t, "READY=1", func() bool { return seen("READY=1") })
	testharness.WaitFor(t, "STATUS=", func() bool { return seen("STATUS=serving") })
	testharness.WaitFor(t, "WATCHDOG=1", func() bool { return seen("WATCHDOG=1") })
	cmd.Process.Signal(syscall.SIGHUP)
	testharness.WaitFor(t, "RELOADING=1", func() bool { return seen("RELOADING=1") })
	cmd.Process.Signal(syscall.SIGTERM)
	testharness.WaitFor(t, "STOPPING=1", func() bool { return seen("STOPPING=1") })
	cmd.Wait()
}

// TestDetachWithPidfile: -d returns once serving and writes the pid file
// that the init script uses.
func TestDetachWithPidfile(t *testing.T) {
	e := newEnv(t, "nobody")
	pid := e.startDetached()
	if err := send(e.addr(), "", "bg.data", "x"); err != nil {
		t.Fatalf("not serving when -d returned: %v", err)
	}
	// With no terminal, the messages go to a file beside the transfer log.
	if log, err := os.ReadFile(filepath.Join(e.logs, "tentacle_serverd.log")); err != nil || !strings.Contains(string(log), "Server listening on 127.0.0.1 port "+e.port) {
		t.Errorf("service log: %v %q", err, log)
	}
	syscall.Kill(pid, syscall.SIGTERM)
	testharness.WaitFor(t, "the background daemon to stop", func() bool { return syscall.Kill(pid, 0) != nil })

	// A failing start is reported by -d itself.
	e.write("TENTACLE_PORT=0")
	out, err := exec.Command(daemonBin, "--env-file", e.file, "-d").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "TENTACLE_PORT") {
		t.Fatalf("-d with a bad file: %v\n%s", err, out)
	}
}

func TestCommandLine(t *testing.T) {
	out, err := exec.Command(daemonBin, "--version").CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "tentacle_serverd ") {
		t.Errorf("--version: %v %q", err, out)
	}
	out, err = exec.Command(daemonBin, "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "SIGHUP") {
		t.Errorf("--help: %v %q", err, out)
	}
	if _, err := os.Stat(initScript); err != nil {
		// Not installed here: status says so with LSB's "not running".
		out, err = exec.Command(daemonBin, "status").CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
			t.Errorf("status without the service: %v %q, want exit 3", err, out)
		}
	}
	out, err = exec.Command(daemonBin, "frobnicate").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "frobnicate") {
		t.Errorf("unknown command: %v %q", err, out)
	}
}
