package options

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// option describes one command-line letter. The server and client tables
// built from it drive the parser, the configuration-file key list and the
// usage text, so that the three cannot drift apart.
type option struct {
	letter byte
	// arg names the value in the usage text; empty for an option that
	// takes no value.
	arg string
	// key is the configuration-file key for the same setting, if any.
	key string
	// keyNote replaces key in the usage text when the key alone would be
	// misleading (-v and -V share "verbose").
	keyNote string
	// def is the default shown in the usage text; empty when there is none.
	def string
	// help describes the option in the usage text.
	help string
}

// optionSet is the list of options one program accepts, in the order the
// usage text shows them.
type optionSet []option

// find returns the option for a letter.
func (set optionSet) find(r rune) (option, bool) {
	for _, o := range set {
		if rune(o.letter) == r {
			return o, true
		}
	}
	return option{}, false
}

// spec returns the set in Getopt::Std notation ("a:b:c..."), letters in
// table order; the tests compare it with the reference programs' strings.
func (set optionSet) spec() string {
	var b strings.Builder
	for _, o := range set {
		b.WriteByte(o.letter)
		if o.arg != "" {
			b.WriteByte(':')
		}
	}
	return b.String()
}

// letters lists the option letters as "-a -b ...", for error messages.
func (set optionSet) letters() string {
	parts := make([]string, len(set))
	for i, o := range set {
		parts[i] = "-" + string(o.letter)
	}
	return strings.Join(parts, " ")
}

// commandLine is the result of getopt: the options seen and the arguments
// left after them.
type commandLine struct {
	// values maps each letter seen to its value ("" for options without
	// value). As with Getopt::Std, a repeated option keeps its last value.
	values map[byte]string
	// rest holds the arguments from the first non-option on (after "--" if
	// that is what stopped the parse), copied; nil when there are none.
	rest []string
}

// value returns an option's value and whether the option was given.
func (c *commandLine) value(letter byte) (string, bool) {
	v, ok := c.values[letter]
	return v, ok
}

// has reports whether an option was given.
func (c *commandLine) has(letter byte) bool {
	_, ok := c.values[letter]
	return ok
}

// getopt splits args (without the program name) the way Perl's
// Getopt::Std::getopts does, so that every command line the reference
// accepts means the same here:
//
//   - an argument of two or more characters starting with "-" holds options;
//     "-" alone and anything not starting with "-" end the options, and so
//     does "--", which is consumed;
//   - letters may be bundled ("-vI"); a letter that takes a value uses the
//     rest of its argument ("-p41121") or, if nothing is left, the next
//     argument whatever it looks like ("-x -c" sets -x to "-c");
//   - "--help" asks for help, as Getopt::Std also understands it.
//
// Unlike getopts, which warns and carries on, the first unknown letter or
// missing value ends the parse with a *UsageError: the reference exits after
// the parse in both cases anyway.
func getopt(args []string, set optionSet) (*commandLine, error) {
	cl, err := scanOptions(args, set)
	if err != nil {
		return nil, err
	}
	return cl, nil
}

// scanOptions is getopt, except that an error comes with what was read
// before it, a letter whose value is missing included: ScanServer wants to
// know which options a command line gives even when it is wrong.
func scanOptions(args []string, set optionSet) (*commandLine, error) {
	cl := &commandLine{values: map[byte]string{}}
	i := 0
	for i < len(args) {
		arg := args[i]
		if len(arg) < 2 || arg[0] != '-' {
			break
		}
		i++
		if arg == "--" {
			break
		}
		if arg[1] == '-' {
			if _, ok := set.find('h'); ok && arg == "--help" {
				cl.values['h'] = ""
				continue
			}
			return cl, &UsageError{Option: arg, Msg: "unknown option; only single-letter options exist: " + set.letters()}
		}
		rest := arg[1:]
		for rest != "" {
			r, size := utf8.DecodeRuneInString(rest)
			rest = rest[size:]
			o, ok := set.find(r)
			if !ok {
				return cl, &UsageError{Option: optionName(r), Msg: "unknown option; the options are " + set.letters()}
			}
			if o.arg == "" {
				cl.values[o.letter] = ""
				continue
			}
			if rest == "" {
				if i >= len(args) {
					cl.values[o.letter] = ""
					return cl, &UsageError{Option: "-" + string(o.letter), Msg: "missing value; write -" + string(o.letter) + " " + o.arg + " (" + o.help + ")"}
				}
				rest = args[i]
				i++
			}
			cl.values[o.letter] = rest
			rest = ""
		}
	}
	if i < len(args) {
		cl.rest = append([]string(nil), args[i:]...)
	}
	return cl, nil
}

// optionName shows an unknown option letter readably, even when it is a
// control character or not valid UTF-8.
func optionName(r rune) string {
	if r == utf8.RuneError || !unicode.IsPrint(r) {
		return "-" + strconv.QuoteRune(r)
	}
	return "-" + string(r)
}
