package testharness

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// SkipLogEnv names the environment variable that, when it names a file,
// makes NeedRoot and NeedTool append a line to that file for every test
// they skip. CI runs as root with every tool installed: there, a skip
// means a test did not run although it should have, and .ci/run fails
// when the file is not empty. A skip printed by go test alone would pass
// unnoticed.
const SkipLogEnv = "TENTACLE_SKIP_LOG"

// NeedRoot skips the test unless it runs as root; why says what the test
// does that needs root ("switches users").
func NeedRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		skip(t, why+": needs root; run the tests as root (CI does)")
	}
}

// NeedTool returns the path of tool, or skips the test naming the Debian
// package that has it.
func NeedTool(t testing.TB, tool, debPackage string) string {
	t.Helper()
	path, err := exec.LookPath(tool)
	if err != nil {
		skip(t, fmt.Sprintf("%s is not installed: install the Debian package %s", tool, debPackage))
	}
	return path
}

// Unavailable skips a test because something its environment should
// provide is missing or broken (a container that cannot boot, say), and
// records it like NeedRoot and NeedTool, so that CI does not pass a test
// that proved nothing.
func Unavailable(t testing.TB, reason string) {
	t.Helper()
	skip(t, reason)
}

// skip records the skip in the file SkipLogEnv names, if any, then skips.
// A skip that cannot be recorded fails the test: CI would not see it.
func skip(t testing.TB, reason string) {
	t.Helper()
	if path := os.Getenv(SkipLogEnv); path != "" {
		if err := appendSkip(path, packageDir+" "+t.Name(), reason); err != nil {
			t.Errorf("%s: %v", SkipLogEnv, err)
		}
	}
	t.Skip(reason)
}

// appendSkip appends "<test>: <reason>" as one line. The test binaries of
// several packages run at once: O_APPEND and a single small write keep
// their lines whole.
func appendSkip(path, test, reason string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	line := test + ": " + strings.Join(strings.Fields(reason), " ") + "\n"
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// packageDir is the tested package's directory relative to its module,
// "./cmd/tentacle_serverd": go test runs a test binary in its package's
// directory, and test names alone repeat across packages. It is taken once,
// before any test could change directory.
var packageDir = findPackageDir()

func findPackageDir() string {
	wd, err := os.Getwd()
	if err != nil {
		return "?"
	}
	for dir := wd; ; {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			rel, err := filepath.Rel(dir, wd)
			if err != nil {
				return wd
			}
			if rel == "." {
				return "."
			}
			return "./" + filepath.ToSlash(rel)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return wd
		}
		dir = parent
	}
}
