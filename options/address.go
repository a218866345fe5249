package options

import (
	"fmt"
	"math/bits"
	"net/netip"
	"strconv"
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

// parseProxyFrom reads -P's list of trusted load balancers: addresses as
// -a takes them and networks as -T's rules write them. A network with
// bits set past its prefix is refused, as -T refuses it: its writer meant
// something else. Host names are refused: the server compares peers'
// addresses and never looks names up.
func parseProxyFrom(st setting) ([]netip.Prefix, error) {
	var nets []netip.Prefix
	for _, item := range strings.Split(st.value, ",") {
		item = strings.Trim(item, " \t")
		if item == "" {
			return nil, st.fail("empty address in the list; give the balancers' IP addresses or networks (10.0.0.0/24) separated by commas")
		}
		p, reason := parseNet(item)
		if reason != "" {
			return nil, st.fail(fmt.Sprintf("balancer %s: %s", quoteIfNeeded(item), reason))
		}
		nets = append(nets, p)
	}
	return nets, nil
}

// parseNet reads one address or network of -P. It returns "" as the
// reason when s is acceptable.
func parseNet(s string) (netip.Prefix, string) {
	addrText, lenText, hasLen := strings.Cut(s, "/")
	bracketed := strings.HasPrefix(addrText, "[") && strings.HasSuffix(addrText, "]")
	if bracketed {
		addrText = addrText[1 : len(addrText)-1]
	}
	a, err := netip.ParseAddr(addrText)
	switch {
	case err != nil && !hasLen && !bracketed && isHostName(s):
		return netip.Prefix{}, "host names are not looked up; give the balancer's IP address"
	case err != nil:
		return netip.Prefix{}, "not an IPv4 or IPv6 address or network (such as 10.0.0.5, 10.0.0.0/24 or [2001:db8::]/32)"
	case a.Zone() != "":
		return netip.Prefix{}, "an IPv6 zone (%" + a.Zone() + ") cannot be matched; leave it out"
	case bracketed && !a.Is6():
		return netip.Prefix{}, "square brackets must hold an IPv6 address"
	}
	n := a.BitLen()
	if hasLen {
		var reason string
		if n, reason = prefixLength(lenText, a); reason != "" {
			return netip.Prefix{}, reason
		}
	}
	p := netip.PrefixFrom(a, n)
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Sprintf("the network has bits set past its /%d prefix (did you mean %s?)", n, p.Masked())
	}
	if a.Is4In6() && n >= 96 {
		p = netip.PrefixFrom(a.Unmap(), n-96)
	}
	return p, ""
}

// prefixLength reads what follows the "/" of a network: a length, or for
// IPv4 a dotted netmask whose ones come first.
func prefixLength(s string, a netip.Addr) (int, string) {
	if a.Is4() && strings.Contains(s, ".") {
		m, err := netip.ParseAddr(s)
		if err != nil || !m.Is4() {
			return 0, fmt.Sprintf("bad netmask %s: want a dotted quad such as 255.255.255.0, or a prefix length", quoteIfNeeded(s))
		}
		b := m.As4()
		mask := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
		ones := bits.LeadingZeros32(^mask)
		if mask<<ones != 0 {
			return 0, fmt.Sprintf("netmask %s has its ones apart; a network's mask is ones then zeros", s)
		}
		return ones, ""
	}
	if !allDigits(s) {
		return 0, fmt.Sprintf("bad prefix length %s: want a whole number from 0 to %d", quoteIfNeeded(s), a.BitLen())
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > a.BitLen() {
		return 0, fmt.Sprintf("prefix length %s is out of range 0-%d", s, a.BitLen())
	}
	return n, ""
}
