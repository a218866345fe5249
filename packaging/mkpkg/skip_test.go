package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// needTool returns the path of tool, or skips the test naming the Debian
// package that has it. It is tentacle's testharness.NeedTool, which this
// module cannot import (it is internal to the main module): with
// TENTACLE_SKIP_LOG naming a file, the skip is appended to it, one line,
// for .ci/run to fail on, since CI installs every tool.
func needTool(t *testing.T, tool, debPackage string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err == nil {
		return path
	}
	reason := tool + " is not installed: install the Debian package " + debPackage
	if log := os.Getenv("TENTACLE_SKIP_LOG"); log != "" {
		line := "./packaging/mkpkg " + t.Name() + ": " + strings.Join(strings.Fields(reason), " ") + "\n"
		f, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err == nil {
			_, err = f.WriteString(line)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			t.Errorf("TENTACLE_SKIP_LOG: %v", err)
		}
	}
	t.Skip(reason)
	return ""
}
