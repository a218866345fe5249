package options

import (
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// testOptions is a small set in Getopt::Std terms: "ab:cx:".
var testOptions = optionSet{
	{letter: 'a'},
	{letter: 'b', arg: "B"},
	{letter: 'c'},
	{letter: 'h'},
	{letter: 'x', arg: "X"},
}

func TestGetopt(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		values map[byte]string
		rest   []string
	}{
		{"nothing", nil, map[byte]string{}, nil},
		{"flag", []string{"-a"}, map[byte]string{'a': ""}, nil},
		{"bundled flags", []string{"-ac"}, map[byte]string{'a': "", 'c': ""}, nil},
		{"value in next argument", []string{"-b", "1"}, map[byte]string{'b': "1"}, nil},
		{"attached value", []string{"-b1"}, map[byte]string{'b': "1"}, nil},
		{"flag then attached value", []string{"-acb1"}, map[byte]string{'a': "", 'c': "", 'b': "1"}, nil},
		{"flag then value in next argument", []string{"-ab", "1"}, map[byte]string{'a': "", 'b': "1"}, nil},
		{"value swallows letters", []string{"-bac"}, map[byte]string{'b': "ac"}, nil},
		{"value may look like an option", []string{"-x", "-c", "f"}, map[byte]string{'x': "-c"}, []string{"f"}},
		{"value may be empty", []string{"-x", ""}, map[byte]string{'x': ""}, nil},
		{"value may be --", []string{"-x", "--"}, map[byte]string{'x': "--"}, nil},
		{"last repeat wins", []string{"-b1", "-b", "2"}, map[byte]string{'b': "2"}, nil},
		{"double dash ends options", []string{"-a", "--", "-c"}, map[byte]string{'a': ""}, []string{"-c"}},
		{"only the first double dash is eaten", []string{"--", "--"}, map[byte]string{}, []string{"--"}},
		{"stops at first non-option", []string{"-a", "file", "-c"}, map[byte]string{'a': ""}, []string{"file", "-c"}},
		{"lone dash is an argument", []string{"-", "-a"}, map[byte]string{}, []string{"-", "-a"}},
		{"empty argument is an argument", []string{"", "-a"}, map[byte]string{}, []string{"", "-a"}},
		{"long help", []string{"--help"}, map[byte]string{'h': ""}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cl, err := getopt(tt.args, testOptions)
			if err != nil {
				t.Fatalf("getopt(%q): %v", tt.args, err)
			}
			if !reflect.DeepEqual(cl.values, tt.values) {
				t.Errorf("values = %q, want %q", cl.values, tt.values)
			}
			if len(cl.rest) != len(tt.rest) || (len(tt.rest) > 0 && !reflect.DeepEqual(cl.rest, tt.rest)) {
				t.Errorf("rest = %q, want %q", cl.rest, tt.rest)
			}
		})
	}
}

func TestGetoptErrors(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		option string // UsageError.Option
		text   string // part of the message
	}{
		{"unknown letter", []string{"-q"}, "-q", "unknown option"},
		{"unknown letter in a bundle", []string{"-aq"}, "-q", "-a -b -c -h -x"},
		{"unknown after known options", []string{"-a", "-c", "-Z"}, "-Z", "unknown option"},
		{"letters are case sensitive", []string{"-A"}, "-A", "unknown option"},
		{"missing value", []string{"-b"}, "-b", "missing value"},
		{"missing value after flags", []string{"-acx"}, "-x", "-x X"},
		{"missing value after other options", []string{"-a", "-x"}, "-x", "missing value"},
		{"long option", []string{"--verbose"}, "--verbose", "single-letter"},
		{"control character", []string{"-\x01"}, `-'\x01'`, "unknown option"},
		{"invalid UTF-8", []string{"-\xff"}, `-'�'`, "unknown option"},
		{"non-ASCII letter", []string{"-é"}, "-é", "unknown option"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := getopt(tt.args, testOptions)
			var ue *UsageError
			if !errors.As(err, &ue) {
				t.Fatalf("getopt(%q) error = %v, want a *UsageError", tt.args, err)
			}
			if ue.Option != tt.option {
				t.Errorf("Option = %q, want %q", ue.Option, tt.option)
			}
			if !strings.HasPrefix(err.Error(), tt.option+": ") || !strings.Contains(err.Error(), tt.text) {
				t.Errorf("message %q should start with %q and contain %q", err, tt.option+": ", tt.text)
			}
		})
	}
}

// specLetters turns a Getopt::Std spec into letter → takes a value.
func specLetters(t *testing.T, spec string) map[byte]bool {
	t.Helper()
	m := map[byte]bool{}
	for i := 0; i < len(spec); i++ {
		if spec[i] == ':' {
			t.Fatalf("misplaced ':' in %q", spec)
		}
		takesValue := i+1 < len(spec) && spec[i+1] == ':'
		if _, dup := m[spec[i]]; dup {
			t.Fatalf("letter %c twice in %q", spec[i], spec)
		}
		m[spec[i]] = takesValue
		if takesValue {
			i++
		}
	}
	return m
}

// TestOptionSpecs checks the tables against the reference programs'
// getopts strings, so that no letter is lost or changes whether it takes a
// value.
func TestOptionSpecs(t *testing.T) {
	tests := []struct {
		name string
		set  optionSet
		want string
	}{
		{"server", serverOptions, "a:b:c:de:f:F:g:hIi:k:l:m:op:qr:s:S:t:TvVwx:z:u:" + "U:P:"},
		{"client", clientOptions, "a:b:ce:f:ghk:p:qr:t:vwx:y:z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, want := specLetters(t, tt.set.spec()), specLetters(t, tt.want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("spec %q does not match %q", tt.set.spec(), tt.want)
			}
		})
	}
}

// TestServerKeys checks the configuration keys against the reference's.
func TestServerKeys(t *testing.T) {
	want := []string{"addresses", "block_size", "daemon", "directory", "filters", "insecure", "invalid_chars",
		"log_file", "max_connections", "max_size", "overwrite", "password", "port", "proxy_ip", "proxy_port", "proxy_protocol_from",
		"quiet", "retries", "ssl_ca", "ssl_cert", "ssl_cipher", "ssl_key", "ssl_password", "ssl_version",
		"timeout", "use_libwrap", "verbose"}
	var got []string
	for k := range serverKeys {
		got = append(got, k)
	}
	sort.Strings(got)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("server keys = %q, want %q", got, want)
	}
}
