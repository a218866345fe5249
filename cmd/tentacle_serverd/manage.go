package main

import (
	"errors"
	"fmt"
	"io"

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
func manage(command string, stdout, stderr io.Writer) int {
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
