package envfile

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// shellEscapable lists the characters that mean something to a shell, the
// only ones a backslash outside quotes may escape: before any other a shell
// drops the backslash, which is never what the writer of .*\.conf meant.
const shellEscapable = " \t\n'\"\\$`;|&<>()#~*?[]{}!"

// shellOperators are the characters that end a word and start a shell
// operator (list, pipe, background, redirection, subshell) when unquoted.
const shellOperators = ";|&<>()"

// shellWordError is a problem found by scanShellWord, at byte offset off of
// the text scanned. The callers turn the offset into what their reader can
// use: a character position in TENTACLE_EXT_OPTS, nothing on a short line of
// the env file.
type shellWordError struct {
	off int
	msg string
}

func (e *shellWordError) Error() string { return e.msg }

// scanShellWord reads the word of s that starts at i, not a blank, as a
// POSIX shell would, up to the first unquoted blank. It returns the word
// with quotes and escapes removed and the offset where it stopped, or an
// error for what a shell would expand or run (see the package comment).
// Globs and braces are kept as they are.
//
// assignment selects the rules for the value of KEY=value, which systemd
// must read alike: a quote after unquoted text (a"b") is refused, since
// systemd keeps it and a shell does not; so is "~" after an unquoted ":",
// which a shell expands in assignments; and "#" is ordinary, a comment
// needing a blank before it. Elsewhere an unquoted "#" starting a word is
// refused: a shell would drop the rest as a comment.
func scanShellWord(s string, i int, assignment bool) (word string, next int, err *shellWordError) {
	var b strings.Builder
	start := i
	unquoted := false // unquoted text has been read in this word
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			return b.String(), i, nil
		case c == '\'':
			if assignment && unquoted {
				return "", i, quoteAfterText(i)
			}
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return "", i, &shellWordError{i, "unterminated single quote: add the closing ' (on the same line)"}
			}
			b.WriteString(s[i+1 : i+1+end])
			i += end + 2
		case c == '"':
			if assignment && unquoted {
				return "", i, quoteAfterText(i)
			}
			n, werr := scanDoubleQuoted(s, i, &b)
			if werr != nil {
				return "", i, werr
			}
			i = n
		case c == '\\':
			if i+1 >= len(s) {
				return "", i, &shellWordError{i, `"\" at the end: there is nothing for it to escape (and continuation lines are not supported)`}
			}
			e := s[i+1]
			if e == '\n' {
				// A shell joins the lines; so do we.
				i += 2
				continue
			}
			if !strings.ContainsRune(shellEscapable, rune(e)) {
				r, _ := utf8.DecodeRuneInString(s[i+1:])
				return "", i, &shellWordError{i, fmt.Sprintf(`"\" before %q outside quotes: a shell would drop the backslash; to keep it, put the text in single quotes, otherwise remove it`, string(r))}
			}
			b.WriteByte(e)
			unquoted = true
			i += 2
		case c == '$' || c == '`':
			return "", i, expansionError(i, c, "outside quotes")
		case strings.IndexByte(shellOperators, c) >= 0:
			return "", i, &shellWordError{i, fmt.Sprintf("unquoted %q: a shell would read it as an operator and run or redirect something; quote it", string(c))}
		case c == '~' && (i == start || assignment && unquoted && s[i-1] == ':'):
			where := "at the start of a word"
			if assignment {
				where = `at the start of the value or after ":"`
			}
			return "", i, &shellWordError{i, fmt.Sprintf(`unquoted "~" %s: a shell would replace it with a home directory; quote it`, where)}
		case c == '#' && i == start && !assignment:
			return "", i, &shellWordError{i, `unquoted "#" at the start of a word: a shell would ignore it and everything after it as a comment; quote it`}
		default:
			b.WriteByte(c)
			unquoted = true
			i++
		}
	}
	return b.String(), i, nil
}

// scanDoubleQuoted reads the double-quoted text starting at s[i] == '"' into
// b and returns the offset after the closing quote. Inside double quotes a
// backslash escapes only " \ $ ` (and a newline, which it removes) and is
// kept before anything else: both a shell and systemd do that.
func scanDoubleQuoted(s string, i int, b *strings.Builder) (int, *shellWordError) {
	open := i
	for i++; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return i + 1, nil
		case '\\':
			if i+1 >= len(s) {
				return 0, unterminatedDouble(open)
			}
			switch e := s[i+1]; e {
			case '"', '\\', '$', '`':
				b.WriteByte(e)
			case '\n':
			default:
				b.WriteByte('\\')
				b.WriteByte(e)
			}
			i++
		case '$', '`':
			return 0, expansionError(i, c, "in double quotes")
		default:
			b.WriteByte(c)
		}
	}
	return 0, unterminatedDouble(open)
}

func unterminatedDouble(off int) *shellWordError {
	return &shellWordError{off, `unterminated double quote: add the closing " (on the same line)`}
}

func quoteAfterText(off int) *shellWordError {
	return &shellWordError{off, "quote in the middle of an unquoted value: a shell would remove it but systemd would keep it; quote the whole value instead"}
}

// expansionError explains why "$" and "`" are refused: the text is never
// given to a shell, so an administrator who expects a variable or a command
// to be substituted must be told, not handed the characters.
func expansionError(off int, c byte, where string) *shellWordError {
	what := "a variable or command substitution"
	if c == '`' {
		what = "a command substitution"
	}
	return &shellWordError{off, fmt.Sprintf(`%q %s: nothing is expanded or run here (a shell would see %s); for a literal %q use single quotes or \%s`, string(c), where, what, string(c), string(c))}
}

// SplitShellWords splits TENTACLE_EXT_OPTS into arguments as a POSIX shell
// splits a command line (-x 'my pass' is two; quotes with nothing inside
// are an empty one), without expanding or running anything: what a shell
// would expand or run is an error that gives its position.
func SplitShellWords(s string) ([]string, error) {
	if !utf8.ValidString(s) {
		return nil, fmt.Errorf("invalid UTF-8")
	}
	for i, r := range s {
		if r < 0x20 && r != '\t' && r != '\n' || r == 0x7f {
			return nil, fmt.Errorf("character %d: control character %U: only printable text, spaces, tabs and newlines are allowed", utf8.RuneCountInString(s[:i])+1, r)
		}
	}
	words := []string{}
	i := 0
	for {
		// A shell removes a backslash-newline before it looks for words,
		// so one between words is not a word, and a "#" or "~" after it
		// starts the next word (as a comment, or as a home directory).
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || strings.HasPrefix(s[i:], "\\\n")) {
			if s[i] == '\\' {
				i++
			}
			i++
		}
		if i == len(s) {
			return words, nil
		}
		w, next, err := scanShellWord(s, i, false)
		if err != nil {
			return nil, fmt.Errorf("character %d: %s", utf8.RuneCountInString(s[:err.off])+1, err.msg)
		}
		words = append(words, w)
		i = next
	}
}
