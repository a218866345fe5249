// Package systemtest proves the packages on real init systems: it boots a
// minimal Debian 12 with systemd, or with SysV init, in a systemd-nspawn
// container, installs the freshly built .deb (and runs the .rpm's
// scriptlets), and drives the service the way an administrator does:
// systemctl and service, reloads, socket activation, restarts and upgrades
// under load, the watchdog, removal and purge.
//
// Unit tests cannot show these: a capability missing from the unit's
// bounding set, a maintainer script that forgets the socket unit, or an
// upgrade that drops a connection only appear under a real PID 1.
//
// The tests carry the build tag "system" and run with `make test-system`
// (root; CI runs it). They build the Debian trees once with debootstrap,
// from the mirror apt uses, and keep them under /var/cache/tentacle-test;
// each test boots a copy. The containers have a private network: the tests
// reach the daemon by dialling from inside the container's network
// namespace.
package systemtest
