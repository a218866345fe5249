package protocol

import (
	"errors"
	"io/fs"
	"net"
	"strings"
	"sync/atomic"
	"testing"

	"tentacle/internal/testharness"
)

// panickyStorage wraps a Storage and panics on the names it is told to.
type panickyStorage struct {
	Storage
	createPanics string // Create of this name panics
	writePanics  string // writing the data of this name panics
}

func (p *panickyStorage) Create(name string, overwrite bool) (PendingFile, error) {
	if name == p.createPanics {
		panic("storage bug on create")
	}
	f, err := p.Storage.Create(name, overwrite)
	if err != nil || name != p.writePanics {
		return f, err
	}
	return panickyFile{f}, nil
}

func (p *panickyStorage) Open(name string) (fs.File, error) { return p.Storage.Open(name) }

type panickyFile struct{ PendingFile }

func (panickyFile) Write([]byte) (int, error) { panic("storage bug on write") }

// TestPanicIsolation checks that a panic while serving one connection, in a
// Storage, in Allow or in OnTransfer, ends that connection alone: it is
// logged with its stack, its transfer is recorded as failed, nothing
// partial is stored, and the server serves the next client.
func TestPanicIsolation(t *testing.T) {
	tests := []struct {
		name      string
		configure func(*Server)
		file      string
		recorded  bool // a failed transfer record is expected
	}{
		{"storage create", func(s *Server) { s.Storage = &panickyStorage{Storage: s.Storage, createPanics: "bad.data"} }, "bad.data", true},
		{"storage write", func(s *Server) { s.Storage = &panickyStorage{Storage: s.Storage, writePanics: "bad.data"} }, "bad.data", true},
		{"allow", func(s *Server) {
			var calls atomic.Int32
			s.Allow = func(net.Addr) bool {
				if calls.Add(1) == 2 { // the connection after the bystander
					panic("allow bug")
				}
				return true
			}
		}, "", false},
		{"on transfer", func(s *Server) {
			record := s.OnTransfer
			s.OnTransfer = func(t Transfer) {
				if t.Name == "bad.data" {
					panic("record bug")
				}
				record(t)
			}
		}, "bad.data", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, tt.configure)
			bystander := dial(t, ts.Addr) // a connection in progress elsewhere
			if err := bystander.Send("before.data", strings.NewReader("x"), 1); err != nil {
				t.Fatal(err)
			}

			w := dialWire(t, ts.Addr)
			if tt.file != "" {
				w.send("SEND <" + tt.file + "> SIZE 3\n")
			}
			if tt.name == "storage write" || tt.name == "on transfer" {
				w.expect("SEND OK\n")
				w.send("abc")
			}
			w.expectClosed()
			testharness.WaitFor(t, "the panic to be logged", func() bool { return ts.Log.contains("panic while serving") })
			if !ts.Log.contains("goroutine") {
				t.Error("the panic was logged without its stack")
			}

			if err := bystander.Send("after.data", strings.NewReader("y"), 1); err != nil {
				t.Fatalf("the connection open during the panic: %v", err)
			}
			if err := dial(t, ts.Addr).Send("next.data", strings.NewReader("z"), 1); err != nil {
				t.Fatalf("a new connection after the panic: %v", err)
			}
			if tt.name != "on transfer" {
				if _, err := ts.Storage.Open("bad.data"); !errors.Is(err, ErrNotExist) {
					t.Errorf("bad.data after the panic: %v, want nothing stored", err)
				}
			}
			var failed []Transfer
			for _, r := range ts.Recs.all() {
				if r.Name == "bad.data" {
					failed = append(failed, r)
				}
			}
			switch {
			case tt.recorded && (len(failed) != 1 || !errors.Is(failed[0].Err, ErrInternal)):
				t.Errorf("records of bad.data: %+v, want one failure with ErrInternal", failed)
			case !tt.recorded && len(failed) != 0:
				t.Errorf("records of bad.data: %+v, want none", failed)
			}
		})
	}
}
