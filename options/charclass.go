package options

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// DefaultInvalidChars is the set of characters that the reference refuses
// in file names: ? [ ] / \ = + < > : ; ' , * ~ .
const DefaultInvalidChars = `?[]/\=+<>:;',*~`

// maxInvalidChars bounds the set built from invalid_chars, so that a range
// such as \x{0}-\x{10FFFF} is reported instead of producing a megabyte-long
// set that every file name would be checked against.
const maxInvalidChars = 1024

// parseCharClass interprets invalid_chars the way the reference does: it
// pastes the value between "[" and "]" into a Perl regular expression, so
// the value is the inside of a Perl bracketed character class. The result is
// the set of characters the class matches, each once, in order of first
// appearance; a name is then refused when strings.ContainsAny(name, set).
//
// Understood: literal characters; "\" before any character that is not a
// letter or digit (`\?`, `\\`, `\]`, `\-`...); \t \n \r \f \e \a \b (the
// backspace inside a class); octal \N, \NN, \NNN and \o{...}; hex \xH, \xHH
// and \x{...}; control characters \cX; the ASCII meaning of \d, \w and \s;
// ranges such as a-z or \x00-\x1f; "]" as the first character and "-" as the
// first or last one. Numeric escapes name Unicode code points, so \xE9 is
// "é" (the reference, working on bytes, would refuse the byte 0xE9 instead;
// the two agree for ASCII, which is what file names from agents use).
//
// Refused with an explanation, because the set would not mean what the
// reference makes of it: a leading "^" (which negates the class in Perl), an
// unescaped "]" later on (which ends the class early), POSIX classes
// ("[:alpha:]"), other escapes (\p{...}, \N{...}, \D, \W, \S...), reversed
// ranges, a trailing lone "\", and invalid UTF-8.
func parseCharClass(s string) (string, error) {
	if !utf8.ValidString(s) {
		return "", errors.New("the value is not valid UTF-8")
	}
	if strings.HasPrefix(s, "^") {
		return "", errors.New(`a leading ^ would make Perl refuse every character NOT listed; write \^ to refuse the ^ character`)
	}
	var set []rune
	seen := map[rune]bool{}
	add := func(lo, hi rune) error {
		if hi-lo+1 > maxInvalidChars {
			return fmt.Errorf("the range %s-%s holds more than %d characters", strconv.QuoteRune(lo), strconv.QuoteRune(hi), maxInvalidChars)
		}
		for r := lo; r <= hi; r++ {
			if seen[r] {
				continue
			}
			if len(set) == maxInvalidChars {
				return fmt.Errorf("more than %d characters", maxInvalidChars)
			}
			seen[r] = true
			set = append(set, r)
		}
		return nil
	}
	for i := 0; i < len(s); {
		lo, class, n, err := classItem(s, i)
		if err != nil {
			return "", err
		}
		i += n
		// A "-" between two items makes a range, unless it is the last
		// character of the class (then it is literal).
		if i+1 < len(s) && s[i] == '-' {
			if class != nil {
				return "", fmt.Errorf(`a range cannot start with the class %s; write \- for a literal -`, s[i-n:i])
			}
			hi, hiClass, m, err := classItem(s, i+1)
			if err != nil {
				return "", err
			}
			if hiClass != nil {
				return "", fmt.Errorf(`a range cannot end with the class %s; write \- for a literal -`, s[i+1:i+1+m])
			}
			if hi < lo {
				return "", fmt.Errorf("the range %s is reversed", s[i-n:i+1+m])
			}
			if err := add(lo, hi); err != nil {
				return "", err
			}
			i += 1 + m
			continue
		}
		if class == nil {
			class = []rune{lo}
		}
		for _, r := range class {
			if err := add(r, r); err != nil {
				return "", err
			}
		}
	}
	return string(set), nil
}

// Character classes understood after "\", with their ASCII meaning (the
// reference matches bytes, where Perl gives them this meaning).
var (
	classDigit = runeRange('0', '9')
	classWord  = append(append(append(runeRange('a', 'z'), runeRange('A', 'Z')...), classDigit...), '_')
	classSpace = []rune{' ', '\t', '\n', '\v', '\f', '\r'}
)

// runeRange lists the runes from lo to hi.
func runeRange(lo, hi rune) []rune {
	var rs []rune
	for r := lo; r <= hi; r++ {
		rs = append(rs, r)
	}
	return rs
}

// classItem reads one element of the class at s[i]: either a single
// character (returned in r) or a shorthand class such as \d (returned in
// class). n is the number of bytes read.
func classItem(s string, i int) (r rune, class []rune, n int, err error) {
	c := s[i]
	switch {
	case c == ']' && i > 0:
		return 0, nil, 0, errors.New(`an unescaped ] would end the set early in Perl; write \]`)
	case c == '[' && i+1 < len(s) && strings.IndexByte(":.=", s[i+1]) >= 0:
		return 0, nil, 0, fmt.Errorf(`POSIX classes such as [:alpha:] are not supported; write \[ for a literal [`)
	case c != '\\':
		r, n = utf8.DecodeRuneInString(s[i:])
		return r, nil, n, nil
	}
	if i+1 >= len(s) {
		return 0, nil, 0, errors.New(`the value ends with a lone \; write \\ to refuse the backslash`)
	}
	e, size := utf8.DecodeRuneInString(s[i+1:])
	n = 1 + size
	if e >= utf8.RuneSelf || !isASCIIAlnum(byte(e)) {
		return e, nil, n, nil // an escaped punctuation mark stands for itself
	}
	switch e {
	case 't':
		return '\t', nil, n, nil
	case 'n':
		return '\n', nil, n, nil
	case 'r':
		return '\r', nil, n, nil
	case 'f':
		return '\f', nil, n, nil
	case 'e':
		return 0x1b, nil, n, nil
	case 'a':
		return 0x07, nil, n, nil
	case 'b':
		return 0x08, nil, n, nil
	case 'd':
		return 0, classDigit, n, nil
	case 'w':
		return 0, classWord, n, nil
	case 's':
		return 0, classSpace, n, nil
	case 'c':
		if i+2 >= len(s) || s[i+2] >= utf8.RuneSelf {
			return 0, nil, 0, errors.New(`\c must be followed by an ASCII character`)
		}
		x := s[i+2]
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		return rune(x ^ 64), nil, 3, nil
	case 'x':
		return codePoint(s, i, 'x', 16, 2)
	case 'o':
		return codePoint(s, i, 'o', 8, 0)
	}
	if '0' <= e && e <= '7' {
		return codePoint(s, i, '0', 8, 3)
	}
	return 0, nil, 0, fmt.Errorf(`the escape \%c is not supported here; list the characters themselves`, e)
}

// codePoint reads a numeric escape starting at the backslash s[i]: \x and
// \o followed by {digits}, \x followed by up to two hex digits, or up to
// three octal digits. kind is 'x', 'o' or '0' (plain octal).
func codePoint(s string, i int, kind byte, base int, maxDigits int) (rune, []rune, int, error) {
	start := i + 1 // the first digit for plain octal
	if kind != '0' {
		start = i + 2
	}
	var digits string
	end := start
	if kind != '0' && start < len(s) && s[start] == '{' {
		closing := strings.IndexByte(s[start:], '}')
		if closing < 0 {
			return 0, nil, 0, fmt.Errorf(`\%c{ has no closing }`, kind)
		}
		digits = strings.TrimSpace(s[start+1 : start+closing])
		end = start + closing + 1
		if digits == "" && kind == 'o' {
			return 0, nil, 0, errors.New(`\o{} needs octal digits`)
		}
	} else {
		if kind == 'o' {
			return 0, nil, 0, errors.New(`\o must be followed by {octal digits}`)
		}
		for end < len(s) && end-start < maxDigits && isDigitIn(s[end], base) {
			end++
		}
		digits = s[start:end]
	}
	v := uint64(0)
	if digits != "" {
		var err error
		v, err = strconv.ParseUint(digits, base, 32)
		if err != nil {
			return 0, nil, 0, fmt.Errorf("the escape %s is not a valid number", s[i:end])
		}
	}
	if v > utf8.MaxRune || (0xD800 <= v && v <= 0xDFFF) {
		return 0, nil, 0, fmt.Errorf("the escape %s is not a Unicode character", s[i:end])
	}
	return rune(v), nil, end - i, nil
}

// isDigitIn reports whether c is a digit in base 8 or 16.
func isDigitIn(c byte, base int) bool {
	switch {
	case '0' <= c && c <= '7':
		return true
	case base == 16:
		return '8' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
	}
	return false
}
