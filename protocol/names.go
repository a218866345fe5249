package protocol

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// DefaultInvalidChars are the characters the reference server refuses in a
// file name: with them a name could climb out of the storage directory or
// act as a shell or glob pattern on the Pandora server.
const DefaultInvalidChars = `?[]/\=+<>:;',*~`

// MaxNameLength is the longest name accepted, in bytes: the limit of a file
// name on the file systems the server stores to.
const MaxNameLength = 255

// CheckName reports whether name may be stored or fetched. invalid is the set
// of forbidden characters ("" means DefaultInvalidChars). Beyond the
// reference, it refuses what can never be a plain file name: the empty name,
// "." and "..", control bytes (NUL, LF and the like), names longer than
// MaxNameLength, and '/' even when a configured set leaves it out. The error wraps ErrInvalidName.
func CheckName(name, invalid string) error {
	if invalid == "" {
		invalid = DefaultInvalidChars
	}
	switch {
	case name == "" || name == "." || name == "..":
		return fmt.Errorf("%w: %q is not a file name", ErrInvalidName, name)
	case len(name) > MaxNameLength:
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidName, MaxNameLength)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: control character %q", ErrInvalidName, r)
		}
		if r == utf8.RuneError {
			continue
		}
		// A slash makes a path, whatever invalid_chars says.
		if r == '/' || strings.ContainsRune(invalid, r) {
			return fmt.Errorf("%w: character %q is not allowed", ErrInvalidName, r)
		}
	}
	return nil
}

// listable reports whether LS shows name: the reference leaves out names it
// would refuse to send, and the server never shows its own temporary files.
func listable(name, invalid string) bool {
	return CheckName(name, invalid) == nil && !isTempName(name)
}
