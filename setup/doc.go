// Package setup turns tentacle_server's parsed options into a running
// protocol.Server: log destination, TLS, filters, access rules, listeners
// and storage. It is shared by tentacle_server and the tentacle_serverd
// daemon, so that both read options the same way; the steps are separate
// methods because a process started as root must bind its sockets and read
// its keys before it gives root up, and open its storage after.
package setup
