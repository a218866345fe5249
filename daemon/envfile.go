package daemon

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode/utf8"

	"tentacle/options"
)

// maxEnvFileSize bounds what ReadEnvFile and ParseEnvFile read. An env file
// holds a dozen lines; anything near this size is the wrong file, and
// reading it whole would only delay the error.
const maxEnvFileSize = 1 << 20

// EnvVar is one assignment read from an env file. Line is kept so that a
// value rejected later, once the whole configuration is known, can still be
// reported where the administrator has to fix it.
type EnvVar struct {
	Key, Value string
	// Line is the 1-based line number of the assignment.
	Line int
}

// ReadEnvFile reads the env file at path (see ParseEnvFile for the format).
// A file that cannot be opened or read is a *ConfigError naming the path and
// wrapping the cause, so that callers can tell a missing file
// (errors.Is(err, fs.ErrNotExist)) from one that is there but unreadable.
func ReadEnvFile(path string) ([]EnvVar, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &ConfigError{File: envFileName(path), Reason: "cannot read the env file: " + options.CauseText(err), Err: err}
	}
	defer f.Close()
	return ParseEnvFile(f, path)
}

// ParseEnvFile parses an env file read from r; path names it in messages.
//
// The same file is sourced by shell scripts (the init script tradition of
// /etc/default and /etc/sysconfig) and may be given to systemd's
// EnvironmentFile=, which do not read it the same way. So only what both
// read alike is accepted, and everything else is an error naming the line
// (path:line: ...), because a configuration that two programs read
// differently is a bug waiting for the day the other one reads it:
//
//   - blank lines, and comments: "#" as the first character other than
//     blanks (";" comments, which only systemd knows, are refused);
//   - KEY=value, optionally after blanks and "export "; KEY is letters,
//     digits and "_", not starting with a digit; no blanks around "=";
//   - the value is one shell word: unquoted text, '...' (taken literally)
//     and "..." (where \" \\ \$ \` are escapes and any other backslash is
//     kept), which may be joined ('a'"b"); quotes after unquoted text (a"b")
//     are refused, since systemd keeps them and a shell does not;
//   - the value may be followed by blanks and a "# comment";
//   - nothing is expanded: "$" and "`" outside single quotes, unquoted ; | &
//     < > ( ), a leading "~" (or after an unquoted ":"), and unquoted blanks
//     inside the value (A=b c: a shell would run c) are refused, as is a
//     backslash outside quotes before a character that needs no escaping,
//     and so is an unquoted "{" after export (bash brace-expands the
//     arguments of export: export A={a,b} sets A to b);
//   - a value ends on its line: unterminated quotes and continuation lines
//     are refused.
//
// Two departures from systemd are deliberate: "export KEY=value", which
// systemd ignores but which lets the file be sourced by scripts that want
// the variables exported, and trailing comments, which systemd would make
// part of the value. tentacle_serverd reads the file itself, so its reading
// is the one that counts; a unit that also names the file in
// EnvironmentFile= should keep to plain KEY=value lines.
//
// A UTF-8 byte order mark at the start and a "\r" at the end of each line
// (files edited on Windows) are skipped. The file must be UTF-8 text without
// control characters other than tabs. The variables are returned in file
// order, repeated keys included; the caller decides what a repetition means.
func ParseEnvFile(r io.Reader, path string) ([]EnvVar, error) {
	name := envFileName(path)
	data, err := io.ReadAll(io.LimitReader(r, maxEnvFileSize+1))
	if err != nil {
		return nil, &ConfigError{File: name, Reason: "cannot read the env file: " + options.CauseText(err), Err: err}
	}
	if len(data) > maxEnvFileSize {
		return nil, &ConfigError{File: name, Reason: fmt.Sprintf("larger than %d bytes: this is not an env file", maxEnvFileSize)}
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	vars := []EnvVar{}
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSuffix(line, "\r")
		v, ok, perr := parseEnvLine(line)
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

// envFileName is the name of an env file in messages.
func envFileName(path string) string {
	if path == "" {
		return "env file"
	}
	return path
}

// parseEnvLine parses one line of an env file (see ParseEnvFile). It
// returns ok false for blank and comment lines. Errors carry the key when
// it is known; the caller adds the file and line.
func parseEnvLine(line string) (EnvVar, bool, *ConfigError) {
	fail := func(key, format string, args ...any) (EnvVar, bool, *ConfigError) {
		return EnvVar{}, false, &ConfigError{Key: key, Reason: fmt.Sprintf(format, args...)}
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
		return EnvVar{}, false, nil
	case rest[0] == ';':
		return fail("", `";" does not start a comment for a shell (only systemd reads it so); use "#"`)
	}
	exported := false
	if after, ok := strings.CutPrefix(rest, "export"); ok && after != "" && (after[0] == ' ' || after[0] == '\t') {
		rest = strings.TrimLeft(after, " \t")
		exported = true
	}

	end := 0
	for end < len(rest) && isEnvKeyByte(rest[end]) {
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
			return fail(key, `blank after "=": a shell would set %s to "" and run %s as a command; write %s=value with no blank, quoting the value if it has blanks`, key, envFirstWord(tail), key)
		}
		return fail(key, `unquoted blank in the value: a shell would run %s as a command; put the whole value in quotes`, envFirstWord(tail))
	}
	return EnvVar{Key: key, Value: value}, true, nil
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

// isEnvKeyByte reports whether c may appear in a variable name.
func isEnvKeyByte(c byte) bool {
	return c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
}

// envFirstWord returns the text up to the first blank, quoted for a message.
func envFirstWord(s string) string {
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		s = s[:i]
	}
	return fmt.Sprintf("%q", s)
}
