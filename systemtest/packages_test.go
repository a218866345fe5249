//go:build system && linux

package systemtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Two versions of the packages, built from this tree, so that an upgrade
// from one to the other can be driven.
const (
	firstVersion  = "0.9.0"
	secondVersion = "0.9.1"
)

var built struct {
	once sync.Once
	dir  string
	err  error
	out  string
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// pkg returns the path of the .deb or .rpm (ext) of version, building both
// versions with `make package` the first time.
func pkg(t *testing.T, version, ext string) string {
	t.Helper()
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "tentacle-systemtest-pkg")
		if built.err != nil {
			return
		}
		for _, v := range []string{firstVersion, secondVersion} {
			cmd := exec.Command("make", "-C", "..", "package", "PKG_VERSION="+v, "PKG_OUT="+filepath.Join(built.dir, v))
			out, err := cmd.CombinedOutput()
			built.out += string(out)
			if err != nil {
				built.err = err
				return
			}
		}
	})
	if built.err != nil {
		t.Fatalf("make package: %v\n%s", built.err, built.out)
	}
	matches, _ := filepath.Glob(filepath.Join(built.dir, version, "tentacle*"+ext))
	if len(matches) != 1 {
		t.Fatalf("no single %s package of %s: %v", ext, version, matches)
	}
	return matches[0]
}

// perlClient returns the reference's Perl tentacle_client, from Debian's
// pandorafms-agent package (kept in the cache), or "" with the reason it
// could not be had.
func perlClient(t *testing.T) (string, string) {
	t.Helper()
	dir := filepath.Join(cacheDir, "pandorafms-agent")
	client := filepath.Join(dir, "usr/bin/tentacle_client")
	if _, err := os.Stat(client); err == nil {
		return client, ""
	}
	os.MkdirAll(dir, 0o755)
	download := func() ([]byte, error) {
		cmd := exec.Command("apt-get", "download", "pandorafms-agent")
		cmd.Dir = dir
		return cmd.CombinedOutput()
	}
	out, err := download()
	if err != nil {
		// The package lists may be missing or old: refresh them once.
		exec.Command("apt-get", "update", "-qq").Run()
		out, err = download()
	}
	if err != nil {
		return "", "apt-get download pandorafms-agent: " + strings.TrimSpace(string(out))
	}
	debs, _ := filepath.Glob(filepath.Join(dir, "pandorafms-agent_*.deb"))
	if len(debs) == 0 {
		return "", "apt-get download pandorafms-agent fetched nothing"
	}
	if out, err := exec.Command("dpkg-deb", "-x", debs[0], dir).CombinedOutput(); err != nil {
		return "", "dpkg-deb -x: " + string(out)
	}
	if _, err := os.Stat(client); err != nil {
		return "", "pandorafms-agent has no usr/bin/tentacle_client"
	}
	return client, ""
}

// copyIn copies a host file into the container at p.
func (c *container) copyIn(src, p string, mode os.FileMode) {
	c.t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		c.t.Fatal(err)
	}
	c.writeFile(p, b, mode)
}
