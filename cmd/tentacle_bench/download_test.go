//go:build linux

package main

import (
	"context"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRawDownloadChecksBytes checks that the raw side of the download test
// receives the file whole through its sender and notices a wrong size or
// wrong bytes.
func TestRawDownloadChecksBytes(t *testing.T) {
	data := make([]byte, 3<<20+17)
	newPatternReader().Read(data)
	path := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	want, err := fileCRC(path)
	if err != nil || want != crc32.ChecksumIEEE(data) {
		t.Fatalf("fileCRC = %08x, %v; want %08x", want, err, crc32.ChecksumIEEE(data))
	}
	sender, err := startFileSender(path)
	if err != nil {
		t.Fatal(err)
	}
	defer sender.Close()
	size := int64(len(data))
	tests := []struct {
		name    string
		size    int64
		crc     uint32
		wantErr string
	}{
		{"whole", size, want, ""},
		{"shorter than announced", size + 1, want, "bytes of"},
		{"other bytes", size, want ^ 1, "differ"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := rawDownload(context.Background(), sender.Addr().String(), tt.size, tt.crc)
			switch {
			case tt.wantErr == "" && got.err != nil:
				t.Errorf("rawDownload: %v", got.err)
			case tt.wantErr != "" && (got.err == nil || !strings.Contains(got.err.Error(), tt.wantErr)):
				t.Errorf("rawDownload: %v, want an error containing %q", got.err, tt.wantErr)
			case got.elapsed <= 0:
				t.Errorf("rawDownload took %v", got.elapsed)
			}
		})
	}
}
