// Package daemon runs tentacle_serverd: it reads the service's
// configuration from the env file and the environment (Load), and sequences
// the life of the server it runs (Start, then Run until a stop), reloading
// on SIGHUP, rotating the transfer log on SIGUSR1 and telling systemd how
// it is doing. The env file's syntax (envfile), the transfer records
// (transferlog) and the serving of sockets across reloads (handover) are
// packages of their own; this one only puts them in order.
//
// Administrators start Tentacle as a service, and expect of it what they
// expect of any packaged daemon: a reload that never drops a connection, a
// stop that lets agents finish, records they can grep, and a start that
// fails loudly, naming the line at fault, when the configuration is wrong.
package daemon
