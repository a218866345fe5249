//go:build unix

package daemon

import (
	"strings"

	"golang.org/x/sys/unix"
)

// diskFree is the space left to unprivileged users on dir's file system,
// the user the daemon serves as being one.
func diskFree(dir string) (int64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}

// osVersion is the kernel's release, as Pandora's Unix agent gives it.
func osVersion() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return strings.TrimRight(string(u.Release[:]), "\x00")
}
