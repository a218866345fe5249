package main

import (
	"bytes"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"tentacle/options"
)

// TestProgressBar checks when a bar is drawn and what it ends with: only on
// a terminal, only for large files, never with -q; a summary only when the
// transfer succeeded.
func TestProgressBar(t *testing.T) {
	const big = progressThreshold + 1
	tests := []struct {
		name     string
		terminal bool
		quiet    bool
		size     int64
		ok       bool
		drawn    bool
	}{
		{"large file on a terminal", true, false, big, true, true},
		{"failed transfer", true, false, big, false, true},
		{"small file", true, false, 1000, true, false},
		{"not a terminal", false, false, big, true, false},
		{"quiet", true, true, big, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr bytes.Buffer
			var moved atomic.Int64
			s := &session{o: &options.Client{Quiet: tt.quiet}, stderr: &stderr, progress: tt.terminal, width: func() int { return 100 }}
			bar := s.bar("agent.data", tt.size, moved.Load)
			if (bar != nil) != tt.drawn {
				t.Fatalf("bar drawn: %v, want %v", bar != nil, tt.drawn)
			}
			moved.Store(tt.size)
			bar.done(tt.ok) // nil-safe
			out := stderr.String()
			if !tt.drawn {
				if out != "" {
					t.Fatalf("drew %q", out)
				}
				return
			}
			if !strings.HasPrefix(out, "\ragent.data [") || !strings.Contains(out, "100%    4.0 MiB/4.0 MiB") {
				t.Errorf("bar output %q", out)
			}
			summary := strings.Contains(out, "\nagent.data: 4.0 MiB in ")
			if summary != tt.ok {
				t.Errorf("summary line: %v, want %v, in %q", summary, tt.ok, out)
			}
		})
	}
}

// TestProgressLine checks the layout: the bar takes what the rest of the
// line leaves, so the line fills the terminal but its last column.
func TestProgressLine(t *testing.T) {
	tests := []struct {
		name    string
		total   int64
		done    int64
		elapsed time.Duration
		width   int
		final   bool
		want    string
	}{
		{"half way", 1 << 30, 512 << 20, 4 * time.Second, 80, false,
			"huge.data [========>        ]  50%  512.0 MiB/1.0 GiB  128.0 MiB/s  ETA 0:04   "},
		{"not started", 1 << 30, 0, 0, 80, false,
			"huge.data [>                ]   0%        0 B/1.0 GiB        0 B/s  ETA --:--  "},
		{"too narrow for a bar", 1 << 30, 512 << 20, 4 * time.Second, 60, false,
			"huge.data  50%  512.0 MiB/1.0 GiB  128.0 MiB/s  ETA 0:04"},
		{"all sent, the server storing", 1 << 30, 1 << 30, 8 * time.Second, 80, false,
			"huge.data [=================] 100%    1.0 GiB/1.0 GiB  128.0 MiB/s  storing    "},
		{"wide, over", 3 << 30, 3 << 30, 90 * time.Minute, 100, true,
			"huge.data [=====================================] 100%    3.0 GiB/3.0 GiB  582.5 KiB/s  ETA 0:00   "},
		{"unknown size", -1, 5 << 20, time.Second, 80, false, "huge.data  5.0 MiB  5.0 MiB/s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &progressBar{name: "huge.data", total: tt.total}
			got := b.line(tt.done, tt.elapsed, tt.width, tt.final)
			if got != tt.want {
				t.Errorf("line\n got %q\nwant %q", got, tt.want)
			}
			if strings.Contains(got, "[") && len(got) != tt.width-1 {
				t.Errorf("a line with a bar is %d columns on a terminal of %d, want all but the last", len(got), tt.width)
			}
			if len(got) >= tt.width {
				t.Errorf("line of %d columns on a terminal of %d", len(got), tt.width)
			}
		})
	}
}

func TestBinarySizeAndClock(t *testing.T) {
	sizes := map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 4 << 20: "4.0 MiB", 1500000000: "1.4 GiB", 5 << 40: "5.0 TiB"}
	for n, want := range sizes {
		if got := binarySize(n); got != want {
			t.Errorf("binarySize(%d) = %q, want %q", n, got, want)
		}
	}
	clocks := map[time.Duration]string{0: "0:00", 59 * time.Second: "0:59", 61 * time.Second: "1:01", 3725 * time.Second: "1:02:05"}
	for d, want := range clocks {
		if got := clock(d); got != want {
			t.Errorf("clock(%v) = %q, want %q", d, got, want)
		}
	}
}
