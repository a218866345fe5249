package setup

import "tentacle/options"

// Each connection holds up to fdsPerConnection file descriptors at once:
// its socket, the upload's file, the filter subdirectory it goes to, and a
// compressed upload's archive. reservedFDs are kept for what is not a
// connection: listeners, logs, the storage directory, the runtime's own.
const (
	fdsPerConnection = 4
	reservedFDs      = 32
)

// MaxConnections is the bound on connections served at once that a server
// uses for the -c value given (0: not given). An explicit value is kept as
// it is (accept then waits out EMFILE if the limit is lower). The default,
// options.DefaultMaxConnections, is lowered to what the open-file limit
// (RLIMIT_NOFILE, which Go raises to its hard limit at start) holds, so
// that connections past it wait in the listen backlog instead of failing
// on their first file.
func MaxConnections(given int) int {
	if given > 0 {
		return given
	}
	return connectionsFor(openFileLimit())
}

// connectionsFor is the default bound for an open-file limit of limit; a
// limit of 0 means unknown.
func connectionsFor(limit uint64) int {
	if limit == 0 || limit > 1<<30 { // unknown, or unlimited
		return options.DefaultMaxConnections
	}
	fit := (int64(limit) - reservedFDs) / fdsPerConnection
	return int(max(1, min(fit, options.DefaultMaxConnections)))
}
