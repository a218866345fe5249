package options

import (
	"strings"
	"testing"
)

func TestUsage(t *testing.T) {
	tests := []struct {
		name string
		text string
		set  optionSet
		// also lists other text every help must show: defaults, keys.
		also []string
	}{
		{"server", ServerUsage("/usr/bin/tentacle_server"), serverOptions, []string{
			"/usr/bin/tentacle_server -s DIRECTORY",
			"(default: 41121)", "(default: 2000000)", "(default: 1024, fewer if the open-file limit is low)", "(default: 1)", "(default: 3)",
			"(default: 1024)", "(default: pandora)", "(default: all addresses)",
			`\?\[\]\/\\\=\+\<\>\:\;\'\,\*\~`,
			"[verbose 1]", "[verbose 2]", "block_size", "invalid_chars",
		}},
		{"client", ClientUsage("tentacle_client"), clientOptions, []string{
			"tentacle_client [options] FILE",
			"(default: 127.0.0.1)", "(default: 41121)", "(default: 1)", "(default: 3)",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, o := range tt.set {
				entry := "\n  -" + string(o.letter) + " "
				if !strings.Contains(tt.text, entry) && !strings.Contains(tt.text, "\n  -"+string(o.letter)+"\n") {
					t.Errorf("usage lacks an entry for -%c", o.letter)
				}
				if o.key != "" && !strings.Contains(tt.text, "["+o.key) {
					t.Errorf("usage lacks the key %s", o.key)
				}
			}
			for _, s := range tt.also {
				if !strings.Contains(tt.text, s) {
					t.Errorf("usage lacks %q", s)
				}
			}
			for i, line := range strings.Split(tt.text, "\n") {
				if n := len([]rune(line)); n > 79 {
					t.Errorf("line %d is %d characters long: %q", i+1, n, line)
				}
			}
		})
	}
}
