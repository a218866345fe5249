package options

import (
	"errors"
	"io/fs"
	"strconv"
	"strings"
	"unicode"
)

// UsageError reports a command line that does not follow the program's
// syntax: an unknown option letter, an option missing its value, arguments
// the server does not take, or a server with neither a storage directory nor
// a relay address. The reference answers all of these by printing its help
// text and exiting with status 1, so callers that see this type (test it
// with errors.As) should print ServerUsage or ClientUsage after the message.
type UsageError struct {
	// Option is the offending option as typed ("-j", "--foo"), or empty
	// when the problem is not tied to a single option.
	Option string
	// Msg explains the problem and what is expected instead.
	Msg string
}

// Error returns the option, if any, followed by the explanation.
func (e *UsageError) Error() string {
	if e.Option == "" {
		return e.Msg
	}
	return e.Option + ": " + e.Msg
}

// ValueError reports a value that was syntactically in place but is not
// acceptable: a port out of range, a missing certificate file, options that
// contradict each other. The reference prints such errors without the help
// text, so callers print only the message.
//
// The message names where the value came from, so that an administrator can
// find it: "-c 0: ..." for the command line and
// `config /etc/tentacle/tentacle_server.conf: max_size "abc": ...` for the
// configuration file (where the value is always quoted, because stray blanks
// at the end of a line are part of the value there).
type ValueError struct {
	// Option is the command-line option ("-c") the setting belongs to;
	// empty for the keys only the configuration file has (block_size,
	// invalid_chars).
	Option string
	// Key, File and Line are set when the value came from the -F
	// configuration file: the key, the file as named on the command line
	// and the 1-based line number.
	Key  string
	File string
	Line int
	// Value is the rejected value (empty for an option without value).
	Value string
	// Reason says what is wrong and what would be accepted.
	Reason string
	// Err is the underlying cause, such as an *fs.PathError, if any; it is
	// reachable through errors.Is and errors.As.
	Err error

	// flag marks an option that takes no value, so that Error does not
	// print an empty value after it.
	flag bool
}

// Error formats the origin, the value and the reason in one line.
func (e *ValueError) Error() string {
	var b strings.Builder
	switch {
	case e.File != "":
		b.WriteString("config " + e.File + ": " + e.Key + " " + strconv.Quote(e.Value))
	case e.flag:
		b.WriteString(e.Option)
	default:
		b.WriteString(e.Option + " " + quoteIfNeeded(e.Value))
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(CauseText(e.Err))
	}
	return b.String()
}

// Unwrap gives errors.Is and errors.As access to the underlying cause.
func (e *ValueError) Unwrap() error { return e.Err }

// ErrNoFiles is returned by ParseClient when files are to be sent (no -g)
// but none were named. The reference reports it as a plain error, without
// the help text.
var ErrNoFiles = errors.New("no files to send: name at least one file after the options (or use -g to get files)")

// CauseText returns the text of an underlying error without repeating the
// path that the surrounding message already shows: "no such file or
// directory" rather than "open /etc/x: no such file or directory".
func CauseText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// quoteIfNeeded leaves ordinary values as they are, so that messages read
// like the command line ("-p 0"), and quotes the ones a reader could not see
// or tell apart otherwise: empty values, blanks, control characters, quotes.
func quoteIfNeeded(s string) string {
	if s == "" {
		return `""`
	}
	for _, r := range s {
		if unicode.IsSpace(r) || !unicode.IsPrint(r) || r == '"' || r == '\'' || r == '\\' {
			return strconv.Quote(s)
		}
	}
	return s
}
