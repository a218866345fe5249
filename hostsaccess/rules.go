package hostsaccess

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
)

// Action is what a matching rule asks for. It exists because a rule's
// verdict depends on the file it sits in unless an ALLOW, DENY or TWIST
// option overrides it, and [Table.Match] does not know which file it read.
type Action int

const (
	// ActionDefault means the rule carries no verdict of its own: it grants
	// access in the allow file and refuses it in the deny file.
	ActionDefault Action = iota
	// ActionAllow means the rule ends with the ALLOW option and grants
	// access wherever it is.
	ActionAllow
	// ActionDeny means the rule ends with the DENY or TWIST option and
	// refuses access wherever it is.
	ActionDeny
)

// String returns a short lower-case name, for logs and test failures.
func (a Action) String() string {
	switch a {
	case ActionDefault:
		return "default"
	case ActionAllow:
		return "allow"
	case ActionDeny:
		return "deny"
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// SyntaxError reports a rule this package cannot interpret. It carries the
// file name and the line on which the rule starts so that an administrator
// can find the mistake from the server's log alone.
type SyntaxError struct {
	File string // name given to Parse, normally the file's path
	Line int    // 1-based physical line on which the rule begins
	Msg  string // what is wrong, in words
	Err  error  // underlying parse error, if any
}

// Error formats the error as "file:line: message[: cause]", the layout
// editors and grep users expect.
func (e *SyntaxError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s:%d: %s: %v", e.File, e.Line, e.Msg, e.Err)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// Unwrap exposes the underlying cause so errors.Is and errors.As can look
// through the position information.
func (e *SyntaxError) Unwrap() error { return e.Err }

// Table is the parsed form of one access-control file. It is immutable
// once built, so one Table can be shared by any number of goroutines; that
// is what lets [Checker] hand the same cached Table to concurrent callers.
type Table struct {
	name  string
	rules []rule
}

// rule is one "daemons : clients [: options]" line.
type rule struct {
	line    int
	daemons patternList
	clients patternList
	action  Action
}

// Parse reads an access-control file written in the hosts_access(5)
// syntax described in the package documentation. name is used only in
// error messages. It stops at the first line it cannot interpret and
// returns a *SyntaxError for it, because a partly understood file could
// grant or refuse the wrong clients.
func Parse(r io.Reader, name string) (*Table, error) {
	t := &Table{name: name}
	lr := &lineReader{r: bufio.NewReader(r)}
	for {
		text, line, err := lr.next()
		if errors.Is(err, io.EOF) {
			return t, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s:%d: read: %w", name, lr.physical+1, err)
		}
		rl, ok, err := parseRule(text, line)
		if err != nil {
			var se *SyntaxError
			if errors.As(err, &se) {
				se.File = name
			}
			return nil, err
		}
		if ok {
			t.rules = append(t.rules, rl)
		}
	}
}

// Match reports the action of the first rule in t that applies to the
// given daemon name and client address, and whether any rule applied. It
// is the per-file half of the decision; [Checker.Allowed] combines two
// tables into the final answer. A nil *Table, which stands for a missing
// file, has no rules.
func (t *Table) Match(daemon string, addr netip.Addr) (Action, bool) {
	if t == nil {
		return ActionDefault, false
	}
	q := newQuery(daemon, addr)
	for i := range t.rules {
		r := &t.rules[i]
		if r.daemons.matches(q) && r.clients.matches(q) {
			return r.action, true
		}
	}
	return ActionDefault, false
}

// lineReader turns physical lines into logical ones by honouring
// backslash-newline continuations.
type lineReader struct {
	r        *bufio.Reader
	physical int // number of physical lines consumed so far
}

// next returns the next logical line and the physical line it started on.
// It returns io.EOF once no text is left. A final line without a newline
// is accepted (libwrap would skip it with a warning).
func (lr *lineReader) next() (string, int, error) {
	var b strings.Builder
	start := lr.physical + 1
	for {
		s, err := lr.r.ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", start, err
		}
		if s == "" && err != nil { // end of input
			if b.Len() == 0 {
				return "", start, io.EOF
			}
			return b.String(), start, nil
		}
		lr.physical++
		s = strings.TrimSuffix(s, "\n")
		s = strings.TrimSuffix(s, "\r") // tolerate files edited on Windows
		if strings.HasSuffix(s, "\\") {
			b.WriteString(s[:len(s)-1])
			if err != nil { // continuation at end of input
				return b.String(), start, nil
			}
			continue
		}
		b.WriteString(s)
		return b.String(), start, nil
	}
}

// listSeparators are the characters that separate items of a list; they
// are the ones libwrap uses.
const listSeparators = " \t\r\n,"

// isListSeparator reports whether c separates items of a list.
func isListSeparator(c rune) bool { return strings.ContainsRune(listSeparators, c) }

// stripComment removes an unescaped '#' and everything after it. An
// escaped "\#" is left untouched, backslash included, as libwrap does.
func stripComment(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '#' && (i == 0 || s[i-1] != '\\') {
			return s[:i]
		}
	}
	return s
}

// splitAt cuts s at the first delimiter that is not inside square
// brackets, so that the colons of an IPv6 address such as [::1] do not end
// a field. ok is false when there is no such delimiter.
func splitAt(s string, delim byte) (before, after string, ok bool) {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '[':
			depth++
		case ']':
			depth--
		default:
			if depth == 0 && s[i] == delim {
				return s[:i], s[i+1:], true
			}
		}
	}
	return s, "", false
}

// parseRule interprets one logical line. ok is false for lines that hold
// no rule (blank or comment only).
func parseRule(text string, line int) (rule, bool, error) {
	text = stripComment(text)
	if strings.Trim(text, " \t\r\n") == "" {
		return rule{}, false, nil
	}
	synErr := func(msg string, err error) error {
		return &SyntaxError{Line: line, Msg: msg, Err: err}
	}
	daemonText, rest, ok := splitAt(text, ':')
	if !ok {
		return rule{}, false, synErr(`missing ":" between daemon list and client list`, nil)
	}
	clientText, optionText, hasOptions := splitAt(rest, ':')

	daemons, err := parseList(daemonText, parseDaemonPattern)
	if err != nil {
		return rule{}, false, synErr("daemon list", err)
	}
	clients, err := parseList(clientText, parseClientPattern)
	if err != nil {
		return rule{}, false, synErr("client list", err)
	}
	action := ActionDefault
	if hasOptions {
		action, err = parseOptions(optionText)
		if err != nil {
			return rule{}, false, synErr("options", err)
		}
	}
	return rule{line: line, daemons: daemons, clients: clients, action: action}, true, nil
}

// parseList splits a daemon or client list into items and groups them at
// each EXCEPT. Shapes that libwrap would accept but that can never mean
// what was intended (an empty list, EXCEPT at either end, two EXCEPTs in a
// row) are rejected.
func parseList(text string, parseItem func(string) (pattern, error)) (patternList, error) {
	items := strings.FieldsFunc(text, isListSeparator)
	if len(items) == 0 {
		return patternList{}, errors.New("list is empty")
	}
	var groups [][]pattern
	var cur []pattern
	for _, item := range items {
		if strings.EqualFold(item, "EXCEPT") {
			if len(cur) == 0 {
				return patternList{}, errors.New("EXCEPT must follow at least one pattern")
			}
			groups = append(groups, cur)
			cur = nil
			continue
		}
		p, err := parseItem(item)
		if err != nil {
			return patternList{}, fmt.Errorf("%q: %w", item, err)
		}
		cur = append(cur, p)
	}
	if len(cur) == 0 {
		return patternList{}, errors.New("EXCEPT must be followed by at least one pattern")
	}
	groups = append(groups, cur)
	return patternList{groups: groups}, nil
}

// optionSpec describes how a hosts_options(5) keyword may be written.
type optionSpec struct {
	needsValue bool // a value is required
	mayHaveArg bool // a value is allowed but not required
	mustBeLast bool // nothing may follow the option
}

// knownOptions lists the option keywords libwrap accepts. Anything else is
// an error there (the connection is refused), and so it is here.
var knownOptions = map[string]optionSpec{
	"allow":     {mustBeLast: true},
	"deny":      {mustBeLast: true},
	"twist":     {needsValue: true, mustBeLast: true},
	"spawn":     {needsValue: true},
	"severity":  {needsValue: true},
	"setenv":    {needsValue: true},
	"user":      {needsValue: true},
	"group":     {needsValue: true},
	"umask":     {needsValue: true},
	"linger":    {needsValue: true},
	"banners":   {needsValue: true},
	"keepalive": {},
	"rfc931":    {mayHaveArg: true},
	"nice":      {mayHaveArg: true},
}

// parseOptions checks the option fields of a rule and returns the verdict
// they impose. Options are validated even though only ALLOW, DENY and
// TWIST have an effect, so that a typo does not silently change meaning.
func parseOptions(text string) (Action, error) {
	if strings.TrimSpace(text) == "" {
		// A trailing colon with nothing (or only a comment) after it.
		// libwrap complains about this; it is harmless, so accept it.
		return ActionDefault, nil
	}
	fields := splitOptions(text)
	action := ActionDefault
	for i, field := range fields {
		key, value := splitOption(field)
		if key == "" {
			return ActionDefault, fmt.Errorf("option %d: missing option name", i+1)
		}
		lower := strings.ToLower(key)
		spec, ok := knownOptions[lower]
		switch {
		case !ok:
			return ActionDefault, fmt.Errorf("unknown option %q", key)
		case spec.needsValue && value == "":
			return ActionDefault, fmt.Errorf("option %q needs a value", key)
		case !spec.needsValue && !spec.mayHaveArg && value != "":
			return ActionDefault, fmt.Errorf("option %q takes no value", key)
		case spec.mustBeLast && i != len(fields)-1:
			return ActionDefault, fmt.Errorf("option %q must be the last option", key)
		}
		switch lower {
		case "allow":
			action = ActionAllow
		case "deny", "twist":
			action = ActionDeny
		}
	}
	return action, nil
}

// splitOptions cuts the option part of a rule at each colon, turning "\:"
// into a literal colon. A colon at the very end does not open an empty
// final field, matching libwrap.
func splitOptions(s string) []string {
	var fields []string
	for s != "" {
		var b strings.Builder
		i := 0
		for ; i < len(s); i++ {
			if s[i] == '\\' && i+1 < len(s) && s[i+1] == ':' {
				b.WriteByte(':')
				i++
				continue
			}
			if s[i] == ':' {
				break
			}
			b.WriteByte(s[i])
		}
		fields = append(fields, b.String())
		if i >= len(s) {
			break
		}
		s = s[i+1:]
	}
	return fields
}

// splitOption separates "name value", "name=value" or "name = value" into
// its keyword and trimmed value.
func splitOption(field string) (key, value string) {
	field = strings.TrimSpace(field)
	end := strings.IndexAny(field, " \t\r\n=")
	if end < 0 {
		return field, ""
	}
	key, rest := field[:end], field[end:]
	rest = strings.TrimLeft(rest, " \t\r\n")
	rest = strings.TrimPrefix(rest, "=")
	return key, strings.TrimSpace(rest)
}
