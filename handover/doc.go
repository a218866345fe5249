// Package handover lets a reload put a server with new settings behind the
// listening sockets without closing them.
//
// Closing and reopening the sockets would refuse the connections that
// arrive in between, and cutting the transfers in flight would lose files.
// Here the sockets stay open, so the kernel keeps queueing connections,
// while the new server takes the next ones and the old one finishes its
// own under the settings they started with.
package handover
