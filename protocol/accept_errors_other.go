//go:build !unix

package protocol

import "errors"

// errTooManyFiles never matches where accept has no such error.
var errTooManyFiles = errors.New("too many open files")
