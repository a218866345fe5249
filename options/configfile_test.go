package options

import (
	"reflect"
	"testing"
)

func TestParseConfig(t *testing.T) {
	known := map[string]bool{"port": true, "password": true, "max_size": true, "a.b-c_d": true, "daemon": true}
	tests := []struct {
		name     string
		text     string
		entries  map[string]configEntry
		warnings []string
	}{
		{"empty file", "", map[string]configEntry{}, nil},
		{"key and value", "port 41121\n", map[string]configEntry{"port": {"41121", 1}}, nil},
		{"key characters", "a.b-c_d x\n", map[string]configEntry{"a.b-c_d": {"x", 1}}, nil},
		{"value is the rest of the line", "password  a b\t c  \n", map[string]configEntry{"password": {"a b\t c  ", 1}}, nil},
		{"value may start with #", "password #secret\n", map[string]configEntry{"password": {"#secret", 1}}, nil},
		{"CRLF", "port 1\r\npassword p\r\n", map[string]configEntry{"port": {"1", 1}, "password": {"p", 2}}, nil},
		{"only one CR stripped", "password p\r\r\n", map[string]configEntry{"password": {"p\r", 1}}, nil},
		{"no final newline", "port 1", map[string]configEntry{"port": {"1", 1}}, nil},
		{"comments and indented lines", "# port 1\n  port 2\n\tport 3\n-port 4\n_port 5\n", map[string]configEntry{}, nil},
		{"empty values ignored", "port 1\nport\nport   \nport\t\n", map[string]configEntry{"port": {"1", 1}}, nil},
		{"last wins", "port 1\nport 2\n", map[string]configEntry{"port": {"2", 2}}, nil},
		{"byte order mark", "\xef\xbb\xbfport 1\n", map[string]configEntry{"port": {"1", 1}}, nil},
		{"unknown key", "\n\nverbose 1\n", map[string]configEntry{},
			[]string{`config f.conf: line 3: unknown key "verbose" ignored`}},
		{"unknown key without value", "hello\n", map[string]configEntry{},
			[]string{`config f.conf: line 1: unknown key "hello" ignored`}},
		{"keys are case sensitive", "PORT 1\n", map[string]configEntry{},
			[]string{`config f.conf: line 1: unknown key "PORT" ignored`}},
		{"no blank after key", "port=1\nport:2\n", map[string]configEntry{}, []string{
			`config f.conf: line 1: "port=1" is not a "key value" line (the key must be followed by a blank); line ignored`,
			`config f.conf: line 2: "port:2" is not a "key value" line (the key must be followed by a blank); line ignored`,
		}},
		{"booleans kept raw here", "daemon yes\n", map[string]configEntry{"daemon": {"yes", 1}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cf := parseConfig("f.conf", []byte(tt.text), known)
			if !reflect.DeepEqual(cf.entries, tt.entries) {
				t.Errorf("entries = %+v, want %+v", cf.entries, tt.entries)
			}
			if !reflect.DeepEqual(cf.warnings, tt.warnings) {
				t.Errorf("warnings = %q, want %q", cf.warnings, tt.warnings)
			}
		})
	}
}

func TestValueErrorFormat(t *testing.T) {
	tests := []struct {
		err  *ValueError
		want string
	}{
		{&ValueError{Option: "-c", Value: "0", Reason: "r"}, "-c 0: r"},
		{&ValueError{Option: "-x", Value: "", Reason: "r"}, `-x "": r`},
		{&ValueError{Option: "-a", Value: "a b", Reason: "r"}, `-a "a b": r`},
		{&ValueError{Option: "-a", Value: "a\tb", Reason: "r"}, `-a "a\tb": r`},
		{&ValueError{Option: "-a", Value: `a"b`, Reason: "r"}, `-a "a\"b": r`},
		{&ValueError{Option: "-a", Value: "é", Reason: "r"}, `-a é: r`},
		{&ValueError{Option: "-w", Reason: "r", flag: true}, "-w: r"},
		{&ValueError{Option: "-m", Key: "max_size", File: "/etc/x.conf", Line: 3, Value: "abc", Reason: "r"}, `config /etc/x.conf: max_size "abc": r`},
		{&ValueError{Option: "-m", Key: "max_size", File: "/etc/x.conf", Value: "1 ", Reason: "r"}, `config /etc/x.conf: max_size "1 ": r`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
}
