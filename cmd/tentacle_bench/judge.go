//go:build linux

package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// The small-file target is judged only where it means something. On these
// 2-vCPU machines the bench's own clients take a fifth of the CPU of the
// path they measure, so the decision of issue 13 is: the target (≥ 70% of
// raw) is judged on a fresh journaled ext4 at 16 and 64 clients and on a
// fresh XFS at 16 clients, which is what `make bench-fs` passes with
// -judge; every other cell is reported with its CPU ceiling, not judged.

// notJudged is the verdict of a small-file cell that is reported only.
const notJudged = "reported, not judged"

// judges reports whether the small-file target is judged at n clients.
func (cfg *config) judges(n int) bool { return slices.Contains(cfg.judge, n) }

// judgedText says in the report where the small-file target applies.
func (r *report) judgedText() string {
	if len(r.cfg.judge) == 0 {
		return fmt.Sprintf("The target (≥ %s of raw) is not judged in this run (no -judge): it is judged by `make bench-fs` on a fresh journaled ext4 at 16 and 64 clients and on a fresh XFS at 16. Cells from %d clients are reported with their CPU ceiling.", pct(targetSmallRatio), smallTargetClients)
	}
	return fmt.Sprintf("The target (≥ %s of raw) is judged at %s clients (-judge); other cells from %d clients are reported with their CPU ceiling.", pct(targetSmallRatio), joinInts(r.cfg.judge), smallTargetClients)
}

// ceiling is what the machine could store at most in a server phase, from
// the CPU it spent per stored file: with both CPUs 100% busy, and without
// the bench's clients, whose CPU agents on other machines would not take.
type ceiling struct {
	perFile, clientsPerFile float64 // machine CPU seconds per file, and the clients' part
	full, withoutClients    float64 // files/s
}

// serverCeiling computes the ceiling of a server phase on a machine of cpus
// CPUs; ok is false when the phase stored nothing or the CPU is unknown.
func serverCeiling(sv *rateResult, cpus int) (c ceiling, ok bool) {
	if sv == nil || sv.ops == 0 || sv.machine.total <= 0 {
		return c, false
	}
	busy := float64(sv.machine.total-sv.machine.idle) / userHZ
	c.perFile = busy / float64(sv.ops)
	c.clientsPerFile = sv.bench / float64(sv.ops)
	c.full = float64(cpus) / c.perFile
	if own := c.perFile - c.clientsPerFile; own > 0 {
		c.withoutClients = float64(cpus) / own
	}
	return c, true
}

// smallSummary gives the summary lines of the small-file cells from
// smallTargetClients on: judged ones with a verdict, the others reported
// with their ceiling. Judged lines come last, as `make bench-fs` prints
// them last.
func (r *report) smallSummary() []summaryLine {
	var judged, reported []summaryLine
	for _, row := range r.small.rows {
		if row.clients < smallTargetClients || row.raw == nil || row.server == nil {
			continue
		}
		ratio := row.server.rate() / row.raw.rate()
		l := summaryLine{
			test:     fmt.Sprintf("small files (%s), %d clients", formatBytes(r.small.fileSize), row.clients),
			measured: fmt.Sprintf("%s of raw (%.0f vs %.0f files/s)", pct(ratio), row.server.rate(), row.raw.rate()),
			target:   fmt.Sprintf("≥ %s of raw", pct(targetSmallRatio)),
		}
		if r.cfg.judges(row.clients) {
			l.result = verdict(ratio >= targetSmallRatio && row.server.errors == 0)
			judged = append(judged, l)
			continue
		}
		if c, ok := serverCeiling(row.server, r.machine.cpus); ok {
			l.measured += fmt.Sprintf("; CPU ceiling %s of raw at 100%% busy, %s without the clients", pct(c.full/row.raw.rate()), pct(c.withoutClients/row.raw.rate()))
		}
		l.result = notJudged
		reported = append(reported, l)
	}
	return append(reported, judged...)
}

// writeCeiling writes the CPU ceiling of each small-file server phase: the
// analysis that says, where the target is missed, whether the server or the
// machine ran out.
func (r *report) writeCeiling(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("\nCPU ceiling. The machine's CPU in a server phase divided by the files stored is the CPU one file costs, all in (server, clients, kernel workers). %d CPUs divided by that is the most the server could store with the machine 100%% busy; without the clients' part, what it could store with the agents on other machines, as in production:\n\n", r.machine.cpus)
	p("| clients | raw files/s | server files/s, machine busy | CPU per file, all in (clients' part) | at 100%% busy (vs raw) | without the clients (vs raw) |\n|---:|---:|---:|---:|---:|---:|\n")
	for _, row := range r.small.rows {
		c, ok := serverCeiling(row.server, r.machine.cpus)
		if !ok || row.raw == nil || row.raw.rate() == 0 {
			continue
		}
		raw := row.raw.rate()
		p("| %d | %.0f | %.0f, %s | %.3f ms (%.3f) | %.0f (%s) | %.0f (%s) |\n", row.clients, raw,
			row.server.rate(), pct(row.server.machine.busy()), 1000*c.perFile, 1000*c.clientsPerFile,
			c.full, pct(c.full/raw), c.withoutClients, pct(c.withoutClients/raw))
	}
}

// parseInts reads a comma-separated list of positive numbers for flag name.
func parseInts(name, list string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		var n int
		if _, err := fmt.Sscan(f, &n); err != nil || n < 1 {
			return nil, fmt.Errorf("%s: %q is not a positive number", name, f)
		}
		out = append(out, n)
	}
	return out, nil
}

// joinInts writes numbers as "16 and 64" or "16, 32 and 64".
func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = fmt.Sprint(n)
	}
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}
