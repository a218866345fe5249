// Package daemon holds what only the system service tentacle_serverd needs
// on top of the server that tentacle_server runs: its configuration from
// /etc/default or /etc/sysconfig and the environment, the transfer records,
// the hand-over from one server configuration to the next on a reload
// without closing the listening sockets, and the conversation with systemd.
//
// Administrators start Tentacle as a service, and expect of it what they
// expect of any packaged daemon: a reload that never drops a connection, a
// stop that lets agents finish, records they can grep, and a start that
// fails loudly, naming the line at fault, when the configuration is wrong.
package daemon
