package envfile

import (
	"errors"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/syntax"
)

// FuzzSplitShellWords splits arbitrary text as TENTACLE_EXT_OPTS. The text
// is an administrator's, read at every start and reload, so SplitShellWords
// must never panic, must say where a refused text goes wrong, must give
// back what it split when its words are quoted again, and, for every text
// it accepts, must split it as a POSIX shell would: mvdan.cc/sh is the
// shell it is compared with.
func FuzzSplitShellWords(f *testing.F) {
	for _, s := range []string{
		"", " \t\n ", "-v", "-p5000 -vI", "-x 'my pass'", `-x "my pass"`, "''", `a""b`, `'a'"b"c`,
		`-i '.*\.conf:conf;.*\.md5:md5'`, `"a\"b" "a\\b" "\$HOME" "a\.b\n"`, "\"a\\\nb\"", `a\ b`,
		`\'\"\\\$\;\#\~\*`, "a\\\nb", "*.conf [ab]? {x,y} ! a#b a~ a=b", "'ñ x' ü",
		"$HOME", "`id`", `"$x"`, "a;b", "a|b", "(a)", "~root", "#x", `a\.b`, "'open", `"open`, `a\`,
		"\x00", "\xff", "a\n!", "a\nif", "a\nb=c", "{a,b}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words, err := SplitShellWords(s)
		if err != nil {
			if words != nil || !shellErrorPlace.MatchString(err.Error()) {
				t.Fatalf("SplitShellWords(%q) = %q, %v: want no words and an error that says where", s, words, err)
			}
			if m := shellErrorPlace.FindStringSubmatch(err.Error()); m[1] != "" {
				if n, _ := strconv.Atoi(m[1]); n < 1 || n > utf8.RuneCountInString(s) {
					t.Fatalf("SplitShellWords(%q): %v: character %d is outside the text", s, err, n)
				}
			}
			return
		}
		if words == nil {
			t.Fatalf("SplitShellWords(%q) = nil, nil: want an empty list", s)
		}
		quoted := make([]string, len(words))
		for i, w := range words {
			quoted[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
		}
		if again, err := SplitShellWords(strings.Join(quoted, " ")); err != nil || !reflect.DeepEqual(again, words) {
			t.Fatalf("SplitShellWords(%q) = %q, but the words quoted again give %q, %v", s, words, again, err)
		}
		shell, err := posixShellWords(s)
		if errors.Is(err, errShellOracleSkip) {
			return
		}
		if err != nil || !reflect.DeepEqual(shell, words) {
			t.Fatalf("SplitShellWords(%q) = %q; a POSIX shell reads %q, %v", s, words, shell, err)
		}
	})
}

// shellErrorPlace is how SplitShellWords's errors begin: a position in
// characters, or what is wrong with the whole text.
var shellErrorPlace = regexp.MustCompile(`^(?:character (\d+): |invalid UTF-8$)`)

// errShellOracleSkip marks a text the shell oracle cannot judge.
var errShellOracleSkip = errors.New("not comparable with a shell")

// Braces stand in for themselves in the text given to the oracle. POSIX sh
// has no brace expansion, and SplitShellWords keeps braces as they are, but
// mvdan.cc/sh's expand.Fields always expands them as bash does; private-use
// characters in their place keep them from it.
const (
	shellOpenBrace  = "\ue000"
	shellCloseBrace = "\ue001"
)

// posixShellHome is $HOME for the oracle: a tilde the shell would expand
// shows up as this, never as "~".
const posixShellHome = "/home/of/tilde"

// posixShellWords returns the arguments a POSIX shell gives to a command
// run as "cmd " + s, using mvdan.cc/sh's parser and its expansion of words
// (quote removal and tilde expansion; there is nothing else to expand in a
// text SplitShellWords accepts, and globbing is off).
//
// It returns errShellOracleSkip where the two legitimately differ, and
// where the oracle itself is wrong:
//
//   - SplitShellWords takes a newline for a blank, where a shell ends the
//     command and reads the next line's first word as a command name: a
//     reserved word (if, !, {) or an assignment there makes it something
//     else than arguments, so a text with a newline is compared only when
//     the shell reads every line as a simple command of plain words;
//   - a text that already holds the brace stand-ins;
//   - a text with an escaped backslash just before a backslash-newline:
//     mvdan.cc/sh (v3.14.1) takes that backslash-newline for an escaped
//     newline, where a shell removes it (dash and bash read \\\<newline>x
//     as \x, mvdan.cc/sh as "\<newline>x").
func posixShellWords(s string) ([]string, error) {
	if strings.Contains(s, shellOpenBrace) || strings.Contains(s, shellCloseBrace) ||
		strings.Contains(s, `\\\`+"\n") {
		return nil, errShellOracleSkip
	}
	src := "cmd " + strings.NewReplacer("{", shellOpenBrace, "}", shellCloseBrace).Replace(s)
	file, err := syntax.NewParser(syntax.Variant(syntax.LangPOSIX)).Parse(strings.NewReader(src), "")
	if err != nil {
		if strings.Contains(s, "\n") {
			return nil, errShellOracleSkip
		}
		return nil, err
	}
	cfg := &expand.Config{Env: expand.ListEnviron("HOME=" + posixShellHome)}
	unhide := strings.NewReplacer(shellOpenBrace, "{", shellCloseBrace, "}")
	words := []string{}
	for i, stmt := range file.Stmts {
		call, ok := stmt.Cmd.(*syntax.CallExpr)
		if !ok || len(call.Assigns) > 0 || stmt.Negated || stmt.Background || stmt.Coprocess || len(stmt.Redirs) > 0 {
			if strings.Contains(s, "\n") {
				return nil, errShellOracleSkip
			}
			return nil, errors.New("not a simple command")
		}
		args := call.Args
		if i == 0 {
			args = args[1:] // cmd
		}
		for _, arg := range args {
			fields, err := expand.Fields(cfg, arg)
			if err != nil {
				return nil, err
			}
			if len(fields) != 1 {
				return nil, errors.New("a word expands to " + strconv.Itoa(len(fields)) + " fields")
			}
			words = append(words, unhide.Replace(fields[0]))
		}
	}
	return words, nil
}
