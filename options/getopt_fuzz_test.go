package options

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// FuzzGetopt parses arbitrary command lines against arbitrary option sets
// and against the server's and the client's. Every start of both programs
// goes through getopt, so whatever the arguments it must not panic, and it
// must keep Getopt::Std's reading:
//
//   - a refusal is a *UsageError naming the option ("-j", "--foo");
//   - every option returned is one of the set, and one without a value
//     has "";
//   - the operands are the arguments after the options, in their order:
//     they begin where the options end (at a non-option, or after "--");
//   - a value is the rest of an argument or a whole one;
//   - what getopt returns, written again as "-l value ... -- operands",
//     reads the same.
//
// The arguments come as one string cut at NUL bytes, which no argument of
// a real command line can hold.
func FuzzGetopt(f *testing.F) {
	for _, s := range []struct{ spec, args string }{
		{"ab:chx:", ""},
		{"ab:chx:", "-a"},
		{"ab:chx:", "-acb1\x00file"},
		{"ab:chx:", "-x\x00-c\x00f"},
		{"ab:chx:", "-a\x00--\x00-c"},
		{"ab:chx:", "--\x00--"},
		{"ab:chx:", "-\x00-a"},
		{"ab:chx:", "\x00-a"},
		{"ab:chx:", "--help"},
		{"ab:cx:", "--help"},
		{"ab:chx:", "-b"},
		{"ab:chx:", "-j"},
		{"ab:chx:", "-a\xff"},
		{"ab:chx:", "-aé"},
		{"", "-s\x00/tmp\x00-v"},
		{"server", "-s\x00/var/spool/pandora/data_in\x00-a\x000.0.0.0\x00-p\x0041121\x00-v\x00-I\x00-o\x00-m\x002000000"},
		{"client", "-a\x00server\x00-p\x0041121\x00-v\x00file1\x00file2"},
		{"client", "-g\x00file"},
	} {
		f.Add(s.spec, s.args)
	}
	f.Fuzz(func(t *testing.T, spec, argv string) {
		var args []string
		if argv != "" {
			args = strings.Split(argv, "\x00")
		}
		for _, set := range []optionSet{specOptions(spec), serverOptions, clientOptions} {
			checkGetopt(t, set, args)
		}
	})
}

// checkGetopt checks the properties FuzzGetopt lists for one set.
func checkGetopt(t *testing.T, set optionSet, args []string) {
	t.Helper()
	cl, err := getopt(args, set)
	if err != nil {
		var ue *UsageError
		if cl != nil || !errors.As(err, &ue) || !strings.HasPrefix(ue.Option, "-") {
			t.Fatalf("getopt(%q, %q) = %v, %v: want a *UsageError naming the option", args, set.spec(), cl, err)
		}
		return
	}
	for letter, value := range cl.values {
		o, ok := set.find(rune(letter))
		if !ok || o.arg == "" && value != "" {
			t.Fatalf("getopt(%q, %q): -%c %q is not an option of the set", args, set.spec(), letter, value)
		}
		if o.arg != "" && !slices.ContainsFunc(args, func(a string) bool { return strings.HasSuffix(a, value) }) {
			t.Fatalf("getopt(%q, %q): -%c %q is not the end of an argument", args, set.spec(), letter, value)
		}
	}
	if cl.rest != nil && len(cl.rest) == 0 {
		t.Fatalf("getopt(%q, %q): operands are an empty list, not nil", args, set.spec())
	}
	if len(cl.rest) > 0 {
		start := len(args) - len(cl.rest)
		afterDashes := start > 0 && args[start-1] == "--"
		nonOption := len(args[start]) < 2 || args[start][0] != '-'
		if !reflect.DeepEqual(cl.rest, args[start:]) || !afterDashes && !nonOption {
			t.Fatalf("getopt(%q, %q): operands %q are not the arguments after the options", args, set.spec(), cl.rest)
		}
	}

	var again []string
	for _, o := range set {
		if value, ok := cl.values[o.letter]; ok {
			again = append(again, "-"+string(o.letter))
			if o.arg != "" {
				again = append(again, value)
			}
		}
	}
	again = append(again, "--")
	again = append(again, cl.rest...)
	cl2, err := getopt(again, set)
	if err != nil || !reflect.DeepEqual(cl2.values, cl.values) || !reflect.DeepEqual(cl2.rest, cl.rest) {
		t.Fatalf("getopt(%q, %q) = %q %q, but written again as %q: %v, %v", args, set.spec(), cl.values, cl.rest, again, cl2, err)
	}
}

// specOptions makes an option set from Getopt::Std notation ("ab:c"):
// letters and digits, each followed by ":" if it takes a value; the first
// of a repeated letter counts, as with set.find.
func specOptions(spec string) optionSet {
	var set optionSet
	for i := 0; i < len(spec); i++ {
		c := spec[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			continue
		}
		o := option{letter: c, help: "fuzzed"}
		if i+1 < len(spec) && spec[i+1] == ':' {
			o.arg = "VALUE"
		}
		if _, dup := set.find(rune(c)); !dup {
			set = append(set, o)
		}
	}
	return set
}
