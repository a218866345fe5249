package envfile

import (
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/syntax"
)

// FuzzParseEnvFile parses arbitrary text as /etc/default/tentacle_serverd.
// The file is sourced by shell scripts as well as read by the daemon, so
// Parse must never panic, must name the file and a line of it when it
// refuses the text, must give back what it read when the values are
// written again in double quotes, and, for every file it accepts, must
// read the assignments a shell sourcing the file makes, in order and on
// their lines: mvdan.cc/sh is the shell it is compared with.
func FuzzParseEnvFile(f *testing.F) {
	for _, s := range []string{
		"", "\n\n", "# comment\n", "A=1\n", "export A=1\n", "  export\tA=1 # note\n", "\xef\xbb\xbfA=1\r\nB=2\r\n",
		"TENTACLE_EXT_OPTS='-i .*\\.conf:conf;.*\\.md5:md5 -v'\n", `A="a\"b \$x \\ \q"` + "\n", `A='a'"b"`, `A=a\ b\#\~`,
		"A=a#b", "A=*.conf", "export A='{a,b}'", "A=x:~", "A=~", "A=a~",
		"A=b c", "A= b", "A =1", "1A=1", "A-B=1", "A", "export A", "; comment", "A=$x", "A=`id`", `A="$x"`,
		"A=a;b", "A='open", `A="open`, `A=a\`, `A=a"b"`, "A=\x00", "A=\xff", "A=1\nA=2\n", "export=1", "exportA=1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		const path = "/etc/default/fuzz"
		vars, err := Parse(strings.NewReader(data), path)
		lines := strings.Count(data, "\n") + 1
		if err != nil {
			var ce *Error
			if vars != nil || !errors.As(err, &ce) || ce.File != path || (ce.Line < 1 || ce.Line > lines) && len(data) <= maxSize {
				t.Fatalf("Parse(%q) = %v, %v: want an *envfile.Error for %s at a line of it", data, vars, err, path)
			}
			return
		}
		for i, v := range vars {
			if v.Line < 1 || v.Line > lines || i > 0 && v.Line <= vars[i-1].Line {
				t.Fatalf("Parse(%q): %s on line %d", data, v.Key, v.Line)
			}
			again, err := Parse(strings.NewReader(v.Key+`="`+envQuoteEscaper.Replace(v.Value)+`"`), path)
			if want := []Var{{v.Key, v.Value, 1}}; err != nil || !reflect.DeepEqual(again, want) {
				t.Fatalf("Parse(%q): %s=%q, but written again in double quotes it reads %v, %v", data, v.Key, v.Value, again, err)
			}
		}
		shell, err := shellAssignments(data)
		if err != nil || !reflect.DeepEqual(shell, vars) {
			t.Fatalf("Parse(%q) = %+v; a shell sourcing it sets %+v, %v", data, vars, shell, err)
		}
	})
}

// envQuoteEscaper escapes what is special inside double quotes.
var envQuoteEscaper = strings.NewReplacer(`"`, `\"`, `\`, `\\`, `$`, `\$`, "`", "\\`")

// Braces stand in for themselves in plain assignments given to the
// oracle: no shell expands braces in an assignment's value, but
// mvdan.cc/sh's expand.Fields, the one expansion that also removes quotes,
// always does. An exported value is an argument of export, which bash
// does brace-expand, so there they are left for Fields to expand.
const (
	envOpenBrace  = "\ue000"
	envCloseBrace = "\ue001"
)

// envShellHome is $HOME for the oracle: a tilde the shell would expand
// shows up as this, never as "~".
const envShellHome = "/home/of/tilde"

// shellAssignments returns the variables a shell sets when it sources data
// (as "." does), read with mvdan.cc/sh's POSIX parser and expanded with
// HOME set and globbing off: every statement must be NAME=word or
// "export NAME=word", and the word must expand to one field.
//
// Parse skips a UTF-8 byte order mark and a "\r" before each line
// end, for files edited on Windows, where a shell would make them part of
// the first name and of each value; the oracle is given the text without
// them.
func shellAssignments(data string) ([]Var, error) {
	data = strings.TrimPrefix(data, "\xef\xbb\xbf")
	data = strings.ReplaceAll(data, "\r\n", "\n")
	data = strings.TrimSuffix(data, "\r")
	parse := func(src string) (*syntax.File, error) {
		return syntax.NewParser(syntax.Variant(syntax.LangPOSIX)).Parse(strings.NewReader(src), "")
	}
	file, err := parse(data)
	if err != nil {
		return nil, err
	}
	if strings.Contains(data, envOpenBrace) || strings.Contains(data, envCloseBrace) {
		return nil, errors.New("the text holds the oracle's brace stand-ins")
	}
	hidden, err := parse(strings.NewReplacer("{", envOpenBrace, "}", envCloseBrace).Replace(data))
	if err != nil {
		return nil, err
	}
	if len(hidden.Stmts) != len(file.Stmts) {
		return nil, errors.New("hiding braces changed the statements")
	}
	cfg := &expand.Config{Env: expand.ListEnviron("HOME=" + envShellHome)}
	unhide := strings.NewReplacer(envOpenBrace, "{", envCloseBrace, "}")
	field := func(w *syntax.Word) (string, error) {
		if w == nil {
			return "", nil
		}
		fields, err := expand.Fields(cfg, w)
		if err != nil {
			return "", err
		}
		if len(fields) != 1 {
			return "", errors.New("the value expands to " + strconv.Itoa(len(fields)) + " fields")
		}
		return fields[0], nil
	}

	vars := []Var{}
	for i, stmt := range file.Stmts {
		line := int(stmt.Pos().Line())
		call, ok := stmt.Cmd.(*syntax.CallExpr)
		if !ok || stmt.Negated || stmt.Background || stmt.Coprocess || len(stmt.Redirs) > 0 {
			return nil, errors.New("line " + strconv.Itoa(line) + ": not a simple command")
		}
		switch {
		case len(call.Assigns) == 1 && len(call.Args) == 0:
			a := hidden.Stmts[i].Cmd.(*syntax.CallExpr).Assigns[0]
			if a.Append || a.Naked || a.Index != nil || a.Array != nil {
				return nil, errors.New("line " + strconv.Itoa(line) + ": not NAME=word")
			}
			value, err := field(a.Value)
			if err != nil {
				return nil, err
			}
			vars = append(vars, Var{Key: a.Name.Value, Value: unhide.Replace(value), Line: line})
		case len(call.Assigns) == 0 && len(call.Args) == 2 && call.Args[0].Lit() == "export":
			arg, err := field(call.Args[1])
			if err != nil {
				return nil, err
			}
			key, value, ok := strings.Cut(arg, "=")
			if !ok {
				return nil, errors.New("line " + strconv.Itoa(line) + ": export without a value")
			}
			vars = append(vars, Var{Key: key, Value: value, Line: line})
		default:
			return nil, errors.New("line " + strconv.Itoa(line) + ": not an assignment")
		}
	}
	return vars, nil
}
