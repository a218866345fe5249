package main

import (
	"errors"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// fallbackVersion is the package version outside a git checkout (a source
// tarball, say).
const fallbackVersion = "0.1.0"

// untaggedBase is the version that the snapshots built before the first
// release tag come before: 0.1.0~git… sorts below 0.1.0 for both dpkg and
// rpm, so the first release upgrades them.
const untaggedBase = "0.1.0"

// validVersion is what both dpkg and rpm accept as an upstream version
// without a revision: it starts with a digit and has no hyphen (which
// would start the Debian revision, and which rpm refuses).
var validVersion = regexp.MustCompile(`^[0-9][A-Za-z0-9.+~]*$`)

// gitState is what the package version is made of.
type gitState struct {
	Tag    string    // the nearest release tag (v1.2.3 or 1.2.3), "" if none
	Ahead  int       // commits since Tag
	Commit string    // abbreviated commit hash
	Date   time.Time // commit date
	Dirty  bool      // tracked files differ from the commit
}

// packageVersion turns the git state into a dpkg and rpm version:
//
//	tag v1.2.3 on the commit          1.2.3
//	tag v1.3.0-rc1 on the commit      1.3.0~rc1     (before 1.3.0)
//	3 commits after tag v1.2.3        1.2.3+git20250102.abc1234
//	no tag                            0.1.0~git20250102.abc1234
//	uncommitted changes               ….dirty appended
//
// Every form starts with a digit, sorts after the ones built from older
// commits (by commit date) and contains only characters dpkg and rpm
// accept in a version.
func packageVersion(g gitState) string {
	date := g.Date.UTC().Format("20060102")
	base, ok := tagVersion(g.Tag)
	var v string
	switch {
	case !ok:
		v = untaggedBase + "~git" + date + "." + g.Commit
	case g.Ahead == 0 && !g.Dirty:
		return base
	case g.Ahead == 0:
		v = base + "+git" + date
	default:
		v = base + "+git" + date + "." + g.Commit
	}
	if g.Dirty {
		v += ".dirty"
	}
	return v
}

// tagVersion is the version a release tag names: the leading v dropped, a
// hyphen (v1.3.0-rc1) made a tilde so that a pre-release sorts before the
// release. It reports false for a tag that makes no valid version.
func tagVersion(tag string) (string, bool) {
	v := strings.TrimPrefix(tag, "v")
	v = strings.ReplaceAll(v, "-", "~")
	return v, v != "" && validVersion.MatchString(v)
}

// checkVersion validates a version given on the command line (a leading v
// is dropped).
func checkVersion(v string) (string, error) {
	v = strings.TrimPrefix(v, "v")
	if !validVersion.MatchString(v) {
		return "", errors.New("the package version must start with a digit and contain only letters, digits, '.', '+' and '~'")
	}
	return v, nil
}

// readGit returns the state of the git checkout in dir; ok is false when
// dir is not in a git checkout (or git is missing).
func readGit(dir string) (g gitState, ok bool) {
	out := func(args ...string) (string, error) {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "TZ=UTC", "LC_ALL=C")
		b, err := cmd.Output()
		return strings.TrimSpace(string(b)), err
	}
	var err error
	if g.Commit, err = out("rev-parse", "--short=7", "HEAD"); err != nil || g.Commit == "" {
		return gitState{}, false
	}
	ct, err := out("log", "-1", "--format=%ct", "HEAD")
	if err != nil {
		return gitState{}, false
	}
	sec, err := strconv.ParseInt(ct, 10, 64)
	if err != nil {
		return gitState{}, false
	}
	g.Date = time.Unix(sec, 0).UTC()
	if tag, err := out("describe", "--tags", "--abbrev=0", "--match", "v[0-9]*", "--match", "[0-9]*", "HEAD"); err == nil && tag != "" {
		if n, err := out("rev-list", "--count", tag+"..HEAD"); err == nil {
			g.Tag = tag
			g.Ahead, _ = strconv.Atoi(n)
		}
	}
	if st, err := out("status", "--porcelain", "--untracked-files=no"); err == nil && st != "" {
		g.Dirty = true
	}
	return g, true
}
