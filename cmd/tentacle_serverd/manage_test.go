//go:build linux

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInstallGuard checks that install leaves a packaged service alone
// unless told otherwise, and that --force goes with install only. None of
// these cases reaches kardianos/service: each is refused first, so the
// test registers nothing on the host.
func TestInstallGuard(t *testing.T) {
	dir := t.TempDir()
	lib := filepath.Join(dir, "lib/systemd/system/tentacle_serverd.service")
	etc := filepath.Join(dir, "etc/systemd/system/tentacle_serverd.service")
	initd := filepath.Join(dir, "etc/init.d/tentacle_serverd")
	dangling := filepath.Join(dir, "dangling")
	if err := os.Symlink(filepath.Join(dir, "nowhere"), dangling); err != nil {
		t.Fatal(err)
	}
	create := func(t *testing.T, path string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	create(t, etc)
	create(t, initd)

	tests := []struct {
		name     string
		args     []string
		packaged []string
		want     string // in stderr; exit status 1
	}{
		{"packaged unit", []string{"install"}, []string{lib, etc, initd}, etc + " exists"},
		{"init script only", []string{"install"}, []string{lib, initd}, initd + " exists"},
		{"names --force", []string{"install"}, []string{initd}, "--force"},
		{"dangling symbolic link counts", []string{"install"}, []string{lib, dangling}, dangling + " exists"},
		{"--force without install", []string{"--force"}, nil, "--force goes with install"},
		{"--force with uninstall", []string{"uninstall", "--force"}, nil, "--force goes with install"},
		{"--force before uninstall", []string{"--force", "uninstall"}, nil, "--force goes with install"},
	}
	saved := packagedFiles
	t.Cleanup(func() { packagedFiles = saved })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			packagedFiles = tt.packaged
			var stdout, stderr bytes.Buffer
			if code := run(tt.args, &stdout, &stderr); code != 1 {
				t.Errorf("run %q: exit %d, want 1; stdout %q stderr %q", tt.args, code, stdout.String(), stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("run %q: stderr %q, want it to contain %q", tt.args, stderr.String(), tt.want)
			}
		})
	}

	if err := packagedService([]string{lib, filepath.Join(dir, "usr/lib/x")}); err != nil {
		t.Errorf("no packaged files: %v, want nil (install goes ahead)", err)
	}
}
