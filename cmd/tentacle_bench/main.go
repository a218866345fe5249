//go:build linux

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"
)

// Targets of the project, as fractions of the raw limits and memory bounds.
const (
	targetSmallRatio   = 0.70      // small files, at smallTargetClients and more
	smallTargetClients = 16        // the small-file target applies from here
	targetBigRatio     = 0.90      // large upload (issue 13)
	targetBigHWM       = 48 << 20  // peak RSS during the large upload, bytes
	targetIdleRSS      = 100 << 20 // RSS with the idle connections held, bytes
)

// config is the bench's command line.
type config struct {
	server       string
	inProcess    bool
	perl         string
	parentDir    string
	keep         bool
	duration     time.Duration
	rounds       int
	storagePhase bool
	rawProcs     int
	clients      []int
	judge        []int // small-file concurrencies whose target is judged
	fileSize     byteSize
	bigSize      byteSize
	perlSize     byteSize
	idle         int
	idleSend     bool
	idleHold     time.Duration
	maxConns     int
	timeout      int
	tests        map[string]bool
	clientBins   []string
	wanDelay     time.Duration
	wanHandshake time.Duration
	wanAgents    int
	wanParallel  int
	wanWindow    byteSize
	output       string
	cpuProfile   string
	verbose      bool
}

func main() {
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "tentacle_bench:", err)
		os.Exit(2)
	}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "tentacle_bench:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string) (*config, error) {
	cfg := &config{fileSize: 4 << 10, bigSize: 1 << 30, perlSize: 100 << 20, wanWindow: 1 << 20}
	fs := flag.NewFlagSet("tentacle_bench", flag.ContinueOnError)
	fs.StringVar(&cfg.server, "server", "bin/tentacle_server", "server binary under test")
	fs.BoolVar(&cfg.inProcess, "inprocess", false, "serve with a protocol.Server inside the bench instead of -server (for development and profiling; memory figures are then the bench's own)")
	fs.StringVar(&cfg.perl, "perl", "", "path of the Perl reference tentacle_server to compare with (skipped when empty)")
	fs.StringVar(&cfg.parentDir, "dir", "/var/tmp", "directory in which a fresh temporary directory is made for the files (use a disk, not tmpfs)")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the temporary directory and its files")
	fs.DurationVar(&cfg.duration, "duration", 5*time.Second, "small files: time measured for each side (raw, server...) at each concurrency, split over the rounds")
	fs.IntVar(&cfg.rounds, "rounds", 4, "rounds of the small-file and large-upload tests, which alternate the order of raw and server (keep it even, so that each side goes first as often); rates are pooled over the rounds")
	fs.BoolVar(&cfg.storagePhase, "storage", true, "in the small-file test, also measure protocol.DirStorage inside the bench, without network, to split the server's cost into storage and network/protocol")
	fs.IntVar(&cfg.rawProcs, "rawprocs", 0, "GOMAXPROCS of the bench during the raw and DirStorage small-file phases; 0 means one per worker up to the server's minimum of 16 (at least the default), so that a worker blocked in fsync does not keep another from starting its system calls")
	clients := fs.String("clients", "1,16,64", "concurrent clients of the small-file phases, comma separated")
	judge := fs.String("judge", "", "small-file concurrencies at which the target (≥ 70% of raw) is judged, comma separated; the others are reported with their CPU ceiling. make bench-fs passes 16,64 on a fresh ext4 and 16 on a fresh XFS")
	fs.Var(&cfg.fileSize, "filesize", "size of the small files (K, M, G suffixes are binary)")
	fs.Var(&cfg.bigSize, "size", "size of the large upload")
	fs.Var(&cfg.perlSize, "perlsize", "size of the large upload to the Perl server, which holds it in memory")
	fs.IntVar(&cfg.idle, "idle", 1000, "idle connections to hold open")
	fs.BoolVar(&cfg.idleSend, "idle-send", false, "each idle connection first sends one small file, then stays idle (default: connect and send nothing)")
	fs.DurationVar(&cfg.idleHold, "idle-hold", 2*time.Second, "how long the idle connections are held before the server's RSS is read")
	fs.IntVar(&cfg.maxConns, "c", 1100, "server's -c, maximum connections (must exceed -idle)")
	fs.IntVar(&cfg.timeout, "t", 120, "server's -t, timeout in seconds (must outlast the idle phase)")
	tests := fs.String("tests", "small,big,idle,stalled,tls", "tests to run, comma separated: small, big, idle, stalled, tls (small files over TLS with an RSA and an ECDSA key, against plain TCP and the -perl server, and a -size upload over TLS against plain TCP), haproxy (small files through HAProxy and direct; needs the Debian package haproxy), client (a -size file sent by each -client binary, against a raw sendfile), download (a -size file fetched with RECV over plain TCP and TLS, against a raw sendfile), wan (-wan-agents agents behind a delay line, each sending one -filesize file, to this server and to -perl, each with its shipped defaults; not run by default, since the Perl server's agents take a minute or more: its listen backlog of 10 overflows and some agents wait out SYN retries and the bench's 60 s timeout)")
	clientBins := fs.String("client", "bin/tentacle_client", "client binaries of the client test, comma separated (to compare builds in one run)")
	fs.DurationVar(&cfg.wanDelay, "wan-delay", 25*time.Millisecond, "wan: one-way delay of the delay line, in each direction (the round trip is twice this)")
	fs.DurationVar(&cfg.wanHandshake, "wan-handshake", 0, "wan: how long the delay line waits after accepting an agent before it connects to the server; 0 means one round trip (2 × -wan-delay)")
	fs.IntVar(&cfg.wanAgents, "wan-agents", 1000, "wan: agents, each sending one file on a connection of its own")
	fs.IntVar(&cfg.wanParallel, "wan-parallel", 200, "wan: agents at a time (a pool of this many workers takes the -wan-agents jobs)")
	fs.Var(&cfg.wanWindow, "wan-window", "wan: bytes the delay line holds per direction and connection at most; a receiver that reads no more stops the sender")
	fs.StringVar(&cfg.output, "o", "", "also write the report to this file")
	fs.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile of the bench to this file (with -inprocess it covers the server)")
	fs.BoolVar(&cfg.verbose, "v", false, "more progress on standard error")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if cfg.clients, err = parseInts("-clients", *clients); err != nil {
		return nil, err
	}
	if len(cfg.clients) == 0 {
		return nil, fmt.Errorf("-clients: no concurrency given")
	}
	if cfg.judge, err = parseInts("-judge", *judge); err != nil {
		return nil, err
	}
	for _, n := range cfg.judge {
		if !slices.Contains(cfg.clients, n) {
			return nil, fmt.Errorf("-judge: %d clients is not among -clients", n)
		}
	}
	for b := range strings.SplitSeq(*clientBins, ",") {
		if b = strings.TrimSpace(b); b != "" {
			cfg.clientBins = append(cfg.clientBins, b)
		}
	}
	cfg.tests = make(map[string]bool)
	for t := range strings.SplitSeq(*tests, ",") {
		t = strings.TrimSpace(t)
		switch {
		case knownTest(t):
			cfg.tests[t] = true
		case t != "":
			return nil, fmt.Errorf("-tests: unknown test %q", t)
		}
	}
	switch {
	case cfg.duration <= 0:
		return nil, fmt.Errorf("-duration must be positive")
	case cfg.rounds < 1:
		return nil, fmt.Errorf("-rounds must be at least 1")
	case cfg.fileSize < 1 || cfg.bigSize < 1 || cfg.perlSize < 1:
		return nil, fmt.Errorf("sizes must be at least 1 byte")
	case cfg.rawProcs < 0:
		return nil, fmt.Errorf("-rawprocs must not be negative")
	case cfg.idle < 0:
		return nil, fmt.Errorf("-idle must not be negative")
	case cfg.maxConns <= cfg.idle:
		return nil, fmt.Errorf("-c %d must exceed -idle %d, or the server queues the new client behind the idle ones", cfg.maxConns, cfg.idle)
	case cfg.timeout < 1:
		return nil, fmt.Errorf("-t must be at least 1")
	case cfg.wanDelay < 0 || cfg.wanHandshake < 0:
		return nil, fmt.Errorf("-wan-delay and -wan-handshake must not be negative")
	case cfg.wanAgents < 1 || cfg.wanParallel < 1 || cfg.wanWindow < 1:
		return nil, fmt.Errorf("-wan-agents, -wan-parallel and -wan-window must be at least 1")
	}
	return cfg, nil
}

// progress reports what the bench is doing on standard error.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

// benchTest is one test of the bench: its name in -tests, the words its
// errors start with, and how it runs into the report.
type benchTest struct {
	name, title string
	run         func(ctx context.Context, cfg *config, work *workDir, rep *report) error
}

// benchTests are the bench's tests, in the order they run.
var benchTests = []benchTest{
	{"small", "small files", func(ctx context.Context, cfg *config, w *workDir, r *report) (err error) {
		r.small, err = runSmallFileTest(ctx, cfg, w)
		return err
	}},
	{"big", "large upload", func(ctx context.Context, cfg *config, w *workDir, r *report) (err error) {
		r.big, err = runBigFileTest(ctx, cfg, w)
		return err
	}},
	{"idle", "idle connections", func(ctx context.Context, cfg *config, w *workDir, r *report) (err error) {
		r.idle, err = runIdleTest(ctx, cfg, w)
		return err
	}},
	{"stalled", "stalled agents", func(ctx context.Context, cfg *config, w *workDir, r *report) (err error) {
		r.stalled, err = runStalledTest(ctx, cfg, w)
		return err
	}},
	{"tls", "tls", func(ctx context.Context, cfg *config, w *workDir, r *report) (err error) {
		r.tls, err = runTLSTest(ctx, cfg, w)
		return err
	}},
	{"haproxy", "haproxy", func(ctx context.Context, cfg *config, w *workDir, r *report) (err error) {
		r.haproxy, err = runHAProxyTest(ctx, cfg, w)
		return err
	}},
	{"client", "client send", func(ctx context.Context, cfg *config, w *workDir, r *report) (err error) {
		r.client, err = runClientTest(ctx, cfg, w)
		return err
	}},
	{"download", "download", func(ctx context.Context, cfg *config, w *workDir, r *report) (err error) {
		r.download, err = runDownloadTest(ctx, cfg, w)
		return err
	}},
	{"wan", "wan", func(ctx context.Context, cfg *config, w *workDir, r *report) (err error) {
		r.wan, err = runWANTest(ctx, cfg, w)
		return err
	}},
}

// knownTest reports whether name is one of benchTests.
func knownTest(name string) bool {
	return slices.ContainsFunc(benchTests, func(t benchTest) bool { return t.name == name })
}

func run(cfg *config) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if cfg.cpuProfile != "" {
		f, err := os.Create(cfg.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	nofile, err := prepare(cfg)
	if err != nil {
		return err
	}

	work, err := newWorkDir(cfg.parentDir)
	if err != nil {
		return err
	}
	if cfg.keep {
		progress("files are kept in %s", work.root)
	} else {
		defer work.remove()
	}

	rep := &report{cfg: cfg, started: time.Now(), args: os.Args, nofile: nofile, workRoot: work.root}
	rep.machine = describeMachine(work.root)
	if !cfg.inProcess {
		rep.serverInfo = describeBinary(cfg.server)
	}
	if cfg.perl != "" {
		rep.perlInfo = describeBinary(cfg.perl)
	}
	progress("working in %s (%s)", work.root, rep.machine.fs)

	for _, t := range benchTests {
		if !cfg.tests[t.name] || ctx.Err() != nil {
			continue
		}
		if err := t.run(ctx, cfg, work, rep); err != nil {
			return fmt.Errorf("%s: %w", t.title, err)
		}
	}
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted")
	}
	rep.finished = time.Now()

	var out strings.Builder
	rep.write(&out)
	if _, err := io.WriteString(os.Stdout, out.String()); err != nil {
		return err
	}
	if cfg.output != "" {
		if err := os.WriteFile(cfg.output, []byte(out.String()), 0o644); err != nil {
			return err
		}
		progress("report written to %s", cfg.output)
	}
	return nil
}

// prepare raises the open files limit for the bench and its servers,
// which it returns, and makes the server's path absolute, checking that
// the binary is there.
func prepare(cfg *config) (nofile uint64, err error) {
	if nofile, err = raiseFileLimit(uint64(2*cfg.idle + 1024)); err != nil {
		return 0, err
	}
	if !cfg.inProcess {
		if cfg.server, err = filepath.Abs(cfg.server); err != nil {
			return 0, err
		}
		if _, err := os.Stat(cfg.server); err != nil {
			return 0, fmt.Errorf("server binary: %w (build it with make build, or use -inprocess)", err)
		}
	}
	return nofile, nil
}

// raiseFileLimit sets RLIMIT_NOFILE to at least want (up to the hard limit).
// Calling Setrlimit also makes the child processes inherit the raised limit:
// without it, Go restores the original soft limit in the children.
func raiseFileLimit(want uint64) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("getrlimit: %w", err)
	}
	if lim.Max < want {
		lim.Max = want // works as root; otherwise the error says why
	}
	lim.Cur = max(lim.Cur, want)
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("raise the open files limit to %d: %w", want, err)
	}
	return lim.Cur, nil
}
