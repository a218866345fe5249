//go:build linux

package main

import (
	"strings"
	"testing"
	"time"
)

func TestServerCeiling(t *testing.T) {
	// 1,000 files in 1 s on 2 CPUs, 1.6 CPU-seconds busy (0.4 of them the
	// clients'): 1.6 ms per file all in, 1.2 ms without the clients.
	sv := &rateResult{ops: 1000, elapsed: time.Second, bench: 0.4,
		machine: cpuUse{total: 200, idle: 40}}
	c, ok := serverCeiling(sv, 2)
	if !ok {
		t.Fatal("no ceiling for a phase that stored files")
	}
	for _, tc := range []struct {
		name      string
		got, want float64
	}{
		{"CPU per file", c.perFile, 0.0016},
		{"clients per file", c.clientsPerFile, 0.0004},
		{"files/s at 100% busy", c.full, 1250},
		{"files/s without the clients", c.withoutClients, 2000.0 / 1.2},
	} {
		if d := tc.got - tc.want; d > 1e-9*tc.want || d < -1e-9*tc.want {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	if _, ok := serverCeiling(&rateResult{}, 2); ok {
		t.Error("a phase that stored nothing has a ceiling")
	}
}

func TestSmallSummaryJudgesOnlyGivenCells(t *testing.T) {
	rate := func(ops int64) *rateResult {
		return &rateResult{ops: ops, elapsed: time.Second, bench: 0.1, machine: cpuUse{total: 200, idle: 20}}
	}
	small := &smallResult{fileSize: 4 << 10, rows: []smallRow{
		{clients: 1, raw: rate(100), server: rate(50)},
		{clients: 16, raw: rate(1000), server: rate(900)},
		{clients: 64, raw: rate(1000), server: rate(500)},
	}}
	for _, tc := range []struct {
		judge []int
		want  []string // the result column, in order
	}{
		{nil, []string{notJudged, notJudged}},
		{[]int{16}, []string{notJudged, verdict(true)}},
		{[]int{16, 64}, []string{verdict(true), verdict(false)}},
		{[]int{64}, []string{notJudged, verdict(false)}},
	} {
		r := &report{cfg: &config{judge: tc.judge}, small: small, machine: machineInfo{cpus: 2}}
		lines := r.smallSummary()
		var got []string
		for _, l := range lines {
			got = append(got, l.result)
			if l.result == notJudged && !strings.Contains(l.measured, "CPU ceiling") {
				t.Errorf("-judge %v: reported cell %q has no CPU ceiling", tc.judge, l.measured)
			}
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("-judge %v: results %q, want %q (judged cells last)", tc.judge, got, tc.want)
		}
	}
}

func TestParseFlagsJudge(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"-judge", "16,64"}, ""},
		{[]string{"-judge", ""}, ""},
		{[]string{"-judge", "32"}, "not among -clients"},
		{[]string{"-judge", "x"}, "not a positive number"},
		{[]string{"-clients", "0"}, "not a positive number"},
	} {
		_, err := parseFlags(tc.args)
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%q: %v", tc.args, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%q: error %v, want one containing %q", tc.args, err, tc.wantErr)
		}
	}
}
