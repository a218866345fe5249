//go:build linux

package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"slices"
	"time"

	"tentacle/tlsconfig"
)

// The tls test: what TLS costs the agents' two kinds of traffic. Small
// files, one per connection, pay for a handshake each, which depends on
// the server's key (RSA-2048 or ECDSA P-256); a large upload pays for
// encryption, which does not. Both are measured against plain TCP to the
// same server binary in the same run, and the small files against the Perl
// reference with the same certificates.

// tlsClients is the concurrency of the small-file rows: the small-file
// target's.
const tlsClients = smallTargetClients

// targetTLSBigRatio is the share of the plain-TCP rate that one large
// upload over TLS must reach.
const targetTLSBigRatio = 0.60

// tlsSide is one way of sending the small files: which server, which of
// its keys, if any, and whether clients and server verify each other.
type tlsSide struct {
	name string // as in the report
	perl bool   // the Perl reference instead of the server under test
	key  string // "rsa", "ecdsa", or "" for plain TCP
	// anonymous is TLS as most agents use it, with -c alone: the server
	// gets no -f, the client presents no certificate and checks none.
	// Otherwise both sides verify each other (-e, -k and -f on both).
	anonymous bool
}

// tlsSides are the small-file rows, in the order of odd rounds. The report
// pairs the rows of this server (1, 2, 5, 6) with the Perl reference's two
// places further.
var tlsSides = []tlsSide{
	{"tentacle_server, plain TCP", false, "", false},
	{"tentacle_server, TLS, RSA-2048", false, "rsa", false},
	{"tentacle_server, TLS, ECDSA P-256", false, "ecdsa", false},
	{"Perl reference, TLS, RSA-2048", true, "rsa", false},
	{"Perl reference, TLS, ECDSA P-256", true, "ecdsa", false},
	{"tentacle_server, TLS with -c alone, RSA-2048", false, "rsa", true},
	{"tentacle_server, TLS with -c alone, ECDSA P-256", false, "ecdsa", true},
	{"Perl reference, TLS with -c alone, RSA-2048", true, "rsa", true},
	{"Perl reference, TLS with -c alone, ECDSA P-256", true, "ecdsa", true},
}

// tlsPerlPairs are the indexes in tlsSides of this server's TLS rows; the
// Perl reference's row with the same key and verification is two further.
var tlsPerlPairs = []int{1, 2, 5, 6}

// tlsResult is the tls test.
type tlsResult struct {
	clients    int
	fileSize   int64
	small      map[string]*rateResult // by side name
	failed     map[string]string      // sides that could not be measured, and why
	negotiated map[string]string      // by side name: version, suite, key exchange
	serverCmd  []string               // one TLS command line of each kind of server
	perlCmd    []string
	bigPlain   []uploadResult // one per round
	bigTLS     []uploadResult
	bigCmd     []string
}

// tlsClientConfigs are the bench's two client configurations: one that
// presents its certificate and verifies the server's (-e, -k, -f), and one
// that does neither (-c alone).
type tlsClientConfigs struct{ mutual, anonymous *tls.Config }

// tlsOptions are the server options of a side: the same -e, -k and, unless
// anonymous, -f for both servers, and the matching client.
func (cfg *config) tlsOptions(side tlsSide, certs *benchCerts, clients tlsClientConfigs, maxSize int64) serverOptions {
	opts := cfg.serverOptions(maxSize)
	if side.perl {
		opts = cfg.perlOptions(maxSize)
	}
	ca, client := certs.ca, clients.mutual
	if side.anonymous {
		ca, client = "", clients.anonymous
	}
	switch side.key {
	case "rsa":
		opts.tls = &serverTLS{cert: certs.rsaCert, key: certs.rsaKey, ca: ca, client: client}
	case "ecdsa":
		opts.tls = &serverTLS{cert: certs.ecdsaCert, key: certs.ecdsaKey, ca: ca, client: client}
	}
	return opts
}

// runTLSTest makes the certificates, then measures the small files and
// the large upload.
func runTLSTest(ctx context.Context, cfg *config, work *workDir) (*tlsResult, error) {
	dir, err := work.fresh("tls-certs")
	if err != nil {
		return nil, err
	}
	progress("tls: making a CA, RSA-2048 and ECDSA P-256 server certificates and a client certificate")
	certs, err := makeBenchCerts(dir)
	if err != nil {
		return nil, err
	}
	// The client is configured as an agent with -e, -k and -f would be: it
	// presents its certificate and verifies the server's. Like an agent
	// process, it keeps no session cache, so that every connection makes
	// a full handshake.
	var clients tlsClientConfigs
	clients.mutual, err = tlsconfig.Client(tlsconfig.Options{CertFile: certs.clientCert, KeyFile: certs.clientKey, CAFile: certs.ca})
	if err != nil {
		return nil, fmt.Errorf("client TLS configuration: %w", err)
	}
	if clients.anonymous, err = tlsconfig.Client(tlsconfig.Options{}); err != nil {
		return nil, fmt.Errorf("client TLS configuration without a certificate: %w", err)
	}
	res := &tlsResult{clients: tlsClients, fileSize: int64(cfg.fileSize),
		small: map[string]*rateResult{}, failed: map[string]string{}, negotiated: map[string]string{}}
	if err := runTLSSmall(ctx, cfg, work, certs, clients, res); err != nil {
		return nil, err
	}
	if ctx.Err() == nil {
		if err := runTLSBig(ctx, cfg, work, certs, clients, res); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// runTLSSmall sends small files to every side in turn, round after round,
// the order reversed every other round; each phase gets a fresh server.
func runTLSSmall(ctx context.Context, cfg *config, work *workDir, certs *benchCerts, clients tlsClientConfigs, res *tlsResult) error {
	size := res.fileSize
	data := make([]byte, size)
	newPatternReader().Read(data)
	sides := slices.Clone(tlsSides)
	if cfg.perl == "" {
		sides = slices.DeleteFunc(sides, func(s tlsSide) bool { return s.perl })
	}
	phase := func(side tlsSide, dir, prefix string, d time.Duration) (rateResult, error) {
		srv, err := startServer(cfg.tlsOptions(side, certs, clients, size), dir)
		if err != nil {
			return rateResult{}, err
		}
		defer srv.stop()
		if side.key != "" {
			if _, ok := res.negotiated[side.name]; !ok {
				res.negotiated[side.name] = negotiated(srv)
			}
			if side.perl {
				res.perlCmd = srv.cmdline
			} else {
				res.serverCmd = srv.cmdline
			}
		}
		return serverSmallFiles(ctx, srv, tlsClients, d, data, prefix)
	}
	warm := min(cfg.duration, time.Second)
	progress("tls: small files, warming up for %v", warm)
	warmDir, err := work.fresh("tls-warmup")
	if err != nil {
		return err
	}
	if _, err := phase(sides[1], warmDir, "warm", warm); err != nil {
		return err
	}
	slice := cfg.duration / time.Duration(cfg.rounds)
	for round := range cfg.rounds {
		order := slices.Clone(sides)
		if round%2 == 1 {
			slices.Reverse(order)
		}
		dir, err := work.fresh(fmt.Sprintf("tls-small-r%d", round+1))
		if err != nil {
			return err
		}
		for i, side := range order {
			if ctx.Err() != nil {
				return nil
			}
			if _, failed := res.failed[side.name]; failed {
				continue
			}
			progress("tls: small files, round %d/%d, %d clients: %s", round+1, cfg.rounds, tlsClients, side.name)
			got, err := phase(side, dir, fmt.Sprintf("side%d", i), slice)
			if err != nil && side.perl {
				res.failed[side.name] = err.Error()
				delete(res.small, side.name)
				progress("  %s: %v", side.name, err)
				continue
			}
			if err != nil {
				return fmt.Errorf("%s: %w", side.name, err)
			}
			res.small[side.name] = accumulate(res.small[side.name], got)
			logRate(cfg, side.name, got)
		}
	}
	return nil
}

// negotiated makes one handshake with srv as its clients do, and says
// what it agreed on.
func negotiated(srv *server) string {
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", srv.addr, srv.clientTLS)
	if err != nil {
		return "handshake failed: " + err.Error()
	}
	defer c.Close()
	st := c.ConnectionState()
	return fmt.Sprintf("%s, %s, %s", tls.VersionName(st.Version), tls.CipherSuiteName(st.CipherSuite), st.CurveID)
}

// runTLSBig uploads one large file to the server over plain TCP and over
// TLS (RSA key: the key only matters to the handshake), alternating the
// order over the rounds. Both servers run through the whole test.
func runTLSBig(ctx context.Context, cfg *config, work *workDir, certs *benchCerts, clients tlsClientConfigs, res *tlsResult) error {
	size := int64(cfg.bigSize)
	var srvs [2]*server // plain, TLS
	for i, side := range []tlsSide{tlsSides[0], tlsSides[1]} {
		dir, err := work.fresh(fmt.Sprintf("tls-big-%d", i))
		if err != nil {
			return err
		}
		if srvs[i], err = startServer(cfg.tlsOptions(side, certs, clients, size), dir); err != nil {
			return err
		}
		defer srvs[i].stop()
	}
	res.bigCmd = srvs[1].cmdline
	// As in the big test, the first large write of a run is slow on a
	// virtual machine: an unmeasured transfer first.
	progress("tls: large upload, %s: warming up with a raw transfer", formatBytes(size))
	rawDir, err := work.fresh("tls-big-raw")
	if err != nil {
		return err
	}
	if warm := rawUpload(ctx, rawDir, size); warm.err != nil {
		return fmt.Errorf("raw transfer: %w", warm.err)
	}
	if err := emptyDir(rawDir); err != nil {
		return err
	}
	for round := range cfg.rounds {
		for step := range 2 {
			if ctx.Err() != nil {
				return nil
			}
			useTLS := (step == 0) == (round%2 == 0)
			srv, who := srvs[0], "plain TCP"
			if useTLS {
				srv, who = srvs[1], "TLS"
			}
			progress("tls: large upload, round %d/%d, %s: %s", round+1, cfg.rounds, formatBytes(size), who)
			up := serverUpload(ctx, srv, size, fmt.Sprintf("bench-large-%d.data", round+1))
			logUpload(cfg, who, up)
			if useTLS {
				res.bigTLS = append(res.bigTLS, up)
			} else {
				res.bigPlain = append(res.bigPlain, up)
			}
			if err := emptyDir(srv.dir); err != nil {
				return err
			}
		}
	}
	return nil
}
