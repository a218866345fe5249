//go:build linux

package main

import (
	"fmt"
	"io"
)

// tlsBigRatio is the pooled TLS rate over the pooled plain-TCP rate of the
// large upload, and whether both were measured without error.
func (t *tlsResult) tlsBigRatio() (ratio float64, plain, secure uploadResult, ok bool) {
	if len(t.bigPlain) == 0 || len(t.bigTLS) == 0 {
		return 0, plain, secure, false
	}
	plain, secure = pool(t.bigPlain), pool(t.bigTLS)
	if plain.err != nil || secure.err != nil || plain.mbps() == 0 {
		return 0, plain, secure, false
	}
	return secure.mbps() / plain.mbps(), plain, secure, true
}

// tlsSummary gives the summary lines of the tls test: the large-upload
// target, and the small-file rates with each key, which are reported, not
// judged.
func (r *report) tlsSummary() []summaryLine {
	t := r.tls
	if t == nil {
		return nil
	}
	var lines []summaryLine
	for _, pair := range []struct {
		rsa, ecdsa int
		how        string
	}{{1, 2, ""}, {5, 6, " with -c alone"}} {
		rsa, ecdsa := t.small[tlsSides[pair.rsa].name], t.small[tlsSides[pair.ecdsa].name]
		if rsa == nil || ecdsa == nil {
			continue
		}
		lines = append(lines, summaryLine{
			test:     fmt.Sprintf("small files (%s) over TLS%s, %d clients", formatBytes(t.fileSize), pair.how, t.clients),
			measured: fmt.Sprintf("ECDSA P-256 %.0f files/s, RSA-2048 %.0f files/s (%.2f×)", ecdsa.rate(), rsa.rate(), ecdsa.rate()/rsa.rate()),
			target:   "reported",
			result:   "info",
		})
	}
	ratio, plain, secure, ok := t.tlsBigRatio()
	target := "≥ " + pct(targetTLSBigRatio) + " of plain TCP"
	switch {
	case len(t.bigTLS) == 0:
	case !ok:
		lines = append(lines, summaryLine{formatBytes(t.bigTLS[0].size) + " upload over TLS", "failed: " + firstErr(secure.err, plain.err), target, verdict(false)})
	default:
		lines = append(lines, summaryLine{formatBytes(t.bigTLS[0].size) + " upload over TLS",
			fmt.Sprintf("%s of plain TCP (%.0f vs %.0f MB/s)", pct(ratio), secure.mbps(), plain.mbps()),
			target, verdict(ratio >= targetTLSBigRatio)})
	}
	return lines
}

// writeTLS writes the tls test's section.
func (r *report) writeTLS(w io.Writer) {
	t := r.tls
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("\n## TLS\n\n")
	p("The bench makes its own certificates in its work directory: a CA (ECDSA P-256), an RSA-2048 and an ECDSA P-256 server certificate signed by it, and a client certificate. Every TLS server, this one and the Perl reference alike, gets the same options. In the rows without more words, that is `-e`, `-k` and `-f` (the CA), and the bench's clients present the client certificate and verify the server's, as an agent with `-e`, `-k` and `-f` does. ")
	p("Without `-f` the Perl reference still asks for a client certificate and checks one that is sent against the system's CAs, refusing the bench's: `-f` on both servers lets the same clients in and gives both the same verification per handshake. ")
	p("The rows \"with -c alone\" are TLS as most agents use it: the servers get `-e` and `-k` only, and the clients present no certificate and check none. The clients keep no session cache, so that every connection makes a full handshake, as every agent run does.\n\n")
	if len(t.serverCmd) > 0 {
		p("```\n%s\n```\n\n", commandLine(t.serverCmd))
	}
	if len(t.perlCmd) > 0 {
		p("```\n%s\n```\n\n", commandLine(t.perlCmd))
	}
	p("### Small files over TLS\n\n")
	p("%d clients each connect, make the TLS handshake, send one %s file, wait for `SEND OK` and quit, in a loop; each row gets %v, split over %d rounds that alternate the order of the rows, each phase with a fresh server process. Rates are pooled over the rounds.\n\n", t.clients, formatBytes(t.fileSize), r.cfg.duration, r.cfg.rounds)
	p("| server | negotiated | files/s | vs plain TCP | server CPU per file | server CPU | errors |\n|---|---|---:|---:|---:|---:|---:|\n")
	plain := t.small[tlsSides[0].name]
	var notes []string
	for _, side := range tlsSides {
		s := t.small[side.name]
		if why, failed := t.failed[side.name]; failed {
			p("| %s | | not measured | | | | |\n", side.name)
			notes = append(notes, side.name+": "+why)
			continue
		}
		if s == nil {
			continue
		}
		neg, vs := "—", "—"
		if n, ok := t.negotiated[side.name]; ok {
			neg = n
		}
		if plain != nil && side.key != "" {
			vs = pct(s.rate() / plain.rate())
		}
		p("| %s | %s | %.1f | %s | %s | %s | %d |\n", side.name, neg, s.rate(), vs, perOp(s.cpu, s.ops), coreShare(s.cpu, s.elapsed), s.errors)
		notes = append(notes, rateNotes(side.name, s)...)
	}
	for _, key := range tlsPerlPairs {
		ours, perl := t.small[tlsSides[key].name], t.small[tlsSides[key+2].name]
		if ours != nil && perl != nil && perl.rate() > 0 {
			notes = append(notes, fmt.Sprintf("%s: %.1f× the Perl reference's rate with the same key.", tlsSides[key].name, ours.rate()/perl.rate()))
		}
	}
	writeNotes(w, notes)
	r.writeTLSBig(w)
}

// writeTLSBig writes the large upload over TLS against plain TCP.
func (r *report) writeTLSBig(w io.Writer) {
	t := r.tls
	if len(t.bigTLS) == 0 || len(t.bigPlain) == 0 {
		return
	}
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("\n### One large upload over TLS\n\n")
	p("One client sends one %s file of unique bytes (as in the large-upload test, verified byte for byte after storing) to the server over plain TCP and over TLS (RSA key; the key only matters to the handshake), two server processes started once; %d rounds, odd rounds TLS first, rates pooled. Server CPU per GiB is its user + system time over the bytes stored.\n\n", formatBytes(t.bigTLS[0].size), len(t.bigTLS))
	if len(t.bigCmd) > 0 {
		p("```\n%s\n```\n\n", commandLine(t.bigCmd))
	}
	p("| | seconds | MB/s | server CPU | server CPU per GiB |\n|---|---:|---:|---:|---:|\n")
	var notes []string
	row := func(name string, u uploadResult) {
		if u.err != nil {
			p("| %s | failed | | | |\n", name)
			notes = append(notes, name+": "+u.err.Error())
			return
		}
		cpu, perGiB := "—", "—"
		if u.cpu >= 0 {
			cpu, perGiB = fmt.Sprintf("%.2f s", u.cpu), fmt.Sprintf("%.2f s", u.cpu/(float64(u.size)/(1<<30)))
		}
		p("| %s | %.2f | %.0f | %s | %s |\n", name, u.elapsed.Seconds(), u.mbps(), cpu, perGiB)
	}
	for i := range max(len(t.bigTLS), len(t.bigPlain)) {
		if i < len(t.bigTLS) {
			row(fmt.Sprintf("TLS, round %d", i+1), t.bigTLS[i])
		}
		if i < len(t.bigPlain) {
			row(fmt.Sprintf("plain TCP, round %d", i+1), t.bigPlain[i])
		}
	}
	row("**TLS, pooled**", pool(t.bigTLS))
	row("**plain TCP, pooled**", pool(t.bigPlain))
	if ratio, _, _, ok := t.tlsBigRatio(); ok {
		p("\nTLS: %s of plain TCP, target ≥ %s: %s.\n", pct(ratio), pct(targetTLSBigRatio), verdict(ratio >= targetTLSBigRatio))
	}
	writeNotes(w, notes)
}
