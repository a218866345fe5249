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
		{"--force without a command", []string{"--force"}, nil, "--force goes with install or uninstall"},
		{"--force with status", []string{"status", "--force"}, nil, "--force goes with install or uninstall"},
		{"--force before stop", []string{"--force", "stop"}, nil, "--force goes with install or uninstall"},
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

// TestUninstallGuard checks that uninstall leaves the package's service
// alone: its units, and the init script when it is the package's (the one
// kardianos/service writes goes to the same path and may be removed).
// Every refused case stops before kardianos/service.
func TestUninstallGuard(t *testing.T) {
	dir := t.TempDir()
	lib := filepath.Join(dir, "lib/systemd/system/tentacle_serverd.service")
	usrLib := filepath.Join(dir, "usr/lib/systemd/system/tentacle_serverd.service")
	packagedInit := filepath.Join(dir, "packaged-init")
	kardianosInit := filepath.Join(dir, "kardianos-init")
	script, err := os.ReadFile("../../init.d/tentacle_serverd")
	if err != nil {
		t.Fatal(err)
	}
	for path, data := range map[string][]byte{
		lib: nil, usrLib: nil, packagedInit: script,
		kardianosInit: []byte("#!/bin/sh\n### BEGIN INIT INFO\n# Provides: tentacle_serverd\n"),
	} {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name  string
		units []string
		init  string
		want  string // in the error; "" for none
	}{
		{"unit in /lib", []string{lib, usrLib}, missing, lib + " belongs to the package"},
		{"unit in /usr/lib", []string{missing, usrLib}, missing, usrLib + " belongs to the package"},
		{"packaged init script", []string{missing}, packagedInit, packagedInit + " is the package's init script"},
		{"init script of an earlier install", []string{missing}, kardianosInit, ""},
		{"nothing installed", []string{missing}, missing, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := packageOwned(tt.units, tt.init)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("packageOwned: %v, want nil (uninstall goes ahead)", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("packageOwned: %v, want an error containing %q", err, tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), "--force"):
				t.Errorf("packageOwned: %v does not name --force", err)
			}
		})
	}

	// Through the command line: refused with exit 1, before kardianos.
	saved := packageUnits
	t.Cleanup(func() { packageUnits = saved })
	packageUnits = []string{lib}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"uninstall"}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "belongs to the package") {
		t.Errorf("uninstall over a packaged unit: exit %d, stderr %q; want 1 and the reason", code, stderr.String())
	}
}
