package main

import (
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/term"
)

// progressThreshold is the smallest file that gets a progress bar: below it
// a transfer is over before a bar would tell anything.
const progressThreshold = 4 << 20

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// progressBar draws one line on the terminal, at most a few times a second.
type progressBar struct {
	out   io.Writer
	name  string
	total int64 // -1 when unknown
	moved atomic.Int64
	start time.Time
	last  time.Time
}

// bar returns a bar for a transfer of size bytes (-1: unknown), or nil when
// none should be drawn.
func (s *session) bar(name string, size int64) *progressBar {
	if !s.progress || s.o.Quiet || (size >= 0 && size < progressThreshold) {
		return nil
	}
	return &progressBar{out: s.stderr, name: name, total: size, start: time.Now()}
}

func (b *progressBar) add(n int) {
	b.moved.Add(int64(n))
	if now := time.Now(); now.Sub(b.last) > 200*time.Millisecond {
		b.last = now
		b.draw()
	}
}

func (b *progressBar) draw() {
	done := b.moved.Load()
	rate := float64(done) / max(time.Since(b.start).Seconds(), 0.001) / 1e6
	if b.total > 0 {
		fmt.Fprintf(b.out, "\r%s %3d%% %d/%d bytes %.1f MB/s ", b.name, done*100/b.total, done, b.total, rate)
	} else {
		fmt.Fprintf(b.out, "\r%s %d bytes %.1f MB/s ", b.name, done, rate)
	}
}

// done draws the final state and ends the line.
func (b *progressBar) done() {
	if b.total >= 0 || b.moved.Load() >= progressThreshold {
		b.draw()
		fmt.Fprintln(b.out)
	}
}

func (b *progressBar) reader(r io.Reader) io.Reader {
	return readerFunc(func(p []byte) (int, error) {
		n, err := r.Read(p)
		b.add(n)
		return n, err
	})
}

func (b *progressBar) writer(w io.Writer) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		n, err := w.Write(p)
		b.add(n)
		return n, err
	})
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
