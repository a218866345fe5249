//go:build unix

package daemon

import (
	"fmt"
	"os"
	"syscall"

	"tentacle/privileges"
)

// setUmask makes new files and directories 0660/0770: the Pandora console
// writes into the spool through the group, as with the reference's init
// script.
func setUmask() { syscall.Umask(0o007) }

// chownForUser gives path to id, so that the user can rotate it.
func chownForUser(path string, id *privileges.Identity) error {
	if err := os.Chown(path, id.UID, id.GID); err != nil {
		return fmt.Errorf("give %s to %s: %w", path, id.Name, err)
	}
	return nil
}

// ensureDirFor creates dir (and its parents) when missing and gives the
// directory itself to id; an existing directory is left as it is.
func ensureDirFor(dir string, id *privileges.Identity) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return err
	}
	return chownForUser(dir, id)
}
