//go:build unix

package main

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

// Go cannot fork, so -d starts a copy of the program in a new session, with
// its standard streams on /dev/null, and waits on a pipe until the copy says
// it is serving, or why it is not. The environment variable tells the copy
// which descriptor that pipe is.
const detachEnv = "TENTACLE_SERVER_DETACHED_FD"

var parentPipe *os.File

func isDetachedChild() bool {
	if parentPipe != nil {
		return true
	}
	if os.Getenv(detachEnv) != "3" {
		return false
	}
	parentPipe = os.NewFile(3, "parent")
	os.Unsetenv(detachEnv)
	return true
}

// detach starts the detached copy and returns the exit status for the
// parent: 0 once the copy serves, 1 with its error otherwise.
func detach(keyPassword string) int {
	exe, err := os.Executable()
	if err != nil {
		return fatal("-d: %v", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return fatal("-d: %v", err)
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return fatal("-d: %v", err)
	}
	defer devnull.Close()
	cmd := exec.Command(exe, os.Args[1:]...)
	cmd.Env = append(os.Environ(), detachEnv+"=3")
	cmd.ExtraFiles = []*os.File{w}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	if keyPassword != "" {
		// The copy has no terminal to ask on: hand it the password on
		// its standard input, never on its command line or environment.
		cmd.Stdin = strings.NewReader(keyPassword + "\n")
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fatal("-d: start the background server: %v", err)
	}
	w.Close()
	answer, _ := io.ReadAll(bufio.NewReader(r))
	r.Close()
	if strings.TrimSpace(string(answer)) == "ready" {
		return 0
	}
	cmd.Wait()
	msg := strings.TrimSpace(string(answer))
	if msg == "" {
		msg = "the background server exited before it was ready"
	}
	return fatal("-d: %s", msg)
}

// passwordFromParent reads the key password that detach passed on.
func passwordFromParent() string {
	line, _ := bufio.NewReader(os.Stdin).ReadString('\n')
	return strings.TrimSuffix(line, "\n")
}

// reportReady tells a waiting parent that the server is serving.
func reportReady() {
	if parentPipe != nil {
		io.WriteString(parentPipe, "ready\n")
		parentPipe.Close()
		parentPipe = nil
	}
}

// reportToParent hands a start-up error to a waiting parent.
func reportToParent(msg string) {
	if parentPipe != nil {
		io.WriteString(parentPipe, msg+"\n")
		parentPipe.Close()
		parentPipe = nil
	}
}
