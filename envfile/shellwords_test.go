package envfile

import (
	"reflect"
	"strings"
	"testing"
)

func TestSplitShellWords(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", []string{}},
		{" \t\n ", []string{}},
		{"-v", []string{"-v"}},
		{"  -v   -I  ", []string{"-v", "-I"}},
		{"-v\t-I\n-o", []string{"-v", "-I", "-o"}},
		{"-p5000 -vI", []string{"-p5000", "-vI"}},
		{"-x 'my pass'", []string{"-x", "my pass"}},
		{`-x "my pass"`, []string{"-x", "my pass"}},
		{"''", []string{""}},
		{`""`, []string{""}},
		{"a '' b", []string{"a", "", "b"}},
		{`a""b`, []string{"ab"}},
		{`'a'"b"c`, []string{"abc"}},
		{`a'b c'd`, []string{"ab cd"}},
		{`-i '.*\.conf:conf;.*\.md5:md5'`, []string{"-i", `.*\.conf:conf;.*\.md5:md5`}},
		{`'$(rm -rf /) ` + "`id`'", []string{"$(rm -rf /) `id`"}},
		{`"a\"b"`, []string{`a"b`}},
		{`"a\\b"`, []string{`a\b`}},
		{`"\$HOME"`, []string{"$HOME"}},
		{"\"\\`\"", []string{"`"}},
		{`"a\.b\n"`, []string{`a\.b\n`}},
		{"\"a\\\nb\"", []string{"ab"}},
		{`"it's"`, []string{"it's"}},
		{`'say "hi"'`, []string{`say "hi"`}},
		{`a\ b`, []string{"a b"}},
		{`\'\"\\\$\;\#\~\*`, []string{`'"\$;#~*`}},
		{"a\\\nb", []string{"ab"}},
		{"*.conf [ab]? {x,y} !", []string{"*.conf", "[ab]?", "{x,y}", "!"}},
		{"a#b a~ a=b", []string{"a#b", "a~", "a=b"}},
		{"'ñ x' ü", []string{"ñ x", "ü"}},
	}
	for _, tt := range tests {
		got, err := SplitShellWords(tt.in)
		if err != nil {
			t.Errorf("SplitShellWords(%q): %v", tt.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("SplitShellWords(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSplitShellWordsErrors(t *testing.T) {
	tests := []struct {
		in   string
		want string // the start of the message
	}{
		{"'abc", "character 1: unterminated single quote"},
		{"-x 'abc", "character 4: unterminated single quote"},
		{`-x "abc`, "character 4: unterminated double quote"},
		{`"abc\`, "character 1: unterminated double quote"},
		{`'a'"b`, "character 4: unterminated double quote"},
		{"$HOME", `character 1: "$" outside quotes: nothing is expanded or run here`},
		{"-x $(cat /etc/pw)", `character 4: "$" outside quotes`},
		{`-x "$p"`, `character 5: "$" in double quotes`},
		{`-x "${p}"`, `character 5: "$" in double quotes`},
		{"-x `id`", "character 4: \"`\" outside quotes: nothing is expanded or run here (a shell would see a command substitution)"},
		{"-x \"`id`\"", "character 5: \"`\" in double quotes"},
		{"a;b", `character 2: unquoted ";": a shell would read it as an operator`},
		{"-v && -o", `character 4: unquoted "&"`},
		{"-v | x", `character 4: unquoted "|"`},
		{"-v >/tmp/x", `character 4: unquoted ">"`},
		{"<x", `character 1: unquoted "<"`},
		{"(x)", `character 1: unquoted "("`},
		{"#x", `character 1: unquoted "#" at the start of a word`},
		{"-x #pw", `character 4: unquoted "#" at the start of a word`},
		{"~/x", `character 1: unquoted "~" at the start of a word`},
		{`-i .*\.conf`, `character 6: "\" before "." outside quotes: a shell would drop the backslash`},
		{`\d`, `character 1: "\" before "d" outside quotes`},
		{`ñ\ñ`, `character 2: "\" before "ñ" outside quotes`},
		{`abc\`, `character 4: "\" at the end`},
		{"-v\x01", "character 3: control character U+0001"},
		{"-v\r", "character 3: control character U+000D"},
		{"-v\x7f", "character 3: control character U+007F"},
		{"-x \xff", "invalid UTF-8"},
	}
	for _, tt := range tests {
		got, err := SplitShellWords(tt.in)
		if err == nil {
			t.Errorf("SplitShellWords(%q) = %q, want an error", tt.in, got)
			continue
		}
		if !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("SplitShellWords(%q) error:\n got %q\nwant %q...", tt.in, err, tt.want)
		}
	}
}
