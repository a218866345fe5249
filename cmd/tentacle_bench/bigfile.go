//go:build linux

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// bigResult is the large-upload test: one file streamed through one
// connection, against the same bytes copied from a socket to a file by the
// bench itself.
type bigResult struct {
	raw        []uploadResult // one per round
	server     []uploadResult
	serverBase procStatus // the server's memory before the first upload
	serverEnd  procStatus // and after the last
	serverCmd  []string
	perl       *uploadResult // nil without -perl
	perlBase   procStatus
	perlCmd    []string
	perlFailed string
}

func runBigFileTest(ctx context.Context, cfg *config, work *workDir) (*bigResult, error) {
	size := int64(cfg.bigSize)
	res := &bigResult{}

	rawDir, err := work.fresh("big-raw")
	if err != nil {
		return nil, err
	}
	srvDir, err := work.fresh("big-server")
	if err != nil {
		return nil, err
	}
	srv, err := startServer(cfg.serverOptions(size), srvDir)
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	res.serverCmd = srv.cmdline
	res.serverBase = srv.status()

	// The first large write of a run is slow on a virtual machine whose
	// memory the host has not backed yet: an unmeasured transfer first.
	progress("large upload, %s: warming up with a raw transfer", formatBytes(size))
	if warm := rawUpload(ctx, rawDir, size); warm.err != nil {
		return nil, fmt.Errorf("raw transfer: %w", warm.err)
	}
	if err := emptyDir(rawDir); err != nil {
		return nil, err
	}

	// Odd rounds measure raw then server, even rounds server then raw.
	for round := range cfg.rounds {
		tag := fmt.Sprintf("large upload, round %d/%d, %s", round+1, cfg.rounds, formatBytes(size))
		for step := range 2 {
			if ctx.Err() != nil {
				return res, nil
			}
			if (step == 0) == (round%2 == 0) {
				progress("%s: raw loopback TCP to file + fsync", tag)
				raw := rawUpload(ctx, rawDir, size)
				res.raw = append(res.raw, raw)
				logUpload(cfg, "raw", raw)
				if err := emptyDir(rawDir); err != nil {
					return nil, err
				}
			} else {
				progress("%s: server", tag)
				up := serverUpload(ctx, srv, size, fmt.Sprintf("bench-large-%d.data", round+1))
				res.server = append(res.server, up)
				logUpload(cfg, "server", up)
				if err := emptyDir(srvDir); err != nil {
					return nil, err
				}
			}
		}
	}
	res.serverEnd = srv.status()
	srv.stop()

	if cfg.perl != "" && ctx.Err() == nil {
		psize := int64(cfg.perlSize)
		perlDir, err := work.fresh("big-perl")
		if err != nil {
			return nil, err
		}
		perl, err := startServer(cfg.perlOptions(psize), perlDir)
		if err != nil {
			res.perlFailed = err.Error()
			progress("Perl server: %v", err)
			return res, nil
		}
		res.perlCmd = perl.cmdline
		res.perlBase = perl.status()
		progress("large upload, %s: %s", formatBytes(psize), perl.label)
		up := serverUpload(ctx, perl, psize, "bench-large.data")
		res.perl = &up
		logUpload(cfg, perl.label, up)
		perl.stop()
		if err := emptyDir(perlDir); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// serverUpload sends one file of size bytes to srv and times it from the
// connection to the server's final SEND OK, which comes once the file is
// stored. It then reads the server's memory figures.
func serverUpload(ctx context.Context, srv *server, size int64, name string) uploadResult {
	res := uploadResult{size: size, cpu: -1}
	dialer := srv.dialer(clientTimeout)
	cpu0 := srv.cpuSeconds()
	start := time.Now()
	c, err := dialer.Dial(ctx, srv.addr)
	if err != nil {
		res.err = err
		return res
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	if err := c.Send(name, newUploadStream(), size); err != nil {
		c.Close()
		res.err = fmt.Errorf("%w%s", err, srv.exitNote())
		return res
	}
	res.elapsed = time.Since(start)
	c.Quit()
	if cpu1 := srv.cpuSeconds(); cpu0 >= 0 && cpu1 >= 0 {
		res.cpu = cpu1 - cpu0
	}
	st := srv.status()
	res.hwm, res.rss = st.hwm, st.rss
	fi, err := os.Stat(filepath.Join(srv.dir, name))
	switch {
	case err != nil:
		res.err = fmt.Errorf("the server said SEND OK but: %w", err)
	case fi.Size() != size:
		res.err = fmt.Errorf("the server stored %d bytes of %d", fi.Size(), size)
	default:
		res.err = verifyUpload(filepath.Join(srv.dir, name), size)
	}
	return res
}

func logUpload(cfg *config, who string, u uploadResult) {
	if u.err != nil {
		progress("  %s: FAILED: %v", who, u.err)
		return
	}
	if cfg.verbose {
		progress("  %s: %s in %.2fs = %.1f MB/s, peak RSS %s", who, formatBytes(u.size), u.elapsed.Seconds(), u.mbps(), mib(u.hwm))
	}
}
