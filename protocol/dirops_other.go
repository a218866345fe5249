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

func renameIn(dir *os.File, from, to string) error {
	return os.Rename(filepath.Join(dir.Name(), from), filepath.Join(dir.Name(), to))
}

func removeIn(dir *os.File, name string) error {
	return os.Remove(filepath.Join(dir.Name(), name))
}

// createAnonymousIn is not available here: uploads use named temporary
// files.
func createAnonymousIn(dir *os.File) (*os.File, error) { return nil, errors.ErrUnsupported }

func linkAnonymousIn(f, dir *os.File, name string) error { return errors.ErrUnsupported }
