//go:build unix

package privileges

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
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
	if !IsRoot() {
		t.Skip("dropping privileges needs root; run the tests as root (CI does)")
	}
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
