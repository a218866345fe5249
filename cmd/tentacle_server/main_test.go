//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"tentacle/internal/testharness"
	"tentacle/privileges"
	"tentacle/protocol"
)

// serverBin is the program under test, built once for all tests.
var serverBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tentacle-server-test")
	if err != nil {
		panic(err)
	}
	serverBin = filepath.Join(dir, "tentacle_server")
	if out, err := exec.Command("go", "build", "-o", serverBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// storageDir makes a storage directory that the serving user can write: as
// root the server drops to nobody.
func storageDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	if privileges.IsRoot() {
		nobody, err := privileges.Lookup("nobody")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, nobody.UID, nobody.GID); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// waitListening waits for a server started in the foreground to accept
// connections: nothing else says it has bound its port.
func waitListening(t *testing.T, addr string) {
	t.Helper()
	testharness.WaitFor(t, "the server to listen on "+addr, func() bool { return testharness.Accepts(addr) })
}

// startServer runs the binary in the foreground with args.
func startServer(t *testing.T, args ...string) (*exec.Cmd, *testharness.SyncBuffer) {
	t.Helper()
	out := &testharness.SyncBuffer{}
	cmd := exec.Command(serverBin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("tentacle_server %q said:\n%s", args, out.String())
		}
	})
	return cmd, out
}

func withUser(args ...string) []string {
	if privileges.IsRoot() {
		return append(args, "-U", "nobody")
	}
	return args
}

// TestBadOptions checks that every misconfiguration stops the start with
// exit status 1 and an [err] line that names what is wrong.
func TestBadOptions(t *testing.T) {
	dir := t.TempDir()
	conf := filepath.Join(dir, "bad.conf")
	if err := os.WriteFile(conf, []byte("port 70000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-s", dir, "-c", "0"}, "-c 0"},
		{[]string{"-s", dir, "-p", "x"}, "-p"},
		{[]string{"-s", dir, "-m", "-5"}, "-m"},
		{[]string{"-s", filepath.Join(dir, "none")}, "-s"},
		{[]string{"-s", dir, "-e", filepath.Join(dir, "no.pem")}, "-e"},
		{[]string{"-s", dir, "-i", "(:conf"}, "-i"},
		{[]string{"-s", dir, "-z", "SSLv3", "-e", conf, "-k", conf}, "TLS"},
		{[]string{"-s", dir, "-F", conf}, "70000"},
		{[]string{"-s", dir, "-F", filepath.Join(dir, "missing.conf")}, "missing.conf"},
		{[]string{"-s", dir, "-Q"}, "Q"},
		{[]string{"-s", dir, "extra"}, "extra"},
		{[]string{}, "-s"},
		{[]string{"-s", dir, "-S", "install"}, "Windows"},
		{[]string{"-s", dir, "-P", "balancer.example.com"}, "-P balancer.example.com"},
		{[]string{"-s", dir, "-P", "10.0.0.1/8"}, "-P 10.0.0.1/8"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			out, err := exec.Command(serverBin, tt.args...).CombinedOutput()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
				t.Fatalf("exit: %v, want status 1; output:\n%s", err, out)
			}
			if !regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\[err\].*` + regexp.QuoteMeta(tt.want)).Match(out) {
				t.Fatalf("no [err] line naming %q in:\n%s", tt.want, out)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	out, err := exec.Command(serverBin, "-h").CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("exit %v, want 1 as the reference", err)
	}
	for _, opt := range []string{"-a", "-b", "-c", "-d", "-e", "-f", "-F", "-g", "-h", "-I", "-i", "-k", "-l", "-m", "-o", "-p", "-P", "-q", "-r", "-s", "-S", "-t", "-T", "-u", "-U", "-v", "-V", "-w", "-x", "-z"} {
		if !bytes.Contains(out, []byte(opt)) {
			t.Errorf("help does not mention %s", opt)
		}
	}
}

// TestServeAndStop runs the foreground server: a transfer works, the log
// goes to -l, and SIGTERM lets an upload in flight finish before exit 0.
func TestServeAndStop(t *testing.T) {
	dir := storageDir(t)
	port := testharness.FreePort(t)
	logFile := filepath.Join(t.TempDir(), "server.log")
	cmd, out := startServer(t, withUser("-s", dir, "-a", "127.0.0.1", "-p", port, "-V", "-l", logFile)...)
	addr := "127.0.0.1:" + port
	waitListening(t, addr)

	c, err := protocol.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Send("one.data", strings.NewReader("1"), 1); err != nil {
		t.Fatal(err)
	}
	// Start a second upload, stop the server in its middle, finish it.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprint(conn, "SEND <two.data> SIZE 6\n")
	buf := make([]byte, 8)
	if n, err := conn.Read(buf); err != nil || string(buf[:n]) != "SEND OK\n" {
		t.Fatalf("got %q %v", buf[:n], err)
	}
	fmt.Fprint(conn, "abc")
	cmd.Process.Signal(syscall.SIGTERM)
	waitLog(t, logFile, "Server going down")
	fmt.Fprint(conn, "def")
	if n, err := conn.Read(buf); err != nil || string(buf[:n]) != "SEND OK\n" {
		t.Fatalf("after SIGTERM got %q %v", buf[:n], err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, out)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "two.data")); string(got) != "abcdef" {
		t.Fatalf("stored %q", got)
	}
	log, _ := os.ReadFile(logFile)
	for _, want := range []string{"[log]Server listening on 127.0.0.1 port " + port, "[info]Request to send file 'one.data' size 1b"} {
		if !bytes.Contains(log, []byte(want)) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

// waitLog waits for the log file at path to say want, and returns it; a
// file not there yet is one that says nothing yet.
func waitLog(t *testing.T, path, want string) string {
	t.Helper()
	var b []byte
	said := false
	defer func() {
		if !said { // WaitFor failed: show what the log did say
			t.Logf("log %s:\n%s", path, b)
		}
	}()
	testharness.WaitFor(t, fmt.Sprintf("log %s to say %q", path, want), func() bool {
		b, _ = os.ReadFile(path)
		return bytes.Contains(b, []byte(want))
	})
	said = true
	return string(b)
}

// TestDetach checks -d: the command returns once the background server
// listens, in a session of its own, and a start-up error reaches the caller.
func TestDetach(t *testing.T) {
	dir := storageDir(t)
	port := testharness.FreePort(t)
	logFile := filepath.Join(t.TempDir(), "server.log")
	out, err := exec.Command(serverBin, withUser("-d", "-s", dir, "-a", "127.0.0.1", "-p", port, "-v", "-l", logFile)...).CombinedOutput()
	if err != nil {
		t.Fatalf("-d: %v\n%s", err, out)
	}
	// Listening already: no waiting needed.
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second)
	if err != nil {
		t.Fatalf("not listening when -d returned: %v", err)
	}
	c.Close()
	log := waitLog(t, logFile, "serving (pid ")
	m := regexp.MustCompile(`serving \(pid (\d+)\)`).FindStringSubmatch(log)
	if m == nil {
		t.Fatalf("no pid in the log:\n%s", log)
	}
	pid, err := strconv.Atoi(m[1])
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(pid, syscall.SIGTERM)
	if sid, err := unix.Getsid(pid); err != nil || sid != pid {
		t.Errorf("background server session %d (%v), want its own (%d)", sid, err, pid)
	}

	// A second one cannot bind the port: the caller hears why.
	out, err = exec.Command(serverBin, withUser("-d", "-s", dir, "-a", "127.0.0.1", "-p", port)...).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !bytes.Contains(out, []byte("[err]")) || !bytes.Contains(out, []byte(port)) {
		t.Fatalf("second -d: %v\n%s", err, out)
	}
}

// TestRootDrop starts the server as root and proves from /proc that it
// serves as the -U user, and that stored files belong to that user.
func TestRootDrop(t *testing.T) {
	testharness.NeedRoot(t, "drops to user nobody")
	nobody, err := privileges.Lookup("nobody")
	if err != nil {
		t.Fatal(err)
	}
	dir := storageDir(t)
	port := testharness.FreePort(t)
	cmd, out := startServer(t, "-s", dir, "-a", "127.0.0.1", "-p", port, "-U", "nobody")
	waitListening(t, "127.0.0.1:"+port)
	// The server listens before it gives root up: once it has stored a
	// file, it has.
	c, err := protocol.Dial("127.0.0.1:" + port)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Send("owned.data", strings.NewReader("x"), 1); err != nil {
		t.Fatal(err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"Uid:", "Gid:"} {
		want := nobody.UID
		if key == "Gid:" {
			want = nobody.GID
		}
		m := regexp.MustCompile(`(?m)^` + key + `\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$`).FindStringSubmatch(string(status))
		for _, id := range m[1:] {
			if id != strconv.Itoa(want) {
				t.Fatalf("%s %v, want all %d\n%s", key, m[1:], want, out)
			}
		}
	}
	st, err := os.Stat(filepath.Join(dir, "owned.data"))
	if err != nil {
		t.Fatal(err)
	}
	if uid := st.Sys().(*syscall.Stat_t).Uid; int(uid) != nobody.UID {
		t.Fatalf("file owned by %d, want %d", uid, nobody.UID)
	}
}

// TestRootDropFailures: a missing user, or a storage directory the user
// cannot write, stops the start with a clear error.
func TestRootDropFailures(t *testing.T) {
	testharness.NeedRoot(t, "drops to user nobody")
	rootOnly := t.TempDir()
	readOnly := t.TempDir()
	for dir, mode := range map[string]os.FileMode{
		rootOnly:               0o700, // nobody cannot even enter it
		readOnly:               0o755, // nobody may enter, not write
		filepath.Dir(readOnly): 0o755,
	} {
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-s", rootOnly, "-U", "no-such-user"}, `"no-such-user"`},
		{[]string{"-s", rootOnly, "-U", "root"}, "is root"},
		{[]string{"-s", rootOnly, "-U", "nobody"}, "cannot open the storage directory as uid 65534"},
		{[]string{"-s", readOnly, "-U", "nobody"}, "cannot write to the storage directory as uid 65534"},
	}
	for _, tt := range tests {
		args := append(tt.args, "-a", "127.0.0.1", "-p", testharness.FreePort(t))
		out, err := exec.Command(serverBin, args...).CombinedOutput()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !bytes.Contains(out, []byte(tt.want)) {
			t.Errorf("%v: %v\n%s", tt.args, err, out)
		}
	}
}

// TestRelayOption runs the binary as a relay (-b/-g, no -s) in front of an
// in-process server.
func TestRelayOption(t *testing.T) {
	upstreamDir := t.TempDir()
	st, err := protocol.OpenDirStorage(upstreamDir)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	up := &protocol.Server{Storage: st}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go up.Serve(l)
	defer up.Close()
	upPort := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)

	port := testharness.FreePort(t)
	startServer(t, withUser("-b", "127.0.0.1", "-g", upPort, "-a", "127.0.0.1", "-p", port, "-x", "relay")...)
	waitListening(t, "127.0.0.1:"+port)
	c, err := (&protocol.Dialer{Timeout: 5 * time.Second}).Dial(context.Background(), "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Auth("relay"); err != nil {
		t.Fatal(err)
	}
	if err := c.Send("relayed.data", strings.NewReader("hop"), 3); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(upstreamDir, "relayed.data")); string(got) != "hop" {
		t.Fatalf("upstream holds %q", got)
	}
}
