//go:build linux

package main

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"tentacle/internal/testharness"
)

// agentData is the part of a Pandora agent data file the test reads.
type agentData struct {
	XMLName   xml.Name `xml:"agent_data"`
	AgentName string   `xml:"agent_name,attr"`
	Timestamp string   `xml:"timestamp,attr"`
	Interval  int      `xml:"interval,attr"`
	Modules   []struct {
		Name string `xml:"name"`
		Type string `xml:"type"`
		Data string `xml:"data"`
	} `xml:"module"`
}

// reports parses every report of agent in the spool. Each file under a
// final name must parse whole: the daemon never shows a partial one.
func reports(t *testing.T, spool, agent string) []agentData {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(spool, agent+".*.data"))
	if err != nil {
		t.Fatal(err)
	}
	var docs []agentData
	for _, f := range files {
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var d agentData
		if err := xml.Unmarshal(body, &d); err != nil {
			t.Fatalf("%s does not parse: %v\n%s", f, err, body)
		}
		docs = append(docs, d)
	}
	return docs
}

// module is a report's value of name, -1 if absent.
func (d agentData) module(name string) int64 {
	for _, m := range d.Modules {
		if m.Name == name {
			n, err := strconv.ParseInt(m.Data, 10, 64)
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}

// TestSelfReport runs the daemon with a report every second: after N
// uploads, a report counts them, as a well-formed agent data file in the
// spool; a bad interval on reload is refused with its line, and reports go
// on.
func TestSelfReport(t *testing.T) {
	const n = 5
	e := newEnv(t, "nobody", "TENTACLE_MONITOR_INTERVAL=1", `TENTACLE_MONITOR_AGENT="self&test"`)
	cmd, out := e.start()
	for i := range n {
		if err := send(e.addr(), "", fmt.Sprintf("m%d.data", i), "x"); err != nil {
			t.Fatal(err)
		}
	}
	var got agentData
	testharness.WaitFor(t, "a report counting the uploads", func() bool {
		for _, d := range reports(t, e.spool, "self&test") {
			if d.module("tentacle_files_received") >= n && d.module("tentacle_spool_files") >= n {
				got = d
				return true
			}
		}
		return false
	})
	if got.AgentName != "self&test" || got.Interval != 1 || len(got.Timestamp) != len("2006/01/02 15:04:05") {
		t.Errorf("report attributes: %+v", got)
	}
	for _, name := range []string{"tentacle_bytes_received", "tentacle_files_sent", "tentacle_refused", "tentacle_failed",
		"tentacle_connections", "tentacle_spool_oldest_age", "tentacle_spool_free_bytes"} {
		if got.module(name) < 0 {
			t.Errorf("module %s missing or not a number: %+v", name, got.Modules)
		}
	}
	if got.module("tentacle_bytes_received") < n || got.module("tentacle_up") != 1 {
		t.Errorf("report: %+v", got.Modules)
	}

	lines := strings.Split(strings.TrimSpace(readEnv(t, e)), "\n")
	bad := []string{"TENTACLE_MONITOR_INTERVAL=soon", "TENTACLE_MONITOR_AGENT=a/b", "TENTACLE_METRICS_ADDR=127.0.0.1:http"}
	e.write(append(lines, bad...)...)
	cmd.Process.Signal(syscall.SIGHUP)
	testharness.WaitFor(t, "the refused reload", func() bool { return strings.Contains(out.String(), "reload refused") })
	for i, b := range bad {
		key, value, _ := strings.Cut(b, "=")
		if want := fmt.Sprintf(`:%d: %s %q`, len(lines)+1+i, key, value); !strings.Contains(out.String(), want) {
			t.Errorf("reload refusal does not name %q:\n%s", want, out)
		}
	}
	before := len(reports(t, e.spool, "self&test"))
	testharness.WaitFor(t, "reports after the refused reload", func() bool { return len(reports(t, e.spool, "self&test")) > before })
	if strings.Contains(out.String(), "self-report:") {
		t.Errorf("the report logged trouble:\n%s", out)
	}
}

// TestSelfReportFailureLoggedOnce makes the spool unwritable for a few
// intervals: the failure is logged once, serving goes on, and the return
// of reports is logged once.
func TestSelfReportFailureLoggedOnce(t *testing.T) {
	e := newEnv(t, "nobody", "TENTACLE_MONITOR_INTERVAL=1", "TENTACLE_MONITOR_AGENT=fail")
	_, out := e.start()
	testharness.WaitFor(t, "a first report", func() bool { return len(reports(t, e.spool, "fail")) > 0 })
	if err := os.Chmod(e.spool, 0o500); err != nil {
		t.Fatal(err)
	}
	testharness.WaitFor(t, "the failure logged", func() bool { return strings.Contains(out.String(), "self-report: ") })
	// Two more intervals fail without a word. Showing that nothing
	// happens takes time passing: there is no event to wait for.
	time.Sleep(2500 * time.Millisecond)
	if err := os.Chmod(e.spool, 0o770); err != nil {
		t.Fatal(err)
	}
	testharness.WaitFor(t, "reports again", func() bool { return strings.Contains(out.String(), "self-report: written again") })
	if n := strings.Count(out.String(), "[err]"); n != 1 {
		t.Errorf("%d error lines, want the one of the failure:\n%s", n, out)
	}
	if err := send(e.addr(), "", "after.data", "x"); err != nil {
		t.Fatal(err)
	}
}
