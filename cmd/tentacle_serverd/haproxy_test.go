//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"tentacle/internal/haproxy"
	"tentacle/internal/testharness"
	"tentacle/protocol"
	"tentacle/transferlog"
)

// lbAgent is an agent behind the balancer, on a loopback address of its
// own so that the servers' records can tell agents apart.
type lbAgent struct {
	addr string // 127.0.0.x
	n    int
}

// lbUpload is one file an agent sends, and what became of it.
type lbUpload struct {
	agent   lbAgent
	name    string
	body    []byte
	started time.Time
	err     error // of the first attempt
}

// slowReader hands out data in pieces with pauses, so that an upload
// lasts long enough to be caught in flight when a server dies.
type slowReader struct {
	r     io.Reader
	pause time.Duration
}

func (s *slowReader) Read(p []byte) (int, error) {
	time.Sleep(s.pause)
	return s.r.Read(p[:min(len(p), 16<<10)])
}

func (u *lbUpload) send(lb string) error {
	d := protocol.Dialer{Timeout: 5 * time.Second, LocalAddr: u.agent.addr}
	c, err := d.Dial(context.Background(), lb)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Send(u.name, &slowReader{r: bytes.NewReader(u.body), pause: 2 * time.Millisecond}, int64(len(u.body))); err != nil {
		return err
	}
	return c.Quit()
}

// TestBehindHAProxy puts two real daemons behind a real HAProxy on
// loopback, one sent PROXY v2 headers and the other v1, both health
// checked, sharing one spool. Agents on distinct loopback addresses send
// files through the balancer: each file is stored once, byte for byte,
// and the records of both daemons name the agents, not the balancer. The
// health checks leave the logs silent. Then one daemon is killed in the
// middle of a load: HAProxy moves the traffic, no partial file appears,
// and the only uploads that fail are those in flight on the dead daemon,
// which succeed when the agent tries again. Last, a forged header sent
// straight to a daemon is refused, and so is the balancer's address
// without one.
func TestBehindHAProxy(t *testing.T) {
	bin := testharness.NeedTool(t, "haproxy", "haproxy")
	// -V: every line a connection could cause is printed, so silence
	// while only health checks run proves they cause none.
	opts := `TENTACLE_EXT_OPTS="-V -P 127.0.0.1 -m 10000000"`
	a := newEnv(t, "nobody", opts)
	b := newEnv(t, "nobody", opts)
	b.spool = a.spool
	lines := strings.Split(strings.TrimSpace(readEnv(t, b)), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "PANDORA_SERVER_PATH=") {
			lines[i] = "PANDORA_SERVER_PATH=" + a.spool
		}
	}
	b.write(lines...)
	_, outA := a.start()
	cmdB, outB := b.start()

	lb := "127.0.0.1:" + testharness.FreePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hp, err := haproxy.Start(ctx, haproxy.Config{
		Binary: bin, Dir: t.TempDir(), Listen: lb, CheckInterval: 100 * time.Millisecond,
		Servers: []haproxy.Server{{Name: "a", Addr: a.addr(), ProxyVersion: 2}, {Name: "b", Addr: b.addr(), ProxyVersion: 1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer hp.Stop()

	// Health checks alone: not a line from either daemon.
	before := []int{len(outA.String()), len(outB.String())}
	time.Sleep(time.Second) // ten checks of each daemon
	if grownA, grownB := outA.String()[before[0]:], outB.String()[before[1]:]; grownA != "" || grownB != "" {
		t.Errorf("health checks were logged:\na: %s\nb: %s", grownA, grownB)
	}

	agents := make([]lbAgent, 8)
	for i := range agents {
		agents[i] = lbAgent{addr: fmt.Sprintf("127.0.0.%d", 11+i), n: i}
	}
	var uploads []*lbUpload
	newUpload := func(ag lbAgent, phase string, i int) *lbUpload {
		name := fmt.Sprintf("agent%d.%s%d.data", ag.n, phase, i)
		u := &lbUpload{agent: ag, name: name, body: bytes.Repeat([]byte(name+" from "+ag.addr+"\n"), 5000)}
		uploads = append(uploads, u)
		return u
	}

	// Both daemons serve every agent, and name it.
	for _, ag := range agents {
		for i := range 2 {
			if err := newUpload(ag, "warm", i).send(lb); err != nil {
				t.Fatalf("%s through the balancer: %v\n%s", ag.addr, err, hp.Output())
			}
		}
	}
	for _, e := range []*env{a, b} {
		seen := map[string]bool{}
		for _, r := range records(t, e) {
			seen[r.Client] = true
		}
		if len(seen) != len(agents) {
			t.Errorf("daemon on %s recorded clients %v, want the %d agents", e.port, slices.Sorted(maps.Keys(seen)), len(agents))
		}
	}

	// A load from every agent; daemon b dies in its middle.
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		done   atomic.Int64
		killed time.Time
	)
	const perAgent = 12
	load := make([][]*lbUpload, len(agents))
	for i, ag := range agents {
		for j := range perAgent {
			load[i] = append(load[i], newUpload(ag, "load", j))
		}
	}
	for i := range agents {
		wg.Go(func() {
			for _, u := range load[i] {
				mu.Lock()
				u.started = time.Now()
				mu.Unlock()
				u.err = u.send(lb)
				done.Add(1)
			}
		})
	}
	testharness.WaitFor(t, "a third of the load", func() bool { return done.Load() >= int64(len(agents)*perAgent/3) })
	inFlightOnB := receivingCount(cmdB.Process.Pid, a.spool)
	cmdB.Process.Signal(syscall.SIGKILL)
	// Until it is gone, it may still take connections: those are in
	// flight on it too.
	cmdB.Process.Wait()
	mu.Lock()
	killed = time.Now()
	mu.Unlock()
	wg.Wait()

	var failed []*lbUpload
	for _, u := range uploads {
		if u.err != nil {
			failed = append(failed, u)
		}
	}
	t.Logf("daemon b killed with %d uploads open in the spool; %d of %d uploads failed:", inFlightOnB, len(failed), len(uploads))
	t.Logf("(an upload that started between the SIGKILL and the end of the process was in flight on it too)")
	for _, u := range failed {
		t.Logf("  %s from %s, started %v before the kill: %v", u.name, u.agent.addr, killed.Sub(u.started).Round(time.Millisecond), u.err)
		if !u.started.Before(killed) {
			t.Errorf("%s started after the kill and failed: HAProxy did not move the traffic", u.name)
		}
		if _, err := os.Stat(filepath.Join(a.spool, u.name)); err == nil {
			t.Errorf("%s failed, yet a file is stored under its name", u.name)
		}
	}
	// The agents try again, as Pandora's do: daemon a takes them.
	for _, u := range failed {
		if err := u.send(lb); err != nil {
			t.Errorf("%s again, after the kill: %v", u.name, err)
		}
	}

	// Every file once, whole; nothing else in the spool.
	entries, err := os.ReadDir(a.spool)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(uploads) {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("spool holds %d entries, want the %d files: %q", len(entries), len(uploads), names)
	}
	for _, u := range uploads {
		got, err := os.ReadFile(filepath.Join(a.spool, u.name))
		if err != nil || !bytes.Equal(got, u.body) {
			t.Errorf("%s: %d bytes (%v), want its %d bytes", u.name, len(got), err, len(u.body))
		}
	}
	// Each stored file is in one record, under its agent's address.
	stored := map[string]transferlog.Record{}
	for _, e := range []*env{a, b} {
		for _, r := range records(t, e) {
			if r.Result != transferlog.ResultOK {
				continue
			}
			if prev, dup := stored[r.File]; dup {
				t.Errorf("%s stored twice: %+v and %+v", r.File, prev, r)
			}
			stored[r.File] = r
		}
	}
	for _, u := range uploads {
		if r, ok := stored[u.name]; !ok || r.Client != u.agent.addr {
			t.Errorf("%s: record %+v, want one naming %s", u.name, r, u.agent.addr)
		}
	}
	if strings.Contains(outA.String(), "[err]") {
		t.Errorf("daemon a logged errors:\n%s", outA)
	}

	// Straight to daemon a: a forged header from elsewhere is refused...
	spoof := dialFrom(t, "127.0.0.99", a.addr())
	if err := sendOver(spoof, "PROXY TCP4 10.1.2.3 127.0.0.1 1000 41121\r\n", "spoofed.data", "x"); err == nil {
		t.Error("a forged PROXY header from an untrusted address was served")
	}
	// ... and the balancer's address without a header is closed.
	bare := dialFrom(t, "127.0.0.1", a.addr())
	if err := sendOver(bare, "", "bare.data", "x"); err == nil {
		t.Error("a connection from the balancer's address without a header was served")
	}
	testharness.WaitFor(t, "both refusals in the log", func() bool {
		out := outA.String()
		return strings.Contains(out, "Unknown command \"PROXY TCP4 10.1.2.3 127.0.0.1 1000 41121\" from 127.0.0.99:") &&
			strings.Contains(out, "closed: no PROXY protocol header, which -P requires of this balancer")
	})
	for _, name := range []string{"spoofed.data", "bare.data"} {
		if _, err := os.Stat(filepath.Join(a.spool, name)); err == nil {
			t.Errorf("%s was stored", name)
		}
	}
}

// receivingCount is how many files process pid holds open in dir: the
// uploads it is receiving.
func receivingCount(pid int, dir string) int {
	fdDir := fmt.Sprintf("/proc/%d/fd", pid)
	fds, _ := os.ReadDir(fdDir)
	n := 0
	for _, fd := range fds {
		if target, err := os.Readlink(filepath.Join(fdDir, fd.Name())); err == nil && strings.HasPrefix(target, dir+"/") {
			n++
		}
	}
	return n
}
