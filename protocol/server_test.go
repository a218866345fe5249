package protocol

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"tentacle/internal/testharness"
)

// TestWireSend checks SEND's replies byte for byte, the way agents see them.
func TestWireSend(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(t testing.TB, s *Server, dir string)
		command   string
		data      string
		replies   []string
		stored    string // file expected under the storage directory, "" for none
		wantFiles []string
	}{
		{name: "ok", command: "SEND <a.data> SIZE 5\n", data: "hello",
			replies: []string{"SEND OK\n", "SEND OK\n"}, stored: "a.data"},
		{name: "invalid char", command: "SEND <a/b> SIZE 5\n",
			replies: []string{"SEND ERR (invalid file name)\n"}},
		{name: "dot dot", command: "SEND <..> SIZE 5\n",
			replies: []string{"SEND ERR (invalid file name)\n"}},
		{name: "empty name", command: "SEND <> SIZE 5\n",
			replies: []string{"SEND ERR (invalid file name)\n"}},
		{name: "control char", command: "SEND <a\tb> SIZE 5\n",
			replies: []string{"SEND ERR (invalid file name)\n"}},
		{name: "too long", command: "SEND <" + strings.Repeat("x", 256) + "> SIZE 5\n",
			replies: []string{"SEND ERR (invalid file name)\n"}},
		{name: "zero size", command: "SEND <a.data> SIZE 0\n",
			replies: []string{"SEND ERR (file is too big)\n"}},
		{name: "over max", command: "SEND <a.data> SIZE 2000001\n",
			replies: []string{"SEND ERR (file is too big)\n"}},
		{name: "huge size", command: "SEND <a.data> SIZE 99999999999999999999999\n",
			replies: []string{"SEND ERR (file is too big)\n"}},
		{name: "exists", setup: func(t testing.TB, s *Server, dir string) { writeFile(t, filepath.Join(dir, "a.data"), "old") },
			command: "SEND <a.data> SIZE 5\n", replies: []string{"SEND ERR (file already exists)\n"}},
		{name: "overwrite", setup: func(t testing.TB, s *Server, dir string) {
			s.Overwrite = true
			writeFile(t, filepath.Join(dir, "a.data"), "old")
		}, command: "SEND <a.data> SIZE 5\n", data: "hello", replies: []string{"SEND OK\n", "SEND OK\n"}, stored: "a.data"},
		{name: "filter", setup: func(t testing.TB, s *Server, dir string) {
			s.Filters = parseFilters(t, PandoraFilters)
			mkdirs(t, dir, "conf", "md5")
		}, command: "SEND <agent.conf> SIZE 5\n", data: "hello", replies: []string{"SEND OK\n", "SEND OK\n"}, stored: "conf/agent.conf"},
		{name: "filter dir missing", setup: func(t testing.TB, s *Server, dir string) {
			s.Filters = parseFilters(t, PandoraFilters)
		}, command: "SEND <agent.md5> SIZE 5\n", replies: []string{"SEND ERR (storage error)\n"}},
		{name: "max size exactly", setup: func(t testing.TB, s *Server, dir string) { s.MaxSize = 5 },
			command: "SEND <a.data> SIZE 5\n", data: "hello", replies: []string{"SEND OK\n", "SEND OK\n"}, stored: "a.data"},
		{name: "custom invalid chars", setup: func(t testing.TB, s *Server, dir string) { s.InvalidChars = "x" },
			command: "SEND <x.data> SIZE 5\n", replies: []string{"SEND ERR (invalid file name)\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, func(s *Server) {
				if tt.setup != nil {
					tt.setup(t, s, s.Storage.(*DirStorage).root.Name())
				}
			})
			w := dialWire(t, ts.Addr)
			w.send(tt.command)
			w.expect(tt.replies[0])
			if len(tt.replies) > 1 {
				w.send(tt.data)
				w.expect(tt.replies[1])
			}
			// The session goes on after a refusal.
			w.send("QUIT\n")
			w.expectClosed()
			if tt.stored != "" {
				if got := readFile(t, filepath.Join(ts.Dir, tt.stored)); got != tt.data {
					t.Errorf("stored %q, want %q", got, tt.data)
				}
			}
			for _, e := range entries(t, ts.Dir) {
				if strings.HasPrefix(e, tempPrefix) {
					t.Errorf("temporary file %s left behind", e)
				}
			}
		})
	}
}

// TestWireSessionEnds checks the lines after which the server closes the
// connection without a reply.
func TestWireSessionEnds(t *testing.T) {
	tests := []struct {
		name     string
		insecure bool
		line     string
	}{
		{"unknown", false, "HELLO\n"},
		{"lowercase", false, "send <a> SIZE 1\n"},
		{"pass without password", false, "PASS 0123\n"},
		{"ls not insecure", false, "LS <x>\n"},
		{"mv not insecure", false, "MV <x>\n"},
		{"quit", false, "QUIT\n"},
		{"too long", false, strings.Repeat("A", 2000)},
		{"long line", false, strings.Repeat("A", 1100) + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, func(s *Server) { s.Insecure = tt.insecure })
			w := dialWire(t, ts.Addr)
			w.send(tt.line)
			w.expectClosed()
		})
	}
}

func md5md5(pwd string) string {
	a := md5.Sum([]byte(pwd))
	b := md5.Sum(a[:])
	return hex.EncodeToString(b[:])
}

func TestWirePassword(t *testing.T) {
	ts := startServer(t, func(s *Server) { s.Password = "secret" })
	t.Run("right", func(t *testing.T) {
		w := dialWire(t, ts.Addr)
		w.send("PASS " + md5md5("secret") + "\n")
		w.expect("PASS OK\n")
		w.send("SEND <p.data> SIZE 1\n")
		w.expect("SEND OK\n")
		w.send("x")
		w.expect("SEND OK\n")
	})
	for _, line := range []string{"PASS " + md5md5("wrong") + "\n", "SEND <a> SIZE 1\n", "PASS \n", "PASS " + strings.ToUpper(md5md5("secret")) + "\n"} {
		t.Run("refused "+line[:4], func(t *testing.T) {
			w := dialWire(t, ts.Addr)
			w.send(line)
			w.expectClosed()
		})
	}
	testharness.WaitFor(t, "log of the refusal", func() bool { return ts.Log.contains("Invalid password from 127.0.0.1") })
}

func TestWireRecvFamily(t *testing.T) {
	ts := startServer(t, func(s *Server) {
		s.Insecure = true
		s.Filters = parseFilters(t, PandoraFilters)
	})
	mkdirs(t, ts.Dir, "conf", "collections")
	writeFile(t, filepath.Join(ts.Dir, "a.data"), "hello")
	writeFile(t, filepath.Join(ts.Dir, "conf", "x.conf"), "conf!")
	writeFile(t, filepath.Join(ts.Dir, "conf", "y.conf"), "y")
	writeFile(t, filepath.Join(ts.Dir, "conf", "bad;name"), "y")
	writeFile(t, filepath.Join(ts.Dir, "conf", ".tentacle-0123456789abcdef.tmp"), "partial")

	w := dialWire(t, ts.Addr)
	// RECV
	w.send("RECV <a.data>\n")
	w.expect("RECV SIZE 5\n")
	w.send("RECV OK\n")
	got := make([]byte, 5)
	if _, err := w.br.Read(got); err != nil || string(got) != "hello" {
		t.Fatalf("RECV data %q %v", got, err)
	}
	// RECV through a filter
	w.send("RECV <x.conf>\n")
	w.expect("RECV SIZE 5\n")
	// Any answer but RECV OK cancels; the session goes on.
	w.send("RECV NO\n")
	w.send("RECV <missing.data>\n")
	w.expect("RECV ERR (file does not exist)\n")
	w.send("RECV <../etc/passwd>\n")
	w.expect("RECV ERR (file has an invalid file name)\n")
	w.send("ZRECV <nothere>\n")
	w.expect("ZRECV ERR (file does not exist)\n")
	w.send("ZRECV <a;b>\n")
	w.expect("ZRECV ERR (file has an invalid file name)\n")
	// LS through the conf filter leaves out invalid and temporary names.
	w.send("LS <x.conf>\n")
	w.expect("LS SIZE " + strconv.Itoa(len(".\n..\nx.conf\ny.conf\n")) + "\n")
	w.send("LS OK\n")
	w.expect(".\n")
	w.expect("..\n")
	w.expect("x.conf\n")
	w.expect("y.conf\n")
	w.send("LS <a;b>\n")
	w.expect("LS ERR\n")
	w.send("LS <a.zip>\n") // collections: empty, yet never a 0-byte listing
	w.expect("LS SIZE 5\n")
	w.send("LS OK\n")
	w.expect(".\n")
	w.expect("..\n")
	w.send("LS <a.md5>\n") // md5 dir does not exist
	w.expect("LS ERR\n")
	// MV sends, then deletes.
	w.send("MV <y.conf>\n")
	w.expect("MV SIZE 1\n")
	w.send("MV OK\n")
	w.expectBytes("y")
	w.send("MV <y.conf>\n")
	w.expect("MV ERR\n")
	w.send("MV <a:b>\n")
	w.expect("MV ERR\n")
	w.send("QUIT\n")
	w.expectClosed()
	if _, err := os.Stat(filepath.Join(ts.Dir, "conf", "y.conf")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("MV left the file: %v", err)
	}
}

func (w *wire) expectBytes(want string) {
	w.t.Helper()
	got := make([]byte, len(want))
	if _, err := ioReadFull(w.br, got); err != nil || string(got) != want {
		w.t.Fatalf("got %q (%v), want %q", got, err, want)
	}
}

func TestWireZSendAndZRecv(t *testing.T) {
	ts := startServer(t, func(s *Server) { s.MaxSize = 1000 })
	var archive bytes.Buffer
	if err := writeZip(&archive, strings.NewReader("inflated content"), "z.data", time.Now()); err != nil {
		t.Fatal(err)
	}
	w := dialWire(t, ts.Addr)
	w.send("ZSEND <z.data> SIZE " + strconv.Itoa(archive.Len()) + "\n")
	w.expect("ZSEND OK\n")
	w.send(archive.String())
	w.expect("ZSEND OK\n")
	if got := readFile(t, filepath.Join(ts.Dir, "z.data")); got != "inflated content" {
		t.Fatalf("stored %q", got)
	}
	// Not an archive.
	w.send("ZSEND <bad.data> SIZE 4\n")
	w.expect("ZSEND OK\n")
	w.send("junk")
	w.expect("ZSEND ERR\n")
	// A bomb: small archive, inflates past MaxSize.
	var bomb bytes.Buffer
	writeZip(&bomb, strings.NewReader(strings.Repeat("0", 5000)), "bomb.data", time.Now())
	w.send("ZSEND <bomb.data> SIZE " + strconv.Itoa(bomb.Len()) + "\n")
	w.expect("ZSEND OK\n")
	w.send(bomb.String())
	w.expect("ZSEND ERR (file is too big)\n")
	testharness.WaitFor(t, "the log of the bomb", func() bool { return ts.Log.contains("inflates to more than 1000 bytes") })
	// An archive whose header lies about the inflated size is caught by
	// the reader as soon as it inflates past the stated size.
	lying := lyingZip(t, strings.Repeat("1", 5000))
	w.send("ZSEND <lie.data> SIZE " + strconv.Itoa(len(lying)) + "\n")
	w.expect("ZSEND OK\n")
	w.send(lying)
	w.expect("ZSEND ERR\n")
	// ZRECV sends an archive of the stored file.
	w.send("ZRECV <z.data>\n")
	line, _ := w.br.ReadString('\n')
	size, err := strconv.Atoi(strings.TrimPrefix(strings.TrimSuffix(line, "\n"), "ZRECV SIZE "))
	if err != nil {
		t.Fatalf("ZRECV reply %q", line)
	}
	w.send("ZRECV OK\n")
	data := make([]byte, size)
	if _, err := ioReadFull(w.br, data); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(size))
	if err != nil || len(zr.File) != 1 || zr.File[0].Name != "z.data" {
		t.Fatalf("ZRECV archive: %v", err)
	}
	var out bytes.Buffer
	if _, err := unzipFirst(&out, bytes.NewReader(data), int64(size), 1000); err != nil || out.String() != "inflated content" {
		t.Fatalf("ZRECV content %q %v", out.String(), err)
	}
	w.send("QUIT\n") // once closed, the server is done with the ZRECV
	w.expectClosed()
	for _, name := range []string{"bad.data", "bomb.data", "lie.data"} {
		if _, err := os.Stat(filepath.Join(ts.Dir, name)); err == nil {
			t.Errorf("refused %s was stored", name)
		}
	}
	for _, e := range append(entries(t, ts.Dir), entries(t, ts.TempDir)...) {
		if strings.HasPrefix(e, tempPrefix) {
			t.Errorf("temporary file %s left behind", e)
		}
	}
}

// lyingZip builds an archive whose headers claim a tiny inflated size.
func lyingZip(t *testing.T, content string) string {
	var deflated bytes.Buffer
	fw, err := flate.NewWriter(&deflated, flate.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write([]byte(content))
	fw.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: "lie", Method: zip.Deflate, CompressedSize64: uint64(deflated.Len()), UncompressedSize64: 3, CRC32: 0})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(deflated.Bytes())
	zw.Close()
	return buf.String()
}
