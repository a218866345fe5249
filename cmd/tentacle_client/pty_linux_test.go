package main

import (
	"bytes"
	"crypto/rand"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"tentacle/protocol"
)

// buildClient builds this command into a temporary directory: the bar is
// only drawn when the process's own stderr is a terminal.
func buildClient(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tentacle_client")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// openPTY opens a pseudo-terminal of the given width with posix_openpt's
// steps (open /dev/ptmx, unlock, name the other end), so that no pty
// library is needed for one test.
func openPTY(t *testing.T, cols int) (ptm, pts *os.File) {
	t.Helper()
	ptm, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(ptm.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetUint32(int(ptm.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("ptsname: %v", err)
	}
	pts, err = os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open the terminal's end: %v", err)
	}
	if err := unix.IoctlSetWinsize(int(pts.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: uint16(cols)}); err != nil {
		t.Fatalf("set the window size: %v", err)
	}
	t.Cleanup(func() { ptm.Close(); pts.Close() })
	return ptm, pts
}

// TestProgressOnTerminal runs the built client with stderr on a
// pseudo-terminal and reads what it draws: a bar the terminal's width,
// sizes in binary units, an ETA and the summary line. With stderr on a
// pipe, as agents run it, nothing but the -v lines may appear.
func TestProgressOnTerminal(t *testing.T) {
	bin := buildClient(t)
	s := startServer(t, func(srv *protocol.Server) { srv.MaxSize = 1 << 30; srv.Overwrite = true })
	local := t.TempDir()
	data := make([]byte, 6<<20)
	rand.Read(data) // incompressible: the -z archive is as big
	path := filepath.Join(local, "huge.data")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		terminal bool
	}{
		{"send on a terminal", nil, true},
		{"compressed send on a terminal", []string{"-z"}, true},
		{"send to a pipe", nil, false},
		{"compressed send to a pipe", []string{"-z"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"-v", "-a", s.host, "-p", s.port}, tt.args...)
			cmd := exec.Command(bin, append(args, path)...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout = &stdout
			drawn := make(chan string, 1)
			if tt.terminal {
				ptm, pts := openPTY(t, 100)
				cmd.Stderr = pts
				go func() {
					// Reads end with EIO once the last holder of the
					// terminal's end closes it.
					b, _ := io.ReadAll(ptm)
					drawn <- string(b)
				}()
				err := cmd.Run()
				pts.Close()
				if err != nil {
					t.Fatalf("client: %v\n%s", err, stdout.String())
				}
			} else {
				cmd.Stderr = &stderr
				if err := cmd.Run(); err != nil {
					t.Fatalf("client: %v\n%s", err, stderr.String())
				}
				drawn <- stderr.String()
			}
			out := <-drawn
			if strings.Contains(stdout.String(), "\r") || strings.Contains(stdout.String(), "ETA") {
				t.Errorf("progress on stdout: %q", stdout.String())
			}
			if !tt.terminal {
				if out != "" {
					t.Errorf("drew on a pipe: %q", out)
				}
				return
			}
			t.Logf("drawn: %q", out)
			wants := []string{"\rhuge.data [", "=]", "100%", "MiB/6.0 MiB", "MiB/s", "ETA ", "huge.data: 6.0 MiB in "}
			if len(tt.args) > 0 { // -z: the compression has its bar too
				wants = append(wants, "\rhuge.data (compressing) [", "huge.data (compressing): 6.0 MiB in ")
			}
			for _, want := range wants {
				if !strings.Contains(out, want) {
					t.Errorf("no %q in what was drawn: %q", want, out)
				}
			}
			for _, line := range strings.Split(out, "\r") {
				line, _, _ = strings.Cut(line, "\x1b[K")
				if strings.HasPrefix(line, "huge.data ") && strings.Contains(line, "[") && len(line) != 99 {
					t.Errorf("bar line of %d columns on a terminal of 100: %q", len(line), line)
				}
			}
		})
	}
}
