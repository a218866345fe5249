package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

var day = time.Date(2025, 1, 2, 23, 30, 0, 0, time.UTC)

func TestPackageVersion(t *testing.T) {
	for _, c := range []struct {
		g    gitState
		want string
	}{
		{gitState{Tag: "v1.2.3", Commit: "abc1234", Date: day}, "1.2.3"},
		{gitState{Tag: "1.2.3", Commit: "abc1234", Date: day}, "1.2.3"},
		{gitState{Tag: "v1.3.0-rc1", Commit: "abc1234", Date: day}, "1.3.0~rc1"},
		{gitState{Tag: "v1.2.3", Ahead: 3, Commit: "abc1234", Date: day}, "1.2.3+git20250102.abc1234"},
		{gitState{Tag: "v1.2.3", Commit: "abc1234", Date: day, Dirty: true}, "1.2.3+git20250102.dirty"},
		{gitState{Commit: "abc1234", Date: day}, "0.1.0~git20250102.abc1234"},
		{gitState{Commit: "abc1234", Date: day, Dirty: true}, "0.1.0~git20250102.abc1234.dirty"},
		// A tag that makes no version is ignored.
		{gitState{Tag: "vnext", Ahead: 2, Commit: "abc1234", Date: day}, "0.1.0~git20250102.abc1234"},
	} {
		got := packageVersion(c.g)
		if got != c.want {
			t.Errorf("packageVersion(%+v) = %q, want %q", c.g, got, c.want)
		}
		if !validVersion.MatchString(got) {
			t.Errorf("packageVersion(%+v) = %q: not a valid version", c.g, got)
		}
	}
}

// The versions sort as releases and snapshots should, for dpkg.
func TestPackageVersionOrder(t *testing.T) {
	needTool(t, "dpkg", "dpkg")
	ordered := []string{
		packageVersion(gitState{Commit: "fff0000", Date: day}),
		packageVersion(gitState{Commit: "0000fff", Date: day.AddDate(0, 0, 1)}),
		"0.1.0",
		packageVersion(gitState{Tag: "v1.0.0-rc1", Commit: "abc1234", Date: day}),
		packageVersion(gitState{Tag: "v1.0.0-rc1", Ahead: 1, Commit: "abc1234", Date: day}),
		packageVersion(gitState{Tag: "v1.0.0", Commit: "abc1234", Date: day}),
		packageVersion(gitState{Tag: "v1.0.0", Ahead: 1, Commit: "abc1234", Date: day}),
		packageVersion(gitState{Tag: "v1.0.1", Commit: "abc1234", Date: day}),
	}
	for i := 1; i < len(ordered); i++ {
		if err := exec.Command("dpkg", "--compare-versions", ordered[i-1], "lt", ordered[i]).Run(); err != nil {
			t.Errorf("dpkg: %s is not before %s", ordered[i-1], ordered[i])
		}
	}
}

func TestCheckVersion(t *testing.T) {
	for in, want := range map[string]string{"1.2.3": "1.2.3", "v2.0": "2.0", "1.0~rc1": "1.0~rc1"} {
		if got, err := checkVersion(in); err != nil || got != want {
			t.Errorf("checkVersion(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "v", "dev", "1.0-1", "1.0 beta", "1.0/2"} {
		if _, err := checkVersion(in); err == nil {
			t.Errorf("checkVersion(%q) accepted it", in)
		}
	}
}

func TestReadGit(t *testing.T) {
	needTool(t, "git", "git")
	dir := t.TempDir()
	if _, ok := readGit(dir); ok {
		t.Fatal("readGit: an empty directory is a git checkout?")
	}
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(),
			"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com",
			"GIT_AUTHOR_DATE=2025-01-02T23:30:00Z", "GIT_COMMITTER_DATE=2025-01-02T23:30:00Z",
			"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(dir+"/f", []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	git("init", "-q")
	write("1")
	git("add", "f")
	git("commit", "-q", "-m", "one")
	check := func(wantPrefix, wantSuffix string) {
		t.Helper()
		g, ok := readGit(dir)
		if !ok {
			t.Fatal("readGit: not a checkout?")
		}
		v := packageVersion(g)
		if !strings.HasPrefix(v, wantPrefix) || !strings.HasSuffix(v, wantSuffix) || len(g.Commit) != 7 {
			t.Errorf("version %q (from %+v), want %q…%q", v, g, wantPrefix, wantSuffix)
		}
	}
	check("0.1.0~git20250102.", "")
	write("2")
	check("0.1.0~git20250102.", ".dirty")
	git("commit", "-q", "-am", "two")
	git("tag", "v1.2.3")
	check("1.2.3", "1.2.3")
	write("3")
	git("commit", "-q", "-am", "three")
	check("1.2.3+git20250102.", "")
}
