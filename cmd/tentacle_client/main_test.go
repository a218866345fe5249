package main

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"tentacle/internal/testcerts"
	"tentacle/protocol"
	"tentacle/tlsconfig"
)

// server is an in-process Tentacle server for the client to talk to.
type server struct {
	dir, host, port string
	mu              sync.Mutex
	transfers       []protocol.Transfer
}

func startServer(t *testing.T, configure func(*protocol.Server)) *server {
	t.Helper()
	s := &server{dir: t.TempDir()}
	st, err := protocol.OpenDirStorage(s.dir)
	if err != nil {
		t.Fatal(err)
	}
	srv := &protocol.Server{Storage: st, OnTransfer: func(tr protocol.Transfer) {
		s.mu.Lock()
		s.transfers = append(s.transfers, tr)
		s.mu.Unlock()
	}}
	if configure != nil {
		configure(srv)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if s.host, s.port, err = net.SplitHostPort(l.Addr().String()); err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close(); st.Close() })
	return s
}

func (s *server) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.transfers)
}

// client runs the client in-process and returns its exit status and output.
func client(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAgentSend runs the client the way a Pandora agent does and checks the
// exit status and the exact -v lines.
func TestAgentSend(t *testing.T) {
	s := startServer(t, func(srv *protocol.Server) { srv.Password = "my pass" })
	local := t.TempDir()
	writeFiles(t, local, map[string]string{"agent.1.data": "<xml/>"})
	code, out, errOut := client(t, "-v", "-a", s.host, "-p", s.port, "-x", "my pass", filepath.Join(local, "agent.1.data"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	want := "[log] Connected to 127.0.0.1 port " + s.port + "\n" +
		"[log] Request to send file 'agent.1.data' size 6b\n" +
		"[log] Server responded SEND OK\n" +
		"[log] File sent\n"
	if out != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", out, want)
	}
	if got, _ := os.ReadFile(filepath.Join(s.dir, "agent.1.data")); string(got) != "<xml/>" {
		t.Errorf("stored %q", got)
	}
}

func TestExitStatusAndErrors(t *testing.T) {
	s := startServer(t, func(srv *protocol.Server) { srv.MaxSize = 100 })
	local := t.TempDir()
	writeFiles(t, local, map[string]string{"a.data": "a", "b.data": "b", "big.data": strings.Repeat("x", 101)})
	writeFiles(t, s.dir, map[string]string{"a.data": "old"})
	f := func(name string) string { return filepath.Join(local, name) }
	closedPort := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	}()

	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
		stored []string // files that must reach the server
	}{
		{"refused file, others still sent", []string{"-p", s.port, f("a.data"), f("b.data")}, 1,
			"[err] Server responded SEND ERR (file already exists).\n", []string{"b.data"}},
		{"too big", []string{"-p", s.port, f("big.data")}, 1, "[err] Server responded SEND ERR (file is too big).\n", nil},
		{"missing file stops before connecting", []string{"-p", s.port, f("b.data"), f("none.data")}, 1,
			"[err] File '" + f("none.data") + "' does not exist.\n", nil},
		{"quiet", []string{"-q", "-p", s.port, f("a.data")}, 1, "", nil},
		{"no files", []string{"-p", s.port}, 1, "[err] No files to send.\n", nil},
		{"no server", []string{"-p", closedPort, f("b.data")}, 1, "[err] Cannot connect to 127.0.0.1 on port " + closedPort, nil},
		{"bad option", []string{"-p", "0", f("b.data")}, 1, "[err] -p", nil},
		{"password to a server without one", []string{"-p", s.port, "-x", "pw", f("b.data")}, 1, "[err] Authentication failed.\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(filepath.Join(s.dir, "b.data"))
			before := s.count()
			code, _, errOut := client(t, tt.args...)
			if code != tt.code || !strings.HasPrefix(errOut, tt.stderr) || (tt.stderr == "" && errOut != "") {
				t.Fatalf("exit %d, stderr %q; want %d, %q", code, errOut, tt.code, tt.stderr)
			}
			if tt.name == "missing file stops before connecting" && s.count() != before {
				t.Errorf("the client sent files before it found one missing")
			}
			for _, name := range tt.stored {
				if _, err := os.Stat(filepath.Join(s.dir, name)); err != nil {
					t.Errorf("%s not stored: %v", name, err)
				}
			}
		})
	}
	if got, _ := os.ReadFile(filepath.Join(s.dir, "a.data")); string(got) != "old" {
		t.Errorf("refused upload changed the stored file to %q", got)
	}
}

// TestGet checks -g and -g -z: files land in the current directory, and a
// failed download leaves an existing local copy alone.
func TestGet(t *testing.T) {
	s := startServer(t, nil)
	writeFiles(t, s.dir, map[string]string{"conf.txt": "configuration", "z.txt": strings.Repeat("zip", 1000)})
	local := t.TempDir()
	t.Chdir(local)
	writeFiles(t, local, map[string]string{"missing.txt": "keep me"})

	if code, out, errOut := client(t, "-v", "-g", "-p", s.port, "conf.txt"); code != 0 || !strings.Contains(out, "[log] Received file 'conf.txt'") {
		t.Fatalf("exit %d %q %q", code, out, errOut)
	}
	if code, _, errOut := client(t, "-g", "-z", "-p", s.port, "z.txt"); code != 0 {
		t.Fatalf("-g -z: exit %d %q", code, errOut)
	}
	code, _, errOut := client(t, "-g", "-p", s.port, "missing.txt")
	if code != 1 || errOut != "[err] Server responded RECV ERR (file does not exist).\n" {
		t.Fatalf("missing: exit %d %q", code, errOut)
	}
	for name, want := range map[string]string{"conf.txt": "configuration", "z.txt": strings.Repeat("zip", 1000), "missing.txt": "keep me"} {
		if got, _ := os.ReadFile(filepath.Join(local, name)); string(got) != want {
			t.Errorf("%s holds %q", name, got)
		}
	}
	entries, _ := os.ReadDir(local)
	if len(entries) != 3 {
		t.Errorf("temporary files left: %v", entries)
	}
}

// TestCompressedSend checks that -z stores the file and that -v, like the
// reference, logs the size it announces on the wire: the archive's.
func TestCompressedSend(t *testing.T) {
	s := startServer(t, nil)
	local := t.TempDir()
	body := strings.Repeat("compressible ", 5000)
	writeFiles(t, local, map[string]string{"c.data": body})
	a, err := protocol.NewArchive("c.data", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	archiveSize := a.Size()
	a.Close()
	if archiveSize >= int64(len(body)) {
		t.Fatalf("archive of %d bytes for %d compressible ones", archiveSize, len(body))
	}
	code, out, errOut := client(t, "-v", "-z", "-p", s.port, filepath.Join(local, "c.data"))
	if code != 0 {
		t.Fatalf("exit %d %q %q", code, out, errOut)
	}
	want := "[log] Request to send file 'c.data' size " + strconv.FormatInt(archiveSize, 10) + "b (compressed)\n"
	if !strings.Contains(out, want) {
		t.Errorf("stdout %q, want the line %q", out, want)
	}
	if got, _ := os.ReadFile(filepath.Join(s.dir, "c.data")); string(got) != body {
		t.Fatalf("stored %d bytes", len(got))
	}
	// A refusal of the archive is a failure, like a refused SEND.
	code, out, errOut = client(t, "-v", "-z", "-p", s.port, filepath.Join(local, "c.data"))
	if code != 1 || !strings.Contains(errOut, "ZSEND ERR (file already exists)") || strings.Contains(out, "File sent") {
		t.Errorf("a refused -z upload: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// TestTLSOptions checks -c, -e/-k and -f against servers with and without
// client certificate checks.
func TestTLSOptions(t *testing.T) {
	certs, err := testcerts.Generate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	serverTLS := func(o tlsconfig.Options) func(*protocol.Server) {
		return func(srv *protocol.Server) {
			cfg, err := tlsconfig.Server(o)
			if err != nil {
				t.Fatal(err)
			}
			srv.TLSConfig = cfg
		}
	}
	withCA := startServer(t, serverTLS(tlsconfig.Options{CertFile: certs.ServerCert, KeyFile: certs.ServerKey, CAFile: certs.CACert}))
	plainTLS := startServer(t, serverTLS(tlsconfig.Options{CertFile: certs.ServerCert, KeyFile: certs.ServerKey}))
	local := t.TempDir()
	writeFiles(t, local, map[string]string{"t.data": "tls"})
	file := filepath.Join(local, "t.data")
	tests := []struct {
		name string
		port string
		args []string
		code int
	}{
		{"-c", plainTLS.port, []string{"-c"}, 0},
		{"-c to a server wanting a certificate", withCA.port, []string{"-c"}, 1},
		{"-e -k", withCA.port, []string{"-e", certs.ClientCert, "-k", certs.ClientKey}, 0},
		{"-e -k -f verifies the server", withCA.port, []string{"-e", certs.ClientCert, "-k", certs.ClientKey, "-f", certs.CACert}, 0},
		{"-f of another CA", withCA.port, []string{"-e", certs.ClientCert, "-k", certs.ClientKey, "-f", certs.OtherCACert}, 1},
		{"certificate of another CA", withCA.port, []string{"-e", certs.OtherClientCert, "-k", certs.OtherClientKey}, 1},
		{"plain client to a TLS server", plainTLS.port, nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append(append([]string{"-q", "-t", "1", "-r", "1", "-p", tt.port}, tt.args...), file)
			if code, _, _ := client(t, args...); code != tt.code {
				t.Fatalf("exit %d, want %d", code, tt.code)
			}
			for _, dir := range []string{withCA.dir, plainTLS.dir} {
				os.Remove(filepath.Join(dir, "t.data"))
			}
		})
	}
}

// TestProxyOption sends through a minimal HTTP CONNECT proxy with -y.
func TestProxyOption(t *testing.T) {
	s := startServer(t, nil)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	heads := make(chan string, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br := bufio.NewReader(c)
		var head strings.Builder
		for line := ""; line != "\r\n"; {
			if line, err = br.ReadString('\n'); err != nil {
				return
			}
			head.WriteString(line)
		}
		heads <- head.String()
		up, err := net.Dial("tcp", net.JoinHostPort(s.host, s.port))
		if err != nil {
			return
		}
		defer up.Close()
		io.WriteString(c, "HTTP/1.0 200 Connection established\r\n\r\n")
		go io.Copy(up, br)
		io.Copy(c, up)
	}()
	local := t.TempDir()
	writeFiles(t, local, map[string]string{"p.data": "proxied"})
	code, out, errOut := client(t, "-v", "-p", s.port, "-y", "user:secret@"+l.Addr().String(), filepath.Join(local, "p.data"))
	if code != 0 {
		t.Fatalf("exit %d %q", code, errOut)
	}
	if head := <-heads; !strings.Contains(head, "CONNECT 127.0.0.1:"+s.port+" HTTP/1.0\r\n") || !strings.Contains(head, "Proxy-Authorization: Basic dXNlcjpzZWNyZXQ=\r\n") {
		t.Errorf("proxy saw %q", head)
	}
	if !strings.Contains(out, "[log] Connected to proxy server 127.0.0.1") {
		t.Errorf("stdout %q", out)
	}
}
