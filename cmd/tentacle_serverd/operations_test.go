//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"tentacle/internal/testharness"
	"tentacle/protocol"
	"tentacle/transferlog"
)

// These tests do to the real daemon binary what administrators do while
// agents keep sending: reload it over and over, stop it, flood it, leave
// agents hanging on dead links. Whatever happens, an agent that reached the
// daemon gets its file stored or a clear refusal.

// uniqueBody is a file's content: random bytes, so that a file stored under
// the wrong name or cut short cannot pass for the right one.
func uniqueBody(t *testing.T, size int) []byte {
	b := make([]byte, size)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// upload sends one file on a connection of its own, as an agent does.
func upload(addr, name string, body []byte) error {
	c, err := (&protocol.Dialer{Timeout: 10 * time.Second}).Dial(context.Background(), addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Send(name, bytes.NewReader(body), int64(len(body))); err != nil {
		return err
	}
	return c.Quit()
}

// TestReloadStorm sends SIGHUP to the daemon at least 100 times, each
// reload confirmed in its log before the next, while 16 agents upload at
// least 4,000 files. Not one upload may fail; every file is stored byte
// for byte and recorded exactly once.
func TestReloadStorm(t *testing.T) {
	const (
		agents     = 16
		minUploads = 4000
		minReloads = 100
	)
	e := newEnv(t, "nobody")
	cmd, out := e.start()

	var (
		reloadsDone atomic.Bool
		uploads     atomic.Int64
		mu          sync.Mutex
		sent        = map[string][]byte{}
		failures    []string
		wg          sync.WaitGroup
	)
	for a := range agents {
		wg.Go(func() {
			for i := 0; ; i++ {
				if reloadsDone.Load() && uploads.Load() >= minUploads {
					return
				}
				name := fmt.Sprintf("agent%02d.%05d.data", a, i)
				body := uniqueBody(t, 200+i%1800)
				err := upload(e.addr(), name, body)
				uploads.Add(1)
				mu.Lock()
				if err != nil {
					failures = append(failures, name+": "+err.Error())
				} else {
					sent[name] = body
				}
				mu.Unlock()
			}
		})
	}

	reloads := 0
	for reloads < minReloads || uploads.Load() < minUploads/2 {
		if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		reloads++
		testharness.WaitFor(t, "reload "+fmt.Sprint(reloads), func() bool {
			return strings.Count(out.String(), "Configuration reloaded") >= reloads
		})
	}
	reloadsDone.Store(true)
	wg.Wait()

	if len(failures) > 0 {
		t.Fatalf("%d of %d uploads failed across %d reloads; first: %s\n%s", len(failures), uploads.Load(), reloads, failures[0], tail(out.String()))
	}
	for name, body := range sent {
		got, err := os.ReadFile(filepath.Join(e.spool, name))
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("%s: stored %d bytes (%v), want the %d sent", name, len(got), err, len(body))
		}
	}
	// The records of the last generations are written once their
	// connections end, which the clients' QUIT does not wait for.
	testharness.WaitFor(t, "one record per file", func() bool { return len(records(t, e)) >= len(sent) })
	seen := map[string]int{}
	for _, r := range records(t, e) {
		if r.Result != transferlog.ResultOK {
			t.Errorf("record %+v", r)
		}
		seen[r.File]++
	}
	for name := range sent {
		if seen[name] != 1 {
			t.Errorf("%s recorded %d times, want once", name, seen[name])
		}
	}
	if len(seen) != len(sent) {
		t.Errorf("%d files recorded, %d sent", len(seen), len(sent))
	}
	t.Logf("%d uploads, 0 failed, across %d reloads", len(sent), reloads)
}

// tail is the end of a daemon's output, for failure messages.
func tail(s string) string {
	if len(s) > 4000 {
		return "...\n" + s[len(s)-4000:]
	}
	return s
}

// TestStopServesAcceptedConnections sends SIGTERM while one agent is in the
// middle of an upload and another is connected but has not said a word. The
// daemon stops accepting at once, yet serves both to their end: the upload
// completes, and the silent agent, speaking after the SIGTERM but before its
// timeout, still gets its file stored. Then the daemon exits 0.
func TestStopServesAcceptedConnections(t *testing.T) {
	// -V logs each accepted connection, which tells the test that the
	// silent agent was accepted and is not waiting in the backlog.
	e := newEnv(t, "nobody", "TENTACLE_EXT_OPTS=-V")
	cmd, out := e.start()

	silent, err := net.Dial("tcp", e.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	testharness.WaitFor(t, "the silent agent to be accepted", func() bool {
		return strings.Contains(out.String(), "Client connected from "+silent.LocalAddr().String())
	})

	c, err := protocol.Dial(e.addr())
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	uploaded := make(chan error, 1)
	go func() { uploaded <- c.Send("inflight.data", pr, 6) }()
	pw.Write([]byte("abc"))
	testharness.WaitFor(t, "the upload to start", func() bool { return receiving(cmd.Process.Pid, e.spool) })

	cmd.Process.Signal(syscall.SIGTERM)
	testharness.WaitFor(t, "the stop", func() bool { return strings.Contains(out.String(), "Server going down") })
	testharness.WaitFor(t, "the port to close", func() bool { return !testharness.Accepts(e.addr()) })

	pw.Write([]byte("def"))
	if err := <-uploaded; err != nil {
		t.Fatalf("upload in flight: %v\n%s", err, out)
	}
	c.Quit()

	silent.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(silent)
	fmt.Fprint(silent, "SEND <late.data> SIZE 4\n")
	for _, step := range []string{"", "late"} {
		if step != "" {
			io.WriteString(silent, step)
		}
		line, err := br.ReadString('\n')
		if err != nil || line != "SEND OK\n" {
			t.Fatalf("silent agent after SIGTERM: %q %v\n%s", line, err, out)
		}
	}
	io.WriteString(silent, "QUIT\n")

	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, out)
	}
	for name, want := range map[string]string{"inflight.data": "abcdef", "late.data": "late"} {
		if got, _ := os.ReadFile(filepath.Join(e.spool, name)); string(got) != want {
			t.Errorf("%s: stored %q, want %q", name, got, want)
		}
	}
}

// TestConnectionFloodUnderLowFileLimit runs the daemon with 64 file
// descriptors and floods it with 150 connections that say nothing. With the
// default -c, which the limit lowers, the flood waits in the backlog; with
// -c 1000 accept runs out of descriptors (EMFILE). Either way the daemon
// stays up, and serves an agent once the flood is gone.
func TestConnectionFloodUnderLowFileLimit(t *testing.T) {
	testharness.NeedTool(t, "prlimit", "util-linux")
	tests := []struct {
		name   string
		opts   string
		emfile bool // accept must have failed with EMFILE
	}{
		{"default -c", "", false},
		{"-c 1000", "TENTACLE_EXT_OPTS=\"-c 1000\"", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, "nobody", tt.opts)
			cmd := exec.Command("prlimit", "--nofile=64:64", daemonBin, "--env-file", e.file)
			out := startServing(t, cmd)

			var flood []net.Conn
			for range 150 {
				c, err := net.DialTimeout("tcp", e.addr(), 10*time.Second)
				if err != nil {
					t.Fatalf("flood connection %d: %v", len(flood), err)
				}
				flood = append(flood, c)
			}
			if tt.emfile {
				testharness.WaitFor(t, "accept to run out of descriptors", func() bool {
					return strings.Contains(out.String(), "too many open files")
				})
			}
			for _, c := range flood {
				c.Close()
			}
			if err := upload(e.addr(), "after.flood.data", []byte("still here")); err != nil {
				t.Fatalf("upload after the flood: %v\n%s", err, out)
			}
			if cmd.ProcessState != nil || strings.Contains(out.String(), "Server going down") {
				t.Fatalf("the daemon stopped:\n%s", out)
			}
			if got, _ := os.ReadFile(filepath.Join(e.spool, "after.flood.data")); string(got) != "still here" {
				t.Fatalf("stored %q", got)
			}
		})
	}
}

// TestStalledAgentsDoNotBlockHealthyOnes connects 40 agents that announce a
// file and then go silent, as agents on a dead link do, to a daemon with
// the shipped settings. A healthy agent's upload must complete while they
// all still hold their connections: before the timeout drops any of them.
// (With the reference's -c 10 it waited for that timeout; the times are in
// BENCHMARKS.md.)
func TestStalledAgentsDoNotBlockHealthyOnes(t *testing.T) {
	shipped, err := os.ReadFile("../../etc/default/tentacle_serverd")
	if err != nil {
		t.Fatal(err)
	}
	var opts []string
	for _, line := range strings.Split(string(shipped), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			opts = append(opts, line)
		}
	}
	e := newEnv(t, "nobody", opts...)
	_, out := e.start()

	var stalled []net.Conn
	for i := range 40 {
		c, err := net.Dial("tcp", e.addr())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "SEND <stalled.%02d.data> SIZE 100\n", i)
		stalled = append(stalled, c)
	}
	start := time.Now()
	if err := upload(e.addr(), "healthy.data", []byte("<agent_data/>")); err != nil {
		t.Fatalf("healthy upload: %v\n%s", err, out)
	}
	took := time.Since(start)
	if strings.Contains(out.String(), "timed out") {
		t.Fatalf("the healthy upload completed only after stalled agents were timed out (%v):\n%s", took, out)
	}
	// Every stalled agent is still connected: none was dropped to make room.
	for i, c := range stalled {
		c.SetReadDeadline(time.Now().Add(time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); err == nil || !os.IsTimeout(err) {
			// Either a reply (SEND OK) or a timeout is fine; a close is not.
			if err == io.EOF {
				t.Fatalf("stalled agent %d was disconnected", i)
			}
		}
	}
	t.Logf("healthy upload behind 40 stalled agents took %v", took)
}
