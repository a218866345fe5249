//go:build linux

package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestWANData checks that each agent's file is its own and the same every
// time it is asked for, since the check after the run regenerates nothing
// but compares with what was sent.
func TestWANData(t *testing.T) {
	seed := [32]byte{7}
	a, b := wanData(seed, 1, 4096), wanData(seed, 2, 4096)
	if bytes.Equal(a, b) {
		t.Error("agents 1 and 2 send the same bytes")
	}
	if !bytes.Equal(a, wanData(seed, 1, 4096)) {
		t.Error("agent 1's bytes change from one call to the next")
	}
}

// TestWANPercentile checks the nearest-rank percentiles of the report.
func TestWANPercentile(t *testing.T) {
	row := wanRow{}
	for i := 1; i <= 100; i++ {
		row.latency = append(row.latency, time.Duration(i)*time.Millisecond)
	}
	tests := []struct {
		q    float64
		want time.Duration
	}{{0.5, 50 * time.Millisecond}, {0.99, 99 * time.Millisecond}, {1, 100 * time.Millisecond}, {0, time.Millisecond}}
	for _, tt := range tests {
		if got := row.percentile(tt.q); got != tt.want {
			t.Errorf("percentile(%v) = %v, want %v", tt.q, got, tt.want)
		}
	}
	if got := (&wanRow{}).percentile(0.5); got != 0 {
		t.Errorf("percentile of no agents = %v, want 0", got)
	}
}

// TestErrorKind checks that agents failing the same way on different
// connections count together.
func TestErrorKind(t *testing.T) {
	a := errors.New("read reply: read tcp 127.0.0.1:41744->127.0.0.1:46483: i/o timeout")
	b := errors.New("read reply: read tcp 127.0.0.1:41724->127.0.0.1:46483: i/o timeout")
	if errorKind(a) != errorKind(b) {
		t.Errorf("%q and %q differ", errorKind(a), errorKind(b))
	}
}

// TestVerifyWANFiles checks that a file missing, short or with other bytes
// is not counted as stored.
func TestVerifyWANFiles(t *testing.T) {
	dir := t.TempDir()
	files := [][]byte{[]byte("zero"), []byte("one"), []byte("two"), []byte("three")}
	write := func(i int, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, wanFile("p", i)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(0, files[0])
	write(1, []byte("on"))
	write(2, []byte("TWO"))
	verified, bad, first := verifyWANFiles(dir, "p", files)
	if verified != 1 || bad != 3 || first == "" {
		t.Errorf("verified %d, bad %d (first %q); want 1 and 3", verified, bad, first)
	}
}

// TestWANServerInProcess runs a few agents through a delay line to an
// in-process server, end to end, and checks the figures of the row.
func TestWANServerInProcess(t *testing.T) {
	cfg := &config{inProcess: true, wanDelay: 5 * time.Millisecond, wanParallel: 4, wanWindow: 1 << 20, timeout: 10, fileSize: 4096}
	work := &workDir{root: t.TempDir()}
	files := make([][]byte, 12)
	for i := range files {
		files[i] = wanData([32]byte{3}, i, int64(cfg.fileSize))
	}
	row, err := wanServer(context.Background(), cfg, cfg.serverOptions(4096), work, "wan-test", files)
	if err != nil {
		t.Fatal(err)
	}
	if !row.clean(len(files)) || row.ok != len(files) {
		t.Fatalf("ok %d, errors %d (%s), verified %d of %d", row.ok, row.errors, row.firstErr, row.verified, len(files))
	}
	// The handshake (two one-way delays) and two round trips.
	if least := 6 * cfg.wanDelay; row.percentile(0) < least {
		t.Errorf("fastest agent took %v, less than the %v the line imposes", row.percentile(0), least)
	}
	if row.onward.n != len(files) || row.onward.errs != 0 {
		t.Errorf("connects onward %+v, want %d without error", row.onward, len(files))
	}
}
