// Package protocol speaks Tentacle, the file transfer protocol that Pandora FMS
// agents and satellite servers use to push data files to a Pandora server.
//
// It holds both ends of the wire: a Server, shaped like net/http.Server
// (configuration in exported fields, Serve, Shutdown, Close), with one
// connection type that has one handler per command and files kept behind the
// small Storage interface; and a Client with one method per protocol verb.
//
// The wire format is the one of the Pandora FMS Perl reference (server 0.6,
// client 0.4), so that agents need no change. Beyond the reference, the server
// streams every transfer instead of holding files in memory, and its
// DirStorage makes each file visible under its final name only once it is
// complete and durable on disk, which the Pandora data server relies on: it
// picks up every *.data file it sees.
package protocol
