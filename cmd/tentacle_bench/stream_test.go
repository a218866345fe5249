//go:build linux

package main

import (
	"io"
	"os"
	"path/filepath"
	"testing"
)

func TestVerifyUpload(t *testing.T) {
	const size = 3<<20 + 5 // not a multiple of the check's buffer
	want := make([]byte, size+1)
	if _, err := io.ReadFull(newUploadStream(), want); err != nil {
		t.Fatal(err)
	}
	flipped := append([]byte(nil), want[:size]...)
	flipped[2<<20+3] ^= 1
	tests := []struct {
		name string
		data []byte
		ok   bool
	}{
		{"same bytes", want[:size], true},
		{"one bit flipped", flipped, false},
		{"short", want[:size-1], false},
		{"long", want, false},
		{"empty", nil, false},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name)
			if err := os.WriteFile(path, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			err := verifyUpload(path, size)
			if (err == nil) != tt.ok {
				t.Fatalf("verifyUpload = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

// TestUploadStreamUnique checks that the stream does not repeat a block like
// the old pattern did: two distant 128 KiB windows differ.
func TestUploadStreamUnique(t *testing.T) {
	b := make([]byte, 4<<20)
	if _, err := io.ReadFull(newUploadStream(), b); err != nil {
		t.Fatal(err)
	}
	for _, off := range []int{1 << 20, 1<<20 + 7, 2 << 20, 3 << 20} {
		if firstDiff(b[:128<<10], b[off:off+128<<10]) < 0 {
			t.Fatalf("the stream repeats at offset %d", off)
		}
	}
}
