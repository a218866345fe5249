//go:build linux

package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// The raw baselines: what the machine does without any server, measured in
// the same run as the server so that the ratio cancels the machine's noise.

// rateResult is the outcome of a fixed-duration phase of repeated operations.
type rateResult struct {
	clients  int
	ops      int64
	errors   int64
	firstErr string
	elapsed  time.Duration
	cpu      float64 // server CPU seconds during the phase, -1 when not known
	stored   int     // files found stored afterwards, -1 when not checked
	machine  cpuUse  // the whole machine's CPU during the phase
	bench    float64 // the bench's own CPU seconds (raw work or clients)
}

// add pools the result of another round of the same phase into r.
func (r *rateResult) add(o rateResult) {
	if r.errors == 0 && o.errors > 0 {
		r.firstErr = o.firstErr
	}
	r.ops += o.ops
	r.errors += o.errors
	r.elapsed += o.elapsed
	r.machine = r.machine.plus(o.machine)
	r.bench += o.bench
	switch {
	case r.cpu < 0 || o.cpu < 0:
		r.cpu = -1
	default:
		r.cpu += o.cpu
	}
	switch {
	case r.stored < 0 || o.stored < 0:
		r.stored = -1
	default:
		r.stored += o.stored
	}
}

func (r *rateResult) rate() float64 {
	if r == nil || r.elapsed <= 0 {
		return 0
	}
	return float64(r.ops) / r.elapsed.Seconds()
}

// maxPhaseErrors ends a phase whose operations keep failing, e.g. because
// the server died.
const maxPhaseErrors = 100

// runLoad runs op from clients goroutines, each starting operations until d
// has passed; operations in flight then finish. The elapsed time runs until
// the last one has.
func runLoad(ctx context.Context, clients int, d time.Duration, op func(worker, i int) error) rateResult {
	var ops, errs atomic.Int64
	var firstErr string
	var once sync.Once
	sys0, self0 := readSystemCPU(), selfCPUSeconds()
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for w := range clients {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline) && ctx.Err() == nil; i++ {
				if err := op(w, i); err != nil {
					once.Do(func() { firstErr = err.Error() })
					if errs.Add(1) >= maxPhaseErrors {
						return
					}
					continue
				}
				ops.Add(1)
			}
		})
	}
	wg.Wait()
	return rateResult{clients: clients, ops: ops.Load(), errors: errs.Load(), firstErr: firstErr,
		elapsed: time.Since(start), cpu: -1, stored: -1,
		machine: readSystemCPU().minus(sys0), bench: selfCPUSeconds() - self0}
}

// rawSmallFiles measures the storage work a durable server must do for each
// small file, with nothing else: create a temporary file, write it, fsync
// it, rename it to its final name and fsync the directory.
func rawSmallFiles(ctx context.Context, dir string, clients int, d time.Duration, data []byte) rateResult {
	return runLoad(ctx, clients, d, func(w, i int) error {
		name := fmt.Sprintf("raw-w%d-%d.data", w, i)
		tmp := filepath.Join(dir, "."+name+".tmp")
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		if _, err := f.Write(data); err != nil {
			f.Close()
			return err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			return err
		}
		dh, err := os.Open(dir)
		if err != nil {
			return err
		}
		defer dh.Close()
		return dh.Sync()
	})
}

// uploadResult is the outcome of one large transfer.
type uploadResult struct {
	size    int64
	elapsed time.Duration
	err     error
	hwm     int64   // the server's peak RSS afterwards (bytes), 0 if unknown
	rss     int64   // the server's RSS afterwards
	cpu     float64 // server CPU seconds during the upload, -1 if unknown
}

// pool sums rounds of the same upload into one result: their total bytes
// over their total time.
func pool(rounds []uploadResult) uploadResult {
	var sum uploadResult
	for i, u := range rounds {
		if i == 0 {
			sum = u
			continue
		}
		sum.size += u.size
		sum.elapsed += u.elapsed
		if sum.err == nil {
			sum.err = u.err
		}
		sum.hwm, sum.rss = max(sum.hwm, u.hwm), u.rss
		if sum.cpu >= 0 && u.cpu >= 0 {
			sum.cpu += u.cpu
		} else {
			sum.cpu = -1
		}
	}
	return sum
}

// mbps is the throughput in MB/s (10^6 bytes per second).
func (u *uploadResult) mbps() float64 {
	if u == nil || u.err != nil || u.elapsed <= 0 {
		return 0
	}
	return float64(u.size) / 1e6 / u.elapsed.Seconds()
}

// dialRaw connects the client of a raw baseline to addr. The connection is
// closed as soon as ctx ends, so that an interrupted bench does not wait out
// a transfer; release closes it and stops watching ctx.
func dialRaw(ctx context.Context, addr string) (c net.Conn, release func(), err error) {
	d := net.Dialer{Timeout: clientTimeout}
	if c, err = d.DialContext(ctx, "tcp", addr); err != nil {
		return nil, nil, err
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	return c, func() { stop(); c.Close() }, nil
}

// rawUpload streams size bytes over loopback TCP to a listener of the bench
// that writes them to a file in dir with io.Copy (the standard library's
// fastest path, splice(2) on Linux), fsyncs it and acknowledges with one
// byte. The client side is the same as the one used against the servers: the
// run's keystream (newUploadStream) copied in 128 KiB writes. The file is
// checked against the keystream after the timing.
func rawUpload(ctx context.Context, dir string, size int64) uploadResult {
	res := uploadResult{size: size, cpu: -1}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		res.err = err
		return res
	}
	defer ln.Close()
	sinkErr := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			sinkErr <- err
			return
		}
		defer conn.Close()
		f, err := os.Create(filepath.Join(dir, "raw-upload.data"))
		if err != nil {
			sinkErr <- err
			return
		}
		n, err := io.CopyN(f, conn, size)
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil && n != size {
			err = fmt.Errorf("received %d of %d bytes", n, size)
		}
		if err == nil {
			_, err = conn.Write([]byte{1})
		}
		sinkErr <- err
	}()

	start := time.Now()
	conn, release, err := dialRaw(ctx, ln.Addr().String())
	if err != nil {
		res.err = err
		return res
	}
	defer release()
	buf := make([]byte, copyBufferSize)
	if _, err := io.CopyBuffer(writerOnly{conn}, io.LimitReader(newUploadStream(), size), buf); err != nil {
		res.err = err
		return res
	}
	var ack [1]byte
	if _, err := io.ReadFull(conn, ack[:]); err != nil {
		if serr := <-sinkErr; serr != nil {
			err = serr
		}
		res.err = err
		return res
	}
	res.elapsed = time.Since(start)
	res.err = <-sinkErr
	if res.err == nil {
		res.err = verifyUpload(filepath.Join(dir, "raw-upload.data"), size)
	}
	return res
}

// copyBufferSize matches the protocol package's transfer buffers.
const copyBufferSize = 128 << 10

// writerOnly hides a ReadFrom method so that io.CopyBuffer uses its buffer.
type writerOnly struct{ io.Writer }

// patternReader produces an endless stream of pseudo-random bytes from a
// repeated block. It fills the small files' contents; the large upload uses
// newUploadStream, whose bytes never repeat.
type patternReader struct {
	block []byte
	off   int
}

// patternBlock is generated once; its odd length keeps the pattern from
// lining up with buffer boundaries.
var patternBlock = sync.OnceValue(func() []byte {
	b := make([]byte, 1<<20+7)
	x := uint64(0x9e3779b97f4a7c15)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
})

func newPatternReader() *patternReader { return &patternReader{block: patternBlock()} }

func (r *patternReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.block[r.off:])
		n += c
		r.off = (r.off + c) % len(r.block)
	}
	return n, nil
}
