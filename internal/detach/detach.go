// Package detach runs a server in the background the way init scripts
// expect of -d: the command returns only once the background copy serves,
// with status 0, or with the copy's own error and status 1. Go cannot fork,
// so the program starts a copy of itself in a new session, its standard
// streams on /dev/null, and waits on a pipe for a word from it.
package detach

import (
	"errors"
	"io"
	"os"
	"strings"
)

// envName tells the copy which descriptor the pipe to its parent is.
const envName = "TENTACLE_DETACHED_FD"

// ErrUnsupported is returned by Start where there are no sessions to
// detach into.
var ErrUnsupported = errors.New("running in the background is not supported on this system")

var parent *os.File

// IsChild reports whether this process is the background copy. Call it
// once, early: it takes the pipe and clears the variable, so that programs
// the copy starts do not inherit it.
func IsChild(environ func(string) string) bool {
	if parent != nil {
		return true
	}
	if environ(envName) != "3" {
		return false
	}
	parent = os.NewFile(3, "detach-parent")
	os.Unsetenv(envName)
	return true
}

// Ready tells the waiting parent that the server serves.
func Ready() { tell("ready") }

// Fail hands a start-up error to the waiting parent.
func Fail(msg string) { tell(msg) }

func tell(msg string) {
	if parent == nil {
		return
	}
	io.WriteString(parent, msg+"\n")
	parent.Close()
	parent = nil
}

// result interprets what the child said.
func result(answer []byte) error {
	msg := strings.TrimSpace(string(answer))
	switch msg {
	case "ready":
		return nil
	case "":
		return errors.New("the background server exited before it was ready")
	}
	return errors.New(msg)
}
