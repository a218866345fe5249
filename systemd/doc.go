// Package systemd has no code: it holds tentacle_serverd's systemd units
// (tentacle_serverd.service, tentacle_serverd.socket) and the tests of every
// file the packages install around the daemon: the units, the init script
// (../init.d), the env file and the server configuration file (../etc) and
// the manual pages (../man).
//
// The tests check the units with systemd-analyze verify, the init script
// with shellcheck and by starting, reloading and stopping a real daemon
// through it, the files by loading them with the daemon's own parsers, and
// the manual pages with groff. A missing tool skips its test, saying which
// Debian package provides it.
package systemd
