//go:build linux

package systemd

import (
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"tentacle/daemon"
	"tentacle/options"
)

// TestDocsMatchCode holds README.md and the manual pages to the code's own
// tables (daemon.Variables, options.ServerLetters, ClientLetters and
// ServerConfigKeys): every variable, option letter and configuration key
// the programs accept must be documented, and nothing documented as one may
// be missing from the code. Copies of those lists typed into a test would
// go stale along with the documents; the tables cannot.
func TestDocsMatchCode(t *testing.T) {
	readme := readFile(t, "../README.md")
	serverMan := readFile(t, filepath.Join(manDir, "tentacle_server.1"))
	clientMan := readFile(t, filepath.Join(manDir, "tentacle_client.1"))
	daemonMan := readFile(t, filepath.Join(manDir, "tentacle_serverd.8"))

	letterSet := func(b []byte) []string {
		var out []string
		for _, c := range b {
			out = append(out, "-"+string(c))
		}
		return out
	}
	// README sections by their "### " headings.
	section := func(heading string) string {
		_, rest, ok := strings.Cut(readme, "\n### "+heading+"\n")
		if !ok {
			t.Fatalf("README.md has no section %q", heading)
		}
		if i := strings.Index(rest, "\n##"); i >= 0 {
			rest = rest[:i]
		}
		return rest
	}
	// The first and second cells of the option table's rows.
	var readmeServerOpts, readmeServerKeys string
	for _, line := range strings.Split(section("tentacle_server"), "\n") {
		cells := strings.Split(strings.ReplaceAll(line, `\|`, "/"), "|")
		if len(cells) < 4 || strings.HasPrefix(strings.TrimSpace(cells[1]), "---") || strings.TrimSpace(cells[1]) == "option" {
			continue
		}
		readmeServerOpts += cells[1] + "\n"
		readmeServerKeys += cells[2] + "\n"
	}

	readmeLetter := regexp.MustCompile(`(?:^|[\s\x60])-([A-Za-z])\b`)
	manLetter := regexp.MustCompile(`(?m)^\.TP\n\.BI? \\-([A-Za-z])\b`)
	// A key in tentacle_server.1 closes its option's paragraph, "[key]"
	// or "[key value]"; the keys without an option are set in bold in
	// CONFIGURATION FILE.
	manKey := regexp.MustCompile(`\[([a-z_]+)(?: [^\]]*)?\]`)
	manBoldKey := regexp.MustCompile(`(?m)^\.B ([a-z]+_[a-z_]+)$`)
	_, configSection, _ := strings.Cut(serverMan, "\n.SH CONFIGURATION FILE\n")
	configSection, _, _ = strings.Cut(configSection, "\n.SH ")
	readmeKey := regexp.MustCompile("`([a-z_]+)`")
	envWord := regexp.MustCompile(`\b(?:PANDORA|TENTACLE)_[A-Z0-9_]+\b`)

	matches := func(re *regexp.Regexp, text string) []string {
		var out []string
		for _, m := range re.FindAllStringSubmatch(text, -1) {
			for _, g := range m[1:] {
				if g != "" {
					out = append(out, g)
				}
			}
		}
		return out
	}
	// An option in README is a "-x" that starts a `code span` or a word
	// in one ("`-e cert -k key`").
	readmeSpan := regexp.MustCompile("`[^`\n]*`")
	readmeLetters := func(text string) []string {
		var out []string
		for _, span := range readmeSpan.FindAllString(text, -1) {
			out = append(out, matches(readmeLetter, span)...)
		}
		return out
	}
	dashed := func(ls []string) []string {
		for i, l := range ls {
			ls[i] = "-" + l
		}
		return ls
	}
	withoutTH := func(text string) string {
		var keep []string
		for _, l := range strings.Split(text, "\n") {
			if !strings.HasPrefix(l, ".TH ") {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\n")
	}

	tests := []struct {
		name       string
		code       []string
		documented []string
	}{
		{"tentacle_server.1 options", letterSet(options.ServerLetters()), dashed(matches(manLetter, serverMan))},
		{"README tentacle_server options", letterSet(options.ServerLetters()), dashed(readmeLetters(readmeServerOpts))},
		{"tentacle_client.1 options", letterSet(options.ClientLetters()), dashed(matches(manLetter, clientMan))},
		{"README tentacle_client options", letterSet(options.ClientLetters()), dashed(readmeLetters(section("tentacle_client")))},
		{"tentacle_server.1 configuration keys", options.ServerConfigKeys(), append(matches(manKey, serverMan), matches(manBoldKey, configSection)...)},
		{"README configuration keys", options.ServerConfigKeys(), matches(readmeKey, readmeServerKeys)},
		{"tentacle_serverd.8 variables", daemon.Variables(), envWord.FindAllString(withoutTH(daemonMan), -1)},
		{"README variables", daemon.Variables(), envWord.FindAllString(readme, -1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if len(tt.documented) == 0 {
				t.Fatal("nothing found: has the document's layout changed?")
			}
			for _, c := range tt.code {
				if !slices.Contains(tt.documented, c) {
					t.Errorf("%s is in the code but not documented", c)
				}
			}
			for _, d := range tt.documented {
				if !slices.Contains(tt.code, d) {
					t.Errorf("%s is documented but not in the code", d)
				}
			}
		})
	}
}
