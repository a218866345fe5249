package setup

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tentacle/protocol"
)

// TestLogFileReopenAndSwitch follows the messages of one Instance through
// what logrotate and a reload do to its -l file: each step logs a line,
// then every file is checked for the lines that must be in it, and only
// those.
func TestLogFileReopenAndSwitch(t *testing.T) {
	dir := t.TempDir()
	first, second := filepath.Join(dir, "first.log"), filepath.Join(dir, "second.log")
	var stdout, stderr bytes.Buffer
	in, err := New(parse(t, "-s", dir, "-l", first), "", &stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	// A logger built later from the instance's streams, as a reload does.
	later := &protocol.TextLogger{Out: in.Logger.Out, Err: in.Logger.Err}

	steps := []struct {
		name string
		do   func() error
	}{
		{"start", func() error { return nil }},
		{"rotated", func() error { return os.Rename(first, first+".1") }},
		{"reopened", in.ReopenLog},
		{"same path", func() error { return in.SetLogFile(first) }},
		{"switched", func() error { return in.SetLogFile(second) }},
		{"unset", func() error { return in.SetLogFile("") }},
		{"refused", func() error {
			if err := in.SetLogFile(filepath.Join(dir, "missing", "x.log")); err == nil {
				t.Error("SetLogFile in a missing directory: no error")
			}
			return nil
		}},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		in.Logger.Log(protocol.LevelError, "instance "+s.name)
		later.Log(protocol.LevelError, "later "+s.name)
	}

	// Errors go to stderr when there is no -l file.
	want := map[string][]string{
		first + ".1": {"start", "rotated"},
		first:        {"reopened", "same path"},
		second:       {"switched"},
		"stderr":     {"unset", "refused"},
	}
	for where, steps := range want {
		got := stderr.String()
		if where != "stderr" {
			b, err := os.ReadFile(where)
			if err != nil {
				t.Fatal(err)
			}
			got = string(b)
		}
		var lines []string
		for _, step := range steps {
			lines = append(lines, "instance "+step, "later "+step)
		}
		var seen []string
		for _, l := range strings.Split(strings.TrimSpace(got), "\n") {
			for _, w := range []string{"instance ", "later "} {
				if i := strings.Index(l, w); i >= 0 {
					seen = append(seen, strings.TrimSuffix(l[i:], "."))
				}
			}
		}
		if strings.Join(seen, "|") != strings.Join(lines, "|") {
			t.Errorf("%s holds %q, want %q", filepath.Base(where), seen, lines)
		}
	}
	if stdout.Len() > 0 {
		t.Errorf("stdout got %q, want nothing (errors only)", stdout.String())
	}
}
