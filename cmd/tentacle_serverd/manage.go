package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"

	"github.com/kardianos/service"
)

// serviceName is the name the service is registered under.
const serviceName = "tentacle_serverd"

// noop satisfies service.Interface for the management commands, which
// never run the daemon themselves.
type noop struct{}

func (noop) Start(service.Service) error { return nil }
func (noop) Stop(service.Service) error  { return nil }

// manage registers, unregisters, starts, stops or queries the service
// through kardianos/service, for hosts without the packaged units: it writes
// a systemd unit, an init script or a Windows service, whichever the host
// uses. status follows LSB: 0 running, 3 stopped, 4 unknown.
func manage(command string, force bool, stdout, stderr io.Writer) int {
	if force && command != "install" && command != "uninstall" {
		return fail(stderr, "--force goes with install or uninstall")
	}
	if command == "install" && !force {
		if err := packagedService(packagedFiles); err != nil {
			return fail(stderr, "install: %v", err)
		}
	}
	if command == "uninstall" && !force {
		if err := packageOwned(packageUnits, initScript); err != nil {
			return fail(stderr, "uninstall: %v", err)
		}
	}
	s, err := service.New(noop{}, &service.Config{
		Name:        serviceName,
		DisplayName: "Tentacle server",
		Description: "Receives Pandora FMS agent files over the Tentacle protocol",
	})
	if err != nil {
		return fail(stderr, "%s: %v", command, err)
	}
	switch command {
	case "status":
		st, err := s.Status()
		switch {
		case errors.Is(err, service.ErrNotInstalled):
			fmt.Fprintln(stdout, "tentacle_serverd is not installed")
			return 3
		case err != nil:
			// kardianos reads the output of the scripts it writes itself;
			// the packaged init script answers in LSB exit codes instead.
			if code, ok := initScriptStatus(stdout, stderr); ok {
				return code
			}
			fail(stderr, "status: %v", err)
			return 4
		case st == service.StatusRunning:
			fmt.Fprintln(stdout, "tentacle_serverd is running")
			return 0
		default:
			fmt.Fprintln(stdout, "tentacle_serverd is stopped")
			return 3
		}
	case "install", "uninstall", "start", "stop", "restart":
		if err := service.Control(s, command); err != nil {
			return fail(stderr, "%s: %v", command, err)
		}
		fmt.Fprintf(stdout, "tentacle_serverd: %s done\n", command)
		return 0
	}
	return fail(stderr, "unknown command %q: use install, uninstall, start, stop, restart or status", command)
}

// initScript is where the package installs its init script.
const initScript = "/etc/init.d/tentacle_serverd"

// packagedFiles are where the .deb and .rpm (or an administrator) put the
// units and the init script. install refuses when one exists: kardianos
// would write a second, bare unit or init script beside it, without the
// packaged one's sandbox, user or env file, and whichever the service
// manager picked would run. A variable so that the tests can point it at
// files of their own.
var packagedFiles = []string{
	"/lib/systemd/system/tentacle_serverd.service",
	"/usr/lib/systemd/system/tentacle_serverd.service",
	"/etc/systemd/system/tentacle_serverd.service",
	initScript,
}

// packagedService returns an error naming the first of paths that exists:
// the service is installed already, and systemctl or service manage it.
func packagedService(paths []string) error {
	p, err := firstInstalled(paths)
	switch {
	case err != nil:
		return fmt.Errorf("checking for an installed service: %w", err)
	case p != "":
		return fmt.Errorf("%s exists: the service is installed already (by the package, or by an earlier install); "+
			"manage it with systemctl or service, or give --force to register tentacle_serverd anyway", p)
	}
	return nil
}

// firstInstalled returns the first of paths that exists, even as a dangling
// symbolic link (a unit masked or linked elsewhere is still installed), or
// "" when none does. main.go's firstExisting follows links instead: a
// dangling env file is no file to read.
func firstInstalled(paths []string) (string, error) {
	for _, p := range paths {
		if _, err := os.Lstat(p); err == nil {
			return p, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
	}
	return "", nil
}

// packageUnits are where the .deb and .rpm put the systemd units; an
// install by kardianos/service writes to /etc/systemd/system instead. A
// variable so that the tests can point it at files of their own.
var packageUnits = []string{
	"/lib/systemd/system/tentacle_serverd.service",
	"/usr/lib/systemd/system/tentacle_serverd.service",
}

// packagedInitMarker is a line of the packaged init script that the
// script kardianos/service writes does not have: both go to the same path.
const packagedInitMarker = "TENTACLE_SERVERD_BIN"

// packageOwned returns an error naming the first of units that exists, or
// the init script when it is the packaged one. uninstall must leave those
// alone: kardianos would disable the packaged service and then fail to
// remove a unit it never wrote, or delete the package's init script, and
// the package manager would no longer find the files it owns.
func packageOwned(units []string, initPath string) error {
	advice := "remove the package (apt-get remove tentacle, or rpm -e tentacle) to uninstall it, " +
		"or stop and disable it with systemctl or update-rc.d/chkconfig; --force unregisters it anyway"
	switch p, err := firstInstalled(units); {
	case err != nil:
		return fmt.Errorf("checking for the packaged service: %w", err)
	case p != "":
		return fmt.Errorf("%s belongs to the package: %s", p, advice)
	}
	script, err := os.ReadFile(initPath)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("checking for the packaged init script: %w", err)
	case bytes.Contains(script, []byte(packagedInitMarker)):
		return fmt.Errorf("%s is the package's init script: %s", initPath, advice)
	}
	return nil
}

// initScriptStatus asks the packaged init script, when there is one, and
// passes its LSB status on; without one the service is not installed (3).
func initScriptStatus(stdout, stderr io.Writer) (int, bool) {
	if _, err := os.Stat(initScript); err != nil {
		fmt.Fprintln(stdout, "tentacle_serverd is not installed")
		return 3, true
	}
	cmd := exec.Command(initScript, "status")
	cmd.Stdout, cmd.Stderr = stdout, stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, true
	case errors.As(err, &exit):
		return exit.ExitCode(), true
	}
	return 0, false
}
