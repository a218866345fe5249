package daemon

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestScanSpool(t *testing.T) {
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	tests := []struct {
		name  string
		make  func(t *testing.T, dir string)
		limit spoolScanLimit
		want  spoolStats
	}{
		{"empty", func(*testing.T, string) {}, defaultSpoolScanLimit, spoolStats{}},
		{
			name: "data, others, hidden, subdirectories",
			make: func(t *testing.T, dir string) {
				write(t, dir, "a.data", old)
				write(t, dir, "b.data", old.Add(time.Minute))
				write(t, dir, "agent.conf", old.Add(-time.Hour)) // counted, not aged: not data
				write(t, dir, ".tentacle-0123.tmp", old.Add(-time.Hour))
				if err := os.Mkdir(filepath.Join(dir, "conf"), 0o755); err != nil {
					t.Fatal(err)
				}
				write(t, filepath.Join(dir, "conf"), "c.data", old.Add(-time.Hour))
			},
			limit: defaultSpoolScanLimit,
			want:  spoolStats{Files: 3, Oldest: old},
		},
		{
			name: "bounded by entries",
			make: func(t *testing.T, dir string) {
				for i := range 30 {
					write(t, dir, fmt.Sprintf("%02d.data", i), old)
				}
			},
			limit: spoolScanLimit{Entries: 10, Time: time.Minute},
			want:  spoolStats{Files: 10, Oldest: old, Bounded: true},
		},
		{
			name: "exactly at the bound",
			make: func(t *testing.T, dir string) {
				for i := range 10 {
					write(t, dir, fmt.Sprintf("%02d.data", i), old)
				}
			},
			limit: spoolScanLimit{Entries: 10, Time: time.Minute},
			want:  spoolStats{Files: 10, Oldest: old},
		},
		{
			name: "bounded by time",
			make: func(t *testing.T, dir string) {
				write(t, dir, "a.data", old)
			},
			limit: spoolScanLimit{Entries: 10, Time: -time.Second},
			want:  spoolStats{Bounded: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.make(t, dir)
			got, err := scanSpool(dir, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if got.Files != tt.want.Files || got.Bounded != tt.want.Bounded || !got.Oldest.Equal(tt.want.Oldest) {
				t.Fatalf("scanSpool = %+v, want %+v", got, tt.want)
			}
		})
	}
	if _, err := scanSpool(filepath.Join(t.TempDir(), "absent"), defaultSpoolScanLimit); err == nil {
		t.Error("a missing spool scanned without error")
	}
}

// write makes a one-byte file dated mtime.
func write(t testing.TB, dir, name string, mtime time.Time) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// bigSpool makes a directory of n empty .data files, as a spool that
// Pandora's data server stopped draining.
func bigSpool(tb testing.TB, n int) string {
	tb.Helper()
	dir := tb.TempDir()
	for i := range n {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("agent%06d.data", i)))
		if err != nil {
			tb.Fatal(err)
		}
		f.Close()
	}
	return dir
}

// TestScanSpoolStopsAtItsBound counts a spool of 200,000 files with the
// default bound: the scan stops there and says so. How long it takes is
// BenchmarkScanSpool's to measure, not a test's to assert.
func TestScanSpoolStopsAtItsBound(t *testing.T) {
	if testing.Short() {
		t.Skip("makes 200,000 files")
	}
	dir := bigSpool(t, 200_000)
	got, err := scanSpool(dir, spoolScanLimit{Entries: defaultSpoolScanLimit.Entries, Time: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if !got.Bounded || got.Files != defaultSpoolScanLimit.Entries {
		t.Fatalf("scanSpool = %+v, want %d files and the bound reported", got, defaultSpoolScanLimit.Entries)
	}
}

func BenchmarkScanSpool(b *testing.B) {
	dir := bigSpool(b, 200_000)
	b.ResetTimer()
	for b.Loop() {
		if _, err := scanSpool(dir, defaultSpoolScanLimit); err != nil {
			b.Fatal(err)
		}
	}
}

// TestReportXML checks that the report is well-formed agent data, with its
// names escaped and the modules Pandora expects.
func TestReportXML(t *testing.T) {
	var c counters
	c.received.Store(7)
	c.connection(true)
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.Local)
	r := monitorReport{Agent: "a&b-é", Version: "1.2", Interval: 300, Now: now, Counters: &c,
		Spool: spoolStats{Files: 3, Oldest: now.Add(-90 * time.Second), Bounded: true}, FreeBytes: 1 << 30}
	body, err := r.xml()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(body), `<?xml version="1.0" encoding="UTF-8"?>`) || !strings.Contains(string(body), `agent_name="a&amp;b-é"`) {
		t.Fatalf("report:\n%s", body)
	}
	var doc agentData
	if err := xml.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.AgentName != "a&b-é" || doc.Timestamp != "2026/03/04 05:06:07" || doc.Interval != 300 || doc.Version != "1.2" || doc.OSName == "" {
		t.Errorf("attributes: %+v", doc)
	}
	want := map[string][2]string{
		"tentacle_files_received":   {moduleCounter, "7"},
		"tentacle_bytes_received":   {moduleCounter, "0"},
		"tentacle_files_sent":       {moduleCounter, "0"},
		"tentacle_refused":          {moduleCounter, "0"},
		"tentacle_failed":           {moduleCounter, "0"},
		"tentacle_connections":      {moduleGauge, "1"},
		"tentacle_spool_files":      {moduleGauge, "3"},
		"tentacle_spool_oldest_age": {moduleGauge, "90"},
		"tentacle_spool_free_bytes": {moduleGauge, "1073741824"},
		"tentacle_up":               {moduleProc, "1"},
	}
	if len(doc.Modules) != len(want) {
		t.Errorf("%d modules, want %d", len(doc.Modules), len(want))
	}
	for _, m := range doc.Modules {
		if w, ok := want[m.Name]; !ok || m.Type != w[0] || m.Data != w[1] || m.Description == "" {
			t.Errorf("module %+v, want type and data %v", m, w)
		}
		if strings.HasPrefix(m.Name, "tentacle_spool_") && m.Name != "tentacle_spool_free_bytes" && !strings.Contains(m.Description, "at least") {
			t.Errorf("module %s does not say its count was bounded: %q", m.Name, m.Description)
		}
	}
}
