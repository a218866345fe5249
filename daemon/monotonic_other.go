//go:build !linux

package daemon

// monotonicMicros is 0 where systemd does not run.
func monotonicMicros() int64 { return 0 }
