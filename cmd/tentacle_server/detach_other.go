//go:build !unix

package main

// There is no session to detach into here; -d is refused, as by the
// reference. Use -S to run as a Windows service instead.

func isDetachedChild() bool { return false }

func detach(string) int {
	return fatal("-d: running in the background is not available on this system; use -S install")
}

func passwordFromParent() string { return "" }

func reportReady() {}

func reportToParent(string) {}
