//go:build linux

package main

import (
	"context"
	"fmt"
	"hash/crc32"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"tentacle/tlsconfig"
)

// The download test: one large file fetched with RECV, as an agent or a
// satellite server fetches a collection with tentacle_client -g. The server
// sends it with sendfile(2) on plain TCP and through crypto/tls otherwise;
// the raw limit is the bench sending the same file, cached in memory, over
// loopback with sendfile in the same run. Every client, raw or not, reads
// the bytes into a CRC-32 (so that every download is checked, at the same
// cost on every side) and keeps nothing: only the sending side is measured.

// downloadSide is one way of serving the file.
type downloadSide int

const (
	downloadRaw downloadSide = iota
	downloadPlain
	downloadTLS
)

// downloadSideNames are as in the report.
var downloadSideNames = [...]string{
	downloadRaw:   "raw: loopback TCP, sendfile(2)",
	downloadPlain: "tentacle_server, plain TCP (RECV)",
	downloadTLS:   "tentacle_server, TLS with -c alone, RSA-2048 (RECV)",
}

// downloadResult is the download test: the rounds of each side.
type downloadResult struct {
	size   int64
	rounds [3][]uploadResult // by downloadSide
	cmd    []string          // the TLS server's command line
}

// runDownloadTest writes a file of unique bytes into the storage of two
// servers, one plain and one TLS, and downloads it from each and from the
// bench's own sender, the order turned every round.
func runDownloadTest(ctx context.Context, cfg *config, work *workDir) (*downloadResult, error) {
	size := int64(cfg.bigSize)
	dir, err := work.fresh("download")
	if err != nil {
		return nil, err
	}
	const name = "bench-download.data"
	path := filepath.Join(dir, name)
	progress("download, %s: writing a file of unique random bytes", formatBytes(size))
	if err := writeRandomFile(path, size); err != nil {
		return nil, err
	}
	want, err := fileCRC(path)
	if err != nil {
		return nil, err
	}
	certDir, err := work.fresh("download-certs")
	if err != nil {
		return nil, err
	}
	certs, err := makeBenchCerts(certDir)
	if err != nil {
		return nil, err
	}
	anonymous, err := tlsconfig.Client(tlsconfig.Options{})
	if err != nil {
		return nil, err
	}
	plain, err := startServer(cfg.serverOptions(size), dir)
	if err != nil {
		return nil, err
	}
	defer plain.stop()
	tlsOpts := cfg.tlsOptions(tlsSides[5], certs, tlsClientConfigs{anonymous: anonymous}, size)
	secure, err := startServer(tlsOpts, dir)
	if err != nil {
		return nil, err
	}
	defer secure.stop()
	sender, err := startFileSender(path)
	if err != nil {
		return nil, err
	}
	defer sender.Close()

	res := &downloadResult{size: size, cmd: secure.cmdline}
	fetch := func(side downloadSide) uploadResult {
		switch side {
		case downloadRaw:
			return rawDownload(ctx, sender.Addr().String(), size, want)
		case downloadPlain:
			return serverDownload(ctx, plain, name, size, want)
		}
		return serverDownload(ctx, secure, name, size, want)
	}
	if warm := fetch(downloadRaw); warm.err != nil { // unmeasured
		return nil, fmt.Errorf("raw download: %w", warm.err)
	}
	order := []downloadSide{downloadRaw, downloadPlain, downloadTLS}
	for round := range cfg.rounds {
		for i := range order {
			if ctx.Err() != nil {
				return res, nil
			}
			side := order[(i+round)%len(order)]
			progress("download, round %d/%d, %s: %s", round+1, cfg.rounds, formatBytes(size), downloadSideNames[side])
			got := fetch(side)
			logUpload(cfg, downloadSideNames[side], got)
			res.rounds[side] = append(res.rounds[side], got)
		}
	}
	return res, nil
}

// fileCRC is the CRC-32 of a file's bytes.
func fileCRC(path string) (uint32, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	h := crc32.NewIEEE()
	if _, err := io.Copy(h, f); err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	return h.Sum32(), nil
}

// startFileSender listens on loopback and sends the file at path to every
// client that connects, with io.Copy from the *os.File to the
// *net.TCPConn, which is sendfile(2), then closes.
func startFileSender(path string) (net.Listener, error) {
	return serveLoopback(func(c net.Conn) {
		defer c.Close()
		if f, err := os.Open(path); err == nil {
			io.Copy(c, f)
			f.Close()
		}
	})
}

// rawDownload reads the raw sender's bytes into a CRC-32 and times them
// from the connection to the last byte.
func rawDownload(ctx context.Context, addr string, size int64, want uint32) uploadResult {
	res := uploadResult{size: size, cpu: -1}
	start := time.Now()
	c, release, err := dialRaw(ctx, addr)
	if err != nil {
		res.err = err
		return res
	}
	defer release()
	h := crc32.NewIEEE()
	n, err := io.Copy(h, c)
	res.elapsed = time.Since(start)
	res.err = checkDownload(n, size, h.Sum32(), want, err)
	return res
}

// serverDownload fetches name from srv with RECV into a CRC-32 and times
// it from the connection to the last byte, with the server's CPU.
func serverDownload(ctx context.Context, srv *server, name string, size int64, want uint32) uploadResult {
	res := uploadResult{size: size, cpu: -1}
	cpu0 := srv.cpuSeconds()
	start := time.Now()
	dialer := srv.dialer(clientTimeout)
	c, err := dialer.Dial(ctx, srv.addr)
	if err != nil {
		res.err = err
		return res
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	h := crc32.NewIEEE()
	n, err := c.Recv(name, h)
	res.elapsed = time.Since(start)
	if err == nil {
		c.Quit()
	} else {
		c.Close()
	}
	if cpu1 := srv.cpuSeconds(); cpu0 >= 0 && cpu1 >= 0 {
		res.cpu = cpu1 - cpu0
	}
	res.err = checkDownload(n, size, h.Sum32(), want, err)
	return res
}

// checkDownload says what is wrong with a download of n bytes whose CRC
// is got, if anything.
func checkDownload(n, size int64, got, want uint32, err error) error {
	switch {
	case err != nil:
		return err
	case n != size:
		return fmt.Errorf("got %d bytes of %d", n, size)
	case got != want:
		return fmt.Errorf("the bytes differ from the file's (CRC-32 %08x, want %08x)", got, want)
	}
	return nil
}

// writeDownload writes the download test's section.
func (r *report) writeDownload(w io.Writer) {
	t := r.download
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("\n## Download\n\n")
	p("One client fetches one %s file of unique bytes with `RECV`, as `tentacle_client -g` does, from the server over plain TCP (which sends it with sendfile(2)) and over TLS (`-e`, `-k`; the client has no certificate, as with `-c` alone), and from a sender in the bench that writes the same file to a loopback socket with sendfile(2), the raw limit. The file is in the page cache throughout, as a collection many agents fetch would be. Every client reads the bytes into a CRC-32 that is checked, and keeps nothing. %d rounds, the order of the three turned every round, rates pooled.\n\n", formatBytes(t.size), len(t.rounds[downloadRaw]))
	if len(t.cmd) > 0 {
		p("```\n%s\n```\n\n", commandLine(t.cmd))
	}
	p("| | MB/s (pooled) | vs raw | rounds, MB/s | server CPU per GiB |\n|---|---:|---:|---|---:|\n")
	raw := pool(t.rounds[downloadRaw])
	var notes []string
	for side, rounds := range t.rounds {
		if len(rounds) == 0 {
			continue
		}
		all := pool(rounds)
		if all.err != nil {
			p("| %s | failed | | | |\n", downloadSideNames[side])
			notes = append(notes, downloadSideNames[side]+": "+all.err.Error())
			continue
		}
		each, vs, perGiB := "", "—", "—"
		for i, u := range rounds {
			if i > 0 {
				each += ", "
			}
			each += fmt.Sprintf("%.0f", u.mbps())
		}
		if downloadSide(side) != downloadRaw && raw.err == nil && raw.mbps() > 0 {
			vs = pct(all.mbps() / raw.mbps())
		}
		if all.cpu >= 0 {
			perGiB = fmt.Sprintf("%.2f s", all.cpu/(float64(all.size)/(1<<30)))
		}
		p("| %s | %.0f | %s | %s | %s |\n", downloadSideNames[side], all.mbps(), vs, each, perGiB)
	}
	writeNotes(w, notes)
}
