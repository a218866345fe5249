package transferlog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReopen is logrotate's way with the service log: it renames the file,
// then SIGUSR1 makes the daemon reopen the name. The old lines stay in the
// renamed file, new ones go to a new 0640 file, and nothing else appears
// in the directory (no backup of lumberjack's).
func TestReopen(t *testing.T) {
	tests := []struct {
		name   string
		rotate func(t *testing.T, path string) // what logrotate did
		want   string                          // the log's content at the end
	}{
		{"renamed", func(t *testing.T, path string) {
			if err := os.Rename(path, path+".1"); err != nil {
				t.Fatal(err)
			}
		}, "after\n"},
		{"renamed and created", func(t *testing.T, path string) {
			if err := os.Rename(path, path+".1"); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte("made by logrotate\n"), 0o640); err != nil {
				t.Fatal(err)
			}
		}, "made by logrotate\nafter\n"},
		{"untouched", func(*testing.T, string) {}, "before\nafter\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "tentacle_serverd.log")
			l, err := Open(path, Rotation{})
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			w := l.TextWriter()
			if _, err := w.Write([]byte("before\n")); err != nil {
				t.Fatal(err)
			}
			tt.rotate(t, path)
			if err := l.Reopen(); err != nil {
				t.Fatalf("Reopen: %v", err)
			}
			if _, err := w.Write([]byte("after\n")); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("log holds %q, want %q", got, tt.want)
			}
			if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o640 {
				t.Errorf("log mode: %v %v, want 0640", st.Mode(), err)
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if n := e.Name(); n != "tentacle_serverd.log" && n != "tentacle_serverd.log.1" {
					t.Errorf("unexpected file %s", n)
				}
			}
			if old, err := os.ReadFile(path + ".1"); err == nil && !strings.HasPrefix(string(old), "before") {
				t.Errorf("renamed log holds %q, want the line before", old)
			}
		})
	}
}
