package protocol

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// The operations an upload makes on plain names inside its directory
// handle. On Linux they are single system calls relative to the handle: the
// generic ones of os.Root would resolve the path again each time, and
// register every opened file with the network poller only to be refused.

// inDir runs op with the directory's descriptor.
func inDir(dir *os.File, op func(fd int) error) error {
	raw, err := dir.SyscallConn()
	if err != nil {
		return err
	}
	var opErr error
	if err := raw.Control(func(fd uintptr) { opErr = op(int(fd)) }); err != nil {
		return err
	}
	return opErr
}

// regularFileIn reports whether name in dir is a regular file; a symbolic
// link is not followed and does not count.
func regularFileIn(dir *os.File, name string) (bool, error) {
	var st unix.Stat_t
	err := inDir(dir, func(fd int) error { return unix.Fstatat(fd, name, &st, unix.AT_SYMLINK_NOFOLLOW) })
	switch {
	case errors.Is(err, unix.ENOENT):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("stat %q: %w", name, err)
	}
	return st.Mode&unix.S_IFMT == unix.S_IFREG, nil
}

// createIn creates name in dir for writing; it must not exist. The file
// is locked (flock) for as long as it is open, so that another server on
// the same storage, removing leftovers as it starts, can tell an upload
// in progress from a crash's remains (see inUse). A file system without
// locks leaves it unlocked, as before.
func createIn(dir *os.File, name string) (*os.File, error) {
	// Another server's clean-up may take the file between its creation
	// and its lock, and remove it: then the name is free again, and the
	// file is made anew. Twice in a row would take two servers starting.
	for range 3 {
		var nfd int
		err := inDir(dir, func(fd int) (err error) {
			nfd, err = unix.Openat(fd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o666)
			return err
		})
		if err != nil {
			return nil, &os.PathError{Op: "create", Path: name, Err: err}
		}
		unix.Flock(nfd, unix.LOCK_EX|unix.LOCK_NB)
		f := os.NewFile(uintptr(nfd), name)
		mine, err1 := fileID(f)
		named, err2 := idIn(dir, name)
		if err1 == nil && err2 == nil && mine == named {
			return f, nil
		}
		f.Close()
	}
	return nil, &os.PathError{Op: "create", Path: name, Err: errors.New("removed as it was made, three times")}
}

// inUse reports whether the temporary file f belongs to an upload in
// progress, in this process or another: its creator still holds its lock.
func inUse(f *os.File) bool {
	raw, err := f.SyscallConn()
	if err != nil {
		return false
	}
	var lerr error
	raw.Control(func(fd uintptr) { lerr = unix.Flock(int(fd), unix.LOCK_EX|unix.LOCK_NB) })
	return errors.Is(lerr, unix.EWOULDBLOCK)
}

// renameOpenFiles says that a file may be renamed while it is open: an
// upload then keeps its temporary file open, and locked, until the file
// has its final name.
const renameOpenFiles = true

// inDirs runs op with the descriptors of two directories, which may be
// the same one.
func inDirs(from, to *os.File, op func(fromFD, toFD int) error) error {
	return inDir(from, func(ffd int) error {
		return inDir(to, func(tfd int) error { return op(ffd, tfd) })
	})
}

// renameBetween renames from in fromDir to to in toDir, replacing to. The
// two handles are one directory but for an upload whose directory was
// replaced while it ran.
func renameBetween(fromDir *os.File, from string, toDir *os.File, to string) error {
	return inDirs(fromDir, toDir, func(ffd, tfd int) error { return unix.Renameat(ffd, from, tfd, to) })
}

// linkBetween gives the file from in fromDir the second name to in toDir,
// failing with fs.ErrExist when to exists.
func linkBetween(fromDir *os.File, from string, toDir *os.File, to string) error {
	err := inDirs(fromDir, toDir, func(ffd, tfd int) error { return unix.Linkat(ffd, from, tfd, to, 0) })
	if errors.Is(err, unix.EEXIST) {
		return fs.ErrExist
	}
	return err
}

// removeIn removes name from dir.
func removeIn(dir *os.File, name string) error {
	err := inDir(dir, func(fd int) error { return unix.Unlinkat(fd, name, 0) })
	if err != nil {
		return &os.PathError{Op: "remove", Path: name, Err: err}
	}
	return nil
}

// createAnonymousIn creates a file in dir's file system that has no name
// yet (O_TMPFILE), or fails where the file system cannot.
func createAnonymousIn(dir *os.File) (*os.File, error) {
	if !procFDsUsable() {
		return nil, errors.ErrUnsupported
	}
	var nfd int
	err := inDir(dir, func(fd int) (err error) {
		nfd, err = unix.Openat(fd, ".", unix.O_WRONLY|unix.O_TMPFILE|unix.O_CLOEXEC, 0o666)
		return err
	})
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(nfd), dir.Name()), nil
}

// linkAnonymousIn gives the nameless file f the name name in dir, failing
// with fs.ErrExist when the name is taken: like renameat2 without
// replacing, of two racing uploads exactly one gets the name. The link goes
// through /proc/self/fd, which needs no privilege, unlike AT_EMPTY_PATH.
func linkAnonymousIn(f *os.File, dir *os.File, name string) error {
	raw, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var lerr error
	err = raw.Control(func(ffd uintptr) {
		lerr = inDir(dir, func(dfd int) error {
			return unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(int(ffd)), dfd, name, unix.AT_SYMLINK_FOLLOW)
		})
	})
	if err != nil {
		return err
	}
	if errors.Is(lerr, unix.EEXIST) {
		return fs.ErrExist
	}
	return lerr
}

// procFDsUsable reports whether /proc/self/fd can name open files, which
// linkAnonymousIn needs; without /proc (a bare chroot), uploads use named
// temporary files.
var procFDsUsable = sync.OnceValue(func() bool {
	_, err := os.Stat("/proc/self/fd")
	return err == nil
})

// dirID identifies a directory: what a path names now can be compared with
// a handle held since earlier, to notice a directory that was replaced.
type dirID struct{ dev, ino uint64 }

// same reports whether two IDs are one directory.
func (a dirID) same(b dirID) bool { return a == b }

// dirKey is what the per-directory states are filed under.
type dirKey = dirID

// key is what the per-directory states are filed under.
func (a dirID) key() dirKey { return a }

// pathID identifies what p names now, following symbolic links as opening
// it would.
func pathID(p string) (dirID, error) {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return dirID{}, &os.PathError{Op: "stat", Path: p, Err: err}
	}
	return dirID{st.Dev, st.Ino}, nil
}

// fileID identifies the open directory f.
func fileID(f *os.File) (dirID, error) {
	var st unix.Stat_t
	err := inDir(f, func(fd int) error { return unix.Fstat(fd, &st) })
	if err != nil {
		return dirID{}, &os.PathError{Op: "fstat", Path: f.Name(), Err: err}
	}
	return dirID{st.Dev, st.Ino}, nil
}

// idIn identifies what name, relative to dir, names now.
func idIn(dir *os.File, name string) (dirID, error) {
	var st unix.Stat_t
	err := inDir(dir, func(fd int) error { return unix.Fstatat(fd, name, &st, 0) })
	if err != nil {
		return dirID{}, &os.PathError{Op: "stat", Path: name, Err: err}
	}
	return dirID{st.Dev, st.Ino}, nil
}

// removedDir reports whether the open directory f was removed: a removed
// directory has no links left. Its path may name a new directory that
// reuses its inode number (ext4 does, once nothing holds the old one open),
// so comparing IDs alone cannot tell.
func removedDir(f *os.File) bool {
	var st unix.Stat_t
	err := inDir(f, func(fd int) error { return unix.Fstat(fd, &st) })
	return err == nil && st.Nlink == 0
}
