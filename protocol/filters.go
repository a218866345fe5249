package protocol

import (
	"fmt"
	"path"
	"regexp"
	"strings"
)

// Filter sends the files whose name matches Pattern to the subdirectory Dir
// of the storage directory. Pandora uses filters to keep configuration files,
// MD5 sums, collections and commands apart from the agents' data files.
type Filter struct {
	Pattern *regexp.Regexp
	Dir     string
}

// PandoraFilters is the filter list that Pandora FMS installs by default.
const PandoraFilters = `.*\.conf:conf;.*\.md5:md5;.*\.zip:collections;.*\.lock:trans;.*\.rcmd:commands`

// ParseFilters reads the reference's filter syntax, "regexp:dir;regexp:dir",
// in order. As in the reference, an entry without both parts is skipped, a
// part after a second ':' is ignored, and one trailing '/' of dir is dropped.
// Patterns are Go regular expressions (RE2), which agree with Perl's on the
// patterns filters use. Unlike the reference, a pattern that does not compile
// or a directory that is absolute or climbs with ".." is an error.
func ParseFilters(spec string) ([]Filter, error) {
	var filters []Filter
	for _, entry := range strings.Split(spec, ";") {
		parts := strings.Split(entry, ":")
		if len(parts) < 2 {
			continue
		}
		expr, dir := parts[0], strings.TrimSuffix(parts[1], "/")
		re, err := regexp.Compile(expr)
		if err != nil {
			return nil, fmt.Errorf("filter %q: %w", entry, err)
		}
		if dir != "" && (path.IsAbs(dir) || !isLocalPath(dir)) {
			return nil, fmt.Errorf("filter %q: directory %q must stay inside the storage directory", entry, dir)
		}
		filters = append(filters, Filter{Pattern: re, Dir: dir})
	}
	return filters, nil
}

// isLocalPath reports whether p names something below the current directory
// without climbing out of it.
func isLocalPath(p string) bool {
	clean := path.Clean(p)
	return clean != ".." && !strings.HasPrefix(clean, "../") && !strings.HasPrefix(p, "/")
}

// route returns the directory, relative to the storage directory, that the
// first matching filter sends name to: "" for the storage directory itself.
func route(filters []Filter, name string) (dir string, matched *Filter) {
	for i := range filters {
		if filters[i].Pattern.MatchString(name) {
			return filters[i].Dir, &filters[i]
		}
	}
	return "", nil
}
