//go:build !unix

package privileges

import "errors"

// IsRoot is false where there is no root to give up.
func IsRoot() bool { return false }

// Identity is a user to run as; there are none to switch to here.
type Identity struct {
	Name   string
	UID    int
	GID    int
	Groups []int
}

// Lookup fails: this system has no user switching.
func Lookup(name string) (*Identity, error) {
	return nil, errors.New("switching users is not supported on this system")
}

// Drop fails: this system has no user switching.
func Drop(id *Identity) error {
	return errors.New("switching users is not supported on this system")
}
