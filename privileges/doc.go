// Package privileges lets a server started as root give root up for good
// once its sockets and log files are open. The Pandora data server reads what
// Tentacle stores, so a flaw in the network-facing process must never hand
// out root: it runs as an unprivileged user (by default "pandora") whose
// files the Pandora server can read through the group.
package privileges
