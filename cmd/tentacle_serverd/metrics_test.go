//go:build linux

package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"tentacle/internal/testharness"
)

// scrape fetches url and parses it as Prometheus' text format.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing %s: %v", url, err)
	}
	return families
}

// value is the value of the family's metric with these labels, and
// whether there is one.
func value(f *dto.MetricFamily, labels ...string) (float64, bool) {
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

// TestMetrics scrapes the real daemon after N uploads and a refusal: the
// transfer counters, the connection and spool gauges, the build, Go and
// process metrics are there; /healthz answers 200.
func TestMetrics(t *testing.T) {
	const n = 4
	addr := "127.0.0.1:" + testharness.FreePort(t)
	e := newEnv(t, "nobody", "TENTACLE_METRICS_ADDR="+addr)
	_, out := e.start()
	if !strings.Contains(out.String(), "Metrics on http://"+addr+"/metrics") {
		t.Errorf("no metrics line in:\n%s", out)
	}
	for i := range n {
		if err := send(e.addr(), "", fmt.Sprintf("p%d.data", i), "xy"); err != nil {
			t.Fatal(err)
		}
	}
	if err := send(e.addr(), "", "p0.data", "again"); err == nil {
		t.Fatal("an existing file was overwritten")
	}
	var f map[string]*dto.MetricFamily
	testharness.WaitFor(t, "the refusal counted", func() bool {
		f = scrape(t, "http://"+addr+"/metrics")
		v, _ := value(f["tentacle_refused_total"], "reason", "exists")
		return v == 1
	})
	checks := []struct {
		family string
		labels []string
		min    float64
	}{
		{"tentacle_transfers_total", []string{"command", "SEND", "result", "ok"}, n},
		{"tentacle_transfers_total", []string{"command", "SEND", "result", "refused"}, 1},
		{"tentacle_bytes_total", []string{"direction", "in"}, 2 * n},
		{"tentacle_connections_total", nil, n + 1},
		{"tentacle_connections_active", nil, 0},
		{"tentacle_spool_files", nil, n},
		{"tentacle_spool_oldest_file_age_seconds", nil, 0},
		{"tentacle_spool_free_bytes", nil, 1},
		{"tentacle_reloads_total", nil, 0},
		{"tentacle_build_info", []string{"version", "dev"}, 1},
		{"go_goroutines", nil, 1},
		{"process_open_fds", nil, 1},
	}
	for _, c := range checks {
		v, ok := value(f[c.family], c.labels...)
		if !ok || v < c.min {
			t.Errorf("%s%v = %v (found %v), want at least %v", c.family, c.labels, v, ok, c.min)
		}
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz: %s %s", resp.Status, body)
	}
}

// TestMetricsPortBusy: a metrics port that cannot be bound stops the start,
// naming the variable, before anything serves.
func TestMetricsPortBusy(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	e := newEnv(t, "nobody", "TENTACLE_METRICS_ADDR="+l.Addr().String())
	out, err := exec.Command(daemonBin, "--env-file", e.file).CombinedOutput()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "[err]TENTACLE_METRICS_ADDR: ") {
		t.Fatalf("exit %v, output:\n%s\nwant an [err] naming TENTACLE_METRICS_ADDR", err, out)
	}
	if c, err := net.Dial("tcp", e.addr()); err == nil {
		c.Close()
		t.Fatal("the main port serves")
	}
}
