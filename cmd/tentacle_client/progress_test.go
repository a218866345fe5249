package main

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"tentacle/options"
)

// TestProgressBar checks when a bar is drawn and what it says: only on a
// terminal, only for large files, never with -q.
func TestProgressBar(t *testing.T) {
	const big = progressThreshold + 1
	tests := []struct {
		name     string
		terminal bool
		quiet    bool
		size     int64
		drawn    bool
	}{
		{"large file on a terminal", true, false, big, true},
		{"small file", true, false, 1000, false},
		{"not a terminal", false, false, big, false},
		{"quiet", true, true, big, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			s := &session{o: &options.Client{Quiet: tt.quiet}, stderr: &stderr, progress: tt.terminal}
			bar := s.bar("agent.data", tt.size)
			if (bar != nil) != tt.drawn {
				t.Fatalf("bar drawn: %v, want %v", bar != nil, tt.drawn)
			}
			if bar == nil {
				return
			}
			if _, err := io.Copy(io.Discard, bar.reader(strings.NewReader(strings.Repeat("x", int(tt.size))))); err != nil {
				t.Fatal(err)
			}
			bar.done()
			out := stderr.String()
			if !strings.Contains(out, "agent.data 100%") || !strings.HasSuffix(out, "\n") || !strings.HasPrefix(out, "\r") {
				t.Fatalf("bar output %q", out)
			}
		})
	}
}
