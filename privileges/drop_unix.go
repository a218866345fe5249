//go:build unix

package privileges

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
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

// Lookup finds name in the user database.
func Lookup(name string) (*Identity, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("user %q: %w", name, err)
	}
	id := &Identity{Name: name}
	if id.UID, err = strconv.Atoi(u.Uid); err != nil {
		return nil, fmt.Errorf("user %q: uid %q: %w", name, u.Uid, err)
	}
	if id.GID, err = strconv.Atoi(u.Gid); err != nil {
		return nil, fmt.Errorf("user %q: gid %q: %w", name, u.Gid, err)
	}
	if id.UID == 0 {
		return nil, fmt.Errorf("user %q is root: choose an unprivileged user", name)
	}
	gids, err := u.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("user %q: groups: %w", name, err)
	}
	id.Groups = []int{id.GID}
	for _, g := range gids {
		n, err := strconv.Atoi(g)
		if err != nil {
			return nil, fmt.Errorf("user %q: group %q: %w", name, g, err)
		}
		if n != id.GID {
			id.Groups = append(id.Groups, n)
		}
	}
	return id, nil
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
