package envfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []Var
	}{
		{"empty", "", []Var{}},
		{"only comments", "# a\n   # b\n\t#c\n\n  \n", []Var{}},
		{"plain", "A=b\n", []Var{{"A", "b", 1}}},
		{"no final newline", "A=b", []Var{{"A", "b", 1}}},
		{"line numbers", "# c\n\nA=1\n\n# d\nB=2\n", []Var{{"A", "1", 3}, {"B", "2", 6}}},
		{"double quotes", `A="double quoted"`, []Var{{"A", "double quoted", 1}}},
		{"single quotes keep everything", `A='a $b "c" \d ` + "`e`'", []Var{{"A", `a $b "c" \d ` + "`e`", 1}}},
		{"export", "export A=b\n\texport \t B=\"c d\"", []Var{{"A", "b", 1}, {"B", "c d", 2}}},
		{"indented", "   A=b\n\tB=c", []Var{{"A", "b", 1}, {"B", "c", 2}}},
		{"empty values", "A=\nB=\"\"\nC=''\nD= \nE= # none", []Var{{"A", "", 1}, {"B", "", 2}, {"C", "", 3}, {"D", "", 4}, {"E", "", 5}}},
		{"trailing blanks", "A=b  \t\nB=\"c\"  ", []Var{{"A", "b", 1}, {"B", "c", 2}}},
		{"comment after quoted value", `A="x" # note`, []Var{{"A", "x", 1}}},
		{"comment after single-quoted value", `A='x y'	# note`, []Var{{"A", "x y", 1}}},
		{"comment after plain value", "A=y # note", []Var{{"A", "y", 1}}},
		{"hash inside a value", "A=a#b\nB=#c\nC=\"#d\"", []Var{{"A", "a#b", 1}, {"B", "#c", 2}, {"C", "#d", 3}}},
		{"joined quotes", `A='a'"b"`, []Var{{"A", "ab", 1}}},
		{"text after quotes", `A="a"b`, []Var{{"A", "ab", 1}}},
		{"escaped blank", `A=a\ b`, []Var{{"A", "a b", 1}}},
		{"escaped specials", `A=\$\"\'\\\;\#`, []Var{{"A", `$"'\;#`, 1}}},
		{"double-quote escapes", `A="\"\\\$\` + "`" + `\d"`, []Var{{"A", `"\$` + "`" + `\d`, 1}}},
		{"pandora filters", `TENTACLE_EXT_OPTS="-i '.*\.conf:conf;.*\.md5:md5'"`, []Var{{"TENTACLE_EXT_OPTS", `-i '.*\.conf:conf;.*\.md5:md5'`, 1}}},
		{"escaped dollar for ext opts", `TENTACLE_EXT_OPTS="-x 'pa\$\$'"`, []Var{{"TENTACLE_EXT_OPTS", `-x 'pa$$'`, 1}}},
		{"globs and braces are literal", "A=*.conf\nB=[ab]?{c,d}!", []Var{{"A", "*.conf", 1}, {"B", "[ab]?{c,d}!", 2}}},
		{"tilde inside", "A=a~b\nB=a:b~", []Var{{"A", "a~b", 1}, {"B", "a:b~", 2}}},
		{"equals in value", "A=a=b", []Var{{"A", "a=b", 1}}},
		{"names", "lower=1\n_U=2\nV1=3\nexport=4\nexportX=5", []Var{{"lower", "1", 1}, {"_U", "2", 2}, {"V1", "3", 3}, {"export", "4", 4}, {"exportX", "5", 5}}},
		{"tab in quotes", "A=\"a\tb\"", []Var{{"A", "a\tb", 1}}},
		{"utf-8", "A=ñandú\nB='€ x'", []Var{{"A", "ñandú", 1}, {"B", "€ x", 2}}},
		{"repeated keys", "A=1\nA=2", []Var{{"A", "1", 1}, {"A", "2", 2}}},
		{"crlf", "# c\r\nA=b\r\nB=\"c d\"\r\n\r\nC='e'   \r\n", []Var{{"A", "b", 2}, {"B", "c d", 3}, {"C", "e", 5}}},
		{"bom", "\xef\xbb\xbfA=b\n", []Var{{"A", "b", 1}}},
		{"bom and crlf", "\xef\xbb\xbf# c\r\nA=b\r\n", []Var{{"A", "b", 2}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tt.in), "test.env")
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse(%q)\n got %+v\nwant %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		line int
		want string // the message after "test.env:LINE: "
	}{
		{"blank before =", "A =b", 1, `A: blanks before "=": write A=value`},
		{"blanks around =", "# c\nA = b", 2, `A: blanks before "="`},
		{"blank after =", "A= b", 1, `A: blank after "=": a shell would set A to "" and run "b" as a command`},
		{"unquoted blank", "X=1\nA=b c", 2, `A: unquoted blank in the value: a shell would run "c" as a command; put the whole value in quotes`},
		{"blank after quotes", `A="b" c`, 1, `A: unquoted blank in the value: a shell would run "c"`},
		{"unterminated double quote", "\n\nA=\"b", 3, `A: unterminated double quote`},
		{"unterminated single quote", "A='b\nB=c'", 1, `A: unterminated single quote`},
		{"unterminated after escape", `A="b\`, 1, `A: unterminated double quote`},
		{"dollar unquoted", "A=$B", 1, `A: "$" outside quotes: nothing is expanded or run here`},
		{"dollar braces", "A=${B}", 1, `A: "$" outside quotes`},
		{"dollar in double quotes", `A="x $B"`, 1, `A: "$" in double quotes`},
		{"command substitution", "A=$(id)", 1, `A: "$" outside quotes`},
		{"backquote", "A=`id`", 1, "A: \"`\" outside quotes"},
		{"backquote in double quotes", "A=\"`id`\"", 1, "A: \"`\" in double quotes"},
		{"semicolon", "A=a;b", 1, `A: unquoted ";": a shell would read it as an operator`},
		{"pipe", "A=a|b", 1, `A: unquoted "|"`},
		{"ampersand", "A=a&", 1, `A: unquoted "&"`},
		{"redirection", "A=<x", 1, `A: unquoted "<"`},
		{"parenthesis", "A=(a b)", 1, `A: unquoted "("`},
		{"tilde", "A=~/x", 1, `A: unquoted "~" at the start of the value or after ":"`},
		{"tilde after colon", "A=/a:~/x", 1, `A: unquoted "~" at the start of the value or after ":"`},
		{"quote after text", `A=a"b"`, 1, `A: quote in the middle of an unquoted value: a shell would remove it but systemd would keep it`},
		{"single quote after text", `A="a"b'c'`, 1, `A: quote in the middle of an unquoted value`},
		{"quote after escape", `A=\ 'c'`, 1, `A: quote in the middle of an unquoted value`},
		{"needless backslash", `A=.*\.conf`, 1, `A: "\" before "." outside quotes: a shell would drop the backslash`},
		{"continuation line", "A=b\\\nc", 1, `A: "\" at the end`},
		{"semicolon comment", "; comment", 1, `";" does not start a comment for a shell`},
		{"no equals", "A=1\nFOO", 2, `FOO: no "=" after the name: expected FOO=value (a shell would run FOO as a command)`},
		{"command", "FOO bar", 1, `FOO: expected FOO=value: a shell would run FOO as a command`},
		{"export without value", "export FOO", 1, `FOO: export without a value: write export FOO=value`},
		{"leading digit", "1A=b", 1, `the name 1A starts with a digit`},
		{"dash in name", "A-B=c", 1, `"-" in the name A...: a name is letters, digits and _`},
		{"dot in name", "a.b=c", 1, `"." in the name a...`},
		{"no name", "=b", 1, `expected KEY=value, export KEY=value or a # comment, not a line starting with "="`},
		{"export alone with options", "export -n A=b", 1, `expected KEY=value, export KEY=value or a # comment, not a line starting with "-"`},
		{"non-ascii name", "ÑA=b", 1, `expected KEY=value, export KEY=value or a # comment, not a line starting with "Ñ"`},
		{"nul", "A=b\nB=\x00", 2, `control character U+0000: the file must be text`},
		{"escape character", "A=\x1b[0m", 1, `control character U+001B`},
		{"bare cr", "A=b\rB=c", 1, `control character U+000D`},
		{"invalid utf-8", "A=\xff", 1, `invalid UTF-8`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tt.in), "test.env")
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want an error", tt.in, got)
			}
			prefix := "test.env:" + strconv.Itoa(tt.line) + ": "
			if msg := err.Error(); !strings.HasPrefix(msg, prefix+tt.want) {
				t.Errorf("Parse(%q) error:\n got %q\nwant %q...", tt.in, msg, prefix+tt.want)
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.File != "test.env" || ce.Line != tt.line {
				t.Errorf("error %#v: want a *Error at test.env line %d", err, tt.line)
			}
		})
	}
}

func TestParseLimits(t *testing.T) {
	big := strings.Repeat("# padding\n", maxSize/10+1)
	if _, err := Parse(strings.NewReader(big), "big.env"); err == nil || !strings.HasPrefix(err.Error(), "big.env: larger than") {
		t.Errorf("oversized file: got %v", err)
	}
	boom := errors.New("boom")
	if _, err := Parse(iotest.ErrReader(boom), "x.env"); !errors.Is(err, boom) || err.Error() != "x.env: cannot read the env file: boom" {
		t.Errorf("read error: got %v", err)
	}
	if _, err := Parse(strings.NewReader("A=$x"), ""); err == nil || !strings.HasPrefix(err.Error(), "env file:1: A: ") {
		t.Errorf("unnamed file: got %v", err)
	}
}

func TestRead(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tentacle_serverd")
	if err := os.WriteFile(path, []byte("# settings\nTENTACLE_PORT=5000\nexport TENTACLE_ADDR='10.0.0.1'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []Var{{"TENTACLE_PORT", "5000", 2}, {"TENTACLE_ADDR", "10.0.0.1", 3}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Read = %+v, want %+v", got, want)
	}

	missing := filepath.Join(dir, "missing")
	_, err = Read(missing)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: got %v, want fs.ErrNotExist", err)
	}
	if err != nil && err.Error() != missing+": cannot read the env file: no such file or directory" {
		t.Errorf("missing file message: %q", err)
	}

	_, err = Read(dir)
	if err == nil || !strings.HasPrefix(err.Error(), dir+": cannot read the env file: ") || errors.Is(err, fs.ErrNotExist) {
		t.Errorf("directory: got %v", err)
	}
}
