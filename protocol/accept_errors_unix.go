//go:build unix

package protocol

import "syscall"

// errTooManyFiles is what accept fails with when the process is out of file
// descriptors: a reason to wait, not to stop serving.
var errTooManyFiles = syscall.EMFILE
