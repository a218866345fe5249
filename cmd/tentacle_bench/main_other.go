//go:build !linux

package main

import (
	"fmt"
	"os"
)

// The bench reads /proc and uses Linux system calls: elsewhere it only says
// so, which keeps `go vet ./...` and `go build ./...` working on every
// platform the project builds for.
func main() {
	fmt.Fprintln(os.Stderr, "tentacle_bench: runs on Linux only")
	os.Exit(1)
}
