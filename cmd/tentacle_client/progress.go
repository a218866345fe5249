package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"
)

// progressThreshold is the smallest file that gets a progress bar: below it
// a transfer is over before a bar would tell anything.
const progressThreshold = 4 << 20

// redrawInterval keeps the bar to 10 redraws a second: more is flicker and
// terminal traffic (over ssh, too) that nobody can read.
const redrawInterval = 100 * time.Millisecond

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// terminalWidth is the width of the terminal on f, or 80 when it cannot be
// told. It is asked at every redraw, so that a resized window is followed.
func terminalWidth(f *os.File) func() int {
	return func() int {
		if w, _, err := term.GetSize(int(f.Fd())); err == nil && w > 0 {
			return w
		}
		return 80
	}
}

// fileOffset reads f's offset, which advances as the file is sent (by
// read(2) or by the kernel's sendfile) or written. Watching it from the
// bar's goroutine keeps the bar out of the data's way: wrapping the file
// or the connection would hide the *os.File that sendfile needs.
func fileOffset(f *os.File) func() int64 {
	return func() int64 {
		n, err := f.Seek(0, io.SeekCurrent)
		if err != nil {
			return 0
		}
		return n
	}
}

// progressBar draws one line on the terminal from its own goroutine,
// polling how far the transfer is, and ends with a summary line.
type progressBar struct {
	out     io.Writer
	name    string
	total   int64 // -1 when unknown
	pos     func() int64
	width   func() int
	start   time.Time
	drawn   bool
	stop    chan struct{}
	stopped chan struct{}
}

// bar starts a bar for a transfer of size bytes (-1: unknown) whose
// progress pos reports, or returns nil (whose done does nothing) when none
// should be drawn: not on a terminal, since agents parse what the client
// prints, not with -q, not for small files.
func (s *session) bar(name string, size int64, pos func() int64) *progressBar {
	if !s.progress || s.o.Quiet || (size >= 0 && size < progressThreshold) {
		return nil
	}
	width := s.width
	if width == nil {
		width = func() int { return 80 }
	}
	b := &progressBar{out: s.stderr, name: name, total: size, pos: pos, width: width,
		start: time.Now(), stop: make(chan struct{}), stopped: make(chan struct{})}
	go b.run()
	return b
}

func (b *progressBar) run() {
	defer close(b.stopped)
	t := time.NewTicker(redrawInterval)
	defer t.Stop()
	b.draw(b.pos(), time.Since(b.start), false)
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			b.draw(b.pos(), time.Since(b.start), false)
		}
	}
}

// draw writes the line for done bytes after elapsed; final is the last
// draw, once the transfer is over. A download of unknown size is drawn
// only once it passes the threshold.
func (b *progressBar) draw(done int64, elapsed time.Duration, final bool) {
	if b.total < 0 && done < progressThreshold {
		return
	}
	b.drawn = true
	fmt.Fprint(b.out, "\r"+b.line(done, elapsed, b.width(), final)+"\x1b[K")
}

// line lays out "name [=====>    ]  42%  1.2 GiB/2.8 GiB  98.4 MiB/s  ETA 0:17"
// in width columns, giving the bar what the rest leaves. Once every byte
// is out but the transfer is not over, the server is storing the file
// (fsync) before its final answer, which can take seconds for a large
// one: the ETA says so instead of a frozen 0:00.
func (b *progressBar) line(done int64, elapsed time.Duration, width int, final bool) string {
	secs := elapsed.Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(done) / secs
	}
	name := b.name
	if limit := max(width/3, 8); len(name) > limit {
		name = name[:limit-1] + "~"
	}
	if b.total < 0 {
		return fmt.Sprintf("%s  %s  %s/s", name, binarySize(done), binarySize(int64(rate)))
	}
	eta := "ETA --:--"
	switch {
	case done >= b.total && !final:
		eta = "storing"
	case rate > 0:
		eta = "ETA " + clock(time.Duration(float64(b.total-done)/rate*float64(time.Second)))
	}
	pct := 100
	if b.total > 0 {
		pct = int(done * 100 / b.total)
	}
	// Fixed widths keep the bar from changing length as the figures do.
	right := fmt.Sprintf(" %3d%% %10s/%s %10s/s  %-11s", pct, binarySize(done), binarySize(b.total), binarySize(int64(rate)), eta)
	// The last column stays free: writing into it wraps some terminals.
	room := width - 1 - len(name) - len(right) - 3
	if room < 10 {
		return strings.TrimRight(name+right, " ")
	}
	filled := 0
	if b.total > 0 {
		filled = int(int64(room) * done / b.total)
	}
	bar := strings.Repeat("=", filled)
	if filled < room {
		bar += ">" + strings.Repeat(" ", room-filled-1)
	}
	return name + " [" + bar + "]" + right
}

// done stops the bar, draws its last state and, for a transfer that
// succeeded, a summary: "name: 1.4 GiB in 7.2s, 198.3 MiB/s".
func (b *progressBar) done(ok bool) {
	if b == nil {
		return
	}
	close(b.stop)
	<-b.stopped
	elapsed := time.Since(b.start)
	done := b.pos()
	if ok && b.total >= 0 {
		done = b.total
	}
	b.draw(done, elapsed, true)
	if !b.drawn {
		return
	}
	fmt.Fprintln(b.out)
	if ok {
		rate := float64(done) / max(elapsed.Seconds(), 1e-9)
		fmt.Fprintf(b.out, "%s: %s in %s, %s/s\n", b.name, binarySize(done), elapsed.Round(10*time.Millisecond), binarySize(int64(rate)))
	}
}

// binarySize writes n bytes in binary units, as ls -h and du -h do.
func binarySize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v := float64(n) / unit
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB"} {
		if v < unit {
			return fmt.Sprintf("%.1f %s", v, u)
		}
		v /= unit
	}
	return fmt.Sprintf("%.1f PiB", v)
}

// clock writes a duration as m:ss, or h:mm:ss past an hour.
func clock(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
