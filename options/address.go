package options

import (
	"net/netip"
	"strings"
)

// checkHost tells whether s can name a peer or a local address: an IPv4 or
// IPv6 literal (an IPv6 zone such as "fe80::1%eth0" included) or a DNS host
// name. It returns "" when s is acceptable, or the reason it is not.
//
// The reference uses narrower patterns (the server takes host names made of
// letters and dots only, and IPv6 only in lower case); everything those
// accept is accepted here except IPv4 literals with leading zeros, which
// C resolvers read as octal.
func checkHost(s string) string {
	if s == "" {
		return "an address is required: an IP address or a host name"
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return ""
	}
	if isHostName(s) {
		return ""
	}
	return "not an IPv4 address, IPv6 address or host name"
}

// isHostName accepts names made of dot-separated labels of letters, digits,
// "-" and "_" (which many internal networks use, and Go's resolver accepts),
// a label neither starting nor ending with "-", with an optional final dot.
// A name whose last label is all digits is refused, as RFC 3696 advises, so
// that a mistyped IPv4 address ("10.0.0.256") is reported instead of being
// looked up as a name.
func isHostName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(isASCIIAlnum(c) || c == '-' || c == '_') {
				return false
			}
		}
	}
	return !allDigits(labels[len(labels)-1])
}

// isASCIIAlnum reports whether c is an ASCII letter or digit.
func isASCIIAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// allDigits reports whether s is a non-empty run of ASCII digits: the only
// spelling of a number that the reference's /^\d+$/ checks accept (no sign,
// no blanks).
func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
