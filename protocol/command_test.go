package protocol

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		line string
		want Command
		bad  bool
	}{
		{line: "SEND <a.data> SIZE 12", want: Command{Verb: "SEND", Name: "a.data", Size: 12}},
		{line: "ZSEND <a.data> SIZE 0", want: Command{Verb: "ZSEND", Name: "a.data"}},
		{line: "SEND <a> SIZE 1> SIZE 2", want: Command{Verb: "SEND", Name: "a> SIZE 1", Size: 2}},
		{line: "SEND <> SIZE 1", want: Command{Verb: "SEND", Name: "", Size: 1}},
		{line: "SEND <a> SIZE 99999999999999999999", want: Command{Verb: "SEND", Name: "a", Size: math.MaxInt64}},
		{line: "RECV <b.conf>", want: Command{Verb: "RECV", Name: "b.conf"}},
		{line: "ZRECV <b>", want: Command{Verb: "ZRECV", Name: "b"}},
		{line: "LS <>", want: Command{Verb: "LS"}},
		{line: "MV <m>", want: Command{Verb: "MV", Name: "m"}},
		{line: "QUIT", want: Command{Verb: "QUIT"}},
		{line: "PASS abc", want: Command{Verb: "PASS", Arg: "abc"}},
		{line: "PASS ", want: Command{Verb: "PASS"}},
		{line: "SEND <a> SIZE -1", bad: true},
		{line: "SEND <a> SIZE 1x", bad: true},
		{line: "SEND <a> SIZE ", bad: true},
		{line: "SEND a SIZE 1", bad: true},
		{line: "SEND <a>", bad: true},
		{line: "RECV a", bad: true},
		{line: "RECV <a> ", bad: true},
		{line: "QUIT now", bad: true},
		{line: "quit", bad: true},
		{line: "PASS", bad: true},
		{line: "", bad: true},
		{line: "HELO <a>", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			got, err := ParseCommand(tt.line)
			if tt.bad {
				if !errors.Is(err, errUnknownCommand) {
					t.Fatalf("got %+v, %v; want an unknown command", got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestCheckName(t *testing.T) {
	tests := []struct {
		name, invalid string
		ok            bool
	}{
		{"agent.1.data", "", true},
		{"ñandú.data", "", true},
		{"x", "", true},
		{strings.Repeat("x", 255), "", true},
		{strings.Repeat("x", 256), "", false},
		{"", "", false}, {".", "", false}, {"..", "", false},
		{"a\x00b", "", false}, {"a\nb", "", false}, {"a\x7fb", "", false},
		{"a~", "", false}, {"a b", "", true}, {"..a", "", true},
		{"a~b", "x", true},  // a replaced set drops the defaults, as in the reference
		{"a/b", "x", false}, // but a slash never makes a name
		{"axb", "x", false},
	}
	for _, c := range DefaultInvalidChars {
		tests = append(tests, struct {
			name, invalid string
			ok            bool
		}{"a" + string(c) + "b", "", false})
	}
	for _, tt := range tests {
		err := CheckName(tt.name, tt.invalid)
		if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrInvalidName)) {
			t.Errorf("CheckName(%q, %q) = %v, want ok=%v", tt.name, tt.invalid, err, tt.ok)
		}
	}
}

func TestParseFilters(t *testing.T) {
	f, err := ParseFilters(PandoraFilters + ";;nocolon;x:y:z;trail:dir/")
	if err != nil {
		t.Fatal(err)
	}
	routes := map[string]string{
		"a.conf": "conf", "a.md5": "md5", "c.zip": "collections", "l.lock": "trans",
		"r.rcmd": "commands", "agent.data": "", "xx": "y", "trail": "dir",
	}
	for name, want := range routes {
		if got, _ := route(f, name); got != want {
			t.Errorf("route(%q) = %q, want %q", name, got, want)
		}
	}
	for _, bad := range []string{"(:x", "a:/etc", "a:../up", "a:x/../../up"} {
		if _, err := ParseFilters(bad); err == nil {
			t.Errorf("ParseFilters(%q) accepted", bad)
		}
	}
}

// FuzzParseCommand checks that no line crashes the parser, and that what it
// accepts is what the reference's patterns would accept.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"SEND <a> SIZE 1", "ZSEND <a.data> SIZE 99999999999999999999999", "RECV <x>", "ZRECV <>", "LS <.>", "MV <m>", "QUIT", "PASS 00", "SEND <<>> SIZE 1", "SEND <a> SIZE 1> SIZE 2", "\x00", "RECV <a\n>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		cmd, err := ParseCommand(line)
		if err != nil {
			return
		}
		switch cmd.Verb {
		case VerbSend, VerbZSend:
			if cmd.Size < 0 || !strings.HasPrefix(line, cmd.Verb+" <"+cmd.Name+"> SIZE ") {
				t.Fatalf("%q parsed as %+v", line, cmd)
			}
		case VerbRecv, VerbZRecv, VerbLS, VerbMV:
			if line != cmd.Verb+" <"+cmd.Name+">" {
				t.Fatalf("%q parsed as %+v", line, cmd)
			}
		case VerbQuit:
			if line != "QUIT" {
				t.Fatalf("%q parsed as QUIT", line)
			}
		case VerbPass:
			if line != "PASS "+cmd.Arg {
				t.Fatalf("%q parsed as %+v", line, cmd)
			}
		default:
			t.Fatalf("%q parsed to unknown verb %q", line, cmd.Verb)
		}
	})
}
