package protocol

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// renameNoReplace renames from to to inside dir, failing with fs.ErrExist
// when to exists: one system call where a link and an unlink would take
// two. errors.ErrUnsupported means the file system cannot do it.
func renameNoReplace(dir *os.File, from, to string) error {
	raw, err := dir.SyscallConn()
	if err != nil {
		return err
	}
	var rerr error
	if err := raw.Control(func(fd uintptr) {
		rerr = unix.Renameat2(int(fd), from, int(fd), to, unix.RENAME_NOREPLACE)
	}); err != nil {
		return err
	}
	switch {
	case rerr == nil:
		return nil
	case errors.Is(rerr, unix.EEXIST):
		return fs.ErrExist
	case errors.Is(rerr, unix.EINVAL), errors.Is(rerr, unix.ENOSYS), errors.Is(rerr, unix.EOPNOTSUPP):
		return fmt.Errorf("renameat2: %w (%v)", errors.ErrUnsupported, rerr)
	}
	return rerr
}
