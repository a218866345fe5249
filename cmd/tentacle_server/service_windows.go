//go:build windows

package main

import (
	"context"
	"fmt"
	"os"

	"github.com/kardianos/service"

	"tentacle/options"
	"tentacle/setup"
)

// serviceName is the Windows service name the reference registers, kept so
// that an existing installation is recognised.
const serviceName = "TENTACLESRV"

// windowsService runs the server under the Windows service manager.
type windowsService struct {
	opts *options.Server
	in   *setup.Instance
	done chan error
}

func (p *windowsService) Start(service.Service) error {
	in, err := setup.New(p.opts, "", os.Stdout, os.Stderr)
	if err != nil {
		return err
	}
	if err := in.Listen(); err != nil {
		in.Close()
		return err
	}
	if err := in.OpenStorage(); err != nil {
		in.Close()
		return err
	}
	p.in, p.done = in, make(chan error, 1)
	go func() { p.done <- in.Serve() }()
	return nil
}

func (p *windowsService) Stop(service.Service) error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	err := p.in.Shutdown(ctx)
	p.in.Close()
	<-p.done
	return err
}

// runService handles -S install|uninstall|run. install registers this
// program with the same options, -S run in place of -S install.
func runService(o *options.Server, args []string) int {
	var runArgs []string
	for i := 0; i < len(args); i++ {
		if args[i] == "-S" && i+1 < len(args) {
			i++
			continue
		}
		if len(args[i]) > 2 && args[i][:2] == "-S" {
			continue
		}
		runArgs = append(runArgs, args[i])
	}
	runArgs = append(runArgs, "-S", "run")
	cfg := &service.Config{
		Name:        serviceName,
		DisplayName: "Tentacle Server",
		Description: "Receives Pandora FMS agent files over the Tentacle protocol.",
		Arguments:   runArgs,
	}
	prg := &windowsService{opts: o}
	s, err := service.New(prg, cfg)
	if err != nil {
		return fatal("-S %s: %v", o.Service, err)
	}
	switch o.Service {
	case "install":
		err = s.Install()
	case "uninstall":
		err = s.Uninstall()
	default:
		err = s.Run()
	}
	if err != nil {
		return fatal("-S %s: %v", o.Service, err)
	}
	if o.Service != "run" {
		fmt.Printf("Service %s: %s done.\n", serviceName, o.Service)
	}
	return 0
}
