//go:build unix

package privileges

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"tentacle/internal/testharness"
)

// The test re-runs its own binary as a child that drops privileges, so that
// the test process itself stays root for the other tests.
const childEnv = "PRIVILEGES_TEST_DROP_TO"

func TestMain(m *testing.M) {
	if name := os.Getenv(childEnv); name != "" {
		id, err := Lookup(name)
		if err == nil {
			err = Drop(id)
		}
		if err != nil {
			os.Stderr.WriteString(err.Error())
			os.Exit(3)
		}
		status, _ := os.ReadFile("/proc/self/status")
		os.Stdout.Write(status)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestDropToNobody(t *testing.T) {
	testharness.NeedRoot(t, "drops privileges")
	nobody, err := Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody here: %v", err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=nobody")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v: %s", err, out)
	}
	want := strconv.Itoa(nobody.UID)
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) == 5 && f[0] == "Uid:" {
			for _, id := range f[1:] {
				if id != want {
					t.Fatalf("after the drop: %s, want every uid %s", line, want)
				}
			}
			return
		}
	}
	t.Fatal("no Uid line in /proc/self/status")
}

func TestLookupRefusesRootAndUnknown(t *testing.T) {
	if _, err := Lookup("root"); err == nil || !strings.Contains(err.Error(), "is root") {
		t.Errorf("Lookup(root) = %v", err)
	}
	if _, err := Lookup("no-such-user-here"); err == nil || !strings.Contains(err.Error(), `"no-such-user-here"`) {
		t.Errorf("Lookup(unknown) = %v", err)
	}
}

// TestLookupAsksTheNameService checks the way to users that os/user cannot
// see in a static build (LDAP, SSSD): a fake getent on PATH answers for a
// user that /etc/passwd lacks, and Lookup takes its IDs and groups.
func TestLookupAsksTheNameService(t *testing.T) {
	dir := t.TempDir()
	script := `#!/bin/sh
case "$1 $2" in
"passwd ldap-pandora") echo 'ldap-pandora:*:70001:70002:Pandora FMS:/var/spool/pandora:/usr/sbin/nologin' ;;
"initgroups ldap-pandora") echo 'ldap-pandora            70002 70003 70002' ;;
"passwd ldap-root") echo 'ldap-root:*:0:0::/root:/bin/sh' ;;
"passwd broken") echo 'broken:x:notanumber:1::/:/bin/sh' ;;
*) exit 2 ;;
esac
`
	if err := os.WriteFile(filepath.Join(dir, "getent"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))

	id, err := Lookup("ldap-pandora")
	if err != nil {
		t.Fatal(err)
	}
	if id.UID != 70001 || id.GID != 70002 || !slices.Equal(id.Groups, []int{70002, 70003}) {
		t.Errorf("Lookup through getent = %+v", id)
	}
	for name, want := range map[string]string{
		"ldap-root": "is root",
		"broken":    `uid "notanumber"`,
		"no-one":    "unknown user",
		"root":      "is root", // from /etc/passwd, getent not asked
		"nobody":    "",
		"":          "unknown user",
	} {
		_, err := Lookup(name)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("Lookup(%q) = %v, want an error with %q", name, err, want)
		}
	}
}
