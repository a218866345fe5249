//go:build !linux

package protocol

import (
	"errors"
	"os"
)

// renameNoReplace is not available here: the caller falls back to a link.
func renameNoReplace(fromDir *os.File, from string, toDir *os.File, to string) error {
	return errors.ErrUnsupported
}
