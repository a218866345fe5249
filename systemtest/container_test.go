//go:build system && linux

package systemtest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"tentacle/internal/testharness"
)

// cacheDir keeps what is slow to make and safe to reuse between runs: the
// Debian trees and the Perl client.
const cacheDir = "/var/cache/tentacle-test"

// tree is a Debian 12 tree made by debootstrap: with systemd as init, or
// with SysV init.
type tree struct {
	name    string
	include []string
}

// What both trees need: passwd for the package's useradd, perl and its
// TLS modules for the reference client, procps for pgrep, iproute2 for ss.
var common = []string{"passwd", "perl", "perl-openssl-defaults", "libio-socket-ssl-perl", "libio-socket-inet6-perl", "procps", "iproute2", "init-system-helpers"}

var (
	systemdTree = tree{name: "bookworm-systemd", include: append([]string{"systemd", "systemd-sysv", "dbus", "rpm"}, common...)}
	sysvTree    = tree{name: "bookworm-sysvinit", include: append([]string{"sysvinit-core", "sysvinit-utils", "initscripts", "startpar", "logrotate"}, common...)}
)

// needRoot skips a test that boots containers when it cannot, recording
// the skip for CI (see testharness.SkipLogEnv).
func needRoot(t *testing.T) {
	t.Helper()
	testharness.NeedRoot(t, "boots containers")
	testharness.NeedTool(t, "systemd-nspawn", "systemd-container")
	testharness.NeedTool(t, "debootstrap", "debootstrap")
	testharness.NeedTool(t, "nsenter", "util-linux")
}

// treeLocks serialises the making of each tree within this process.
var treeLocks sync.Map

// ensure returns the path of the cached tree, making it first if it is
// missing or was made with other packages. The stamp file records how it
// was made; a tree is built beside its final place and renamed, so that an
// interrupted build is never taken for a tree.
func (tr tree) ensure(t *testing.T) string {
	t.Helper()
	mu, _ := treeLocks.LoadOrStore(tr.name, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()

	dir := filepath.Join(cacheDir, tr.name)
	args := []string{"--variant=minbase", "--include=" + strings.Join(tr.include, ","), "bookworm"}
	stamp := strings.Join(args, " ") + "\n"
	if got, err := os.ReadFile(filepath.Join(dir, ".tentacle-tree")); err == nil && string(got) == stamp {
		return dir
	}
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp := dir + ".tmp"
	os.RemoveAll(tmp)
	args = append(args, tmp)
	if mirror := aptMirror(); mirror != "" {
		args = append(args, mirror)
	}
	t.Logf("making the %s tree: debootstrap %s", tr.name, strings.Join(args, " "))
	start := time.Now()
	if out, err := exec.Command("debootstrap", args...).CombinedOutput(); err != nil {
		os.RemoveAll(tmp)
		testharness.Unavailable(t, fmt.Sprintf("debootstrap could not make the %s tree (no Debian mirror reachable?): %v\n%s", tr.name, err, lastLines(string(out), 20)))
	}
	// Let the services of the containers start: Debian's policy-rc.d
	// mechanism is not in use, but the tree has no machine id yet.
	os.WriteFile(filepath.Join(tmp, "etc/machine-id"), nil, 0o444)
	if err := os.WriteFile(filepath.Join(tmp, ".tentacle-tree"), []byte(stamp), 0o644); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		t.Fatal(err)
	}
	t.Logf("made the %s tree in %v", tr.name, time.Since(start).Round(time.Second))
	return dir
}

// aptMirror is the Debian mirror that the host's apt uses for bookworm, so
// that the trees come from the same archive; "" lets debootstrap choose.
func aptMirror() string {
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		// deb822 stanzas: URIs and Suites of one stanza.
		for _, stanza := range strings.Split(string(b), "\n\n") {
			var uris, suites []string
			for _, line := range strings.Split(stanza, "\n") {
				k, v, ok := strings.Cut(line, ":")
				if !ok || strings.HasPrefix(line, "#") {
					continue
				}
				switch strings.TrimSpace(k) {
				case "URIs":
					uris = strings.Fields(v)
				case "Suites":
					suites = strings.Fields(v)
				}
			}
			if len(uris) > 0 && slices.Contains(suites, "bookworm") {
				return uris[0]
			}
		}
	}
	if b, err := os.ReadFile("/etc/apt/sources.list"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) >= 3 && f[0] == "deb" && f[2] == "bookworm" {
				return f[1]
			}
		}
	}
	return ""
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// container is a booted copy of a tree.
type container struct {
	t      *testing.T
	dir    string // its root, as the host sees it
	nspawn *exec.Cmd
	pid    int // its PID 1, as the host sees it
	out    *testharness.SyncBuffer
	exited chan struct{}
}

// boot copies tree and boots it with systemd-nspawn: its own init as PID 1,
// and a private network with only a loopback. The copy is removed when the
// test ends.
func boot(t *testing.T, tr tree) *container {
	t.Helper()
	src := tr.ensure(t)
	dir, err := os.MkdirTemp("/var/tmp", "tentacle-"+tr.name+"-")
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(dir)
	if out, err := exec.Command("cp", "-a", "--reflink=auto", src, dir).CombinedOutput(); err != nil {
		t.Fatalf("copy %s: %v %s", src, err, out)
	}
	c := &container{t: t, dir: dir, out: &testharness.SyncBuffer{}, exited: make(chan struct{})}
	t.Cleanup(func() {
		c.stop()
		os.RemoveAll(dir)
	})
	// The host's PID 1 may not be systemd: no registration with machined,
	// and the container stays in the caller's cgroup.
	c.nspawn = exec.Command("systemd-nspawn", "--quiet", "-D", dir, "--boot",
		"--register=no", "--keep-unit", "--private-network", "--console=pipe",
		"--machine="+filepath.Base(dir))
	c.nspawn.Stdout, c.nspawn.Stderr = c.out, c.out
	c.nspawn.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := c.nspawn.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		c.nspawn.Wait()
		close(c.exited)
	}()
	deadline := time.Now().Add(60 * time.Second)
	for c.pid == 0 {
		select {
		case <-c.exited:
			testharness.Unavailable(t, "systemd-nspawn cannot boot a container here: "+lastLines(c.out.String(), 15))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no init in the container after 60 s:\n%s", c.out)
		}
		c.pid = initOf(c.nspawn.Process.Pid)
		time.Sleep(50 * time.Millisecond)
	}
	return c
}

// initOf finds the container's PID 1 among the descendants of nspawn: the
// process that runs the tree's init.
func initOf(nspawn int) int {
	queue := []int{nspawn}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", p))
		for _, task := range tasks {
			b, _ := os.ReadFile(task)
			for _, f := range strings.Fields(string(b)) {
				child, _ := strconv.Atoi(f)
				comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", child))
				if name := strings.TrimSpace(string(comm)); name == "systemd" || name == "init" {
					return child
				}
				queue = append(queue, child)
			}
		}
	}
	return 0
}

// stop powers the container off, or kills it when it does not stop.
func (c *container) stop() {
	if c.nspawn == nil || c.nspawn.Process == nil {
		return
	}
	select {
	case <-c.exited:
		return
	default:
	}
	if c.pid != 0 {
		// SIGRTMIN+4 powers systemd off; SysV init ignores it, so the
		// kill below ends that one.
		syscall.Kill(c.pid, syscall.Signal(34+4))
	}
	select {
	case <-c.exited:
	case <-time.After(20 * time.Second):
		if c.pid != 0 {
			syscall.Kill(c.pid, syscall.SIGKILL)
		}
		syscall.Kill(-c.nspawn.Process.Pid, syscall.SIGKILL)
		<-c.exited
	}
}

// path is where a file of the container is, as the host sees it.
func (c *container) path(p string) string { return filepath.Join(c.dir, p) }

// command runs argv inside the container, in all its namespaces, with a
// plain environment.
func (c *container) command(ctx context.Context, argv ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "nsenter", append([]string{"-t", strconv.Itoa(c.pid), "-a", "--"}, argv...)...)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "SYSTEMD_PAGER=", "TERM=dumb"}
	return cmd
}

// run runs argv inside, logs it and its output as a transcript, and
// returns the output and the exit code (-1 when it could not run).
func (c *container) run(argv ...string) (string, int) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out, err := c.command(ctx, argv...).CombinedOutput()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		code = -1
		out = append(out, []byte(err.Error())...)
	}
	c.t.Logf("# %s\n%s[exit %d]", strings.Join(argv, " "), out, code)
	return string(out), code
}

// must runs argv inside and fails the test unless it exits 0.
func (c *container) must(argv ...string) string {
	c.t.Helper()
	out, code := c.run(argv...)
	if code != 0 {
		c.t.Fatalf("%s: exit %d", strings.Join(argv, " "), code)
	}
	return out
}

// sh runs a shell script inside.
func (c *container) sh(script string) (string, int) {
	c.t.Helper()
	return c.run("sh", "-c", script)
}

// waitSystemd waits for systemd to finish booting.
func (c *container) waitSystemd() {
	c.t.Helper()
	testharness.WaitFor(c.t, "systemd to boot", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, _ := c.command(ctx, "systemctl", "is-system-running", "--wait").Output()
		state := strings.TrimSpace(string(out))
		return state == "running" || state == "degraded"
	})
}

// waitRunlevel waits for SysV init to reach runlevel 2.
func (c *container) waitRunlevel() {
	c.t.Helper()
	testharness.WaitFor(c.t, "SysV init to reach runlevel 2", func() bool {
		out, _ := c.command(context.Background(), "runlevel").Output()
		f := strings.Fields(string(out))
		return len(f) == 2 && f[1] == "2"
	})
}

// dial connects to addr inside the container's network namespace: the
// socket is made by a thread that has entered that namespace, and stays
// there once the thread has left it.
func (c *container) dial(addr string, timeout time.Duration) (net.Conn, error) {
	runtime.LockOSThread()
	own, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	defer own.Close()
	theirs, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", c.pid))
	if err != nil {
		runtime.UnlockOSThread()
		return nil, err
	}
	defer theirs.Close()
	if err := unix.Setns(int(theirs.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("enter the container's network: %w", err)
	}
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if serr := unix.Setns(int(own.Fd()), unix.CLONE_NEWNET); serr != nil {
		// This thread cannot be trusted with the host's network any
		// more: leaving it locked makes the runtime end it.
		if conn != nil {
			conn.Close()
		}
		return nil, fmt.Errorf("leave the container's network: %w", serr)
	}
	runtime.UnlockOSThread()
	return conn, err
}

// writeFile writes a file of the container from the host.
func (c *container) writeFile(p string, data []byte, mode os.FileMode) {
	c.t.Helper()
	if err := os.MkdirAll(filepath.Dir(c.path(p)), 0o755); err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(c.path(p), data, mode); err != nil {
		c.t.Fatal(err)
	}
}

// setEnvVar sets KEY=value in the container's env file, replacing a line
// that sets or shows KEY.
func (c *container) setEnvVar(file, key, value string) {
	c.t.Helper()
	b, err := os.ReadFile(c.path(file))
	if err != nil {
		c.t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, key+"=") || strings.HasPrefix(line, "#"+key+"=") {
			continue
		}
		lines = append(lines, line)
	}
	if value != "" {
		lines = append(lines, key+"="+value)
	}
	st, _ := os.Stat(c.path(file))
	if err := os.WriteFile(c.path(file), []byte(strings.Join(lines, "\n")+"\n"), st.Mode().Perm()); err != nil {
		c.t.Fatal(err)
	}
	c.t.Logf("# (host) %s: %s=%s", file, key, value)
}
