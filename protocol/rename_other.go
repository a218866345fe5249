//go:build !linux

package protocol

import (
	"errors"
	"os"
)

// renameNoReplace is not available here: the caller falls back to a link.
func renameNoReplace(dir *os.File, from, to string) error { return errors.ErrUnsupported }
