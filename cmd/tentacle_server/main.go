// Command tentacle_server receives files from Pandora FMS agents and
// satellite servers over the Tentacle protocol. It takes the options and the
// -F configuration file of the Perl tentacle_server it replaces; run it with
// -h for the list.
//
// Started as root, it binds its sockets, reads its TLS key and opens its log,
// then drops to an unprivileged user (-U, default pandora) before it serves:
// where the reference refuses to run as root, this one never serves as root.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"tentacle/internal/passwordprompt"
	"tentacle/options"
	"tentacle/protocol"
	"tentacle/setup"
)

// version is set at build time from git.
var version = "dev"

// shutdownGrace is how long transfers in flight may take to finish once the
// server is told to stop.
const shutdownGrace = 30 * time.Second

func main() {
	os.Exit(run(os.Args[1:]))
}

// fatal prints an [err] line the way the reference does and returns the
// exit status 1; a detached child also tells its waiting parent.
func fatal(format string, args ...any) int {
	msg := fmt.Sprintf(format, args...)
	(&protocol.TextLogger{Out: os.Stderr}).Log(protocol.LevelError, msg)
	reportToParent(msg)
	return 1
}

func run(args []string) int {
	program := "tentacle_server"
	o, err := options.ParseServer(args)
	var usage *options.UsageError
	switch {
	case errors.As(err, &usage):
		fatal("%v", err)
		fmt.Fprint(os.Stderr, options.ServerUsage(program))
		return 1
	case err != nil:
		return fatal("%v", err)
	case o.Help:
		// The reference shows its help and exits 1, and scripts may rely on it.
		fmt.Fprintf(os.Stdout, "Tentacle server %s\n\n%s", version, options.ServerUsage(program))
		return 1
	}
	if !o.Quiet {
		for _, w := range o.Warnings {
			fmt.Fprintf(os.Stderr, "%s[warn]%s\n", time.Now().Format(time.DateTime), w)
		}
	}
	if o.Service != "" {
		return runService(o, args)
	}

	keyPassword := ""
	if o.SSLPasswordPrompt {
		if keyPassword, err = passwordprompt.Ask(os.Stdin, os.Stdout, "Enter private key file password: "); err != nil {
			return fatal("-w: %v", err)
		}
	}
	if o.Daemon && !isDetachedChild() {
		return runDetached(args, keyPassword)
	}
	if isDetachedChild() && o.SSLPasswordPrompt {
		keyPassword = passwordFromParent()
	}

	// Catch stop signals before binding: one that arrives while the server
	// starts then stops it cleanly once it serves.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	setup.RaiseProcs(os.Getenv("GOMAXPROCS"))
	in, err := setup.New(o, keyPassword, os.Stdout, os.Stderr)
	if err != nil {
		return fatal("%v", err)
	}
	defer in.Close()
	if err := in.Start(setup.Startup{}); err != nil {
		return fatal("%v", err)
	}

	served := make(chan error, 1)
	go func() { served <- in.Serve() }()
	in.Logger.Log(protocol.LevelLog, fmt.Sprintf("Tentacle server %s serving (pid %d)", version, os.Getpid()))
	reportReady()

	select {
	case err := <-served:
		if err != nil {
			return fatal("%v", err)
		}
		return 0
	case sig := <-stop:
		in.Logger.Log(protocol.LevelLog, fmt.Sprintf("Received %v", sig))
	}
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := in.Shutdown(ctx); err != nil {
		in.Logger.Log(protocol.LevelError, fmt.Sprintf("transfers still running after %v were cut: %v", shutdownGrace, err))
	}
	in.Close()
	<-served
	return 0
}
