package options

import (
	"strings"
	"testing"
)

func TestParseCharClass(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		// The reference's default, as its Perl source yields it and as
		// a configuration file would write it.
		{"reference default", `\?\[\]\/\\=\+\<\>\:\;'\,\*\~`, DefaultInvalidChars},
		{"reference default, all escaped", `\?\[\]\/\\\=\+\<\>\:\;\'\,\*\~`, DefaultInvalidChars},
		{"plain characters", `?*~`, "?*~"},
		{"duplicates once", `aab\a`, "ab\a"},
		{"escaped punctuation", `\-\^\ \#\_`, "-^ #_"},
		{"escaped non-ASCII", `\é`, "é"},
		{"non-ASCII", `éñ`, "éñ"},
		{"named escapes", `\t\n\r\f\e\a\b`, "\t\n\r\f\x1b\x07\x08"},
		{"octal", `\0\11\101\1012`, "\x00\tA2"},
		{"octal braces", `\o{101}`, "A"},
		{"hex", `\x41\x9\x`, "A\t\x00"},
		{"hex two digits only", `\x414`, "A4"},
		{"hex braces", `\x{41}\x{e9}\x{263A}\x{}`, "Aé☺\x00"},
		{"Latin-1 code point", `\xE9`, "é"},
		{"control", `\cA\c[\c?`, "\x01\x1b\x7f"},
		{"digits", `\d`, "0123456789"},
		{"spaces", `\s`, " \t\n\v\f\r"},
		{"word", `\w`, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"},
		{"range", `a-e`, "abcde"},
		{"escaped range", `\x00-\x03`, "\x00\x01\x02\x03"},
		{"single-character range", `a-a`, "a"},
		{"dash first", `-a`, "-a"},
		{"dash last", `a-`, "a-"},
		{"dash alone", `-`, "-"},
		{"dash after a range", `a-c-e`, "abc-e"},
		{"escaped dash", `a\-c`, "a-c"},
		{"class then dash last", `\d-`, "0123456789-"},
		{"bracket first", `]a`, "]a"},
		{"open bracket", `[a`, "[a"},
		{"caret later", `a^`, "a^"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseCharClass(tt.in)
			if err != nil {
				t.Fatalf("parseCharClass(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("parseCharClass(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseCharClassErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"negation", `^a`, "leading ^"},
		{"unescaped ]", `a]`, "unescaped ]"},
		{"POSIX class", `[:alpha:]`, "POSIX"},
		{"POSIX equivalence", `[=a=]`, "POSIX"},
		{"lone backslash", `a\`, "lone \\"},
		{"reversed range", `z-a`, "reversed"},
		{"range from a class", `\d-z`, "cannot start with the class \\d"},
		{"range to a class", `a-\w`, "cannot end with the class \\w"},
		{"unsupported letter", `\q`, `\q is not supported`},
		{"negated class", `\D`, `\D is not supported`},
		{"property", `\p{L}`, `\p is not supported`},
		{"named character", `\N{SPACE}`, `\N is not supported`},
		{"digit 8", `\8`, `\8 is not supported`},
		{"unclosed brace", `\x{41`, "no closing }"},
		{"bad hex", `\x{zz}`, "not a valid number"},
		{"beyond Unicode", `\x{110000}`, "not a Unicode character"},
		{"surrogate", `\x{D800}`, "not a Unicode character"},
		{"octal without braces", `\o101`, `\o must be followed`},
		{"empty octal braces", `\o{}`, `needs octal digits`},
		{"control without character", `\c`, `\c must be followed`},
		{"huge range", `\x{0}-\x{10FFFF}`, "more than 1024"},
		{"too many characters", `\x{100}-\x{3ff}\x{400}-\x{5ff}`, "more than 1024"},
		{"invalid UTF-8", "a\xff", "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseCharClass(tt.in)
			if err == nil {
				t.Fatalf("parseCharClass(%q) = %q, want an error", tt.in, got)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("parseCharClass(%q) error %q, want it to contain %q", tt.in, err, tt.want)
			}
		})
	}
}

// TestDefaultInvalidChars checks the set against the list in PROTOCOL.md.
func TestDefaultInvalidChars(t *testing.T) {
	for _, c := range strings.Fields(`? [ ] / \ = + < > : ; ' , * ~`) {
		if !strings.Contains(DefaultInvalidChars, c) {
			t.Errorf("DefaultInvalidChars lacks %q", c)
		}
	}
	if len(DefaultInvalidChars) != 15 {
		t.Errorf("DefaultInvalidChars = %q, want 15 characters", DefaultInvalidChars)
	}
}
