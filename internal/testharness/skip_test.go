package testharness

import (
	"os"
	"path/filepath"
	"testing"
)

// TestNeedToolLogsSkip checks that a skip lands in the skip log, one line
// naming the package, the test and the reason, after what was there.
func TestNeedToolLogsSkip(t *testing.T) {
	log := filepath.Join(t.TempDir(), "skips")
	if err := os.WriteFile(log, []byte("earlier line\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(SkipLogEnv, log)
	t.Run("missing tool", func(t *testing.T) {
		NeedTool(t, "tentacle-no-such-tool", "no-such-package")
		t.Error("NeedTool did not skip")
	})
	t.Run("present tool", func(t *testing.T) {
		if NeedTool(t, "go", "golang-go") == "" {
			t.Error("NeedTool returned no path")
		}
	})
	got, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	want := "earlier line\n./internal/testharness TestNeedToolLogsSkip/missing_tool: tentacle-no-such-tool is not installed: install the Debian package no-such-package\n"
	if string(got) != want {
		t.Errorf("skip log:\n%s\nwant:\n%s", got, want)
	}
}

// TestAppendSkipOneLine checks that a reason over several lines (a
// command's output) stays on one line of the log.
func TestAppendSkipOneLine(t *testing.T) {
	log := filepath.Join(t.TempDir(), "skips")
	if err := appendSkip(log, "./x TestX", "it failed:\n  line one\n  line two\n"); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	if want := "./x TestX: it failed: line one line two\n"; string(got) != want {
		t.Errorf("skip log %q, want %q", got, want)
	}
}
