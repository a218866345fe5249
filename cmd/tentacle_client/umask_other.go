//go:build !unix

package main

// currentUmask is 0 where there is no umask.
func currentUmask() uint32 { return 0 }
