//go:build !linux

package protocol

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// The operations an upload makes on plain names inside its directory
// handle, by path where Go offers no directory-relative calls. The handle
// was opened inside the storage root and the names are plain; unlike on
// Linux, a directory swapped for a link between two steps is not caught.

func regularFileIn(dir *os.File, name string) (bool, error) {
	st, err := os.Lstat(filepath.Join(dir.Name(), name))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, err
	}
	return st.Mode().IsRegular(), nil
}

func createIn(dir *os.File, name string) (*os.File, error) {
	return os.OpenFile(filepath.Join(dir.Name(), name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
}

// inUse cannot tell here: there are no locks on temporary files.
func inUse(f *os.File) bool { return false }

// renameOpenFiles is false: Windows renames no open file.
const renameOpenFiles = false

func renameBetween(fromDir *os.File, from string, toDir *os.File, to string) error {
	return os.Rename(filepath.Join(fromDir.Name(), from), filepath.Join(toDir.Name(), to))
}

func linkBetween(fromDir *os.File, from string, toDir *os.File, to string) error {
	err := os.Link(filepath.Join(fromDir.Name(), from), filepath.Join(toDir.Name(), to))
	if errors.Is(err, fs.ErrExist) {
		return fs.ErrExist
	}
	return err
}

func removeIn(dir *os.File, name string) error {
	return os.Remove(filepath.Join(dir.Name(), name))
}

// createAnonymousIn is not available here: uploads use named temporary
// files.
func createAnonymousIn(dir *os.File) (*os.File, error) { return nil, errors.ErrUnsupported }

func linkAnonymousIn(f, dir *os.File, name string) error { return errors.ErrUnsupported }

// dirID identifies a directory, as far as os.SameFile can tell. The
// per-directory states are filed under the path the handle was opened by.
type dirID struct {
	fi   os.FileInfo
	name string
}

func (a dirID) same(b dirID) bool { return a.fi != nil && b.fi != nil && os.SameFile(a.fi, b.fi) }

type dirKey = string

func (a dirID) key() dirKey { return a.name }

func pathID(p string) (dirID, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return dirID{}, err
	}
	return dirID{fi, p}, nil
}

func fileID(f *os.File) (dirID, error) {
	fi, err := f.Stat()
	if err != nil {
		return dirID{}, err
	}
	return dirID{fi, f.Name()}, nil
}

func idIn(dir *os.File, name string) (dirID, error) {
	return pathID(filepath.Join(dir.Name(), name))
}

// removedDir cannot tell here; the IDs compared at each upload remain.
func removedDir(f *os.File) bool { return false }
