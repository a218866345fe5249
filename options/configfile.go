package options

import (
	"bytes"
	"fmt"
	"os"
	"strings"
)

// configFile holds the settings read from a server -F file.
type configFile struct {
	// path is the file as named on the command line, for messages.
	path string
	// entries maps each key to its last non-empty value, as the reference
	// (a Perl hash filled line by line) keeps it.
	entries map[string]configEntry
	// warnings are notes about lines that were ignored.
	warnings []string
}

// configEntry is one key's value and where it was found.
type configEntry struct {
	value string
	line  int
}

// readConfigFile reads and parses the -F file. Unlike the reference, which
// prints a note and carries on with built-in defaults, a file that cannot be
// read is an error: a server that silently ignores its configuration would
// listen with the wrong settings (or store files in the wrong place).
func readConfigFile(path string, known map[string]bool) (*configFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &ValueError{Option: "-F", Value: path, Reason: "cannot read the configuration file", Err: err}
	}
	return parseConfig(path, data, known), nil
}

// parseConfig reads the reference's "key value" format:
//
//   - only lines starting with an ASCII letter count; everything else
//     (comments, blank or indented lines) is ignored;
//   - the key is the leading run of letters, digits, "_", "-" and ".", then
//     comes a run of blanks (spaces or tabs), then the value: the rest of
//     the line, kept exactly except for a final "\r" (files edited on
//     Windows), so blanks at the end of a line belong to the value as they
//     do in the reference;
//   - a line whose value is empty is ignored, and a later line with the same
//     key replaces an earlier one.
//
// Keys not in known are kept out and reported in the warnings, as are lines
// where the key is followed by something other than a blank ("port=41121"),
// which the reference misreads in ways nobody intends. A UTF-8 byte order
// mark at the start of the file is skipped rather than hiding the first line.
func parseConfig(path string, data []byte, known map[string]bool) *configFile {
	cf := &configFile{path: path, entries: map[string]configEntry{}}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	for n, line := range strings.Split(string(data), "\n") {
		lineNo := n + 1
		line = strings.TrimSuffix(line, "\r")
		if line == "" || !isASCIILetter(line[0]) {
			continue
		}
		end := 0
		for end < len(line) && isKeyByte(line[end]) {
			end++
		}
		key, rest := line[:end], line[end:]
		if rest != "" && rest[0] != ' ' && rest[0] != '\t' {
			cf.warnf(lineNo, "%q is not a \"key value\" line (the key must be followed by a blank); line ignored", line)
			continue
		}
		if !known[key] {
			cf.warnf(lineNo, "unknown key %q ignored", key)
			continue
		}
		value := strings.TrimLeft(rest, " \t")
		if value == "" {
			continue
		}
		cf.entries[key] = configEntry{value: value, line: lineNo}
	}
	return cf
}

// warnf records a note about one line of the file.
func (cf *configFile) warnf(line int, format string, args ...any) {
	cf.warnings = append(cf.warnings, fmt.Sprintf("config %s: line %d: ", cf.path, line)+fmt.Sprintf(format, args...))
}

// isASCIILetter reports whether c is an ASCII letter, the only way a
// configuration line may start.
func isASCIILetter(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

// isKeyByte reports whether c may appear in a configuration key (Perl's
// [\w\-\_\.] on ASCII text).
func isKeyByte(c byte) bool {
	return isASCIIAlnum(c) || c == '_' || c == '-' || c == '.'
}

// setting is one value together with its origin, so that a rejected value
// can be reported where the administrator wrote it.
type setting struct {
	value  string
	option string // "-c"
	key    string // config key, when from the file
	file   string // config file, when from the file
	line   int
}

// fail builds the error for a rejected setting.
func (st setting) fail(reason string) *ValueError {
	return &ValueError{Option: st.option, Key: st.key, File: st.file, Line: st.line, Value: st.value, Reason: reason}
}

// failErr builds the error for a setting rejected because of an underlying
// error (usually from the file system).
func (st setting) failErr(reason string, err error) *ValueError {
	e := st.fail(reason)
	e.Err = err
	return e
}

// sources looks settings up with the reference's precedence: the command
// line first, then the configuration file, then the built-in default (left
// to the caller).
type sources struct {
	set      optionSet // the options, and the configuration key of each
	cl       *commandLine
	conf     *configFile // nil without -F
	warnings []string
}

// key is the configuration key of an option letter, from the option
// table; "" when it has none.
func (src *sources) key(letter byte) string {
	o, _ := src.set.find(rune(letter))
	return o.key
}

// lookup returns the setting of an option, from the command line or else
// from the configuration file under the option's key.
func (src *sources) lookup(letter byte) (setting, bool) {
	key := src.key(letter)
	if v, ok := src.cl.value(letter); ok {
		return setting{value: v, option: "-" + string(letter)}, true
	}
	if src.conf != nil && key != "" {
		if e, ok := src.conf.entries[key]; ok {
			return setting{value: e.value, option: "-" + string(letter), key: key, file: src.conf.path, line: e.line}, true
		}
	}
	return setting{}, false
}

// flag returns an on/off setting. As in the reference, the option on the
// command line turns it on, and in the file only the exact value "1" does:
// "0" is the documented way to write "off", and anything else is also off
// but earns a warning, since "yes" or "1 " (with a trailing blank) were
// surely meant to turn it on.
func (src *sources) flag(letter byte) bool {
	key := src.key(letter)
	if src.cl.has(letter) {
		return true
	}
	if src.conf == nil {
		return false
	}
	e, ok := src.conf.entries[key]
	if !ok {
		return false
	}
	switch e.value {
	case "1":
		return true
	case "0":
		return false
	}
	src.warnings = append(src.warnings, fmt.Sprintf("config %s: line %d: %s %q: only 1 turns this setting on (0 turns it off); taken as off", src.conf.path, e.line, key, e.value))
	return false
}

// given reports whether a setting with a value was given at all, for
// notes about settings that have no effect.
func (src *sources) given(letter byte) bool {
	_, ok := src.lookup(letter)
	return ok
}
