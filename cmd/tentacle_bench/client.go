//go:build linux

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clientRow is one sender of the client test: the raw loopback send, or a
// tentacle_client binary.
type clientRow struct {
	label  string
	cmd    string // the command line, for a client binary
	rounds []uploadResult
}

// clientResult is the client test: how fast a tentacle_client sends one
// large file, cached in memory, to a receiver that throws the bytes away,
// against the bench sending the same file over loopback TCP with
// sendfile(2) in the same run. The receiver speaks just enough Tentacle
// (SEND, the two SEND OK, QUIT) for both, so the server's disk is out of
// the figure and only the sender is measured.
type clientResult struct {
	size int64
	rows []clientRow // rows[0] is raw
}

func runClientTest(ctx context.Context, cfg *config, work *workDir) (*clientResult, error) {
	size := int64(cfg.bigSize)
	dir, err := work.fresh("client")
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "bench-client.data")
	progress("client send, %s: writing a file of unique random bytes", formatBytes(size))
	if err := writeRandomFile(path, size); err != nil {
		return nil, err
	}
	sink, err := startSink()
	if err != nil {
		return nil, err
	}
	defer sink.Close()
	host, port, _ := net.SplitHostPort(sink.Addr().String())

	res := &clientResult{size: size, rows: []clientRow{{label: "raw: loopback TCP, sendfile(2), same protocol lines"}}}
	for _, bin := range cfg.clientBins {
		abs, err := filepath.Abs(bin)
		if err != nil {
			return nil, err
		}
		res.rows = append(res.rows, clientRow{label: "`" + bin + "`", cmd: abs})
	}
	send := func(row *clientRow) uploadResult {
		if row.cmd == "" {
			return rawSendFile(ctx, sink.Addr().String(), path, size)
		}
		return clientSend(ctx, row.cmd, host, port, path, size)
	}
	// Warm up (page cache, the sink's first large reads), unmeasured.
	if warm := send(&res.rows[0]); warm.err != nil {
		return nil, fmt.Errorf("raw send: %w", warm.err)
	}
	for round := range cfg.rounds {
		// Each round takes the senders in a new order, so that none is
		// always first.
		for i := range res.rows {
			if ctx.Err() != nil {
				return res, nil
			}
			row := &res.rows[(i+round)%len(res.rows)]
			progress("client send, round %d/%d, %s: %s", round+1, cfg.rounds, formatBytes(size), row.label)
			up := send(row)
			row.rounds = append(row.rounds, up)
			logUpload(cfg, row.label, up)
		}
	}
	return res, nil
}

// writeRandomFile writes size bytes that never repeat (so that nothing
// along the way can compress or deduplicate them) and reads them back, so
// that the file is in the page cache for every sender alike.
func writeRandomFile(path string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	var seed [32]byte
	for i := range seed {
		seed[i] = byte(time.Now().UnixNano() >> (i % 8))
	}
	rng := rand.NewChaCha8(seed)
	if _, err := io.CopyN(f, rng, size); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	f, err = os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(io.Discard, f)
	return err
}

// startSink listens on loopback and answers uploads as a server would,
// throwing their bytes away.
func startSink() (net.Listener, error) { return serveLoopback(sinkConn) }

// serveLoopback listens on a free loopback port and runs handle on every
// connection in a goroutine of its own, until the listener is closed: the
// bench's own peers of the raw baselines.
func serveLoopback(handle func(net.Conn)) (net.Listener, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go handle(c)
		}
	}()
	return l, nil
}

func sinkConn(c net.Conn) {
	defer c.Close()
	br := bufio.NewReaderSize(c, 128<<10)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		var size int64
		f := strings.Fields(line)
		if len(f) != 4 || f[0] != "SEND" || f[2] != "SIZE" {
			return // QUIT, or anything else
		}
		if size, err = strconv.ParseInt(f[3], 10, 64); err != nil {
			return
		}
		io.WriteString(c, "SEND OK\n")
		if _, err := io.CopyN(io.Discard, br, size); err != nil {
			return
		}
		io.WriteString(c, "SEND OK\n")
	}
}

// rawSendFile sends the file as a client with nothing in its way would:
// the same protocol lines, then io.Copy from the *os.File to the
// *net.TCPConn, which is sendfile(2).
func rawSendFile(ctx context.Context, addr, path string, size int64) uploadResult {
	res := uploadResult{size: size, cpu: -1}
	start := time.Now()
	f, err := os.Open(path)
	if err != nil {
		res.err = err
		return res
	}
	defer f.Close()
	c, release, err := dialRaw(ctx, addr)
	if err != nil {
		res.err = err
		return res
	}
	defer release()
	br := bufio.NewReader(c)
	expect := func() error {
		line, err := br.ReadString('\n')
		if err == nil && line != "SEND OK\n" {
			err = fmt.Errorf("sink answered %q", line)
		}
		return err
	}
	fmt.Fprintf(c, "SEND <bench-client.data> SIZE %d\n", size)
	if res.err = expect(); res.err != nil {
		return res
	}
	if _, res.err = io.Copy(c, f); res.err != nil {
		return res
	}
	if res.err = expect(); res.err != nil {
		return res
	}
	io.WriteString(c, "QUIT\n")
	res.elapsed = time.Since(start)
	return res
}

// clientSend runs a client binary to send the file and times it from the
// start of the process to its exit.
func clientSend(ctx context.Context, bin, host, port, path string, size int64) uploadResult {
	res := uploadResult{size: size, cpu: -1}
	cmd := exec.CommandContext(ctx, bin, "-a", host, "-p", port, path)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	res.elapsed = time.Since(start)
	if err != nil {
		res.err = fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))
		return res
	}
	res.cpu = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	return res
}

func (r *report) writeClient(w io.Writer) {
	c := r.client
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("\n## Client send\n\n")
	p("One file of %s of unique random bytes, in the page cache, sent to a receiver in the bench that answers `SEND OK`, throws the bytes away and answers `SEND OK` again, so that only the sender is measured. The raw row is the bench sending the same file the same way with `io.Copy` from the file to the TCP connection (sendfile(2)); a client row is the time from starting the binary (`-a 127.0.0.1 -p PORT file`, no progress bar: its stderr is no terminal) to its exit. %d rounds, each taking the senders in a new order; MB/s = 10^6 bytes/s over the pooled rounds.\n\n", formatBytes(c.size), r.cfg.rounds)
	p("| sender | MB/s | of raw | its CPU time per GiB (user+system) |\n|---|---|---|---|\n")
	raw := pool(c.rows[0].rounds)
	for _, row := range c.rows {
		u := pool(row.rounds)
		got := fmt.Sprintf("%.0f", u.mbps())
		if u.err != nil {
			got = "failed: " + u.err.Error()
		}
		cpu := "–"
		if u.cpu >= 0 && u.size > 0 {
			cpu = fmt.Sprintf("%.2f s", u.cpu/(float64(u.size)/(1<<30)))
		}
		p("| %s | %s | %.0f%% | %s |\n", row.label, got, 100*u.mbps()/max(raw.mbps(), 1e-9), cpu)
	}
}
