//go:build linux

package systemd

import (
	"os/exec"
	"strings"
	"testing"

	"tentacle/internal/testharness"
)

// haproxyExample is the HAProxy configuration the packages ship as
// documentation.
const haproxyExample = "../etc/haproxy/tentacle.cfg"

// TestHAProxyExample checks the shipped example with HAProxy itself, and
// that every server it balances gets a PROXY header, without which -P
// closes the balancer's connections.
func TestHAProxyExample(t *testing.T) {
	haproxy := testharness.NeedTool(t, "haproxy", "haproxy")
	if out, err := exec.Command(haproxy, "-c", "-f", haproxyExample).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -c %s: %v\n%s", haproxyExample, err, out)
	}
	servers := 0
	for line := range strings.Lines(readFile(t, haproxyExample)) {
		f := strings.Fields(line)
		if len(f) > 0 && f[0] == "server" {
			servers++
			if !strings.Contains(line, " send-proxy") || !strings.Contains(line, " check") {
				t.Errorf("%s: %q sends no PROXY header or is not checked", haproxyExample, strings.TrimSpace(line))
			}
		}
	}
	if servers < 2 {
		t.Errorf("%s balances %d servers, want an example with several", haproxyExample, servers)
	}
}
