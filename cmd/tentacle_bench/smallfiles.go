//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"slices"
	"syscall"
	"time"

	"tentacle/protocol"
	"tentacle/setup"
)

// smallRow holds one concurrency level of the small-file test.
type smallRow struct {
	clients int
	raw     *rateResult
	storage *rateResult // protocol.DirStorage in the bench, without network; nil unless measured
	server  *rateResult
	perl    *rateResult // nil without -perl
}

// smallResult is the small-file test: the rate of files stored when every
// file takes its own connection, as Pandora agents send them.
type smallResult struct {
	rows       []smallRow
	fileSize   int64
	serverCmd  []string
	perlCmd    []string
	perlFailed string // why the Perl server could not be measured
}

// clientTimeout bounds every network wait of the bench's clients: generous,
// since a loaded machine may stall, but finite.
const clientTimeout = 60 * time.Second

// serverOptions are the options of the server under test for a test whose
// largest file is maxSize bytes.
func (cfg *config) serverOptions(maxSize int64) serverOptions {
	o := serverOptions{kind: kindBinary, path: cfg.server, maxConns: cfg.maxConns, timeout: cfg.timeout, maxSize: maxSize}
	if cfg.inProcess {
		o.kind = kindInProcess
	}
	return o
}

func (cfg *config) perlOptions(maxSize int64) serverOptions {
	return serverOptions{kind: kindPerl, path: cfg.perl, maxConns: cfg.maxConns, timeout: cfg.timeout, maxSize: maxSize}
}

func runSmallFileTest(ctx context.Context, cfg *config, work *workDir) (*smallResult, error) {
	size := int64(cfg.fileSize)
	data := make([]byte, size)
	newPatternReader().Read(data)
	res := &smallResult{fileSize: size}

	// The phases of one round and concurrency level share a fresh
	// directory, each with file names of its own, and nothing is deleted
	// until the end. Where a file system's cost of creating a file depends
	// on where its directory lies (ext4 without a journal, for one, scans
	// past recently deleted inodes of the directory's block group), all
	// sides then pay the same. Every server phase gets a fresh server
	// process, whose CPU time is then its own.
	rawPhase := func(dir string, n int, d time.Duration) rateResult {
		defer withProcs(cfg.procsFor(n))()
		r := rawSmallFiles(ctx, dir, n, d, data)
		syscall.Sync() // leave no write-back to the next phase
		return r
	}
	storagePhase := func(dir string, n int, d time.Duration) (rateResult, error) {
		defer withProcs(cfg.procsFor(n))()
		r, err := storageSmallFiles(ctx, dir, n, d, data)
		syscall.Sync()
		return r, err
	}
	serverPhase := func(opts serverOptions, dir, prefix string, n int, d time.Duration) (rateResult, []string, error) {
		srv, err := startServer(opts, dir)
		if err != nil {
			return rateResult{}, nil, err
		}
		defer srv.stop()
		r, err := serverSmallFiles(ctx, srv, n, d, data, prefix)
		syscall.Sync()
		return r, srv.cmdline, err
	}

	// Warm up the file system, the page cache and the code paths so that
	// the first phase measured is not the one that pays for it.
	warm := min(cfg.duration, time.Second)
	progress("small files: warming up for %v", 2*warm)
	warmDir, err := work.fresh("small-warmup")
	if err != nil {
		return nil, err
	}
	rawPhase(warmDir, smallTargetClients, warm)
	if _, _, err := serverPhase(cfg.serverOptions(size), warmDir, "bench", smallTargetClients, warm); err != nil {
		return nil, err
	}

	// The phases of a round, in the order of odd rounds; even rounds run
	// them backwards, so that a drift of the machine or an effect of one
	// phase on the next does not always favour the same side.
	type phaseKind int
	const (
		kindRaw phaseKind = iota
		kindStorage
		kindServer
		kindPerlServer
	)
	kinds := []phaseKind{kindRaw}
	if cfg.storagePhase {
		kinds = append(kinds, kindStorage)
	}
	kinds = append(kinds, kindServer)
	if cfg.perl != "" {
		kinds = append(kinds, kindPerlServer)
	}
	slice := cfg.duration / time.Duration(cfg.rounds)

	res.rows = make([]smallRow, len(cfg.clients))
	for i, n := range cfg.clients {
		res.rows[i].clients = n
	}
	for round := range cfg.rounds {
		order := slices.Clone(kinds)
		if round%2 == 1 {
			slices.Reverse(order)
		}
		for i, n := range cfg.clients {
			row := &res.rows[i]
			tag := fmt.Sprintf("small files, round %d/%d, %d clients", round+1, cfg.rounds, n)
			dir, err := work.fresh(fmt.Sprintf("small-r%d-c%d", round+1, n))
			if err != nil {
				return nil, err
			}
			for _, kind := range order {
				if ctx.Err() != nil {
					return res, nil
				}
				switch kind {
				case kindRaw:
					progress("%s: raw create+write+fsync+rename+dir fsync", tag)
					raw := rawPhase(dir, n, slice)
					row.raw = accumulate(row.raw, raw)
					logRate(cfg, "raw", raw)
				case kindStorage:
					progress("%s: protocol.DirStorage without network", tag)
					st, err := storagePhase(dir, n, slice)
					if err != nil {
						return nil, err
					}
					row.storage = accumulate(row.storage, st)
					logRate(cfg, "DirStorage", st)
				case kindServer:
					progress("%s: server", tag)
					got, cmd, err := serverPhase(cfg.serverOptions(size), dir, "bench", n, slice)
					if err != nil {
						return nil, err
					}
					res.serverCmd = cmd
					row.server = accumulate(row.server, got)
					logRate(cfg, "server", got)
				case kindPerlServer:
					if res.perlFailed != "" {
						continue
					}
					progress("%s: Perl reference", tag)
					got, cmd, err := serverPhase(cfg.perlOptions(size), dir, "perl", n, slice)
					if err != nil {
						res.perlFailed = err.Error()
						progress("Perl server: %v", err)
						for j := range res.rows {
							res.rows[j].perl = nil
						}
						continue
					}
					res.perlCmd = cmd
					row.perl = accumulate(row.perl, got)
					logRate(cfg, "Perl", got)
				}
			}
		}
	}
	return res, nil
}

// procsFor is the GOMAXPROCS of the raw and DirStorage phases with n
// workers. A goroutine in a blocking system call such as fsync keeps its P
// until the runtime's monitor takes it back, and with as few Ps as CPUs the
// other workers then wait to start their own calls: the raw loop would
// measure Go's scheduler, not the file system. So it gets one P per worker,
// up to the server's own minimum (setup.MinProcs): beyond that, idle Ps
// cost more in spinning threads than they save (64 Ps for 64 workers
// stored 8–13% fewer files than 16), and the raw loop then runs with the
// same runtime settings as the server.
func (cfg *config) procsFor(n int) int {
	if cfg.rawProcs > 0 {
		return cfg.rawProcs
	}
	return max(runtime.GOMAXPROCS(0), min(n, setup.MinProcs))
}

// withProcs sets GOMAXPROCS to n and returns the function that restores it.
func withProcs(n int) func() {
	prev := runtime.GOMAXPROCS(n)
	return func() { runtime.GOMAXPROCS(prev) }
}

// storageSmallFiles stores small files from n goroutines for d through a
// protocol.DirStorage, the way the server's SEND handler does (Create,
// which checks that the name is free, Write, Commit), with no network and no server process: the
// difference from the raw loop is the storage's own cost, the difference
// from the server is the network's, the protocol's and the process's.
func storageSmallFiles(ctx context.Context, dir string, n int, d time.Duration, data []byte) (rateResult, error) {
	st, err := protocol.OpenDirStorage(dir)
	if err != nil {
		return rateResult{}, err
	}
	defer st.Close()
	return runLoad(ctx, n, d, func(w, i int) error {
		name := fmt.Sprintf("storage-w%d-%d.data", w, i)
		p, err := st.Create(name, false)
		if err != nil {
			return err
		}
		defer p.Abort()
		if _, err := p.Write(data); err != nil {
			return err
		}
		return p.Commit()
	}), nil
}

// serverSmallFiles sends small files to srv from n clients for d, one file
// per connection, and checks that they were all stored.
func serverSmallFiles(ctx context.Context, srv *server, n int, d time.Duration, data []byte, prefix string) (rateResult, error) {
	return smallFilesTo(ctx, srv.addr, srv, n, d, data, prefix)
}

// smallFilesTo is serverSmallFiles through addr, which leads to srv: the
// server itself, or a balancer in front of it.
func smallFilesTo(ctx context.Context, addr string, srv *server, n int, d time.Duration, data []byte, prefix string) (rateResult, error) {
	dialer := srv.dialer(clientTimeout)
	cpu0 := srv.cpuSeconds()
	res := runLoad(ctx, n, d, func(w, i int) error {
		c, err := dialer.Dial(ctx, addr)
		if err != nil {
			return err
		}
		if err := c.Send(fmt.Sprintf("%s-w%d-%d.data", prefix, w, i), bytes.NewReader(data), int64(len(data))); err != nil {
			c.Close()
			return err
		}
		return c.Quit()
	})
	if cpu1 := srv.cpuSeconds(); cpu0 >= 0 && cpu1 >= 0 {
		res.cpu = cpu1 - cpu0
	}
	if !srv.alive() {
		return res, fmt.Errorf("server died%s", srv.exitNote())
	}
	stored, err := countFiles(srv.dir, prefix)
	if err != nil {
		return res, err
	}
	res.stored = stored
	return res, nil
}

// accumulate pools r into *into, which may be nil for the first round.
func accumulate(into *rateResult, r rateResult) *rateResult {
	if into == nil {
		return &r
	}
	into.add(r)
	return into
}

func logRate(cfg *config, who string, r rateResult) {
	msg := fmt.Sprintf("  %s: %d files in %.2fs = %.1f files/s; machine CPU %s busy, %s stolen; bench %.0f%% of a core",
		who, r.ops, r.elapsed.Seconds(), r.rate(), pct(r.machine.busy()), pct(r.machine.stolen()), 100*r.bench/r.elapsed.Seconds())
	if r.cpu >= 0 {
		msg += fmt.Sprintf(", server %.0f%% of a core (%.2f ms/file)", 100*r.cpu/r.elapsed.Seconds(), 1000*r.cpu/float64(max(r.ops, 1)))
	}
	if r.errors > 0 {
		msg += fmt.Sprintf(", %d errors (first: %s)", r.errors, r.firstErr)
	}
	if cfg.verbose || r.errors > 0 {
		progress("%s", msg)
	}
}
