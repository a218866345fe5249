//go:build unix

package main

import "syscall"

// currentUmask reads the process umask (the only way is to set it and put
// it back) so that fetched files get the mode a plain create would give.
func currentUmask() uint32 {
	m := syscall.Umask(0)
	syscall.Umask(m)
	return uint32(m)
}
