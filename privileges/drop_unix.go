//go:build unix

package privileges

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// IsRoot reports whether the process runs with root's effective user ID.
func IsRoot() bool { return os.Geteuid() == 0 }

// Identity is a user to run as: its IDs, looked up once before dropping,
// since the user database may not be readable afterwards.
type Identity struct {
	Name   string
	UID    int
	GID    int
	Groups []int // supplementary groups, the primary one included
}

// Lookup finds name in the user database. The programs are built without
// cgo, so os/user reads only /etc/passwd and /etc/group; a user it does not
// find there (one from LDAP or SSSD) is asked of the system's name service
// through getent(1), which sees every source nsswitch.conf names.
func Lookup(name string) (*Identity, error) {
	id, err := lookupFiles(name)
	var unknown user.UnknownUserError
	if errors.As(err, &unknown) {
		if nss, nerr := lookupGetent(name); nerr == nil {
			id, err = nss, nil
		} else if !errors.Is(nerr, errNotFound) {
			err = fmt.Errorf("%w (nor through getent: %v)", err, nerr)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("user %q: %w", name, err)
	}
	if id.UID == 0 {
		return nil, fmt.Errorf("user %q is root: choose an unprivileged user", name)
	}
	return id, nil
}

// lookupFiles finds name in /etc/passwd and its groups in /etc/group.
func lookupFiles(name string) (*Identity, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, err
	}
	id := &Identity{Name: name}
	if id.UID, err = strconv.Atoi(u.Uid); err != nil {
		return nil, fmt.Errorf("uid %q: %w", u.Uid, err)
	}
	if id.GID, err = strconv.Atoi(u.Gid); err != nil {
		return nil, fmt.Errorf("gid %q: %w", u.Gid, err)
	}
	gids, err := u.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("groups: %w", err)
	}
	id.Groups, err = withPrimary(id.GID, gids)
	return id, err
}

// errNotFound is getent's answer for a name no source knows (exit 2).
var errNotFound = errors.New("no such user")

// lookupGetent finds name with "getent passwd" and its groups with
// "getent initgroups", the groups the system would give it at login.
func lookupGetent(name string) (*Identity, error) {
	out, err := exec.Command("getent", "passwd", name).Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 2 {
		return nil, errNotFound
	}
	if err != nil {
		return nil, err
	}
	id, err := parsePasswdLine(name, string(out))
	if err != nil {
		return nil, err
	}
	var gids []string
	if out, err := exec.Command("getent", "initgroups", name).Output(); err == nil {
		// "name gid gid ..."
		if f := strings.Fields(string(out)); len(f) > 1 {
			gids = f[1:]
		}
	}
	id.Groups, err = withPrimary(id.GID, gids)
	return id, err
}

// parsePasswdLine reads a passwd(5) line for name.
func parsePasswdLine(name, line string) (*Identity, error) {
	f := strings.Split(strings.TrimSpace(line), ":")
	if len(f) < 7 || f[0] != name {
		return nil, fmt.Errorf("getent passwd: unexpected answer %q", strings.TrimSpace(line))
	}
	id := &Identity{Name: name}
	var err error
	if id.UID, err = strconv.Atoi(f[2]); err != nil {
		return nil, fmt.Errorf("uid %q: %w", f[2], err)
	}
	if id.GID, err = strconv.Atoi(f[3]); err != nil {
		return nil, fmt.Errorf("gid %q: %w", f[3], err)
	}
	return id, nil
}

// withPrimary is the supplementary group list: the primary group first,
// then the others, each once.
func withPrimary(primary int, gids []string) ([]int, error) {
	groups := []int{primary}
	for _, g := range gids {
		n, err := strconv.Atoi(g)
		if err != nil {
			return nil, fmt.Errorf("group %q: %w", g, err)
		}
		if !slices.Contains(groups, n) {
			groups = append(groups, n)
		}
	}
	return groups, nil
}

// Drop takes id's supplementary groups, group and user, in that order (after
// setuid the others could no longer change), then checks that root cannot be
// taken back. Go applies these calls to every thread of the process.
func Drop(id *Identity) error {
	if err := syscall.Setgroups(id.Groups); err != nil {
		return fmt.Errorf("drop to %s: setgroups: %w", id.Name, err)
	}
	if err := syscall.Setgid(id.GID); err != nil {
		return fmt.Errorf("drop to %s: setgid %d: %w", id.Name, id.GID, err)
	}
	if err := syscall.Setuid(id.UID); err != nil {
		return fmt.Errorf("drop to %s: setuid %d: %w", id.Name, id.UID, err)
	}
	if err := syscall.Setuid(0); err == nil {
		return fmt.Errorf("drop to %s: root could be taken back", id.Name)
	}
	if os.Getuid() != id.UID || os.Geteuid() != id.UID || os.Getgid() != id.GID || os.Getegid() != id.GID {
		return errors.New("drop to " + id.Name + ": IDs did not change")
	}
	return nil
}
