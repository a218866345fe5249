package main

import (
	"bufio"
	"os"
	"strings"

	"tentacle/internal/detach"
)

// isDetachedChild reports whether this process is the background copy
// started by -d.
func isDetachedChild() bool { return detach.IsChild(os.Getenv) }

// runDetached starts the background copy and returns the status for the
// command that asked for -d: 0 once the copy serves.
func runDetached(args []string, keyPassword string) int {
	stdin := ""
	if keyPassword != "" {
		stdin = keyPassword + "\n"
	}
	if _, err := detach.Start(args, stdin); err != nil {
		return fatal("-d: %v", err)
	}
	return 0
}

// passwordFromParent reads the key password that the parent passed on.
func passwordFromParent() string {
	line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
	return strings.TrimSuffix(line, "\n")
}

func reportReady()              { detach.Ready() }
func reportToParent(msg string) { detach.Fail(msg) }
