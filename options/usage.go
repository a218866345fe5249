package options

import (
	"strings"
)

// ServerUsage returns the server's help text: how to call it, then every
// option with its configuration key and default, then the keys only the
// configuration file sets. program is shown as given (usually os.Args[0] or
// its base name). The text is built from the same table the parser uses, so
// it cannot forget an option.
func ServerUsage(program string) string {
	var b strings.Builder
	b.WriteString("Usage: " + program + " -s DIRECTORY [options]\n")
	b.WriteString("       " + program + " -b ADDRESS [options]\n")
	b.WriteString("       " + program + " -F FILE [options]\n\n")
	b.WriteString("Tentacle server: receives files from Pandora FMS agents and other Tentacle\n")
	b.WriteString("clients (TCP port 41121), stores them in DIRECTORY and serves them back.\n\n")
	b.WriteString("Options (the -F file key for the same setting is in brackets; an option\n")
	b.WriteString("given on the command line always wins over the file):\n")
	writeOptions(&b, serverOptions, true)
	b.WriteString("\nSettings only the -F file can make:\n")
	for _, o := range serverConfigOnly {
		writeEntry(&b, o.key+" "+o.arg, o.help, o.def)
	}
	b.WriteString("\nIn the -F file, a line starting with a letter is \"key value\"; other lines\n")
	b.WriteString("are ignored. On/off keys (daemon, insecure, overwrite, quiet, ssl_password,\n")
	b.WriteString("use_libwrap) are on only with the value 1.\n")
	return b.String()
}

// ClientUsage returns the client's help text: how to call it and every
// option with its default. program is shown as given.
func ClientUsage(program string) string {
	var b strings.Builder
	b.WriteString("Usage: " + program + " [options] FILE...\n")
	b.WriteString("       " + program + " -g [options] NAME...\n\n")
	b.WriteString("Tentacle client: sends files to a Tentacle server, or gets them from it\n")
	b.WriteString("with -g. It succeeds only if every file is transferred.\n\n")
	b.WriteString("Options:\n")
	writeOptions(&b, clientOptions, false)
	return b.String()
}

// writeOptions writes one entry per option; withKeys adds the
// configuration key in brackets.
func writeOptions(b *strings.Builder, set optionSet, withKeys bool) {
	for _, o := range set {
		name := "-" + string(o.letter)
		if o.arg != "" {
			name += " " + o.arg
		}
		help := o.help
		if withKeys {
			key := o.key
			if o.keyNote != "" {
				key = o.keyNote
			}
			if key != "" {
				help += " [" + key + "]"
			}
		}
		writeEntry(b, name, help, o.def)
	}
}

// usageColumn is where descriptions start; usageWidth is where lines wrap.
const (
	usageColumn = 18
	usageWidth  = 79
)

// writeEntry writes a name and its description, wrapped to fit a terminal,
// with the default at the end (kept on one line, so it can be searched for).
func writeEntry(b *strings.Builder, name, help, def string) {
	words := strings.Fields(help)
	if def != "" {
		words = append(words, "(default: "+def+")")
	}
	prefix := "  " + name
	if len(prefix) >= usageColumn {
		b.WriteString(prefix + "\n")
		prefix = ""
	}
	line := prefix + strings.Repeat(" ", usageColumn-len(prefix))
	empty := true
	for _, word := range words {
		if !empty && len(line)+1+len(word) > usageWidth {
			b.WriteString(line + "\n")
			line, empty = strings.Repeat(" ", usageColumn), true
		}
		if !empty {
			line += " "
		}
		line += word
		empty = false
	}
	b.WriteString(line + "\n")
}
