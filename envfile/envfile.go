package envfile

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"tentacle/options"
)

// maxSize bounds what Read and Parse read. An env file holds a dozen lines;
// anything near this size is the wrong file, and reading it whole would only
// delay the error.
const maxSize = 1 << 20

// Var is one assignment of an env file. Line is kept so that a value
// refused later, once the whole configuration is known, can still be
// reported where the administrator has to fix it.
type Var struct {
	Key, Value string
	// Line is the 1-based line number of the assignment.
	Line int
}

// Error is an env file that cannot be read, or a line of it that is
// refused: "path:line: KEY: reason".
type Error struct {
	// File names the file; Line is 0 when the file as a whole is at fault.
	File string
	Line int
	// Key is the variable of the line, when it is known.
	Key    string
	Reason string
	// Err is the cause of a file that cannot be read, so that
	// errors.Is(err, fs.ErrNotExist) tells a missing file.
	Err error
}

// Error formats the location, the variable and the reason in one line.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Reason)
	return b.String()
}

// Unwrap gives errors.Is and errors.As access to the cause.
func (e *Error) Unwrap() error { return e.Err }

// Read reads the env file at path.
func Read(path string) ([]Var, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{File: fileName(path), Reason: "cannot read the env file: " + options.CauseText(err), Err: err}
	}
	defer f.Close()
	return Parse(f, path)
}

// Parse parses an env file read from r (see the package comment for what
// it accepts); path names it in messages. Two departures from systemd are
// deliberate: "export KEY=value", which lets scripts source the file and
// export the variables, and comments after a value, which systemd would
// keep as part of it. A byte order mark and "\r" line ends (files edited
// on Windows) are skipped. The variables come in file order, repeated keys
// included: what a repetition means is the caller's business.
func Parse(r io.Reader, path string) ([]Var, error) {
	name := fileName(path)
	data, err := io.ReadAll(io.LimitReader(r, maxSize+1))
	if err != nil {
		return nil, &Error{File: name, Reason: "cannot read the env file: " + options.CauseText(err), Err: err}
	}
	if len(data) > maxSize {
		return nil, &Error{File: name, Reason: fmt.Sprintf("larger than %d bytes: this is not an env file", maxSize)}
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	vars := []Var{}
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSuffix(line, "\r")
		v, ok, perr := parseLine(line)
		if perr != nil {
			perr.File, perr.Line = name, n+1
			return nil, perr
		}
		if ok {
			v.Line = n + 1
			vars = append(vars, v)
		}
	}
	return vars, nil
}

// fileName is the name of an env file in messages.
func fileName(path string) string {
	if path == "" {
		return "env file"
	}
	return path
}

// parseLine parses one line of an env file. It returns ok false for blank
// and comment lines. Errors carry the key when it is known; the caller adds
// the file and line.
func parseLine(line string) (Var, bool, *Error) {
	fail := func(key, format string, args ...any) (Var, bool, *Error) {
		return Var{}, false, &Error{Key: key, Reason: fmt.Sprintf(format, args...)}
	}
	if !utf8.ValidString(line) {
		return fail("", "invalid UTF-8: the file must be UTF-8 text")
	}
	for _, r := range line {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return fail("", "control character %U: the file must be text", r)
		}
	}
	rest := strings.TrimLeft(line, " \t")
	switch {
	case rest == "" || rest[0] == '#':
		return Var{}, false, nil
	case rest[0] == ';':
		return fail("", `";" does not start a comment for a shell (only systemd reads it so); use "#"`)
	}
	exported := false
	if after, ok := strings.CutPrefix(rest, "export"); ok && after != "" && (after[0] == ' ' || after[0] == '\t') {
		rest = strings.TrimLeft(after, " \t")
		exported = true
	}

	end := 0
	for end < len(rest) && isKeyByte(rest[end]) {
		end++
	}
	key := rest[:end]
	switch {
	case end == len(rest):
		if key == "" {
			return fail("", "expected KEY=value, export KEY=value or a # comment")
		}
		if exported {
			return fail(key, `export without a value: write export %s=value`, key)
		}
		return fail(key, `no "=" after the name: expected %s=value (a shell would run %s as a command)`, key, key)
	case key == "":
		r, _ := utf8.DecodeRuneInString(rest)
		return fail("", "expected KEY=value, export KEY=value or a # comment, not a line starting with %q", string(r))
	case rest[end] == ' ' || rest[end] == '\t':
		if strings.HasPrefix(strings.TrimLeft(rest[end:], " \t"), "=") {
			return fail(key, `blanks before "=": write %s=value, with nothing between the name, "=" and the value`, key)
		}
		return fail(key, `expected %s=value: a shell would run %s as a command`, key, key)
	case rest[end] != '=':
		r, _ := utf8.DecodeRuneInString(rest[end:])
		return fail("", "%q in the name %s...: a name is letters, digits and _", string(r), key)
	case key[0] >= '0' && key[0] <= '9':
		return fail("", "the name %s starts with a digit: a name is letters, digits and _, not starting with a digit", key)
	}

	valueText := rest[end+1:]
	value, next, werr := scanShellWord(valueText, 0, true)
	if werr != nil {
		return fail(key, "%s", werr.msg)
	}
	if exported && unquotedBrace(valueText[:next]) {
		return fail(key, `unquoted "{" after export: bash would expand braces here (export %s={a,b} sets %s to b); quote the value`, key, key)
	}
	tail := strings.TrimLeft(valueText[next:], " \t")
	if tail != "" && tail[0] != '#' {
		if next == 0 {
			return fail(key, `blank after "=": a shell would set %s to "" and run %s as a command; write %s=value with no blank, quoting the value if it has blanks`, key, firstWord(tail), key)
		}
		return fail(key, `unquoted blank in the value: a shell would run %s as a command; put the whole value in quotes`, firstWord(tail))
	}
	return Var{Key: key, Value: value}, true, nil
}

// unquotedBrace reports whether a word that scanShellWord accepted has a
// "{" outside quotes and not escaped, which bash may brace-expand.
func unquotedBrace(word string) bool {
	for i := 0; i < len(word); i++ {
		switch word[i] {
		case '\\':
			i++
		case '\'':
			i += 1 + strings.IndexByte(word[i+1:], '\'')
		case '"':
			for i++; word[i] != '"'; i++ {
				if word[i] == '\\' {
					i++
				}
			}
		case '{':
			return true
		}
	}
	return false
}

// isKeyByte reports whether c may appear in a variable name.
func isKeyByte(c byte) bool {
	return c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
}

// firstWord returns the text up to the first blank, quoted for a message.
func firstWord(s string) string {
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		s = s[:i]
	}
	return fmt.Sprintf("%q", s)
}
