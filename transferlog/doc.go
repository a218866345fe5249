// Package transferlog writes tentacle_serverd's transfer records: one JSON
// object per line and transfer, in a file that rotates by size and on
// demand, with rotated files compressed and removed as configured.
//
// An administrator asks "did agent X's file arrive, where did it go, and if
// not, why" long after the human log has moved on; a line per transfer
// that grep and jq can read answers it.
package transferlog
