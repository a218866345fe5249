package daemon

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

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
	log, err := OpenTransferLog(path, LogRotation{MaxSizeMB: 1, MaxBackups: 100})
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

func TestOpenTransferLogFails(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "file")
	os.WriteFile(blocker, nil, 0o644)
	if _, err := OpenTransferLog(filepath.Join(blocker, "transfers.log"), LogRotation{}); err == nil || !strings.Contains(err.Error(), "transfer log") {
		t.Fatalf("got %v", err)
	}
}

func TestWithoutFileEcho(t *testing.T) {
	file := filepath.Join(t.TempDir(), "env")
	os.WriteFile(file, []byte("TENTACLE_PORT=41121\nTENTACLE_USER=pandora\n"), 0o644)
	got := withoutFileEcho([]string{"TENTACLE_PORT=41121", "TENTACLE_USER=other", "PATH=/bin"}, file)
	if strings.Join(got, " ") != "TENTACLE_USER=other PATH=/bin" {
		t.Fatalf("kept %v: the copy of the file's port must go, the real override stay", got)
	}
}
