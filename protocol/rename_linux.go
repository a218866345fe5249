package protocol

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// renameNoReplace renames from in fromDir to to in toDir (usually one
// directory), failing with fs.ErrExist when to exists: one system call where
// a link and an unlink would take two. errors.ErrUnsupported means the file
// system cannot do it.
func renameNoReplace(fromDir *os.File, from string, toDir *os.File, to string) error {
	rerr := inDirs(fromDir, toDir, func(ffd, tfd int) error {
		return unix.Renameat2(ffd, from, tfd, to, unix.RENAME_NOREPLACE)
	})
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
