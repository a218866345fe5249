//go:build linux

package main

import (
	"bufio"
	"bytes"
	crand "crypto/rand"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sync"
)

// streamSeed is drawn once per run, so that the raw copy and the servers of
// one run transfer the same bytes, and two runs do not.
var streamSeed = sync.OnceValue(func() [32]byte {
	var s [32]byte
	crand.Read(s[:])
	return s
})

// newUploadStream returns the bytes of a large upload: a ChaCha8 keystream
// generated on the fly. Unlike a repeated block, it never stays hot in the CPU
// cache (which doubled loopback throughput and flattered both sides), no
// layer can compress or deduplicate it, and it needs no large buffer.
func newUploadStream() io.Reader { return rand.NewChaCha8(streamSeed()) }

// verifyUpload checks that the file at path holds exactly the size bytes
// that newUploadStream produces. It regenerates the stream instead of
// hashing it during the upload, so that the timed transfer pays nothing for
// the check.
func verifyUpload(path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("verify upload: %w", err)
	}
	defer f.Close()
	got := bufio.NewReaderSize(f, 1<<20)
	want := io.LimitReader(newUploadStream(), size)
	a, b := make([]byte, 1<<20), make([]byte, 1<<20)
	var off int64
	for off < size {
		n, _ := io.ReadFull(want, a)
		m, err := io.ReadFull(got, b[:n])
		if m < n {
			return fmt.Errorf("verify upload: %s holds %d bytes of %d: %v", path, off+int64(m), size, err)
		}
		if i := firstDiff(a[:n], b[:n]); i >= 0 {
			return fmt.Errorf("verify upload: %s differs from the sent bytes at offset %d", path, off+int64(i))
		}
		off += int64(n)
	}
	if n, _ := got.Read(b[:1]); n > 0 {
		return fmt.Errorf("verify upload: %s holds more than the %d bytes sent", path, size)
	}
	return nil
}

// firstDiff is the index of the first byte where a and b differ, or -1.
func firstDiff(a, b []byte) int {
	if bytes.Equal(a, b) {
		return -1
	}
	for i := range a {
		if a[i] != b[i] {
			return i
		}
	}
	return len(a)
}
