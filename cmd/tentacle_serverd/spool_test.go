//go:build linux

package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"tentacle/internal/testharness"
	"tentacle/protocol"
)

// mkdirFor makes dir as an operator would for the daemon: owned by the
// user it serves as (when the test runs as root), like the spool newEnv
// made.
func (e *env) mkdirFor(dir string) {
	e.t.Helper()
	if err := os.Mkdir(dir, 0o770); err != nil {
		e.t.Fatal(err)
	}
	if e.user != nil {
		if err := os.Chown(dir, e.user.UID, e.user.GID); err != nil {
			e.t.Fatal(err)
		}
	}
}

// names lists dir, hidden files included.
func names(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var n []string
	for _, e := range entries {
		n = append(n, e.Name())
	}
	return n
}

// TestSpoolReplaced clears the spool under a running daemon the ways
// operators clear a backlog: "mv data_in data_in.old && mkdir data_in"
// (with an upload in flight, and without), "rm -rf data_in && mkdir
// data_in", and the same for a filter's subdirectory. The next uploads
// land in the new directory, never in the old one; while the spool is
// missing, uploads are refused with a storage error and the daemon runs
// on; and the daemon says once per replacement that it noticed.
func TestSpoolReplaced(t *testing.T) {
	e := newEnv(t, "nobody") // the default filters: *.conf go to conf/
	cmd, out := e.start()
	replaced := func() int {
		return strings.Count(out.String(), "Storage directory "+e.spool+" was replaced; reopened it")
	}
	sendOK := func(name string) {
		t.Helper()
		if err := send(e.addr(), "", name, name); err != nil {
			t.Fatalf("upload %s: %v\n%s", name, err, out)
		}
	}
	expect := func(dir string, want ...string) {
		t.Helper()
		if got := names(t, dir); !slices.Equal(got, want) {
			t.Errorf("%s holds %v, want %v", dir, got, want)
		}
	}

	// An upload in flight while the spool is renamed and made again
	// lands in the new spool.
	c, err := protocol.Dial(e.addr())
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	uploaded := make(chan error, 1)
	go func() { uploaded <- c.Send("flight.data", pr, 6) }()
	pw.Write([]byte("abc"))
	testharness.WaitFor(t, "the upload to start", func() bool { return receiving(cmd.Process.Pid, e.spool) })
	if err := os.Rename(e.spool, e.spool+".flight"); err != nil {
		t.Fatal(err)
	}
	e.mkdirFor(e.spool)
	pw.Write([]byte("def"))
	if err := <-uploaded; err != nil {
		t.Fatalf("upload across the replacement: %v\n%s", err, out)
	}
	c.Quit()
	if got, err := os.ReadFile(filepath.Join(e.spool, "flight.data")); err != nil || string(got) != "abcdef" {
		t.Fatalf("flight.data in the new spool: %q, %v", got, err)
	}
	expect(e.spool + ".flight") // nothing, not even a temporary file
	if n := replaced(); n != 1 {
		t.Errorf("%d lines say the spool was replaced, want 1\n%s", n, out)
	}

	// Deleted: refused while missing, then stored in the new spool.
	e.mkdirFor(filepath.Join(e.spool, "conf"))
	sendOK("a.data")
	if err := os.RemoveAll(e.spool); err != nil {
		t.Fatal(err)
	}
	if err := send(e.addr(), "", "missing.data", "x"); !errors.Is(err, protocol.ErrStorage) {
		t.Fatalf("upload while the spool is missing: %v, want a storage error\n%s", err, out)
	}
	e.mkdirFor(e.spool)
	e.mkdirFor(filepath.Join(e.spool, "conf"))
	sendOK("b.data")
	sendOK("b.conf")
	expect(e.spool, "b.data", "conf")
	expect(filepath.Join(e.spool, "conf"), "b.conf")

	// Renamed: the old spool gets nothing more.
	if err := os.Rename(e.spool, e.spool+".old"); err != nil {
		t.Fatal(err)
	}
	e.mkdirFor(e.spool)
	e.mkdirFor(filepath.Join(e.spool, "conf"))
	sendOK("c.data")
	sendOK("c.conf")
	expect(e.spool, "c.data", "conf")
	expect(filepath.Join(e.spool, "conf"), "c.conf")
	expect(e.spool+".old", "b.data", "conf")
	expect(filepath.Join(e.spool+".old", "conf"), "b.conf")

	// A filter's subdirectory, renamed then deleted.
	conf := filepath.Join(e.spool, "conf")
	if err := os.Rename(conf, conf+".old"); err != nil {
		t.Fatal(err)
	}
	e.mkdirFor(conf)
	sendOK("d.conf")
	expect(conf, "d.conf")
	expect(conf+".old", "c.conf")
	if err := os.RemoveAll(conf); err != nil {
		t.Fatal(err)
	}
	e.mkdirFor(conf)
	sendOK("e.conf")
	expect(conf, "e.conf")

	if n := replaced(); n != 3 {
		t.Errorf("%d lines say the spool was replaced, want 3 (in flight, deleted, renamed)\n%s", n, out)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, out)
	}
}
