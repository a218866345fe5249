// Package options turns the command lines of tentacle_server and
// tentacle_client (and the server's -F configuration file) into plain
// structs, with the option letters, defaults, configuration keys and
// precedence of the Pandora FMS Perl reference programs, so that existing
// init scripts, agent configurations and tentacle_server.conf files keep
// working unchanged.
//
// The package only parses and validates. It never exits, prints, prompts,
// reads the environment or opens sockets: the commands decide what to do with
// the result, which keeps every rule testable in isolation. The one side
// effect is looking at the file system: the server's -F file is read, and
// the storage directory and TLS files named by options are checked to exist
// (not to be readable or writable: the server drops root privileges first,
// and only then do those permissions mean anything).
//
// Command lines follow Perl's Getopt::Std getopts, which the reference uses:
// single-letter options that may be bundled (-vI), a value attached (-p41121)
// or in the next argument (-p 41121) even when that argument starts with "-"
// (so -x -c sets the password "-c"), and parsing that stops at "--" or at the
// first argument that is not an option.
//
// Errors come in three kinds, so that a command can reproduce the reference's
// behaviour: *UsageError (print the usage text and exit 1), *ValueError (an
// option or configuration value is rejected: print the message and exit 1)
// and, for the client only, ErrNoFiles. A request for help is not an error:
// it is reported in the Help field.
package options
