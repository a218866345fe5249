// Command tentacle_serverd is the Tentacle server as a system service, the
// way administrators start it: `service tentacle_serverd start` or
// `systemctl enable --now tentacle_serverd`. It runs the same server as
// tentacle_server, configured from /etc/default/tentacle_serverd (Debian)
// or /etc/sysconfig/tentacle_serverd (RPM) and the environment, and adds
// what a packaged daemon owes its administrator: it never serves as root,
// takes sockets from systemd, reloads on SIGHUP without dropping a
// connection, finishes transfers on SIGTERM, and records every transfer as
// a JSON line.
//
// Usage:
//
//	tentacle_serverd [--env-file PATH] [-d --pidfile PATH]
//	tentacle_serverd install [--force] | uninstall [--force] | start | stop | restart | status
//	tentacle_serverd --version | --help
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"

	"tentacle/daemon"
	"tentacle/internal/detach"
	"tentacle/protocol"
	"tentacle/setup"
)

// version is set at build time from git.
var version = "dev"

// The env files the daemon reads when --env-file is not given: the first
// that exists.
var defaultEnvFiles = []string{"/etc/default/tentacle_serverd", "/etc/sysconfig/tentacle_serverd"}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// usage is the --help text.
const usage = `Usage: tentacle_serverd [options] [command]

Runs the Tentacle server as a system service, configured from
/etc/default/tentacle_serverd or /etc/sysconfig/tentacle_serverd (or
--env-file) and the environment, which wins over the file.

Commands (without one, the daemon runs in the foreground):
  install     register the service with the system's service manager; refused
              when a packaged unit or init script exists, unless --force
  uninstall   remove that registration; refused when the service is the
              package's, unless --force
  start, stop, restart, status
              ask the service manager (status exits 0 when running, 3 when not)

Options:
  --env-file PATH   read the configuration from PATH
  -d                run in the background; returns once serving (init scripts)
  --pidfile PATH    with -d: write the daemon's process ID to PATH
  --force           with install or uninstall: even over a packaged service
  --version         print the version
  --help            print this help

Signals: SIGHUP reloads the configuration, SIGUSR1 reopens the message
logs (after logrotate) and starts a new transfer log file, SIGTERM and
SIGINT stop after the transfers in flight (TENTACLE_SHUTDOWN_TIMEOUT
seconds at most).
`

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tentacle_serverd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	envFile := fs.String("env-file", "", "configuration file")
	background := fs.Bool("d", false, "run in the background")
	pidFile := fs.String("pidfile", "", "process ID file, with -d")
	showVersion := fs.Bool("version", false, "print the version")
	force := fs.Bool("force", false, "install or uninstall even over a packaged service")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 1
	}
	// "install --force" reads as naturally as "--force install", but the
	// flag package stops at the command.
	rest := fs.Args()
	if i := slices.Index(rest, "--force"); i > 0 {
		*force, rest = true, slices.Delete(slices.Clone(rest), i, i+1)
	}
	if *showVersion {
		fmt.Fprintf(stdout, "tentacle_serverd %s\n", version)
		return 0
	}
	if len(rest) > 1 {
		return fail(stderr, "one command at most, got %q", rest)
	}
	if len(rest) == 1 {
		return manage(rest[0], *force, stdout, stderr)
	}
	if *force {
		return fail(stderr, "--force goes with install or uninstall")
	}
	if *pidFile != "" && !*background && !detach.IsChild(os.Getenv) {
		return fail(stderr, "--pidfile goes with -d")
	}

	path, required := *envFile, *envFile != ""
	if !required {
		path = firstExisting(defaultEnvFiles)
	}
	if *background && !detach.IsChild(os.Getenv) {
		pid, err := detach.Start(args, "")
		if err != nil {
			return fail(stderr, "%v", err)
		}
		if *pidFile != "" {
			if err := os.WriteFile(*pidFile, fmt.Appendf(nil, "%d\n", pid), 0o644); err != nil {
				return fail(stderr, "--pidfile %s: %v", *pidFile, err)
			}
		}
		return 0
	}

	// Catch the signals before anything is bound: a stop asked for while
	// the daemon starts is then honoured once it serves, not by dying.
	reload, rotate, stop := notifySignals()
	setup.RaiseProcs(os.Getenv("GOMAXPROCS"))
	d, err := daemon.Start(daemon.Options{
		EnvFile: path, Required: required, Environ: os.Environ(), Stdout: stdout, Stderr: stderr, Version: version,
		// Its standard streams lead to /dev/null: the daemon logs to a file.
		Detached: detach.IsChild(os.Getenv),
	})
	if err != nil {
		detach.Fail(err.Error())
		return fail(os.Stderr, "%v", err)
	}
	detach.Ready()
	if err := d.Run(reload, rotate, stop); err != nil {
		return 1
	}
	return 0
}

// fail prints an [err] line the way the server does and returns status 1.
func fail(w io.Writer, format string, args ...any) int {
	(&protocol.TextLogger{Out: w}).Log(protocol.LevelError, fmt.Sprintf(format, args...))
	return 1
}

func firstExisting(paths []string) string {
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}
