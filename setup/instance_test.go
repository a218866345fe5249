package setup

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tentacle/options"
	"tentacle/protocol"
)

func parse(t *testing.T, args ...string) *options.Server {
	t.Helper()
	o, err := options.ParseServer(args)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestListenAddresses(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		args []string
		want string
	}{
		{nil, ":41121"},
		{[]string{"-a", "0"}, ":41121"},
		{[]string{"-a", "0.0.0.0"}, ":41121"},
		{[]string{"-a", "127.0.0.1,::1", "-p", "5000"}, "127.0.0.1:5000 [::1]:5000"},
		{[]string{"-a", "127.0.0.1, 0"}, ":41121"},
	}
	for _, tt := range tests {
		o := parse(t, append([]string{"-s", dir}, tt.args...)...)
		if got := strings.Join(ListenAddresses(o), " "); got != tt.want {
			t.Errorf("%v: %q, want %q", tt.args, got, tt.want)
		}
	}
}

// TestOptionsReachTheServer checks that each option lands in the
// protocol.Server, the timeout as the reference computes it.
func TestOptionsReachTheServer(t *testing.T) {
	dir := t.TempDir()
	o := parse(t, "-s", dir, "-m", "77", "-o", "-I", "-x", "pw", "-c", "5", "-t", "2", "-r", "4", "-i", `\.conf$:conf`, "-b", "10.0.0.1", "-g", "4000", "-P", "10.0.0.0/8,::1")
	in, err := New(o, "", io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	s := in.Server
	if s.MaxSize != 77 || !s.Overwrite || !s.Insecure || s.Password != "pw" || s.MaxConnections != 5 ||
		s.Timeout != 10*time.Second || len(s.Filters) != 1 || s.RelayAddress != "10.0.0.1:4000" ||
		s.ProxyFrom.String() != "10.0.0.0/8,::1" {
		t.Fatalf("server %+v", s)
	}
}

func TestNewErrors(t *testing.T) {
	dir := t.TempDir()
	pem := filepath.Join(dir, "x.pem")
	if err := os.WriteFile(pem, []byte("not a certificate"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"-i", "a(:x"}, "-i"},
		{[]string{"-i", "a:../up"}, "-i"},
		{[]string{"-e", pem, "-k", pem}, "TLS"},
		{[]string{"-l", filepath.Join(dir, "no", "such", "log")}, "-l"},
	}
	for _, tt := range tests {
		_, err := New(parse(t, append([]string{"-s", dir}, tt.args...)...), "", io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: %v, want an error naming %s", tt.args, err, tt.want)
		}
	}
}

// TestLibwrap checks -T end to end: a denied address is closed before any
// byte, an allowed one is served, and a broken rule file stops the start.
func TestLibwrap(t *testing.T) {
	rules := t.TempDir()
	hostsAllowPath, hostsDenyPath = filepath.Join(rules, "allow"), filepath.Join(rules, "deny")
	defer func() { hostsAllowPath, hostsDenyPath = "", "" }()

	serve := func(allow, deny string) (string, error) {
		for path, rules := range map[string]string{hostsAllowPath: allow, hostsDenyPath: deny} {
			if err := os.WriteFile(path, []byte(rules), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		in, err := New(parse(t, "-s", t.TempDir(), "-T", "-a", "127.0.0.1", "-p", "1"), "", io.Discard, io.Discard)
		if err != nil {
			return "", err
		}
		if err := in.OpenStorage(); err != nil {
			t.Fatal(err)
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		in.UseListeners([]net.Listener{l})
		go in.Serve()
		t.Cleanup(func() { in.Close() })
		return l.Addr().String(), nil
	}
	send := func(addr string) error {
		c, err := protocol.Dial(addr)
		if err != nil {
			return err
		}
		defer c.Close()
		return c.Send("w.data", strings.NewReader("x"), 1)
	}

	addr, err := serve("", "tentacle_server: 127.0.0.1\n")
	if err != nil {
		t.Fatal(err)
	}
	if err := send(addr); err == nil {
		t.Error("denied address was served")
	}
	if addr, err = serve("tentacle_server: 127.0.0.0/8\n", "ALL: ALL\n"); err != nil {
		t.Fatal(err)
	}
	if err := send(addr); err != nil {
		t.Errorf("allowed address refused: %v", err)
	}
	if addr, err = serve("", "sshd: 127.0.0.1\n"); err != nil {
		t.Fatal(err)
	}
	if err := send(addr); err != nil {
		t.Errorf("rule for another daemon applied: %v", err)
	}
	if _, err := serve("tentacle_server 127.0.0.1\n", ""); err == nil || !strings.Contains(err.Error(), "allow:1") {
		t.Errorf("broken rules: %v, want an error naming the file and line", err)
	}
}

// TestLibwrapBehindBalancer: with -P, the -T rules judge the client that
// the balancer's PROXY header names, not the balancer.
func TestLibwrapBehindBalancer(t *testing.T) {
	rules := t.TempDir()
	hostsAllowPath, hostsDenyPath = filepath.Join(rules, "allow"), filepath.Join(rules, "deny")
	defer func() { hostsAllowPath, hostsDenyPath = "", "" }()
	os.WriteFile(hostsAllowPath, []byte("tentacle_server: 192.0.2.0/24\n"), 0o644)
	os.WriteFile(hostsDenyPath, []byte("ALL: ALL\n"), 0o644)
	in, err := New(parse(t, "-s", t.TempDir(), "-T", "-P", "127.0.0.1"), "", io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.OpenStorage(); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	in.UseListeners([]net.Listener{l})
	go in.Serve()
	defer in.Close()

	send := func(header string) error {
		conn, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			return err
		}
		if _, err := io.WriteString(conn, header); err != nil {
			conn.Close()
			return err
		}
		c := protocol.NewClient(conn)
		defer c.Close()
		return c.Send("b.data", strings.NewReader("x"), 1)
	}
	if err := send("PROXY TCP4 198.51.100.1 127.0.0.1 5000 41121\r\n"); err == nil {
		t.Error("a client that the rules deny was served through the balancer")
	}
	if err := send("PROXY TCP4 192.0.2.1 127.0.0.1 5000 41121\r\n"); err != nil {
		t.Errorf("a client that the rules allow was refused through the balancer: %v", err)
	}
}
