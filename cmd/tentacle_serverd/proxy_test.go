//go:build linux

package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"tentacle/internal/testharness"
	"tentacle/protocol"
	"tentacle/transferlog"
)

// dialFrom connects from a loopback address of the test's choosing, so
// that one machine holds a balancer and direct agents.
func dialFrom(t *testing.T, local, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

// sendOver uploads one file on a connection that may already carry a
// PROXY header, and quits.
func sendOver(conn net.Conn, header, name, body string) error {
	if header != "" {
		if _, err := io.WriteString(conn, header); err != nil {
			return err
		}
	}
	c := protocol.NewClient(conn)
	if err := c.Send(name, strings.NewReader(body), int64(len(body))); err != nil {
		return err
	}
	return c.Quit()
}

// v1 is a PROXY protocol v1 header for a client on 192.0.2.x.
func v1(client string, port int) string {
	return fmt.Sprintf("PROXY TCP4 %s 127.0.0.1 %d 41121\r\n", client, port)
}

// findRecord returns the record of file, or fails.
func findRecord(t *testing.T, e *env, file string) transferlog.Record {
	t.Helper()
	var found *transferlog.Record
	testharness.WaitFor(t, "the record of "+file, func() bool {
		for _, r := range records(t, e) {
			if r.File == file {
				found = &r
				return true
			}
		}
		return false
	})
	return *found
}

// TestProxyProtocolFromExtOpts configures -P through TENTACLE_EXT_OPTS:
// an upload through the balancer is recorded under the client its header
// names, a direct agent under its own address. A reload moves the trust to
// another balancer: a connection accepted before it keeps the old list,
// new ones get the new one.
func TestProxyProtocolFromExtOpts(t *testing.T) {
	e := newEnv(t, "nobody", `TENTACLE_EXT_OPTS="-V -P 127.0.0.3"`)
	cmd, out := e.start()

	if err := sendOver(dialFrom(t, "127.0.0.3", e.addr()), v1("192.0.2.50", 1234), "proxied.data", "via lb"); err != nil {
		t.Fatalf("through the balancer: %v\n%s", err, out)
	}
	if r := findRecord(t, e, "proxied.data"); r.Client != "192.0.2.50" || r.Port != 1234 || r.Result != transferlog.ResultOK {
		t.Errorf("record %+v, want client 192.0.2.50 port 1234", r)
	}
	if err := sendOver(dialFrom(t, "127.0.0.1", e.addr()), "", "direct.data", "direct"); err != nil {
		t.Fatalf("direct agent: %v\n%s", err, out)
	}
	if r := findRecord(t, e, "direct.data"); r.Client != "127.0.0.1" {
		t.Errorf("record %+v, want client 127.0.0.1", r)
	}

	// Accepted under the old list, where 127.0.0.2 is a direct agent.
	early := dialFrom(t, "127.0.0.2", e.addr())
	testharness.WaitFor(t, "the early agent to be accepted", func() bool {
		return strings.Contains(out.String(), "Client connected from "+early.LocalAddr().String())
	})
	lines := strings.Split(strings.TrimSpace(readEnv(t, e)), "\n")
	e.write(append(lines[:len(lines)-1], `TENTACLE_EXT_OPTS="-V -P 127.0.0.2"`)...)
	cmd.Process.Signal(syscall.SIGHUP)
	testharness.WaitFor(t, "the reload", func() bool { return strings.Contains(out.String(), "Configuration reloaded") })

	if err := sendOver(early, "", "early.data", "old list"); err != nil {
		t.Fatalf("connection accepted before the reload: %v\n%s", err, out)
	}
	if err := sendOver(dialFrom(t, "127.0.0.2", e.addr()), v1("192.0.2.51", 2345), "new.data", "new list"); err != nil {
		t.Fatalf("through the new balancer: %v\n%s", err, out)
	}
	if r := findRecord(t, e, "new.data"); r.Client != "192.0.2.51" {
		t.Errorf("record %+v, want client 192.0.2.51", r)
	}
	// The old balancer is now an ordinary peer: its header is refused.
	if err := sendOver(dialFrom(t, "127.0.0.3", e.addr()), v1("192.0.2.52", 3456), "spoof.data", "x"); err == nil {
		t.Fatalf("a header from a balancer no longer trusted was accepted\n%s", out)
	}
	testharness.WaitFor(t, "the refusal in the log", func() bool {
		return strings.Contains(out.String(), "a PROXY protocol header from a peer that -P does not trust")
	})
}

// TestProxyProtocolSocketActivated: -P applies to sockets that systemd
// passes, as to the daemon's own.
func TestProxyProtocolSocketActivated(t *testing.T) {
	activate := testharness.NeedTool(t, "systemd-socket-activate", "systemd")
	e := newEnv(t, "nobody", `TENTACLE_EXT_OPTS="-P 127.0.0.4"`)
	port := testharness.FreePort(t)
	out := &testharness.SyncBuffer{}
	cmd := exec.Command(activate, "-l", "127.0.0.1:"+port, daemonBin, "--env-file", e.file)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	addr := "127.0.0.1:" + port
	testharness.WaitFor(t, "the activation socket", func() bool { return testharness.Accepts(addr) })
	if err := sendOver(dialFrom(t, "127.0.0.4", addr), v1("192.0.2.60", 4567), "activated.data", "x"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if r := findRecord(t, e, "activated.data"); r.Client != "192.0.2.60" || r.Port != 4567 {
		t.Errorf("record %+v, want client 192.0.2.60 port 4567", r)
	}
	// Without its header the balancer is closed, with one line saying so.
	c := dialFrom(t, "127.0.0.4", addr)
	io.WriteString(c, "SEND <bare.data> SIZE 1\n")
	if line, err := bufio.NewReader(c).ReadString('\n'); err == nil {
		t.Errorf("balancer without a header got %q", line)
	}
	testharness.WaitFor(t, "the log line", func() bool { return strings.Contains(out.String(), "no PROXY protocol header") })
}
