package transferlog

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"tentacle/internal/testharness"
	"tentacle/protocol"
)

func TestNewRecord(t *testing.T) {
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	remote := &net.TCPAddr{IP: net.ParseIP("10.1.2.3"), Port: 5555}
	tests := []struct {
		name   string
		err    error
		result string
	}{
		{"ok", nil, ResultOK},
		{"exists", fmt.Errorf("commit: %w", protocol.ErrExists), ResultRefused},
		{"reply", &protocol.ReplyError{Command: "RECV", Line: "RECV ERR (file does not exist)"}, ResultRefused},
		{"broken", errors.New("connection reset"), ResultFailed},
		{"disk full", fmt.Errorf("write: %w", protocol.ErrStorage), ResultFailed},
		{"panic", fmt.Errorf("%w: panic: bug", protocol.ErrInternal), ResultFailed},
	}
	for _, tt := range tests {
		r := NewRecord(protocol.Transfer{Remote: remote, TLSSubject: "CN=agent1", Command: "SEND", Name: "a.conf", Path: "conf/a.conf",
			Bytes: 42, Start: start, Duration: 1500 * time.Microsecond, Err: tt.err}, "/spool")
		if r.Result != tt.result || r.Client != "10.1.2.3" || r.Port != 5555 || r.Path != "/spool/conf/a.conf" ||
			r.DurationMS != 1.5 || !r.Time.Equal(start.Add(1500*time.Microsecond)) || (tt.err != nil) != (r.Reason != "") {
			t.Errorf("%s: %+v", tt.name, r)
		}
	}
}

// TestTransferLogConcurrentAndRotating writes many records from many
// goroutines through a 1 MB rotation: every line of every file must parse,
// and none may be lost.
func TestTransferLogConcurrentAndRotating(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "transfers.log")
	log, err := Open(path, Rotation{MaxSizeMB: 1, MaxBackups: 100})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("not created at open: %v", err)
	}
	const writers, each = 8, 1000
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				r := Record{Time: time.Now(), Client: "127.0.0.1", Command: "SEND", File: fmt.Sprintf("w%d-%d.data", w, i), Reason: strings.Repeat("x", 100), Result: ResultOK}
				if err := log.Write(r); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := log.Rotate(); err != nil { // as SIGUSR1 does
		t.Fatal(err)
	}
	log.Write(Record{File: "after-rotate"})
	log.Close()

	files, _ := filepath.Glob(filepath.Join(dir, "sub", "transfers*.log"))
	if len(files) < 3 {
		t.Fatalf("files %v: want the size rotations, the forced one and the current", files)
	}
	seen := map[string]bool{}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			var r Record
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("%s: torn record %q: %v", f, sc.Text(), err)
			}
			seen[r.File] = true
		}
		fh.Close()
	}
	if len(seen) != writers*each+1 {
		t.Fatalf("%d distinct records, want %d", len(seen), writers*each+1)
	}
	current, _ := os.ReadFile(path)
	if !strings.Contains(string(current), "after-rotate") || strings.Count(string(current), "\n") != 1 {
		t.Errorf("current file after Rotate holds %q", current)
	}
}

func TestOpenFails(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(filepath.Join(blocker, "transfers.log"), Rotation{}); err == nil || !strings.Contains(err.Error(), "transfer log") {
		t.Fatalf("got %v", err)
	}
}

// TestTransferLogReloadWhileRotating is a reload (SetRotation) right after
// each forced rotation (SIGUSR1), while transfers keep recording from many
// goroutines: the cleanup of rotated files runs then, and must neither race
// with the new settings (go test -race) nor lose a record, compressed or not.
func TestTransferLogReloadWhileRotating(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprintf("compress=%v", compress), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "transfers.log")
			// Retention that never removes a file, so that every record
			// can be counted; the settings still change at every reload.
			settings := func(i int) Rotation {
				return Rotation{MaxSizeMB: 1, MaxBackups: 1000 + i%2, MaxAgeDays: 30 * (i % 2), Compress: compress}
			}
			log, err := Open(path, settings(0))
			if err != nil {
				t.Fatal(err)
			}
			const writers, each, reloads = 4, 500, 20
			var wg sync.WaitGroup
			for w := range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range each {
						if err := log.Write(Record{Command: "SEND", File: fmt.Sprintf("w%d-%d.data", w, i), Result: ResultOK}); err != nil {
							t.Error(err)
							return
						}
					}
				}()
			}
			for i := range reloads {
				if err := log.Rotate(); err != nil {
					t.Fatal(err)
				}
				log.SetRotation(settings(i + 1))
			}
			wg.Wait()
			if compress {
				testharness.WaitFor(t, "every rotated file compressed", func() bool {
					return len(rotatedFiles(t, path, false)) == 0
				})
			}
			if err := log.Close(); err != nil {
				t.Fatal(err)
			}

			backups := rotatedFiles(t, path, compress)
			if len(backups) < reloads {
				t.Fatalf("%d rotated files %v, want at least %d", len(backups), backups, reloads)
			}
			seen := map[string]int{}
			for _, f := range append(backups, path) {
				for _, r := range readRecords(t, f) {
					seen[r.File]++
				}
			}
			for name, n := range seen {
				if n != 1 {
					t.Errorf("%s recorded %d times", name, n)
				}
			}
			if len(seen) != writers*each {
				t.Fatalf("%d distinct records, want %d", len(seen), writers*each)
			}
		})
	}
}

// rotatedFiles lists the rotated copies of the log at path, the compressed
// ones (name.log.gz) or the others.
func rotatedFiles(t *testing.T, path string, compressed bool) []string {
	t.Helper()
	ext := filepath.Ext(path)
	pattern := strings.TrimSuffix(path, ext) + "-*" + ext
	if compressed {
		pattern += ".gz"
	}
	files, err := filepath.Glob(pattern)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// readRecords parses every line of a transfer log file, gzipped or not.
func readRecords(t *testing.T, file string) []Record {
	t.Helper()
	fh, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var in io.Reader = fh
	if strings.HasSuffix(file, ".gz") {
		gz, err := gzip.NewReader(fh)
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		in = gz
	}
	var records []Record
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		var r Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s: torn record %q: %v", file, sc.Text(), err)
		}
		records = append(records, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return records
}

// TestTransferLogRetention checks the cleanup of rotated files, done here
// rather than by lumberjack: the newest MaxBackups are kept, a file and its
// compressed copy counting as one, files older than MaxAgeDays go, the rest
// are compressed, and files that are not rotated copies of this log stay.
func TestTransferLogRetention(t *testing.T) {
	now := time.Now().UTC()
	stamp := func(ago time.Duration) string { return now.Add(-ago).Format(backupTimeFormat) }
	var (
		newest   = "transfers-" + stamp(time.Hour) + ".log"
		halfDone = "transfers-" + stamp(2*time.Hour) + ".log" // and its .gz: a compression cut short
		packed   = "transfers-" + stamp(3*time.Hour) + ".log.gz"
		old      = "transfers-" + stamp(40*24*time.Hour) + ".log"
		others   = []string{"transfers.log", "transfers-notes.log", "other-" + stamp(time.Hour) + ".log"}
	)
	tests := []struct {
		name     string
		rotation Rotation
		want     []string
	}{
		{"max backups", Rotation{MaxBackups: 2}, []string{newest, halfDone, halfDone + ".gz"}},
		{"max age", Rotation{MaxAgeDays: 30}, []string{newest, halfDone, halfDone + ".gz", packed}},
		{"compress", Rotation{Compress: true}, []string{newest + ".gz", halfDone + ".gz", packed, old + ".gz"}},
		{"all three", Rotation{MaxBackups: 2, MaxAgeDays: 30, Compress: true}, []string{newest + ".gz", halfDone + ".gz"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, name := range append([]string{newest, halfDone, halfDone + ".gz", packed, old}, others...) {
				content := []byte(`{"file":"` + name + `"}` + "\n")
				if strings.HasSuffix(name, ".gz") {
					content = gzipped(t, content)
				}
				// Chmod as well: the umask must not decide the mode to keep.
				if err := os.WriteFile(filepath.Join(dir, name), content, 0o640); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(filepath.Join(dir, name), 0o640); err != nil {
					t.Fatal(err)
				}
			}
			log, err := Open(filepath.Join(dir, "transfers.log"), tt.rotation)
			if err != nil {
				t.Fatal(err)
			}
			defer log.Close()
			// The first record applies the retention.
			if err := log.Write(Record{File: "a.data"}); err != nil {
				t.Fatal(err)
			}
			want := strings.Join(sorted(append(tt.want, others...)), " ")
			var got string
			defer func() {
				if t.Failed() {
					t.Logf("files: %s\nwant:  %s", got, want)
				}
			}()
			testharness.WaitFor(t, "the retention applied", func() bool {
				got = strings.Join(dirNames(t, dir), " ")
				return got == want
			})
			for _, name := range tt.want {
				if strings.HasSuffix(name, ".gz") {
					readRecords(t, filepath.Join(dir, name)) // whole, and still readable
				}
				info, err := os.Stat(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				if info.Mode().Perm() != 0o640 {
					t.Errorf("%s: mode %v, want 0640 kept", name, info.Mode())
				}
			}
		})
	}
}

// TestTransferLogSetRotationApplies checks that a reload that lowers the
// retention removes the rotated files at once, not at the next rotation.
func TestTransferLogSetRotationApplies(t *testing.T) {
	path := filepath.Join(t.TempDir(), "transfers.log")
	log, err := Open(path, Rotation{})
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	for i := range 5 {
		if err := log.Write(Record{File: fmt.Sprintf("%d.data", i)}); err != nil {
			t.Fatal(err)
		}
		if err := log.Rotate(); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(rotatedFiles(t, path, false)); n != 5 {
		t.Fatalf("%d rotated files, want 5: two rotations in one millisecond must not share a name", n)
	}
	log.SetRotation(Rotation{MaxBackups: 2})
	testharness.WaitFor(t, "two rotated files left", func() bool { return len(rotatedFiles(t, path, false)) == 2 })
}

func gzipped(t *testing.T, content []byte) []byte {
	t.Helper()
	var b strings.Builder
	gz := gzip.NewWriter(&b)
	gz.Write(content)
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return []byte(b.String())
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func sorted(names []string) []string {
	s := slices.Clone(names)
	slices.Sort(s)
	return s
}
