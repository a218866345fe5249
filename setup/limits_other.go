//go:build !unix

package setup

// openFileLimit is unknown where there is no RLIMIT_NOFILE.
func openFileLimit() uint64 { return 0 }
