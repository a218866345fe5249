package daemon

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"

	"tentacle/privileges"
)

// The daemon writes and rotates the transfer log as TENTACLE_USER once root
// is gone, which means creating files in the log's directory. When that
// user cannot, the start fails, and the message names the user and the
// fix: the usual cause is a directory or file that root made, which says
// nothing in a bare "permission denied".

// logOpenError explains why the transfer log at path could not be opened.
// id is the user the daemon will serve as once root is gone; nil when it
// did not start as root and serves as itself.
func logOpenError(path string, id *privileges.Identity, err error) error {
	if !errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("TENTACLE_LOG_FILE: %w", err)
	}
	if id != nil {
		// Root opens any file of a local file system: this is one that root
		// may not change.
		return logHandOverError(path, id, err)
	}
	name, uid := servingUser(nil)
	if _, statErr := os.Stat(path); statErr == nil {
		return fmt.Errorf("TENTACLE_LOG_FILE %s: the file is not writable by user %s (uid %d), who writes and rotates it (%w): chown %s %s, or set TENTACLE_LOG_FILE to a file in a directory %s can write",
			path, name, uid, syscallError(err), name, path, name)
	}
	return logDirError(path, nil, err)
}

// logHandOverError explains why root could not give the transfer log at
// path to the user id, who must write and rotate it once root is gone.
func logHandOverError(path string, id *privileges.Identity, err error) error {
	if !errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("TENTACLE_LOG_FILE: %w", err)
	}
	return fmt.Errorf("TENTACLE_LOG_FILE %s: root cannot make the file user %s's (uid %d), who writes and rotates it (%w); an append-only or immutable file (lsattr) or an NFS share that squashes root does that: chown %s %s where that is allowed, or set TENTACLE_LOG_FILE to a file in a local directory %s can write",
		path, id.Name, id.UID, syscallError(err), id.Name, path, id.Name)
}

// logDirError explains why the serving user (id, or the process's own
// when nil) cannot create files in the directory of the transfer log at
// path, as rotation does; err is the failure to.
func logDirError(path string, id *privileges.Identity, err error) error {
	dir := filepath.Dir(path)
	if !errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("TENTACLE_LOG_FILE %s: the transfer log could not be rotated: %w", path, err)
	}
	name, uid := servingUser(id)
	if _, statErr := os.Stat(dir); errors.Is(statErr, fs.ErrPermission) {
		return fmt.Errorf("TENTACLE_LOG_FILE %s: directory %s is out of reach of user %s (uid %d), who rotates the log there: a directory above it does not let %s through (%w): chmod o+x the directories above it, or set TENTACLE_LOG_FILE to a file in a directory %s can write",
			path, dir, name, uid, name, syscallError(statErr), name)
	}
	return fmt.Errorf("TENTACLE_LOG_FILE %s: directory %s is not writable by user %s (uid %d), who rotates the log there (%w): chown %s %s, or set TENTACLE_LOG_FILE to a file in a directory %s can write",
		path, dir, name, uid, syscallError(err), name, dir, name)
}

// servingUser names the user the daemon serves as: id, or the process's
// own user when id is nil.
func servingUser(id *privileges.Identity) (name string, uid int) {
	if id != nil {
		return id.Name, id.UID
	}
	uid = os.Getuid()
	if u, err := user.Current(); err == nil {
		return u.Username, uid
	}
	return "uid " + strconv.Itoa(uid), uid
}

// syscallError is what the system said, without the path a message
// already names: "permission denied" rather than "open /x/y: permission
// denied".
func syscallError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
